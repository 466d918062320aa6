package cache

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"

	"gatehouse/resolver"
)

// TestConcurrentStress mixes Lookup, Get and Flush on a small cache with
// every feature on, for the race detector.
func TestConcurrentStress(t *testing.T) {
	clk := newClock()
	up := &fakeUpstream{OnResolve: func(ctx context.Context, q resolver.Question) (*dns.Msg, error) {
		switch rand.IntN(10) {
		case 0:
			return nil, resolver.ErrNetwork
		case 1:
			return reply(t, q, dns.RcodeServerFailure, nil, nil), nil
		case 2:
			return reply(t, q, dns.RcodeNameError, nil, []string{"example. 60 IN SOA ns.example. admin.example. 1 7200 3600 1209600 30"}), nil
		}
		return reply(t, q, dns.RcodeSuccess, []string{fmt.Sprintf("%%s %d IN A 192.0.2.1", 10+rand.IntN(50))}, nil), nil
	}}
	c, _ := newTestCache(t, up, Config{
		Size: 300, ServeStale: true, StaleMaxAge: time.Minute, Prefetch: true,
		ServfailTTL: 2 * time.Second, Now: clk.Now,
	})
	qs := make([]resolver.Question, 400)
	for i := range qs {
		qs[i] = resolver.Question{Name: fmt.Sprintf("n%d.example.", i%200), Type: dns.TypeA, DO: i >= 200}
	}

	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := range 3000 {
				q := qs[rand.IntN(len(qs))]
				switch {
				case w == 0 && i%500 == 0:
					c.Flush()
				case w == 1:
					clk.Advance(100 * time.Millisecond)
					_ = c.Len()
				case i%2 == 0:
					if r, ok := c.Lookup(q, clk.Now()); ok && (r.Answer == nil || r.Stale || !r.FromCache) {
						t.Errorf("Lookup %v = %+v", q, r)
						return
					}
				default:
					// A generous deadline: only a hang should reach it. Some
					// callers give up at once.
					ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
					if i%7 == 1 {
						cancel()
					}
					r, err := c.Get(ctx, q)
					cancel()
					if err == nil && r.Answer == nil {
						t.Errorf("Get %v: no answer and no error", q)
						return
					}
					if err != nil && !errors.Is(err, resolver.ErrNetwork) && !(i%7 == 1 && errors.Is(err, context.Canceled)) {
						t.Errorf("Get %v: %v", q, err)
						return
					}
				}
			}
		})
	}
	wg.Wait()
	if n := c.Len(); n > 300 {
		t.Fatalf("Len %d exceeds Size", n)
	}
}
