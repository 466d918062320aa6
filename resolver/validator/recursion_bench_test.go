package validator_test

import (
	"context"
	"net/netip"
	"testing"

	"github.com/miekg/dns"

	"gatehouse/internal/dnstest"
	"gatehouse/resolver"
	"gatehouse/resolver/recursor"
	"gatehouse/resolver/validator"
)

// exFunc is a resolver.Exchanger made of a function.
type exFunc func(ctx context.Context, m *dns.Msg, server netip.AddrPort) (*dns.Msg, error)

func (f exFunc) Exchange(ctx context.Context, m *dns.Msg, server netip.AddrPort) (*dns.Msg, error) {
	return f(ctx, m, server)
}

// BenchmarkRecursionOneExchange measures what the recursor and the
// validator add to a question that takes one exchange with warm delegations
// and keys (the common case in bench/recursion): over the in-memory network,
// and over real UDP to loopback servers (the recursor's port 53 is mapped to
// each test server's ephemeral port), with one ECDSA verification each.
func BenchmarkRecursionOneExchange(b *testing.B) {
	for _, udp := range []bool{false, true} {
		name := "memory"
		if udp {
			name = "udp"
		}
		b.Run(name, func(b *testing.B) {
			w := newWorld(b, worldOpts{})
			hs := map[string]dns.Handler{"192.0.2.1": w.root, "198.51.100.1": w.org, "198.51.100.2": w.example, "198.51.100.3": w.plain}
			var ex resolver.Exchanger
			if udp {
				ports := map[netip.Addr]netip.AddrPort{}
				for a, h := range hs {
					ports[netip.MustParseAddr(a)] = dnstest.NewServer(b, h)
				}
				tr := resolver.NewTransport(resolver.TransportConfig{})
				ex = exFunc(func(ctx context.Context, m *dns.Msg, s netip.AddrPort) (*dns.Msg, error) {
					return tr.Exchange(ctx, m, ports[s.Addr()])
				})
			} else {
				n := dnstest.NewNet()
				for a, h := range hs {
					n.Handle(a, h)
				}
				ex = exFunc(func(ctx context.Context, m *dns.Msg, s netip.AddrPort) (*dns.Msg, error) {
					r, err := n.Exchange(ctx, m, s)
					n.Reset()
					return r, err
				})
			}
			hints, err := recursor.ParseHints("test.hints", []byte(netHints))
			if err != nil {
				b.Fatal(err)
			}
			rec, err := recursor.New(recursor.Config{Exchanger: ex, RootHints: hints, QNameMinimisation: true})
			if err != nil {
				b.Fatal(err)
			}
			v, err := validator.New(validator.Config{Upstream: rec, TrustAnchors: w.anchors, DisableAggressiveNSEC: true})
			if err != nil {
				b.Fatal(err)
			}
			q := resolver.Question{Name: "www.example.org.", Type: dns.TypeA, DO: true}
			if _, _, err := v.Validate(b.Context(), q); err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				if _, st, err := v.Validate(b.Context(), q); err != nil || st != validator.Secure {
					b.Fatal(st, err)
				}
			}
		})
	}
}
