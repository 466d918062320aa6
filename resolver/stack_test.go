package resolver

import (
	"runtime"
	"sync"
	"testing"
)

// TestGrowStack: a goroutine that called growStack holds a stack big
// enough for a miss, so resolving one does not copy its stack again.
func TestGrowStack(t *testing.T) {
	const n = 64
	inUse := func() uint64 {
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.StackInuse
	}
	run := func(grow bool) uint64 {
		var started, release sync.WaitGroup
		started.Add(n)
		release.Add(1)
		before := inUse()
		for range n {
			go func() {
				if grow {
					growStack()
				}
				started.Done()
				release.Wait()
			}()
		}
		started.Wait()
		after := inUse()
		release.Done()
		return (after - min(after, before)) / n
	}
	plain, grown := run(false), run(true)
	if grown < missStack {
		t.Errorf("a goroutine after growStack holds %d bytes of stack, want at least %d (without it: %d)", grown, missStack, plain)
	}
}
