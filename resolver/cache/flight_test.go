package cache

import (
	"context"
	"errors"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"gatehouse/resolver"
)

// blocking returns an OnResolve that waits for release (or its context)
// before answering, and records the context it ran with.
func blocking(tb testing.TB, release <-chan struct{}, ctxs chan<- context.Context) func(context.Context, resolver.Question) (*dns.Msg, error) {
	return func(ctx context.Context, q resolver.Question) (*dns.Msg, error) {
		if ctxs != nil {
			ctxs <- ctx
		}
		select {
		case <-release:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		return answering(tb, 300)(ctx, q)
	}
}

func TestConcurrentMissesShareOneQuery(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		up := &fakeUpstream{OnResolve: blocking(t, release, nil)}
		c, _ := newTestCache(t, up, Config{Size: 100})
		q := question("example.org.", dns.TypeA)

		const n = 10
		results := make([]resolver.Cached, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() { results[i], errs[i] = c.Get(context.Background(), q) })
		}
		synctest.Wait()
		if calls := up.calls.Load(); calls != 1 {
			t.Fatalf("%d upstream calls while blocked, want 1", calls)
		}
		close(release)
		wg.Wait()
		for i := range n {
			if errs[i] != nil || results[i].Answer == nil || results[i].Answer != results[0].Answer || results[i].FromCache {
				t.Fatalf("Get %d = %+v, %v; want the shared upstream answer", i, results[i], errs[i])
			}
		}
		if calls := up.calls.Load(); calls != 1 {
			t.Fatalf("%d upstream calls, want 1", calls)
		}
		if got := testutil.ToFloat64(c.m.shared); got != n-1 {
			t.Fatalf("upstream_shared_total = %v, want %d", got, n-1)
		}
		if got := testutil.ToFloat64(c.m.misses); got != n {
			t.Fatalf("misses_total = %v, want %d", got, n)
		}
		if _, ok := c.Lookup(q, time.Now()); !ok {
			t.Fatal("shared answer not stored")
		}
	})
}

// TestImpatientCallerDoesNotFailOthers: whichever caller gives up, the
// shared upstream query carries on for the others. A later caller returns
// at once; the first, which runs the query on its own goroutine, runs it on
// for the others and returns its result.
func TestImpatientCallerDoesNotFailOthers(t *testing.T) {
	for _, first := range []bool{false, true} {
		name := "later caller"
		if first {
			name = "first caller"
		}
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				release := make(chan struct{})
				ctxs := make(chan context.Context, 1)
				up := &fakeUpstream{OnResolve: blocking(t, release, ctxs)}
				c, _ := newTestCache(t, up, Config{Size: 100})
				q := question("example.org.", dns.TypeA)

				impatient, giveUp := context.WithCancel(context.Background())
				ctx1, ctx2 := context.Background(), impatient
				if first {
					ctx1, ctx2 = impatient, context.Background()
				}
				var wg sync.WaitGroup
				var r1, r2 resolver.Cached
				var err1, err2 error
				wg.Go(func() { r1, err1 = c.Get(ctx1, q) })
				upCtx := <-ctxs
				wg.Go(func() { r2, err2 = c.Get(ctx2, q) })
				synctest.Wait()
				giveUp()
				synctest.Wait()
				if upCtx.Err() != nil {
					t.Fatalf("upstream context cancelled with one caller: %v", upCtx.Err())
				}
				if !first {
					// Returned at once, while the query still runs.
					if !errors.Is(err2, context.Canceled) {
						t.Fatalf("impatient later Get = %v, want Canceled", err2)
					}
				}
				close(release)
				wg.Wait()
				if err1 != nil || r1.Answer == nil {
					t.Fatalf("first Get = %+v, %v; want the answer", r1, err1)
				}
				if first && (err2 != nil || r2.Answer != r1.Answer) {
					t.Fatalf("patient later Get = %+v, %v; want the shared answer", r2, err2)
				}
				if up.calls.Load() != 1 {
					t.Fatalf("%d upstream calls, want 1", up.calls.Load())
				}
				if _, ok := c.Lookup(q, time.Now()); !ok {
					t.Fatal("answer not stored")
				}
			})
		})
	}
}

