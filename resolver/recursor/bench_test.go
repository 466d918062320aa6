package recursor_test

import (
	"context"
	"net/netip"
	"sync/atomic"
	"testing"

	"github.com/miekg/dns"

	"gatehouse/resolver"
)

// counting wraps a Net to count exchanges without keeping its log.
func counting(b *testing.B) (resolver.Exchanger, *atomic.Int64) {
	n := newWorld(b).net()
	var count atomic.Int64
	return exchangerFunc(func(ctx context.Context, m *dns.Msg, server netip.AddrPort) (*dns.Msg, error) {
		count.Add(1)
		r, err := n.Exchange(ctx, m, server)
		n.Reset()
		return r, err
	}), &count
}

// BenchmarkResolveCold resolves a name three labels deep with a fresh
// Recursor each time: priming, root, TLD and leaf.
func BenchmarkResolveCold(b *testing.B) {
	ex, count := counting(b)
	q := question("www.example.org.", dns.TypeA)
	b.ReportAllocs()
	for b.Loop() {
		r := newRecursor(b, ex)
		if _, err := r.Resolve(b.Context(), q); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(count.Load())/float64(b.N), "exchanges/op")
}

// BenchmarkResolveWarm resolves with delegations cached: one exchange with
// the leaf server (the Recursor does not cache answers; the cache above
// it does).
func BenchmarkResolveWarm(b *testing.B) {
	ex, count := counting(b)
	r := newRecursor(b, ex)
	q := question("www.example.org.", dns.TypeA)
	if _, err := r.Resolve(b.Context(), q); err != nil {
		b.Fatal(err)
	}
	count.Store(0)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := r.Resolve(b.Context(), q); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(count.Load())/float64(b.N), "exchanges/op")
}

// BenchmarkResolveColdGlueless is BenchmarkResolveCold for a zone whose
// name servers have no glue.
func BenchmarkResolveColdGlueless(b *testing.B) {
	ex, count := counting(b)
	q := question("www.glueless.org.", dns.TypeA)
	b.ReportAllocs()
	for b.Loop() {
		r := newRecursor(b, ex)
		if _, err := r.Resolve(b.Context(), q); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(count.Load())/float64(b.N), "exchanges/op")
}
