package cache

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"gatehouse/resolver"
)

func TestServeStale(t *testing.T) {
	errDown := func(context.Context, resolver.Question) (*dns.Msg, error) {
		return nil, resolver.ErrNoUpstream
	}
	servfail := func(_ context.Context, q resolver.Question) (*dns.Msg, error) {
		return reply(t, q, dns.RcodeServerFailure, nil, nil), nil
	}
	for name, tc := range map[string]struct {
		cfg       Config
		fail      func(context.Context, resolver.Question) (*dns.Msg, error)
		after     time.Duration // since the 60 s answer was stored
		wantStale bool
	}{
		"error, within StaleMaxAge": {
			cfg: Config{ServeStale: true, StaleMaxAge: time.Hour}, fail: errDown,
			after: 61 * time.Second, wantStale: true,
		},
		"error, last second of StaleMaxAge": {
			cfg: Config{ServeStale: true, StaleMaxAge: time.Hour}, fail: errDown,
			after: time.Hour + 59*time.Second, wantStale: true,
		},
		"error, past StaleMaxAge": {
			cfg: Config{ServeStale: true, StaleMaxAge: time.Hour}, fail: errDown,
			after: time.Hour + 60*time.Second,
		},
		"error, default StaleMaxAge": {
			cfg: Config{ServeStale: true}, fail: errDown,
			after: 23 * time.Hour, wantStale: true,
		},
		"error, disabled": {
			fail: errDown, after: 61 * time.Second,
		},
		"SERVFAIL, within StaleMaxAge": {
			cfg: Config{ServeStale: true, StaleMaxAge: time.Hour, ServfailTTL: 30 * time.Second}, fail: servfail,
			after: 61 * time.Second, wantStale: true,
		},
		"SERVFAIL, past StaleMaxAge": {
			cfg: Config{ServeStale: true, StaleMaxAge: time.Hour, ServfailTTL: 30 * time.Second}, fail: servfail,
			after: 2 * time.Hour,
		},
		"SERVFAIL, disabled": {
			cfg: Config{ServfailTTL: 30 * time.Second}, fail: servfail, after: 61 * time.Second,
		},
	} {
		t.Run(name, func(t *testing.T) {
			clk := newClock()
			up := &fakeUpstream{OnResolve: answering(t, 60)}
			cfg := tc.cfg
			cfg.Size, cfg.Now = 100, clk.Now
			c, _ := newTestCache(t, up, cfg)
			q := question("example.org.", dns.TypeA)
			first, err := c.Get(context.Background(), q)
			if err != nil {
				t.Fatal(err)
			}

			up.OnResolve = tc.fail
			clk.Advance(tc.after)
			if _, ok := c.Lookup(q, clk.Now()); ok {
				t.Fatal("Lookup served an expired entry")
			}
			for i := range 2 { // the failure must not replace the stale entry
				r, err := c.Get(context.Background(), q)
				switch {
				case tc.wantStale:
					if err != nil || !r.Stale || !r.FromCache || r.Answer != first.Answer {
						t.Fatalf("Get %d = %+v, %v; want the stale answer", i, r, err)
					}
					if want := uint32(tc.after / time.Second); r.Age != want {
						t.Fatalf("Get %d: Age %d, want %d", i, r.Age, want)
					}
				case err != nil:
					if !errors.Is(err, resolver.ErrNoUpstream) {
						t.Fatalf("Get %d: %v, want ErrNoUpstream", i, err)
					}
				default:
					if r.Stale || r.Answer.Rcode != dns.RcodeServerFailure {
						t.Fatalf("Get %d = %+v, want SERVFAIL", i, r)
					}
				}
			}
			want := 0.0
			if tc.wantStale {
				want = 2
			}
			if n := testutil.ToFloat64(c.m.stale); n != want {
				t.Fatalf("stale_served_total = %v, want %v", n, want)
			}
		})
	}
}

// TestStaleWhenCallerTimesOut: a caller whose deadline passes while the
// upstream query hangs gets the stale answer rather than an error.
func TestStaleWhenCallerTimesOut(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		up := &fakeUpstream{OnResolve: answering(t, 60)}
		c, _ := newTestCache(t, up, Config{Size: 100, ServeStale: true})
		q := question("example.org.", dns.TypeA)
		first, err := c.Get(context.Background(), q)
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(2 * time.Minute)
		up.OnResolve = func(ctx context.Context, _ resolver.Question) (*dns.Msg, error) {
			<-ctx.Done()
			return nil, ctx.Err()
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		r, err := c.Get(ctx, q)
		if err != nil || !r.Stale || r.Answer != first.Answer {
			t.Fatalf("Get = %+v, %v; want the stale answer", r, err)
		}

		// Without a stale entry, the caller gets its context's error.
		ctx2, cancel2 := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel2()
		if _, err := c.Get(ctx2, question("other.example.", dns.TypeA)); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Get = %v, want DeadlineExceeded", err)
		}
	})
}

// TestServfailKeepsFreshEntry: a SERVFAIL (from a prefetch, say) never
// replaces an entry that is still fresh, even with ServfailTTL set.
func TestServfailKeepsFreshEntry(t *testing.T) {
	clk := newClock()
	up := &fakeUpstream{OnResolve: answering(t, 60)}
	c, _ := newTestCache(t, up, Config{Size: 100, ServfailTTL: time.Minute, Now: clk.Now})
	q := question("example.org.", dns.TypeA)
	first, err := c.Get(context.Background(), q)
	if err != nil {
		t.Fatal(err)
	}
	up.OnResolve = func(_ context.Context, q resolver.Question) (*dns.Msg, error) {
		return reply(t, q, dns.RcodeServerFailure, nil, nil), nil
	}
	f, run := c.join(context.Background(), q, time.Second, true)
	run()
	<-f.done
	if f.err != nil || f.res.Answer != first.Answer || f.res.Stale {
		t.Fatalf("refresh = %+v, %v; want the fresh entry", f.res, f.err)
	}
	if r, ok := c.Lookup(q, clk.Now()); !ok || r.Answer != first.Answer {
		t.Fatal("the SERVFAIL replaced a fresh entry")
	}
}

// TestStaleServfailNotServed: a cached SERVFAIL is never served stale.
func TestStaleServfailNotServed(t *testing.T) {
	clk := newClock()
	up := &fakeUpstream{OnResolve: func(_ context.Context, q resolver.Question) (*dns.Msg, error) {
		return reply(t, q, dns.RcodeServerFailure, nil, nil), nil
	}}
	c, _ := newTestCache(t, up, Config{Size: 100, ServeStale: true, ServfailTTL: 5 * time.Second, Now: clk.Now})
	q := question("example.org.", dns.TypeA)
	if r, err := c.Get(context.Background(), q); err != nil || r.Answer.Rcode != dns.RcodeServerFailure {
		t.Fatalf("Get = %+v, %v; want SERVFAIL", r, err)
	}
	clk.Advance(6 * time.Second)
	up.OnResolve = func(context.Context, resolver.Question) (*dns.Msg, error) { return nil, resolver.ErrNoUpstream }
	if r, err := c.Get(context.Background(), q); !errors.Is(err, resolver.ErrNoUpstream) {
		t.Fatalf("Get = %+v, %v; want ErrNoUpstream, not a stale SERVFAIL", r, err)
	}
}
