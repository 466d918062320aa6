package querylog

import (
	"errors"
	"fmt"
	"unsafe"

	"modernc.org/libc"
	"modernc.org/libc/sys/types"
	sqlite3 "modernc.org/sqlite/lib"
)

// rawConn is the writer's batch connection: SQLite's C API, called
// directly on the same pure-Go library the database/sql driver wraps.
// Writing a row through database/sql costs, besides SQLite's own work,
// argument conversion, a driver lock, a bind-parameter-name lookup and a
// C allocation per string, and a mutex round trip per C call; together
// about a third of the writer's CPU. This connection binds the values
// directly, points string parameters into one reused buffer, and is
// opened SQLITE_OPEN_NOMUTEX: only the writer goroutine ever uses it, one
// call at a time, so SQLite's per-connection mutex buys nothing.
//
// It shares the file, the WAL and the locks (same library, same VFS) with
// the database/sql connections, so transactions on either are ordinary
// SQLite transactions on one database.
type rawConn struct {
	tls *libc.TLS
	db  uintptr
}

// openRaw opens path (which must exist and already be in WAL mode) and
// runs pragmas on the new connection.
func openRaw(path string, pragmas ...string) (*rawConn, error) {
	c := &rawConn{tls: libc.NewTLS()}
	name, err := libc.CString(path)
	if err != nil {
		c.tls.Close()
		return nil, err
	}
	defer libc.Xfree(c.tls, name)
	pdb := libc.Xmalloc(c.tls, types.Size_t(unsafe.Sizeof(uintptr(0))))
	if pdb == 0 {
		c.tls.Close()
		return nil, errors.New("sqlite: out of memory")
	}
	defer libc.Xfree(c.tls, pdb)
	*(*uintptr)(cmem(pdb)) = 0
	rc := sqlite3.Xsqlite3_open_v2(c.tls, name, pdb, sqlite3.SQLITE_OPEN_READWRITE|sqlite3.SQLITE_OPEN_NOMUTEX, 0)
	c.db = *(*uintptr)(cmem(pdb))
	if rc != sqlite3.SQLITE_OK {
		err := c.err(rc)
		c.close()
		return nil, err
	}
	sqlite3.Xsqlite3_extended_result_codes(c.tls, c.db, 1)
	for _, p := range pragmas {
		if err := c.exec("PRAGMA " + p); err != nil {
			c.close()
			return nil, fmt.Errorf("PRAGMA %s: %w", p, err)
		}
	}
	return c, nil
}

// close closes the connection; statements must be closed first.
func (c *rawConn) close() error {
	var err error
	if c.db != 0 {
		if rc := sqlite3.Xsqlite3_close_v2(c.tls, c.db); rc != sqlite3.SQLITE_OK {
			err = c.err(rc)
		}
		c.db = 0
	}
	if c.tls != nil {
		c.tls.Close()
		c.tls = nil
	}
	return err
}

// err turns a result code into an error carrying SQLite's message.
func (c *rawConn) err(rc int32) error {
	msg := libc.GoString(sqlite3.Xsqlite3_errstr(c.tls, rc))
	if c.db != 0 {
		if m := libc.GoString(sqlite3.Xsqlite3_errmsg(c.tls, c.db)); m != "" && m != msg {
			msg += ": " + m
		}
	}
	return fmt.Errorf("sqlite: %s (%d)", msg, rc)
}

// exec runs one statement without parameters, discarding any rows.
func (c *rawConn) exec(query string) error {
	s, err := c.prepare(query)
	if err != nil {
		return err
	}
	defer s.close()
	return s.run()
}

// rawStmt is a prepared statement of a rawConn. Use: bind the parameters
// (1-based), step until it returns false, reset.
type rawStmt struct {
	c *rawConn
	p uintptr
	// buf holds the text parameters of the current execution: SQLite
	// reads them in place (SQLITE_STATIC) until reset.
	buf      uintptr
	cap, off int
	nparams  int
}

// textBuf is the bytes of text parameters one execution can bind in
// place; longer ones are copied by SQLite (SQLITE_TRANSIENT).
const textBuf = 4096

