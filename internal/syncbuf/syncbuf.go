// Package syncbuf is a text buffer that one goroutine may write while
// others read it: tests hand it to a logger or a child process's output
// and read what was written so far.
package syncbuf

import (
	"strings"
	"sync"
)

// Buffer is an io.Writer whose String is safe to call during writes. The
// zero Buffer is empty and ready to use.
type Buffer struct {
	mu sync.Mutex
	b  strings.Builder
}

// Write appends p; it never fails.
func (s *Buffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// String returns everything written so far.
func (s *Buffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
