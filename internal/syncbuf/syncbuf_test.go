package syncbuf

import (
	"fmt"
	"strings"
	"sync"
	"testing"
)

// Writers and readers at once (run with -race): every write arrives
// whole, and a reader never sees a torn one.
func TestBuffer_concurrentWritesAndReads(t *testing.T) {
	var b Buffer
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := range 100 {
				fmt.Fprintf(&b, "w%d-%03d\n", w, i)
			}
		})
	}
	wg.Go(func() {
		for range 100 {
			for _, line := range strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n") {
				if line != "" && len(line) != len("w0-000") {
					t.Errorf("torn line %q", line)
					return
				}
			}
		}
	})
	wg.Wait()
	if n := strings.Count(b.String(), "\n"); n != 400 {
		t.Errorf("%d lines, want 400", n)
	}
}
