package forward

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"gatehouse/resolver"
)

// behaviour says how a fake upstream responds.
type behaviour struct {
	latency time.Duration
	hang    bool   // never answer: wait for ctx
	neterr  bool   // fail at once with a network error
	rcode   int    // reply rcode (default NOERROR with an A record)
	qname   string // reply for this name instead of the question's
}

// fakeNet is an Exchanger whose upstreams behave as the test says. Used
// inside a synctest bubble, its latencies take no real time.
type fakeNet struct {
	mu    sync.Mutex
	by    map[netip.AddrPort]behaviour
	calls []string // "proto://addr" of each exchange, in order
}

func newFakeNet() *fakeNet { return &fakeNet{by: make(map[netip.AddrPort]behaviour)} }

func (n *fakeNet) set(addr netip.AddrPort, b behaviour) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.by[addr] = b
}

// takeCalls returns the exchanges so far and forgets them.
func (n *fakeNet) takeCalls() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	c := n.calls
	n.calls = nil
	return c
}

func (n *fakeNet) exchange(ctx context.Context, m *dns.Msg, server netip.AddrPort, proto string) (*dns.Msg, error) {
	n.mu.Lock()
	b := n.by[server]
	n.calls = append(n.calls, proto+"://"+server.String())
	n.mu.Unlock()

	if b.hang {
		<-ctx.Done()
		return nil, fmt.Errorf("exchanging with %s: %w: %w", server, resolver.ErrNetwork, ctx.Err())
	}
	if b.neterr {
		return nil, fmt.Errorf("exchanging with %s: %w: connection refused", server, resolver.ErrNetwork)
	}
	select {
	case <-time.After(b.latency):
	case <-ctx.Done():
		return nil, fmt.Errorf("exchanging with %s: %w: %w", server, resolver.ErrNetwork, ctx.Err())
	}
	r := new(dns.Msg)
	r.SetReply(m)
	r.RecursionAvailable = true
	r.Rcode = b.rcode
	if b.qname != "" {
		r.Question[0].Name = b.qname
	}
	switch b.rcode {
	case dns.RcodeSuccess:
		r.Answer = []dns.RR{&dns.A{
			Hdr: dns.RR_Header{Name: r.Question[0].Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 60},
			A:   server.Addr().AsSlice(), // which upstream answered
		}}
	case dns.RcodeServerFailure:
		r.SetEdns0(1232, false)
		opt := r.IsEdns0()
		opt.Option = append(opt.Option, &dns.EDNS0_EDE{InfoCode: dns.ExtendedErrorCodeNoReachableAuthority, ExtraText: server.String()})
	}
	return r, nil
}

func (n *fakeNet) Exchange(ctx context.Context, m *dns.Msg, server netip.AddrPort) (*dns.Msg, error) {
	return n.exchange(ctx, m, server, ProtoUDP)
}

func (n *fakeNet) ExchangeTCP(ctx context.Context, m *dns.Msg, server netip.AddrPort) (*dns.Msg, error) {
	return n.exchange(ctx, m, server, ProtoTCP)
}

func (n *fakeNet) ExchangeTLS(ctx context.Context, m *dns.Msg, server netip.AddrPort, conf *tls.Config) (*dns.Msg, error) {
	if conf == nil || conf.ServerName == "" {
		return nil, errors.New("fake: no TLS server name")
	}
	return n.exchange(ctx, m, server, ProtoTLS)
}

var (
	addrA = netip.MustParseAddrPort("192.0.2.1:53")
	addrB = netip.MustParseAddrPort("192.0.2.2:53")
	addrC = netip.MustParseAddrPort("192.0.2.3:53")
)

// newTestForwarder returns a Forwarder over net with exploration off and
// metrics on a fresh registry.
func newTestForwarder(t *testing.T, net Exchanger, cfg Config) (*Forwarder, *Metrics, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	m, err := NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Exchanger, cfg.Metrics = net, m
	f, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	f.explore = func() bool { return false }
	return f, m, reg
}

