package querylog

import (
	"os"
	"sync"
	"time"
)

// Status is the query log's health, for the dashboard and the CLI.
type Status struct {
	Queued    int    // entries waiting for the writer
	QueueSize int    // capacity of the queue
	Written   uint64 // entries committed since Open
	Dropped   uint64 // entries lost since Open: queue full or a failed batch
	Errors    uint64 // database errors since Open
	// LastError is the most recent database error, "" if none since Open;
	// Failing is set while the writer is backing off after it.
	LastError   string
	LastErrorAt time.Time
	Failing     bool
	LastWriteAt time.Time // last successful commit

	Purged          uint64    // entries deleted by retention since Open
	Pseudonymised   uint64    // entries pseudonymised since Open
	LastMaintenance time.Time // end of the last complete maintenance pass

	DatabaseBytes int64 // database file plus write-ahead log
}

type statusState struct {
	mu          sync.Mutex
	written     uint64
	errors      uint64
	failDropped uint64
	lastErr     string
	lastErrAt   time.Time
	failing     bool
	lastWriteAt time.Time
	purged      uint64
	pseudo      uint64
	lastMaint   time.Time
}

// Status reports the log's health. It is cheap: no database query.
func (l *Log) Status() Status {
	s := &l.st
	s.mu.Lock()
	st := Status{
		Written: s.written, Errors: s.errors, Dropped: s.failDropped,
		LastError: s.lastErr, LastErrorAt: s.lastErrAt, Failing: s.failing, LastWriteAt: s.lastWriteAt,
		Purged: s.purged, Pseudonymised: s.pseudo, LastMaintenance: s.lastMaint,
	}
	s.mu.Unlock()
	st.Dropped += l.ring.dropped.Load()
	if l.ring.buf != nil {
		st.Queued = l.ring.len()
		st.QueueSize = len(l.ring.buf)
	}
	st.DatabaseBytes = fileBytes(l.cfg.Path)
	return st
}

// fileBytes is the size of the database and its WAL on disk.
func fileBytes(path string) int64 {
	var n int64
	for _, p := range []string{path, path + "-wal"} {
		if fi, err := os.Stat(p); err == nil {
			n += fi.Size()
		}
	}
	return n
}
