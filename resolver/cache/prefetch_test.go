package cache

import (
	"context"
	"fmt"
	"net/netip"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
	"unsafe"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"gatehouse/resolver"
)

// numbered returns an OnResolve whose nth answer (from 1) is 192.0.2.n with
// the given TTL. Calls from gateFrom on wait for gate.
func numbered(tb testing.TB, ttl int, gateFrom int64, gate <-chan struct{}) func(context.Context, resolver.Question) (*dns.Msg, error) {
	var n atomic.Int64
	return func(_ context.Context, q resolver.Question) (*dns.Msg, error) {
		i := n.Add(1)
		if i >= gateFrom {
			<-gate
		}
		return reply(tb, q, dns.RcodeSuccess, []string{fmt.Sprintf("%%s %d IN A 192.0.2.%d", ttl, i)}, nil), nil
	}
}

func addr(r resolver.Cached) netip.Addr {
	if r.Answer == nil || len(r.Answer.Addrs) != 1 {
		return netip.Addr{}
	}
	return r.Answer.Addrs[0]
}

func TestPrefetchRefreshesPopularEntryOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		gate := make(chan struct{})
		up := &fakeUpstream{OnResolve: numbered(t, 100, 2, gate)}
		c, _ := newTestCache(t, up, Config{Size: 100, Prefetch: true})
		q := question("example.org.", dns.TypeA)
		if _, err := c.Get(context.Background(), q); err != nil {
			t.Fatal(err)
		}
		for range 5 { // popular, but far from expiry
			c.Lookup(q, time.Now())
		}
		time.Sleep(89 * time.Second) // 11% left
		c.Lookup(q, time.Now())
		synctest.Wait()
		if up.calls.Load() != 1 {
			t.Fatalf("prefetched with 11%% of the lifetime left")
		}

		time.Sleep(2 * time.Second) // 9% left
		// The name lives in a buffer the caller reuses: the prefetch must
		// keep its own copy.
		scratch := []byte("example.org.")
		sq := resolver.Question{Name: unsafe.String(&scratch[0], len(scratch)), Type: dns.TypeA}
		r, ok := c.Lookup(sq, time.Now())
		copy(scratch, "xxxxxxxxxxxx")
		if !ok || addr(r) != netip.MustParseAddr("192.0.2.1") || r.Age != 91 {
			t.Fatalf("Lookup that starts the prefetch = %+v, %v; want the current entry", r, ok)
		}
		for range 5 {
			c.Lookup(q, time.Now())
		}
		synctest.Wait()
		if n := up.calls.Load(); n != 2 {
			t.Fatalf("%d upstream calls with a prefetch in flight, want 2", n)
		}
		close(gate)
		synctest.Wait()

		r, ok = c.Lookup(q, time.Now())
		if !ok || addr(r) != netip.MustParseAddr("192.0.2.2") || r.Age != 0 {
			t.Fatalf("Lookup after the prefetch = %+v (%v), %v; want the refreshed answer", r, addr(r), ok)
		}
		if c.Len() != 1 {
			t.Fatalf("Len = %d, want 1 (the prefetch stored under a wrong name?)", c.Len())
		}
		if n := testutil.ToFloat64(c.m.prefetches); n != 1 {
			t.Fatalf("prefetches_total = %v, want 1", n)
		}
	})
}

func TestPrefetchConditions(t *testing.T) {
	for name, tc := range map[string]struct {
		prefetch bool
		ttl      int
		hits     int // Lookups in the last 10% of the lifetime
		want     bool
	}{
		"popular":           {prefetch: true, ttl: 100, hits: 3, want: true},
		"not popular":       {prefetch: true, ttl: 100, hits: 2},
		"short lifetime":    {prefetch: true, ttl: 9, hits: 10},
		"minimum lifetime":  {prefetch: true, ttl: 10, hits: 3, want: true},
		"prefetch disabled": {ttl: 100, hits: 10},
	} {
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				up := &fakeUpstream{OnResolve: numbered(t, tc.ttl, 1<<62, nil)}
				c, _ := newTestCache(t, up, Config{Size: 100, Prefetch: tc.prefetch})
				q := question("example.org.", dns.TypeA)
				if _, err := c.Get(context.Background(), q); err != nil {
					t.Fatal(err)
				}
				lifetime := time.Duration(tc.ttl) * time.Second
				time.Sleep(lifetime - lifetime/20) // 5% left
				for range tc.hits {
					if _, ok := c.Lookup(q, time.Now()); !ok {
						t.Fatal("miss")
					}
				}
				synctest.Wait()
				if got := up.calls.Load() == 2; got != tc.want {
					t.Fatalf("prefetched = %v, want %v", got, tc.want)
				}
			})
		})
	}
}
