package lock

import (
	"context"
	"fmt"
)

// A run's wait records (Request.Holds) are one hash per run,
// P wait:{E(run id)}, a field per waiting request (its wait id) holding the
// record as JSON. It expires waitRecordTTL after the last refresh; each
// wait deletes its field when it ends, and the hash goes with its last field.

var _ waitBoard = (*Redis)(nil)

func (r *Redis) waitKey(runID string) string {
	return r.prefix + "wait:{" + EncodeKey(runID) + "}"
}

// postWait writes rec and sets the hash's expiry (one script); again, it
// only refreshes the expiry (PEXPIRE), writing rec anew if the hash is gone.
func (r *Redis) postWait(ctx context.Context, rec *waitRecord, again bool) error {
	if again {
		ok, err := r.client.PExpire(ctx, r.waitKey(rec.RunID), waitRecordTTL).Result()
		if err != nil || ok {
			return backendErr(ctx, fmt.Sprintf("refresh the wait record for %q", rec.Key), err)
		}
	}
	_, err := r.runScript(ctx, scriptWait, []string{r.waitKey(rec.RunID)}, rec.ID, marshalWait(rec),
		waitRecordTTL.Milliseconds())
	return backendErr(ctx, fmt.Sprintf("record the wait for %q", rec.Key), err)
}

// removeWait deletes rec's field (HDEL).
func (r *Redis) removeWait(ctx context.Context, rec *waitRecord) {
	if err := r.client.HDel(ctx, r.waitKey(rec.RunID), rec.ID).Err(); err != nil {
		r.log.Debug("removing a wait record failed; it expires with its ttl", "key", rec.Key, "error", err)
	}
}

// waitsOf reads run's wait records (HGETALL); unreadable ones are skipped.
func (r *Redis) waitsOf(ctx context.Context, runID string) ([]waitRecord, error) {
	m, err := r.client.HGetAll(ctx, r.waitKey(runID)).Result()
	if err != nil {
		return nil, backendErr(ctx, "read wait records", err)
	}
	recs := make([]waitRecord, 0, len(m))
	for _, v := range m {
		if rec, ok := unmarshalWait(v); ok {
			recs = append(recs, rec)
		}
	}
	sortWaits(recs)
	return recs, nil
}
