package cache

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"

	"gatehouse/resolver"
)

// fakeUpstream is a resolver.Resolver whose answers the test scripts.
type fakeUpstream struct {
	OnResolve func(ctx context.Context, q resolver.Question) (*dns.Msg, error)
	calls     atomic.Int64
}

func (f *fakeUpstream) Resolve(ctx context.Context, q resolver.Question) (*dns.Msg, error) {
	f.calls.Add(1)
	return f.OnResolve(ctx, q)
}

// clock is an injectable Config.Now.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

var t0 = time.Date(2025, 9, 1, 8, 0, 0, 0, time.UTC)

func newClock() *clock { return &clock{t: t0} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// rrs parses zone-file lines; "%s" in a line stands for name.
func rrs(tb testing.TB, name string, lines ...string) []dns.RR {
	tb.Helper()
	var out []dns.RR
	for _, l := range lines {
		rr, err := dns.NewRR(strings.ReplaceAll(l, "%s", name))
		if err != nil {
			tb.Fatalf("parsing %q: %v", l, err)
		}
		out = append(out, rr)
	}
	return out
}

// reply builds an upstream reply to q.
func reply(tb testing.TB, q resolver.Question, rcode int, answer, ns []string) *dns.Msg {
	tb.Helper()
	m := new(dns.Msg)
	m.SetQuestion(q.Name, q.Type)
	m.Response = true
	m.RecursionAvailable = true
	m.Rcode = rcode
	m.Answer = rrs(tb, q.Name, answer...)
	m.Ns = rrs(tb, q.Name, ns...)
	return m
}

// answering returns an OnResolve that replies to every question with an A
// record of the given TTL.
func answering(tb testing.TB, ttl int) func(context.Context, resolver.Question) (*dns.Msg, error) {
	line := fmt.Sprintf("%%s %d IN A 192.0.2.1", ttl)
	return func(_ context.Context, q resolver.Question) (*dns.Msg, error) {
		return reply(tb, q, dns.RcodeSuccess, []string{line}, nil), nil
	}
}

// newTestCache builds a cache over up with fresh, registered metrics.
func newTestCache(tb testing.TB, up resolver.Resolver, cfg Config) (*Cache, *prometheus.Registry) {
	tb.Helper()
	reg := prometheus.NewRegistry()
	m, err := NewMetrics(reg)
	if err != nil {
		tb.Fatal(err)
	}
	cfg.Metrics = m
	c, err := New(up, cfg)
	if err != nil {
		tb.Fatal(err)
	}
	return c, reg
}

func question(name string, t uint16) resolver.Question {
	return resolver.Question{Name: name, Type: t}
}