func (c *rawConn) prepare(query string) (*rawStmt, error) {
	q, err := libc.CString(query)
	if err != nil {
		return nil, err
	}
	defer libc.Xfree(c.tls, q)
	pp := libc.Xmalloc(c.tls, types.Size_t(unsafe.Sizeof(uintptr(0))))
	if pp == 0 {
		return nil, errors.New("sqlite: out of memory")
	}
	defer libc.Xfree(c.tls, pp)
	*(*uintptr)(cmem(pp)) = 0
	if rc := sqlite3.Xsqlite3_prepare_v2(c.tls, c.db, q, -1, pp, 0); rc != sqlite3.SQLITE_OK {
		return nil, fmt.Errorf("preparing %q: %w", query, c.err(rc))
	}
	s := &rawStmt{c: c, p: *(*uintptr)(cmem(pp))}
	if s.p == 0 {
		return nil, fmt.Errorf("preparing %q: no statement", query)
	}
	s.buf = libc.Xmalloc(c.tls, types.Size_t(textBuf))
	if s.buf == 0 {
		sqlite3.Xsqlite3_finalize(c.tls, s.p)
		return nil, errors.New("sqlite: out of memory")
	}
	s.cap = textBuf
	s.nparams = int(sqlite3.Xsqlite3_bind_parameter_count(c.tls, s.p))
	return s, nil
}

// params is the number of parameters the statement takes.
func (s *rawStmt) params() int { return s.nparams }

func (s *rawStmt) close() {
	if s.p != 0 {
		sqlite3.Xsqlite3_finalize(s.c.tls, s.p)
		s.p = 0
	}
	if s.buf != 0 {
		libc.Xfree(s.c.tls, s.buf)
		s.buf = 0
	}
}

func (s *rawStmt) int64(i int, v int64) error {
	if rc := sqlite3.Xsqlite3_bind_int64(s.c.tls, s.p, int32(i), v); rc != sqlite3.SQLITE_OK {
		return s.c.err(rc)
	}
	return nil
}

// sqliteTransient is SQLITE_TRANSIENT, the destructor value that makes
// SQLite copy a parameter at once.
const sqliteTransient = ^uintptr(0)

// text binds v, in place in s.buf when it fits (the common case: names,
// addresses and answer summaries are short), else from a temporary copy
// that SQLite copies again (SQLITE_TRANSIENT).
func (s *rawStmt) text(i int, v string) error {
	n := len(v)
	p, destructor := s.buf+uintptr(s.off), uintptr(0)
	if s.off+n <= s.cap {
		s.off += n
	} else {
		if p = libc.Xmalloc(s.c.tls, types.Size_t(n)); p == 0 {
			return errors.New("sqlite: out of memory")
		}
		defer libc.Xfree(s.c.tls, p)
		destructor = sqliteTransient
	}
	copy(unsafe.Slice((*byte)(cmem(p)), n), v)
	if rc := sqlite3.Xsqlite3_bind_text(s.c.tls, s.p, int32(i), p, int32(n), destructor); rc != sqlite3.SQLITE_OK {
		return s.c.err(rc)
	}
	return nil
}

// step runs the statement to its next row; false when it is done.
func (s *rawStmt) step() (bool, error) {
	switch rc := sqlite3.Xsqlite3_step(s.c.tls, s.p); rc {
	case sqlite3.SQLITE_ROW:
		return true, nil
	case sqlite3.SQLITE_DONE:
		return false, nil
	default:
		return false, s.c.err(rc)
	}
}

// column reads an integer column of the current row.
func (s *rawStmt) column(i int) int64 {
	return sqlite3.Xsqlite3_column_int64(s.c.tls, s.p, int32(i))
}

// reset readies the statement for the next execution. Bindings stay
// until rebound; the in-place text buffer is reused.
func (s *rawStmt) reset() error {
	s.off = 0
	if rc := sqlite3.Xsqlite3_reset(s.c.tls, s.p); rc != sqlite3.SQLITE_OK {
		return s.c.err(rc)
	}
	return nil
}

// run steps a statement to completion, discarding any rows, and resets
// it.
func (s *rawStmt) run() error {
	for {
		row, err := s.step()
		if err != nil {
			s.reset()
			return err
		}
		if !row {
			return s.reset()
		}
	}
}

// one steps a statement expected to return at most one integer; ok is
// false when it returns no row. The statement is reset either way.
func (s *rawStmt) one() (v int64, ok bool, err error) {
	row, err := s.step()
	if err != nil {
		s.reset()
		return 0, false, err
	}
	if row {
		v, ok = s.column(0), true
		// Finish it: an INSERT ... RETURNING completes on the last step.
		for row && err == nil {
			row, err = s.step()
		}
	}
	if e := s.reset(); err == nil {
		err = e
	}
	return v, ok, err
}

// cmem is the address of C memory (allocated by libc, outside the Go
// heap) as an unsafe.Pointer.
func cmem(p uintptr) unsafe.Pointer { return unsafe.Add(nil, p) }

// changes is the number of rows the last INSERT, UPDATE or DELETE changed.
func (c *rawConn) changes() int64 { return sqlite3.Xsqlite3_changes64(c.tls, c.db) }
