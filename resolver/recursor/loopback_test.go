package recursor_test

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/miekg/dns"

	"gatehouse/internal/dnstest"
	"gatehouse/resolver"
	"gatehouse/resolver/recursor"
)

// loopback is an Exchanger that sends through the real resolver.Transport,
// to real servers on 127.0.0.1 ports standing in for the world's addresses.
// Nothing leaves loopback.
type loopback struct {
	tr    *resolver.Transport
	ports map[netip.Addr]netip.AddrPort
}

func newLoopback(t *testing.T, w world) *loopback {
	t.Helper()
	l := &loopback{tr: resolver.NewTransport(resolver.TransportConfig{}), ports: make(map[netip.Addr]netip.AddrPort)}
	t.Cleanup(func() { l.tr.Close() })
	for addr, h := range w {
		l.ports[netip.MustParseAddr(addr)] = dnstest.NewServer(t, h)
	}
	return l
}

func (l *loopback) port(server netip.AddrPort) (netip.AddrPort, error) {
	p, ok := l.ports[server.Addr()]
	if !ok || server.Port() != 53 {
		return netip.AddrPort{}, fmt.Errorf("no loopback server for %s: %w", server, resolver.ErrNetwork)
	}
	return p, nil
}

func (l *loopback) Exchange(ctx context.Context, m *dns.Msg, server netip.AddrPort) (*dns.Msg, error) {
	p, err := l.port(server)
	if err != nil {
		return nil, err
	}
	return l.tr.Exchange(ctx, m, p)
}

func (l *loopback) ExchangeTCP(ctx context.Context, m *dns.Msg, server netip.AddrPort) (*dns.Msg, error) {
	p, err := l.port(server)
	if err != nil {
		return nil, err
	}
	return l.tr.ExchangeTCP(ctx, m, p)
}

func TestRecursor_Resolve_loopback(t *testing.T) {
	w := newWorld(t)
	// The TLD truncates over UDP: the real Transport retries over TCP.
	var tcp atomic.Int32
	org := w["198.51.100.1"]
	w["198.51.100.1"] = dnstest.TruncateUDP(dns.HandlerFunc(func(rw dns.ResponseWriter, q *dns.Msg) {
		if dnstest.IsTCP(rw) {
			tcp.Add(1)
		}
		org.ServeDNS(rw, q)
	}))
	l := newLoopback(t, w)
	t.Cleanup(func() {
		if tcp.Load() == 0 {
			t.Error("the truncating server got no TCP query")
		}
	})
	tests := []struct {
		name    string
		mods    []func(*recursor.Config)
		qname   string
		wantAns []string
	}{
		{name: "plain", qname: "www.example.org.", wantAns: []string{"www.example.org. 300 IN A 192.0.2.80"}},
		{name: "cname across zones", qname: "away.example.org.", wantAns: []string{"away.example.org. 300 IN CNAME www.example.net.", "www.example.net. 300 IN A 192.0.2.81"}},
		{name: "glueless", qname: "www.glueless.org.", wantAns: []string{"www.glueless.org. 300 IN A 192.0.2.90"}},
		{name: "qmin and 0x20", mods: []func(*recursor.Config){qmin, use0x20}, qname: "a.b.c.example.org.", wantAns: []string{`a.b.c.example.org. 300 IN TXT "deep"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRecursor(t, l, tt.mods...)
			qtype := dns.TypeA
			if strings.HasPrefix(tt.qname, "a.b.c") {
				qtype = dns.TypeTXT
			}
			m := resolve(t, r, tt.qname, qtype)
			checkMsg(t, m, dns.RcodeSuccess, rrs(t, tt.wantAns...), rrs(t))
		})
	}
}

// Many questions at once on a cold recursor: shared infrastructure caches,
// parallel glueless lookups and priming (run with -race).
func TestRecursor_Resolve_concurrent(t *testing.T) {
	n := newWorld(t).net()
	r := newRecursor(t, n, qmin)
	recursor.SetRand(r, func(int) int { return 0 })
	questions := []struct {
		name  string
		qtype uint16
		want  string
	}{
		{"www.example.org.", dns.TypeA, "192.0.2.80"},
		{"alias.example.org.", dns.TypeA, "192.0.2.80"},
		{"away.example.org.", dns.TypeA, "192.0.2.81"},
		{"www.glueless.org.", dns.TypeA, "192.0.2.90"},
		{"chain.example.net.", dns.TypeA, "192.0.2.80"},
		{"www.example.org.", dns.TypeAAAA, "2001:db8::80"},
	}
	errs := make(chan error, 60)
	for i := range 60 {
		q := questions[i%len(questions)]
		go func() {
			m, err := r.Resolve(t.Context(), question(q.name, q.qtype))
			switch {
			case err != nil:
				errs <- err
			case len(m.Answer) == 0 || !strings.HasSuffix(m.Answer[len(m.Answer)-1].String(), "\t"+q.want):
				errs <- fmt.Errorf("%s: answer %v, want %s last", q.name, m.Answer, q.want)
			default:
				errs <- nil
			}
		}()
	}
	for range 60 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}
