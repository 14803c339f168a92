package lock

import (
	"context"
	"errors"
	"io/fs"
	"path/filepath"
	"strings"
)

// A run's wait records (Request.Holds) are files waits/<h(run id)>-<wait
// id>, holding the record as JSON. Like a ticket, a record file is locked by
// its process while the wait lasts, so a record whose process died is told
// from a live one (and removed by the reader that finds it) without a TTL.

var _ waitBoard = (*Local)(nil)

func (l *Local) waitPath(rec *waitRecord) string {
	return filepath.Join(l.dir, "waits", hashName(rec.RunID)+"-"+rec.ID)
}

// postWait creates rec's file, locks it and writes it, once per wait: the
// lock keeps it alive, nothing needs refreshing.
func (l *Local) postWait(ctx context.Context, rec *waitRecord, again bool) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, ok := l.waits[rec.ID]; ok || l.killed {
		return nil
	}
	path := l.waitPath(rec)
	if err := ensureDir(filepath.Dir(path)); err != nil {
		return unavailable("record a wait", err)
	}
	f, err := createFile(path)
	if err != nil {
		return unavailable("record a wait", err)
	}
	if err = f.lockExclusive(); err == nil {
		err = f.writeAt([]byte(marshalWait(rec)), 0)
	}
	if err != nil {
		f.close()
		removeFile(path)
		return unavailable("record a wait", err)
	}
	l.waits[rec.ID] = f
	return nil
}

// removeWait removes rec's file, then lets go of its lock.
func (l *Local) removeWait(ctx context.Context, rec *waitRecord) {
	l.mu.Lock()
	f, ok := l.waits[rec.ID]
	delete(l.waits, rec.ID)
	l.mu.Unlock()
	if ok {
		removeFile(l.waitPath(rec))
		f.close()
	}
}

// waitsOf reads run's live wait records.
func (l *Local) waitsOf(ctx context.Context, runID string) ([]waitRecord, error) {
	dir := filepath.Join(l.dir, "waits")
	names, err := readNames(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, unavailable("read wait records", err)
	}
	var recs []waitRecord
	for _, n := range names {
		if !strings.HasPrefix(n, hashName(runID)+"-") {
			continue
		}
		if rec, ok := readWait(filepath.Join(dir, n)); ok && rec.RunID == runID {
			recs = append(recs, rec)
		}
	}
	sortWaits(recs)
	return recs, nil
}

// readWait reads the record at path if its process still holds it. A
// complete record nobody holds is a dead process's: it is removed. (An
// incomplete one is being created: its lock comes before its content.)
func readWait(path string) (waitRecord, bool) {
	f, err := openLocked(path)
	if err != nil {
		return waitRecord{}, false
	}
	defer f.close()
	rec, ok := unmarshalWait(string(readAll(f)))
	if free, err := f.tryShared(); free || err != nil {
		if ok && free {
			removeFile(path)
		}
		return waitRecord{}, false
	}
	return rec, ok
}
