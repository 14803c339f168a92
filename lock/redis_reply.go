package lock

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// errBadReply is wrapped (with ErrUnavailable) when a script's reply does
// not have the shape its decoder expects: a server running something else
// under our script's SHA, a proxy in the way, a version skew. Decoders
// never panic on a reply.
var errBadReply = errors.New("unexpected reply from lock script")

func badReply(op string, res any) error {
	return fmt.Errorf("%s: %w: %w: %T %.80v", op, ErrUnavailable, errBadReply, res, res)
}

// replyInt reads an integer reply (an integer, or a string of one).
func replyInt(v any) (int64, bool) {
	switch v := v.(type) {
	case int64:
		return v, true
	case string:
		n, err := strconv.ParseInt(v, 10, 64)
		return n, err == nil
	}
	return 0, false
}

// replyInts reads the first n elements of an array reply as integers.
func replyInts(res any, n int) ([]any, []int64, bool) {
	vals, ok := res.([]any)
	if !ok || len(vals) < n {
		return nil, nil, false
	}
	out := make([]int64, n)
	for i := range n {
		if out[i], ok = replyInt(vals[i]); !ok {
			return nil, nil, false
		}
	}
	return vals, out, true
}

// modeOf maps the scripts' one-letter modes.
func modeOf(s string) Mode {
	if s == "s" {
		return Shared
	}
	return Exclusive
}

func modeLetter(m Mode) string {
	if m == Shared {
		return "s"
	}
	return "x"
}

// backendTime is t when it is a plausible time for a record to give (years
// 1970 to 9999), else the zero time, which displays as unknown. A record
// another machine wrote may say anything, and a time past the year 9999 has
// no JSON form: encoding/json refused it, which dropped whole -json events
// and plan's steps.
func backendTime(t time.Time) time.Time {
	if y := t.Year(); y < 1970 || y > 9999 {
		return time.Time{}
	}
	return t
}

// parseHolder decodes "ttl_left|fence|limit|mode|json". Since comes from the
// fence, which the scripts derive from the server's time in µs.
func parseHolder(s string) (Holder, int, error) {
	f := strings.SplitN(s, "|", 5)
	if len(f) != 5 {
		return Holder{}, 0, fmt.Errorf("holder record %.40q: want 5 fields", s)
	}
	var h Holder
	if err := jsonUnmarshal(f[4], &h); err != nil {
		return Holder{}, 0, fmt.Errorf("holder record: %w", err)
	}
	ttl, err1 := strconv.ParseInt(f[0], 10, 64)
	fence, err2 := strconv.ParseInt(f[1], 10, 64)
	limit, err3 := strconv.Atoi(f[2])
	if err := errors.Join(err1, err2, err3); err != nil {
		return Holder{}, 0, fmt.Errorf("holder record %.40q: %w", s, err)
	}
	h.TTL = time.Duration(ttl) * time.Millisecond
	h.Fence = fence
	h.Since = backendTime(time.UnixMicro(fence))
	h.Mode = modeOf(f[3])
	return h, limit, nil
}

// UnreadableRecord is the owner shown for a holder or waiter record lockstep
// cannot decode (written by something else, or tampered with).
const UnreadableRecord = "(unreadable record)"

// parseHolders decodes holder records; ok is false when one is not a
// string (a reply of the wrong shape). A string that does not decode is
// shown as UnreadableRecord, never an error: one foreign record made the
// whole lock unusable (every acquire failed as unavailable instead of
// waiting) and lock list fail for every key.
func parseHolders(vals []any) (hs []Holder, limit int, ok bool) {
	hs = make([]Holder, 0, len(vals))
	for _, v := range vals {
		s, isString := v.(string)
		if !isString {
			return nil, 0, false
		}
		h, l, err := parseHolder(s)
		if err != nil {
			h, l = Holder{Owner: UnreadableRecord}, 0
		}
		hs = append(hs, h)
		limit = max(limit, l)
	}
	return hs, limit, true
}

// parseWaiter decodes a queue entry as listed:
// "mode|limit|queued_ms|policy|json".
func parseWaiter(s string, pos int) (Waiter, error) {
	f := strings.SplitN(s, "|", 5)
	if len(f) != 5 {
		return Waiter{}, fmt.Errorf("queue entry %.40q: want 5 fields", s)
	}
	var w Waiter
	if err := jsonUnmarshal(f[4], &w.Holder); err != nil {
		return Waiter{}, fmt.Errorf("queue entry: %w", err)
	}
	if ms, err := strconv.ParseInt(f[2], 10, 64); err == nil {
		w.Since = backendTime(time.UnixMilli(ms))
	}
	w.Mode, w.Position, w.Queue = modeOf(f[0]), pos, FIFO
	if f[3] == "n" {
		w.Queue = Newest
	}
	w.TTL, w.Fence = 0, 0
	return w, nil
}