func question(name string) resolver.Question {
	return resolver.Question{Name: name, Type: dns.TypeA}
}

// answeredBy returns the upstream address in the fake's A answer.
func answeredBy(t *testing.T, r *dns.Msg) netip.Addr {
	t.Helper()
	if r == nil || len(r.Answer) != 1 {
		t.Fatalf("reply %v, want one A record", r)
	}
	ip, _ := netip.AddrFromSlice(r.Answer[0].(*dns.A).A)
	return ip.Unmap()
}

func resolve(t *testing.T, f *Forwarder, name string) (*dns.Msg, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 4*time.Second)
	defer cancel()
	return f.Resolve(ctx, question(name))
}

func healthOf(t *testing.T, f *Forwarder, addr netip.AddrPort) UpstreamHealth {
	t.Helper()
	for _, h := range f.Health() {
		if h.Addr == addr {
			return h
		}
	}
	t.Fatalf("no health for %v", addr)
	return UpstreamHealth{}
}

func TestForwarder_Resolve_prefersFaster(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		net := newFakeNet()
		net.set(addrA, behaviour{latency: 50 * time.Millisecond})
		net.set(addrB, behaviour{latency: 5 * time.Millisecond})
		f, _, _ := newTestForwarder(t, net, Config{Upstreams: []Upstream{{Addr: addrA}, {Addr: addrB}}})

		for range 3 { // measure both
			if _, err := resolve(t, f, "www.example.org."); err != nil {
				t.Fatal(err)
			}
		}
		net.takeCalls()
		for range 10 {
			r, err := resolve(t, f, "www.example.org.")
			if err != nil {
				t.Fatal(err)
			}
			if got := answeredBy(t, r); got != addrB.Addr() {
				t.Errorf("answered by %v, want the faster %v", got, addrB.Addr())
			}
		}
		if calls := net.takeCalls(); len(calls) != 10 {
			t.Errorf("10 queries made %d exchanges %v, want 10 (no failover needed)", len(calls), calls)
		}
		a, b := healthOf(t, f, addrA), healthOf(t, f, addrB)
		if a.SRTT != 50*time.Millisecond || b.SRTT != 5*time.Millisecond {
			t.Errorf("SRTT A, B = %v, %v, want 50ms, 5ms", a.SRTT, b.SRTT)
		}
	})
}

func TestForwarder_Resolve_exploreRefreshesSRTT(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		net := newFakeNet()
		net.set(addrA, behaviour{latency: 50 * time.Millisecond})
		net.set(addrB, behaviour{latency: 20 * time.Millisecond})
		f, _, _ := newTestForwarder(t, net, Config{Upstreams: []Upstream{{Addr: addrA}, {Addr: addrB}}})
		f.explore = func() bool { return false }
		for range 2 {
			if _, err := resolve(t, f, "www.example.org."); err != nil {
				t.Fatal(err)
			}
		}
		// A gets fast. Without exploration nothing would ever notice.
		net.set(addrA, behaviour{latency: time.Millisecond})
		for range 50 {
			if _, err := resolve(t, f, "www.example.org."); err != nil {
				t.Fatal(err)
			}
		}
		if got := healthOf(t, f, addrA).SRTT; got != 50*time.Millisecond {
			t.Fatalf("without exploration A's SRTT = %v, want it stuck at 50ms", got)
		}

		f.explore = newExplorer(exploreOneIn) // real rate, deterministic choice points
		for range 1000 {
			if _, err := resolve(t, f, "www.example.org."); err != nil {
				t.Fatal(err)
			}
		}
		net.takeCalls()
		f.explore = func() bool { return false }
		r, err := resolve(t, f, "www.example.org.")
		if err != nil {
			t.Fatal(err)
		}
		if got := answeredBy(t, r); got != addrA.Addr() {
			t.Errorf("after exploring, answered by %v (SRTT A %v, B %v), want the now faster %v",
				got, healthOf(t, f, addrA).SRTT, healthOf(t, f, addrB).SRTT, addrA.Addr())
		}
	})
}