// TestAllCallersGone: once every caller waiting on a query has been
// cancelled (a server shutting down), the query is cancelled too, the
// first caller returns at once, and the next miss starts a new query.
func TestAllCallersGone(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctxs := make(chan context.Context, 2)
		up := &fakeUpstream{OnResolve: blocking(t, nil, ctxs)}
		c, _ := newTestCache(t, up, Config{Size: 100})
		q := question("example.org.", dns.TypeA)

		ctx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		var err1, err2 error
		wg.Go(func() { _, err1 = c.Get(ctx, q) })
		upCtx := <-ctxs
		wg.Go(func() { _, err2 = c.Get(ctx, q) })
		synctest.Wait()
		cancel()
		wg.Wait() // would hang if the query ran on to its deadline
		if !errors.Is(err1, context.Canceled) || !errors.Is(err2, context.Canceled) {
			t.Fatalf("Get = %v and %v, want Canceled", err1, err2)
		}
		if upCtx.Err() == nil {
			t.Fatal("upstream context not cancelled when every caller gave up")
		}
		if n := testutil.ToFloat64(c.m.inserts); n != 0 {
			t.Fatalf("inserts_total = %v, want 0", n)
		}

		// A fresh query, not the cancelled one.
		next, stop := context.WithTimeout(context.Background(), time.Second)
		defer stop()
		_, err := c.Get(next, q)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("next Get = %v, want DeadlineExceeded from a new query", err)
		}
		if up.calls.Load() != 2 {
			t.Fatalf("%d upstream calls, want 2", up.calls.Load())
		}
		c.mu.Lock()
		n := len(c.flights)
		c.mu.Unlock()
		if n != 0 {
			t.Fatalf("%d flights left", n)
		}
	})
}

// TestPrefetchNotCancelledByCallers: a caller that joins a prefetch and is
// cancelled does not cancel the prefetch.
func TestPrefetchNotCancelledByCallers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		ctxs := make(chan context.Context, 1)
		up := &fakeUpstream{OnResolve: blocking(t, release, ctxs)}
		c, _ := newTestCache(t, up, Config{Size: 100})
		q := question("example.org.", dns.TypeA)

		_, run := c.join(context.Background(), q, prefetchTimeout, true)
		go run()
		upCtx := <-ctxs
		ctx, cancel := context.WithCancel(context.Background())
		var err error
		done := make(chan struct{})
		go func() { _, err = c.Get(ctx, q); close(done) }()
		synctest.Wait()
		cancel()
		<-done
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Get = %v, want Canceled", err)
		}
		if upCtx.Err() != nil {
			t.Fatalf("prefetch cancelled by a caller that joined it: %v", upCtx.Err())
		}
		close(release)
		synctest.Wait()
		if _, ok := c.Lookup(q, time.Now()); !ok {
			t.Fatal("prefetched answer not stored")
		}
	})
}

// TestUpstreamDeadline: the shared query runs until the first caller's
// deadline, or a default timeout when it has none.
func TestUpstreamDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctxs := make(chan context.Context, 1)
		up := &fakeUpstream{OnResolve: blocking(t, nil, ctxs)}
		c, _ := newTestCache(t, up, Config{Size: 100})

		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		want, _ := ctx.Deadline()
		_, err := c.Get(ctx, question("a.example.", dns.TypeA))
		got, ok := (<-ctxs).Deadline()
		if !ok || !got.Equal(want) {
			t.Fatalf("upstream deadline %v (%v), want the caller's %v", got, ok, want)
		}
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Get = %v, want DeadlineExceeded", err)
		}

		start := time.Now()
		_, err = c.Get(context.Background(), question("b.example.", dns.TypeA))
		got, ok = (<-ctxs).Deadline()
		if !ok || got.Sub(start) != upstreamTimeout {
			t.Fatalf("upstream deadline %v after start (%v), want %v", got.Sub(start), ok, upstreamTimeout)
		}
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Get = %v, want DeadlineExceeded", err)
		}
	})
}

// TestFlushDropsQueriesInFlight: an answer from before a Flush is not
// stored, and a miss after it does not join the old query.
func TestFlushDropsQueriesInFlight(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		up := &fakeUpstream{OnResolve: blocking(t, release, nil)}
		c, _ := newTestCache(t, up, Config{Size: 100})
		q := question("example.org.", dns.TypeA)

		var wg sync.WaitGroup
		var err1 error
		wg.Go(func() { _, err1 = c.Get(context.Background(), q) })
		synctest.Wait()
		c.Flush()
		wg.Go(func() { _, _ = c.Get(context.Background(), q) })
		synctest.Wait()
		if up.calls.Load() != 2 {
			t.Fatalf("%d upstream calls, want 2: the miss after Flush joined the old query", up.calls.Load())
		}
		close(release)
		wg.Wait()
		if err1 != nil {
			t.Fatal(err1)
		}
		if n := testutil.ToFloat64(c.m.inserts); n != 1 {
			t.Fatalf("inserts_total = %v, want 1 (only the query started after Flush)", n)
		}
	})
}
