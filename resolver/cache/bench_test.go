package cache

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/miekg/dns"

	"gatehouse/resolver"
)

// warmCache returns a cache holding n answers and their questions.
func warmCache(tb testing.TB, n int, cfg Config) (*Cache, []resolver.Question) {
	tb.Helper()
	up := &fakeUpstream{OnResolve: answering(tb, 3600)}
	cfg.Size = max(cfg.Size, n)
	c, _ := newTestCache(tb, up, cfg)
	qs := make([]resolver.Question, n)
	for i := range qs {
		qs[i] = question(fmt.Sprintf("host%d.example.org.", i), dns.TypeA)
		if _, err := c.Get(context.Background(), qs[i]); err != nil {
			tb.Fatal(err)
		}
	}
	return c, qs
}

func TestLookupHitDoesNotAllocate(t *testing.T) {
	clk := newClock()
	c, qs := warmCache(t, 100, Config{Prefetch: true, ServeStale: true, Now: clk.Now})
	now := clk.Now().Add(time.Minute)
	i := 0
	allocs := testing.AllocsPerRun(1000, func() {
		if _, ok := c.Lookup(qs[i%len(qs)], now); !ok {
			t.Fatal("miss")
		}
		i++
	})
	if allocs != 0 {
		t.Fatalf("Lookup hit allocates %v times, want 0", allocs)
	}
	allocs = testing.AllocsPerRun(1000, func() {
		if _, ok := c.Lookup(question("absent.example.", dns.TypeA), now); ok {
			t.Fatal("hit")
		}
	})
	if allocs != 0 {
		t.Fatalf("Lookup miss allocates %v times, want 0", allocs)
	}
}

func BenchmarkLookupHit(b *testing.B) {
	c, qs := warmCache(b, 4096, Config{Size: 100000})
	now := time.Now()
	b.Run("serial", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			if _, ok := c.Lookup(qs[i&4095], now); !ok {
				b.Fatal("miss")
			}
			i++
		}
	})
	// cold: as at a school's few hundred queries a second, where every
	// query finds the CPU's caches holding other work: 262,144 answers
	// (hundreds of MB of map, list, entries and answers) looked up in a
	// scattered order, so most of the lines a hit reads come from memory.
	// What it measures is how many separate lines a hit touches.
	b.Run("cold", func(b *testing.B) {
		const n = 1 << 18
		c, qs := warmCache(b, n, Config{Size: 2 * n}) // room to spare: shards fill unevenly
		b.ReportAllocs()
		i, addrs := 0, 0
		for b.Loop() {
			r, ok := c.Lookup(qs[i], now)
			if !ok {
				b.Fatal("miss")
			}
			for _, a := range r.Answer.Addrs { // as the answer-side checks do
				addrs += a.BitLen()
			}
			i = (i*5 + 40503) & (n - 1) // a full-period walk, far from sequential
		}
		if addrs == 0 {
			b.Fatal("no addresses read")
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			i := 0
			for pb.Next() {
				if _, ok := c.Lookup(qs[i&4095], now); !ok {
					b.Error("miss")
					return
				}
				i++
			}
		})
	})
	b.Run("parallel-one-name", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, ok := c.Lookup(qs[0], now); !ok {
					b.Error("miss")
					return
				}
			}
		})
	})
}

// BenchmarkGetMiss measures a miss end to end with an instant upstream: the
// shared-query bookkeeping, converting the reply and storing it. Two names
// alternate in a one-entry cache, so every Get misses.
func BenchmarkGetMiss(b *testing.B) {
	qs := []resolver.Question{question("a.example.org.", dns.TypeA), question("b.example.org.", dns.TypeA)}
	msgs := map[string]*dns.Msg{}
	for _, q := range qs {
		msgs[q.Name] = reply(b, q, dns.RcodeSuccess, []string{"%s 300 IN A 192.0.2.1", "%s 300 IN A 192.0.2.2"}, nil)
	}
	up := &fakeUpstream{OnResolve: func(_ context.Context, q resolver.Question) (*dns.Msg, error) {
		return msgs[q.Name], nil
	}}
	c, _ := newTestCache(b, up, Config{Size: 1})
	ctx := context.Background()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		r, err := c.Get(ctx, qs[i&1])
		if err != nil || r.FromCache {
			b.Fatalf("Get = %+v, %v; want a miss", r, err)
		}
		i++
	}
}