// newExplorer returns an explore func that says yes once every n calls.
func newExplorer(n int) func() bool {
	var mu sync.Mutex
	i := 0
	return func() bool {
		mu.Lock()
		defer mu.Unlock()
		i++
		return i%n == 0
	}
}

func TestForwarder_Resolve_failover(t *testing.T) {
	tests := []struct {
		name       string
		a          behaviour
		wantResult string
	}{
		{"timeout", behaviour{hang: true}, "timeout"},
		{"network error", behaviour{neterr: true}, "error"},
		{"servfail", behaviour{rcode: dns.RcodeServerFailure}, "servfail"},
		{"refused", behaviour{rcode: dns.RcodeRefused}, "refused"},
		{"formerr", behaviour{rcode: dns.RcodeFormatError}, "error"},
		{"wrong question", behaviour{qname: "evil.example."}, "error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				net := newFakeNet()
				net.set(addrA, tt.a)
				net.set(addrB, behaviour{latency: time.Millisecond})
				f, m, _ := newTestForwarder(t, net, Config{Upstreams: []Upstream{{Addr: addrA}, {Addr: addrB}}})

				r, err := resolve(t, f, "www.example.org.")
				if err != nil {
					t.Fatalf("Resolve: %v", err)
				}
				if got := answeredBy(t, r); got != addrB.Addr() {
					t.Errorf("answered by %v, want %v", got, addrB.Addr())
				}
				if calls := net.takeCalls(); len(calls) != 2 || calls[0] != "udp://"+addrA.String() {
					t.Errorf("exchanges = %v, want A then B", calls)
				}
				if got := testutil.ToFloat64(m.requests.WithLabelValues("udp://"+addrA.String(), tt.wantResult)); got != 1 {
					t.Errorf("requests_total{upstream=A,result=%s} = %v, want 1", tt.wantResult, got)
				}
				if got := testutil.ToFloat64(m.requests.WithLabelValues("udp://"+addrB.String(), "success")); got != 1 {
					t.Errorf("requests_total{upstream=B,result=success} = %v, want 1", got)
				}
				if h := healthOf(t, f, addrA); h.Failures != 1 || h.LastError == "" || !h.Healthy {
					t.Errorf("health of A = %+v, want 1 failure with an error, still healthy", h)
				}
			})
		})
	}
}

