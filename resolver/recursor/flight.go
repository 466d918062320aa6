package recursor

import (
	"context"
	"errors"
	"sync"
	"time"
)

// flights lets concurrent resolutions that need the same work (the same
// question to the same zone's servers, the same name server's addresses)
// share one upstream exchange instead of each sending its own: the first
// caller does the work, later ones wait for its result (singleflight).
//
// A waiter waits at most flightWait: resolutions that wait on each other's
// work in a circle (possible only with glueless delegations that depend
// on one another across concurrent resolutions) then do the work
// themselves instead of deadlocking until their time budget ends. Only
// successes are shared: after a leader's error a waiter does the work
// itself, since the error may be the leader's own (its budget, its
// context, or name server names its path forbade looking up). Servers
// that failed the leader are held by then, so this costs little.
type flights[K comparable, V any] struct {
	clone func(V) V // copies a result for a waiter, so none shares mutable data

	mu sync.Mutex
	m  map[K]*flight[V]
}

type flight[V any] struct {
	done    chan struct{}
	waiters int
	val     V // a pristine copy for the waiters, when there are any
	err     error
}

// flightWait bounds how long a waiter waits for a leader's result.
const flightWait = 3 * time.Second

func newFlights[K comparable, V any](clone func(V) V) *flights[K, V] {
	return &flights[K, V]{clone: clone, m: make(map[K]*flight[V])}
}

// do returns fn's result for key, sharing a call already under way.
func (g *flights[K, V]) do(ctx context.Context, key K, fn func() (V, error)) (V, error) {
	g.mu.Lock()
	if f, ok := g.m[key]; ok {
		f.waiters++
		g.mu.Unlock()
		t := time.NewTimer(flightWait)
		defer t.Stop()
		select {
		case <-f.done:
			if f.err == nil {
				return g.clone(f.val), nil
			}
		case <-ctx.Done():
			var zero V
			return zero, ctx.Err()
		case <-t.C:
		}
		return fn() // unshared
	}
	f := &flight[V]{done: make(chan struct{})}
	g.m[key] = f
	g.mu.Unlock()

	// A panic in fn must still release the waiters.
	var (
		v   V
		err error = errFlightPanic
	)
	defer func() {
		g.mu.Lock()
		delete(g.m, key)
		n := f.waiters
		g.mu.Unlock()
		if n > 0 && err == nil {
			f.val = g.clone(v)
		}
		f.err = err
		close(f.done)
	}()
	v, err = fn()
	return v, err
}

// errFlightPanic is a leader's result when its work panicked (the panic
// goes on up the leader's goroutine); the waiters do the work themselves.
var errFlightPanic = errors.New("shared lookup panicked")
