package forward_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/miekg/dns"

	"gatehouse/internal/dnstest"
	"gatehouse/resolver"
	"gatehouse/resolver/forward"
)

const zone = `
example.org.     3600 IN SOA ns.example.org. host.example.org. 1 7200 900 1209600 300
www.example.org.  300 IN A   192.0.2.1
`

func newForwarder(t testing.TB, cfg forward.Config) *forward.Forwarder {
	t.Helper()
	if cfg.Exchanger == nil {
		tr := resolver.NewTransport(resolver.TransportConfig{Timeout: 200 * time.Millisecond})
		t.Cleanup(func() { tr.Close() })
		cfg.Exchanger = tr
	}
	f, err := forward.New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return f
}

func TestForwarder_loopback(t *testing.T) {
	addr := dnstest.NewServer(t, dnstest.NewZone(t, zone))
	f := newForwarder(t, forward.Config{Upstreams: []forward.Upstream{{Addr: addr}}})
	tests := []struct {
		name      string
		qtype     uint16
		wantRcode int
		wantAns   int
		wantSOA   bool
	}{
		{"www.example.org.", dns.TypeA, dns.RcodeSuccess, 1, false},
		{"www.example.org.", dns.TypeAAAA, dns.RcodeSuccess, 0, true}, // NODATA
		{"nope.example.org.", dns.TypeA, dns.RcodeNameError, 0, true}, // NXDOMAIN
	}
	for _, tt := range tests {
		r, err := f.Resolve(t.Context(), resolver.Question{Name: tt.name, Type: tt.qtype})
		if err != nil {
			t.Fatalf("Resolve(%s %s): %v", tt.name, dns.TypeToString[tt.qtype], err)
		}
		hasSOA := len(r.Ns) == 1 && r.Ns[0].Header().Rrtype == dns.TypeSOA
		if r.Rcode != tt.wantRcode || len(r.Answer) != tt.wantAns || hasSOA != tt.wantSOA {
			t.Errorf("Resolve(%s %s) = %s with %d answers, SOA %v; want %s, %d, %v", tt.name, dns.TypeToString[tt.qtype],
				dns.RcodeToString[r.Rcode], len(r.Answer), hasSOA, dns.RcodeToString[tt.wantRcode], tt.wantAns, tt.wantSOA)
		}
	}
	if h := f.Health()[0]; !h.Healthy || h.Failures != 0 || h.SRTT == 0 {
		t.Errorf("Health() = %+v, want healthy with a measured SRTT", h)
	}
}

func TestForwarder_loopback_failover(t *testing.T) {
	silent := dnstest.NewServer(t, dns.HandlerFunc(func(dns.ResponseWriter, *dns.Msg) {}))
	good := dnstest.NewServer(t, dnstest.NewZone(t, zone))
	f := newForwarder(t, forward.Config{Upstreams: []forward.Upstream{{Addr: silent}, {Addr: good}}})
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	// Unless exploration reorders the first query, it tries the silent
	// upstream first; if it does, the silent one (no SRTT yet) goes first
	// in the second. Either way one query fails over.
	for range 2 {
		r, err := f.Resolve(ctx, resolver.Question{Name: "www.example.org.", Type: dns.TypeA})
		if err != nil || len(r.Answer) != 1 {
			t.Fatalf("Resolve = %v, %v, want the good upstream's answer", r, err)
		}
	}
	if h := f.Health()[0]; h.Failures == 0 {
		t.Errorf("silent upstream health = %+v, want a failure recorded", h)
	}
}

func TestForwarder_loopback_allDown(t *testing.T) {
	silent := dnstest.NewServer(t, dns.HandlerFunc(func(dns.ResponseWriter, *dns.Msg) {}))
	f := newForwarder(t, forward.Config{Upstreams: []forward.Upstream{{Addr: silent, Protocol: forward.ProtoTCP}}})
	_, err := f.Resolve(t.Context(), resolver.Question{Name: "www.example.org.", Type: dns.TypeA})
	if !errors.Is(err, resolver.ErrNoUpstream) {
		t.Errorf("Resolve = %v, want ErrNoUpstream", err)
	}
}

func TestForwarder_loopback_tls(t *testing.T) {
	addr, pool, name := dnstest.NewTLSServer(t, dnstest.NewZone(t, zone))
	f := newForwarder(t, forward.Config{
		Upstreams: []forward.Upstream{{Addr: addr, Protocol: forward.ProtoTLS, TLSServerName: name}},
		TLSRoots:  pool,
	})
	r, err := f.Resolve(t.Context(), resolver.Question{Name: "www.example.org.", Type: dns.TypeA})
	if err != nil || len(r.Answer) != 1 {
		t.Fatalf("Resolve over DoT = %v, %v, want one answer", r, err)
	}

	// The certificate does not name another server name: refused.
	f = newForwarder(t, forward.Config{
		Upstreams: []forward.Upstream{{Addr: addr, Protocol: forward.ProtoTLS, TLSServerName: "other.test"}},
		TLSRoots:  pool,
	})
	if _, err := f.Resolve(t.Context(), resolver.Question{Name: "www.example.org.", Type: dns.TypeA}); !errors.Is(err, resolver.ErrNoUpstream) {
		t.Errorf("Resolve with the wrong server name = %v, want ErrNoUpstream", err)
	}
}

func BenchmarkForwarderResolve(b *testing.B) {
	addr := dnstest.NewServer(b, dnstest.NewZone(b, zone))
	f := newForwarder(b, forward.Config{Upstreams: []forward.Upstream{{Addr: addr}}})
	q := resolver.Question{Name: "www.example.org.", Type: dns.TypeA}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := f.Resolve(ctx, q); err != nil {
			b.Fatal(err)
		}
	}
}