func TestForwarder_Resolve_unhealthyBackoff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		net := newFakeNet()
		net.set(addrA, behaviour{rcode: dns.RcodeRefused})
		net.set(addrB, behaviour{latency: 10 * time.Millisecond})
		f, m, _ := newTestForwarder(t, net, Config{Upstreams: []Upstream{{Addr: addrA}, {Addr: addrB}}})
		gaugeA := m.healthy.WithLabelValues("udp://" + addrA.String())
		ask := func() []string {
			t.Helper()
			r, err := resolve(t, f, "www.example.org.")
			if err != nil {
				t.Fatalf("Resolve: %v", err)
			}
			answeredBy(t, r)
			return net.takeCalls()
		}

		// A refuses fast, so it stays first (SRTT unknown) until it is
		// marked unhealthy after failThreshold consecutive failures.
		for i := range failThreshold {
			if calls := ask(); len(calls) != 2 {
				t.Fatalf("query %d: exchanges %v, want A then B", i, calls)
			}
		}
		h := healthOf(t, f, addrA)
		if h.Healthy || h.Failures != failThreshold || !h.RetryAt.Equal(h.LastErrorAt.Add(initialBackoff)) {
			t.Fatalf("health of A = %+v, want unhealthy, retry in %v", h, initialBackoff)
		}
		if got := testutil.ToFloat64(gaugeA); got != 0 {
			t.Errorf("upstream_healthy{A} = %v, want 0", got)
		}

		// Skipped during the backoff.
		for range 5 {
			if calls := ask(); len(calls) != 1 || calls[0] != "udp://"+addrB.String() {
				t.Fatalf("during backoff exchanges = %v, want B only", calls)
			}
		}

		// After the backoff: probed first, still failing: the backoff doubles.
		time.Sleep(initialBackoff)
		if calls := ask(); len(calls) != 2 || calls[0] != "udp://"+addrA.String() {
			t.Fatalf("after backoff exchanges = %v, want a probe of A, then B", calls)
		}
		if h := healthOf(t, f, addrA); !h.RetryAt.Equal(h.LastErrorAt.Add(2 * initialBackoff)) {
			t.Fatalf("after a failed probe RetryAt = %v, want last failure + %v", h.RetryAt, 2*initialBackoff)
		}
		time.Sleep(initialBackoff)
		if calls := ask(); len(calls) != 1 {
			t.Fatalf("within the doubled backoff exchanges = %v, want B only", calls)
		}

		// A recovers: the next probe succeeds and it is healthy again.
		net.set(addrA, behaviour{latency: time.Millisecond})
		time.Sleep(initialBackoff)
		calls := ask()
		if len(calls) != 1 || calls[0] != "udp://"+addrA.String() {
			t.Fatalf("recovery probe exchanges = %v, want A only", calls)
		}
		if h := healthOf(t, f, addrA); !h.Healthy || h.Failures != 0 {
			t.Errorf("health of A after recovery = %+v, want healthy", h)
		}
		if got := testutil.ToFloat64(gaugeA); got != 1 {
			t.Errorf("upstream_healthy{A} = %v, want 1", got)
		}
	})
}

func TestForwarder_Resolve_maxBackoff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		net := newFakeNet()
		net.set(addrA, behaviour{neterr: true})
		net.set(addrB, behaviour{})
		f, _, _ := newTestForwarder(t, net, Config{Upstreams: []Upstream{{Addr: addrA}, {Addr: addrB}}})
		for range 20 { // every query, at least one probe per loop
			if _, err := resolve(t, f, "www.example.org."); err != nil {
				t.Fatal(err)
			}
			time.Sleep(maxBackoff)
		}
		if _, err := resolve(t, f, "www.example.org."); err != nil {
			t.Fatal(err)
		}
		if h := healthOf(t, f, addrA); !h.RetryAt.Equal(h.LastErrorAt.Add(maxBackoff)) {
			t.Errorf("RetryAt = last failure + %v, want + %v (the cap)", h.RetryAt.Sub(h.LastErrorAt), maxBackoff)
		}
	})
}

func TestForwarder_Resolve_allFail(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		net := newFakeNet()
		net.set(addrA, behaviour{neterr: true})
		net.set(addrB, behaviour{hang: true})
		f, _, _ := newTestForwarder(t, net, Config{Upstreams: []Upstream{{Addr: addrA}, {Addr: addrB}}})
		r, err := resolve(t, f, "www.example.org.")
		if !errors.Is(err, resolver.ErrNoUpstream) || r != nil {
			t.Errorf("Resolve = %v, %v, want ErrNoUpstream", r, err)
		}
		if calls := net.takeCalls(); len(calls) != 2 {
			t.Errorf("exchanges = %v, want both upstreams tried", calls)
		}
	})
}

