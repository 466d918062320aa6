package cache_test

import (
	"context"
	"fmt"
	"time"

	"github.com/miekg/dns"

	"gatehouse/resolver"
	"gatehouse/resolver/cache"
)

// upstreamFunc adapts a function to resolver.Resolver.
type upstreamFunc func(context.Context, resolver.Question) (*dns.Msg, error)

func (f upstreamFunc) Resolve(ctx context.Context, q resolver.Question) (*dns.Msg, error) {
	return f(ctx, q)
}

func Example() {
	upstream := upstreamFunc(func(_ context.Context, q resolver.Question) (*dns.Msg, error) {
		m := new(dns.Msg)
		m.SetQuestion(q.Name, q.Type)
		m.Response = true
		rr, err := dns.NewRR(q.Name + " 300 IN A 192.0.2.1")
		if err != nil {
			return nil, err
		}
		m.Answer = []dns.RR{rr}
		return m, nil
	})
	c, err := cache.New(upstream, cache.Config{Size: 10000, MaxTTL: time.Hour})
	if err != nil {
		panic(err)
	}

	// The server's hot path: Lookup first, Get on a miss.
	q := resolver.Question{Name: "example.org.", Type: dns.TypeA}
	if _, ok := c.Lookup(q, time.Now()); !ok {
		r, err := c.Get(context.Background(), q)
		if err != nil {
			panic(err)
		}
		fmt.Println("miss:", r.Answer.Addrs, "from cache:", r.FromCache)
	}
	r, ok := c.Lookup(q, time.Now())
	fmt.Println("hit:", ok, r.Answer.Addrs, "from cache:", r.FromCache)
	// Output:
	// miss: [192.0.2.1] from cache: false
	// hit: true [192.0.2.1] from cache: true
}