func TestForwarder_Resolve_allServfail(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		net := newFakeNet()
		net.set(addrA, behaviour{rcode: dns.RcodeServerFailure})
		net.set(addrB, behaviour{rcode: dns.RcodeRefused})
		f, _, _ := newTestForwarder(t, net, Config{Upstreams: []Upstream{{Addr: addrA}, {Addr: addrB}}})
		r, err := resolve(t, f, "www.example.org.")
		if err != nil {
			t.Fatalf("Resolve: %v, want the SERVFAIL reply", err)
		}
		if r.Rcode != dns.RcodeServerFailure {
			t.Fatalf("rcode = %s, want SERVFAIL", dns.RcodeToString[r.Rcode])
		}
		var ede *dns.EDNS0_EDE
		if opt := r.IsEdns0(); opt != nil {
			for _, o := range opt.Option {
				ede, _ = o.(*dns.EDNS0_EDE)
			}
		}
		if ede == nil || ede.ExtraText != addrA.String() {
			t.Errorf("EDE = %v, want the upstream's", ede)
		}
	})
}

func TestForwarder_Resolve_cancelDoesNotCharge(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		net := newFakeNet()
		net.set(addrA, behaviour{hang: true})
		net.set(addrB, behaviour{})
		f, _, _ := newTestForwarder(t, net, Config{Upstreams: []Upstream{{Addr: addrA}, {Addr: addrB}}})
		for range failThreshold + 1 {
			ctx, cancel := context.WithCancel(t.Context())
			time.AfterFunc(time.Second, cancel)
			_, err := f.Resolve(ctx, question("www.example.org."))
			if !errors.Is(err, context.Canceled) || !errors.Is(err, resolver.ErrNoUpstream) {
				t.Fatalf("Resolve = %v, want ErrNoUpstream and context.Canceled", err)
			}
			if calls := net.takeCalls(); len(calls) != 1 {
				t.Fatalf("exchanges = %v, want A only (no failover after cancel)", calls)
			}
		}
		if h := healthOf(t, f, addrA); h.Failures != 0 || !h.Healthy {
			t.Errorf("health of A = %+v, want no failures charged for cancelled queries", h)
		}
	})
}

func TestForwarder_Resolve_canonicalName(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		net := newFakeNet()
		net.set(addrA, behaviour{qname: "WwW.ExAmPlE.oRg."}) // 0x20-echoing upstream
		f, _, _ := newTestForwarder(t, net, Config{Upstreams: []Upstream{{Addr: addrA}}})
		r, err := resolve(t, f, "www.example.org.")
		if err != nil {
			t.Fatal(err)
		}
		if got := r.Question[0].Name; got != "www.example.org." {
			t.Errorf("reply question = %q, want the canonical name asked", got)
		}
	})
}

func TestForwarder_Resolve_query(t *testing.T) {
	var got *dns.Msg
	ex := onExchange(func(m *dns.Msg) { got = m.Copy() })
	f, _, _ := newTestForwarder(t, ex, Config{Upstreams: []Upstream{{Addr: addrA}}})
	q := resolver.Question{Name: "www.example.org.", Type: dns.TypeAAAA, DO: true, CD: true}
	if _, err := f.Resolve(t.Context(), q); err != nil {
		t.Fatal(err)
	}
	opt := got.IsEdns0()
	if !got.RecursionDesired || !got.CheckingDisabled || opt == nil || !opt.Do() ||
		got.Question[0] != (dns.Question{Name: q.Name, Qtype: dns.TypeAAAA, Qclass: dns.ClassINET}) {
		t.Errorf("upstream query = %v, want RD, CD, DO and the question", got)
	}
}

// onExchange is an Exchanger that shows each query to fn and answers NOERROR.
type onExchange func(m *dns.Msg)

func (fn onExchange) Exchange(_ context.Context, m *dns.Msg, _ netip.AddrPort) (*dns.Msg, error) {
	fn(m)
	r := new(dns.Msg)
	r.SetReply(m)
	return r, nil
}

func (fn onExchange) ExchangeTCP(ctx context.Context, m *dns.Msg, s netip.AddrPort) (*dns.Msg, error) {
	return nil, errors.New("unexpected tcp")
}

func (fn onExchange) ExchangeTLS(ctx context.Context, m *dns.Msg, s netip.AddrPort, _ *tls.Config) (*dns.Msg, error) {
	return nil, errors.New("unexpected tls")
}

func TestForwarder_route(t *testing.T) {
	school := Upstream{Addr: netip.MustParseAddrPort("10.0.0.1:53")}
	sub := Upstream{Addr: netip.MustParseAddrPort("10.0.0.2:53")}
	corp := Upstream{Addr: netip.MustParseAddrPort("10.0.0.3:53"), Protocol: ProtoTCP}
	def := Upstream{Addr: addrA}
	f, _, _ := newTestForwarder(t, newFakeNet(), Config{
		Upstreams: []Upstream{def},
		Conditional: []Rule{
			{Domains: []string{"school.internal.", "10.in-addr.arpa."}, Upstreams: []Upstream{school}},
			{Domains: []string{"a.school.internal."}, Upstreams: []Upstream{sub}},
			{Domains: []string{"Corp."}, Upstreams: []Upstream{corp}},
		},
	})
	tests := []struct {
		name string
		want Upstream
	}{
		{"school.internal.", school},
		{"www.school.internal.", school},
		{"a.b.school.internal.", school},
		{"a.school.internal.", sub},
		{"x.a.school.internal.", sub},
		{"xa.school.internal.", school},
		{"evilschool.internal.", def},
		{"school.internal.evil.", def},
		{"internal.", def},
		{"1.0.0.10.in-addr.arpa.", school},
		{"1.0.0.110.in-addr.arpa.", def},
		{"corp.", corp},
		{"b.corp.", corp},
		{"notcorp.", def},
		{"example.org.", def},
		{".", def},
	}
	for _, tt := range tests {
		ups := f.route(tt.name)
		if len(ups) != 1 || ups[0].cfg.Addr != tt.want.Addr {
			var got []string
			for _, u := range ups {
				got = append(got, u.label)
			}
			t.Errorf("route(%q) = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestForwarder_route_rootRule(t *testing.T) {
	f, _, _ := newTestForwarder(t, newFakeNet(), Config{
		Upstreams:   []Upstream{{Addr: addrA}},
		Conditional: []Rule{{Domains: []string{"."}, Upstreams: []Upstream{{Addr: addrB}}}, {Domains: []string{"lan."}, Upstreams: []Upstream{{Addr: addrC}}}},
	})
	for name, want := range map[string]netip.AddrPort{"example.org.": addrB, ".": addrB, "x.lan.": addrC} {
		if ups := f.route(name); ups[0].cfg.Addr != want {
			t.Errorf("route(%q) = %v, want %v", name, ups[0].label, want)
		}
	}
}

func TestForwarder_Resolve_conditionalProtocols(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		net := newFakeNet()
		f, _, _ := newTestForwarder(t, net, Config{
			Upstreams: []Upstream{{Addr: addrA}},
			Conditional: []Rule{
				{Domains: []string{"school.internal."}, Upstreams: []Upstream{{Addr: addrB, Protocol: ProtoTLS, TLSServerName: "dns.school.internal"}}},
				{Domains: []string{"corp."}, Upstreams: []Upstream{{Addr: addrC, Protocol: ProtoTCP}}},
			},
		})
		for name, want := range map[string]string{
			"www.school.internal.": "tls://" + addrB.String(),
			"www.corp.":            "tcp://" + addrC.String(),
			"www.example.org.":     "udp://" + addrA.String(),
		} {
			if _, err := resolve(t, f, name); err != nil {
				t.Fatal(err)
			}
			if calls := net.takeCalls(); len(calls) != 1 || calls[0] != want {
				t.Errorf("%s: exchanges = %v, want [%s]", name, calls, want)
			}
		}
	})
}

func TestNew_invalid(t *testing.T) {
	ok := []Upstream{{Addr: addrA}}
	tests := []struct {
		name    string
		cfg     Config
		wantErr string
	}{
		{"no upstreams", Config{}, "Upstreams: no upstreams"},
		{"bad address", Config{Upstreams: []Upstream{{}}}, "Upstreams[0]: invalid address"},
		{"port zero", Config{Upstreams: []Upstream{{Addr: netip.MustParseAddrPort("192.0.2.1:0")}}}, "invalid address"},
		{"bad protocol", Config{Upstreams: []Upstream{{Addr: addrA, Protocol: "https"}}}, `unknown protocol "https"`},
		{"tls name without tls", Config{Upstreams: []Upstream{{Addr: addrA, TLSServerName: "x"}}}, "TLS server name"},
		{"rule without upstreams", Config{Upstreams: ok, Conditional: []Rule{{Domains: []string{"lan."}}}}, "Conditional[0].Upstreams: no upstreams"},
		{"rule without domains", Config{Upstreams: ok, Conditional: []Rule{{Upstreams: ok}}}, "Conditional[0].Domains: no domains"},
		{"bad domain", Config{Upstreams: ok, Conditional: []Rule{{Domains: []string{"a..b."}, Upstreams: ok}}}, "invalid domain"},
		{"duplicate domain", Config{Upstreams: ok, Conditional: []Rule{
			{Domains: []string{"lan."}, Upstreams: ok}, {Domains: []string{"LAN"}, Upstreams: ok},
		}}, `Conditional[1].Domains[0]: "lan." is in more than one rule`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(tt.cfg)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("New error = %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestNew_sharedUpstreams(t *testing.T) {
	f, _, _ := newTestForwarder(t, newFakeNet(), Config{
		Upstreams: []Upstream{{Addr: addrA}, {Addr: addrA, Protocol: ProtoTLS}},
		Conditional: []Rule{
			{Domains: []string{"lan."}, Upstreams: []Upstream{{Addr: addrA, Protocol: ProtoUDP}, {Addr: addrB}, {Addr: addrA}}},
		},
	})
	h := f.Health()
	if len(h) != 3 {
		t.Fatalf("Health() has %d upstreams, want 3 distinct: %+v", len(h), h)
	}
	if h[1].Protocol != ProtoTLS || h[1].TLSServerName != addrA.Addr().String() {
		t.Errorf("tls upstream without a name = %+v, want its IP address as the name", h[1])
	}
	if got := len(f.route("x.lan.")); got != 2 {
		t.Errorf("a rule naming %d upstreams (one twice) tries %d, want 2", 3, got)
	}
	if f.defaults[0] != f.rules["lan."][0] {
		t.Errorf("the same upstream in two places has two health states, want one")
	}
}

func TestOrder(t *testing.T) {
	now := time.Unix(1000, 0)
	mk := func(srtt time.Duration, fails int, downUntil time.Time) *upstream {
		return &upstream{label: fmt.Sprint(srtt, fails), srtt: srtt, fails: fails, downUntil: downUntil}
	}
	fast := mk(time.Millisecond, 0, time.Time{})
	slow := mk(50*time.Millisecond, 1, time.Time{})
	unknown := mk(0, 0, time.Time{})
	dueA := mk(time.Second, failThreshold, now.Add(-time.Second))
	dueB := mk(time.Second, failThreshold+2, now.Add(-2*time.Second))
	later := mk(time.Second, failThreshold, now.Add(time.Minute))
	soon := mk(time.Second, failThreshold, now.Add(time.Second))

	got := order(nil, []*upstream{later, slow, dueA, soon, fast, dueB, unknown}, now, false)
	want := []*upstream{dueA, unknown, fast, slow, dueB, soon, later}
	for i := range want {
		if got[i].u != want[i] {
			t.Fatalf("order()[%d] = %s, want %s", i, got[i].u.label, want[i].label)
		}
	}
	if !dueA.probing || dueB.probing {
		t.Errorf("probing A, B = %v, %v, want only the first due upstream claimed", dueA.probing, dueB.probing)
	}
	// A second query while the probe is in flight does not probe again.
	got = order(nil, []*upstream{dueA, fast}, now, false)
	if got[0].u != fast || got[1].class != classDown {
		t.Errorf("order during a probe = %s, %s, want the healthy one first", got[0].u.label, got[1].u.label)
	}
	releaseProbes([]candidate{{u: dueA, class: classProbe}})
	if dueA.probing {
		t.Errorf("releaseProbes left the claim")
	}

	// Exploration moves a random healthy upstream to the front of the
	// healthy ones, keeping the rest in order; over many tries each one.
	firsts := make(map[*upstream]int)
	for range 200 {
		got := order(nil, []*upstream{fast, slow, unknown, later}, now, true)
		firsts[got[0].u]++
		if got[3].u != later {
			t.Fatalf("exploration moved an unhealthy upstream: last = %s", got[3].u.label)
		}
	}
	if len(firsts) != 3 {
		t.Errorf("exploration put %d distinct upstreams first, want all 3 healthy ones", len(firsts))
	}
}

func TestUpstream_report_srtt(t *testing.T) {
	u := &upstream{}
	now := time.Unix(0, 0)
	u.report(now, 80*time.Millisecond, resSuccess, "")
	if u.srtt != 80*time.Millisecond {
		t.Fatalf("first SRTT = %v, want the sample", u.srtt)
	}
	u.report(now, 0, resSuccess, "")
	if u.srtt != 70*time.Millisecond {
		t.Errorf("SRTT after a 0 sample = %v, want 7/8 of 80ms", u.srtt)
	}
	u.report(now, 2*time.Second, resServfail, "x")
	if u.srtt != 70*time.Millisecond {
		t.Errorf("SRTT after SERVFAIL = %v, want unchanged", u.srtt)
	}
	u.report(now, 630*time.Millisecond, resTimeout, "x")
	if u.srtt != 140*time.Millisecond {
		t.Errorf("SRTT after a timeout = %v, want the time taken counted (140ms)", u.srtt)
	}
}

func TestMetrics_lint(t *testing.T) {
	net := newFakeNet()
	f, _, reg := newTestForwarder(t, net, Config{Upstreams: []Upstream{{Addr: addrA}}})
	if _, err := f.Resolve(t.Context(), question("www.example.org.")); err != nil {
		t.Fatal(err)
	}
	problems, err := testutil.GatherAndLint(reg)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("lint %s: %s", p.Metric, p.Text)
	}
	want := `
# HELP gatehouse_forward_upstream_healthy Whether an upstream resolver is considered healthy (1) or is being skipped after consecutive failures (0).
# TYPE gatehouse_forward_upstream_healthy gauge
gatehouse_forward_upstream_healthy{upstream="udp://192.0.2.1:53"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "gatehouse_forward_upstream_healthy"); err != nil {
		t.Error(err)
	}
	if got := testutil.CollectAndCount(reg, "gatehouse_forward_request_duration_seconds"); got != 1 {
		t.Errorf("request_duration_seconds series = %d, want 1", got)
	}
	if _, err := NewMetrics(reg); err == nil {
		t.Errorf("registering twice succeeded, want an error")
	}
}

func TestForwarder_Resolve_concurrent(t *testing.T) {
	net := newFakeNet()
	net.set(addrA, behaviour{rcode: dns.RcodeServerFailure})
	f, _, _ := newTestForwarder(t, net, Config{Upstreams: []Upstream{{Addr: addrA}, {Addr: addrB}, {Addr: addrC}}})
	f.explore = newExplorer(3)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 100 {
				if _, err := f.Resolve(t.Context(), question("www.example.org.")); err != nil {
					t.Error(err)
					return
				}
				f.Health()
			}
		})
	}
	wg.Wait()
	if h := healthOf(t, f, addrA); h.Healthy {
		t.Errorf("health of a SERVFAILing upstream = %+v, want unhealthy", h)
	}
}
