package resolver

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"gatehouse/clientmap"
	"gatehouse/policy"
)

// fakeCache is an AnswerCache whose behaviour each test sets.
type fakeCache struct {
	OnLookup func(q Question, now time.Time) (Cached, bool)
	OnGet    func(ctx context.Context, q Question) (Cached, error)
}

func (f *fakeCache) Lookup(q Question, now time.Time) (Cached, bool) {
	if f.OnLookup == nil {
		return Cached{}, false
	}
	return f.OnLookup(q, now)
}

func (f *fakeCache) Get(ctx context.Context, q Question) (Cached, error) {
	return f.OnGet(ctx, q)
}

// answering returns a cache that misses, then answers every Get with one A
// record per question (and counts the Gets).
func answering(t testing.TB, gets *atomic.Int64) *fakeCache {
	return &fakeCache{OnGet: func(ctx context.Context, q Question) (Cached, error) {
		if gets != nil {
			gets.Add(1)
		}
		m := upstreamReply(t, q.Name, q.Type, dns.RcodeSuccess, []string{q.Name + " 300 IN A 192.0.2.1"}, nil)
		return Cached{Answer: newAnswer(t, m)}, nil
	}}
}

func testPolicy(t testing.TB, allow ...string) *policy.Snapshot {
	t.Helper()
	cm, err := clientmap.New(clientmap.Config{DefaultGroup: "default"})
	if err != nil {
		t.Fatal(err)
	}
	var prefixes []netip.Prefix
	for _, a := range allow {
		prefixes = append(prefixes, netip.MustParsePrefix(a))
	}
	if len(prefixes) == 0 {
		prefixes = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}
	}
	p, err := policy.New(policy.Options{Allow: prefixes, Clients: cm})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// startServer runs a Server on a free loopback port and returns its address.
func startServer(t testing.TB, cfg ServerConfig) (*Server, string) {
	t.Helper()
	if cfg.Policy == nil {
		cfg.Policy = testPolicy(t)
	}
	s, err := NewServer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Listen([]string{"127.0.0.1:0"}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	return s, s.Addrs()[0].String()
}

func exchange(t testing.TB, network, addr string, m *dns.Msg) *dns.Msg {
	t.Helper()
	c := &dns.Client{Net: network, Timeout: 5 * time.Second}
	r, _, err := c.Exchange(m, addr)
	if err != nil {
		t.Fatalf("%s exchange: %v", network, err)
	}
	return r
}

// rawExchange sends bytes over UDP and returns the reply bytes, or nil when
// nothing comes back within wait.
func rawExchange(t testing.TB, addr string, pkt []byte, wait time.Duration) []byte {
	t.Helper()
	c, err := net.Dial("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write(pkt); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(wait))
	buf := make([]byte, 65535)
	n, err := c.Read(buf)
	if err != nil {
		return nil
	}
	return buf[:n]
}

func TestServer_answersUDPAndTCP(t *testing.T) {
	var gets atomic.Int64
	_, addr := startServer(t, ServerConfig{Cache: answering(t, &gets)})
	for _, network := range []string{"udp", "tcp"} {
		q := new(dns.Msg)
		q.SetQuestion("Host.Example.ORG.", dns.TypeA)
		r := exchange(t, network, addr, q)
		if r.Rcode != dns.RcodeSuccess || len(r.Answer) != 1 || r.Question[0].Name != "Host.Example.ORG." {
			t.Errorf("%s reply = %v, want one answer echoing the question's case", network, r)
		}
	}
	if gets.Load() != 2 {
		t.Errorf("upstream Gets = %d, want 2", gets.Load())
	}
}

func TestServer_cacheHitAnswersWithoutGet(t *testing.T) {
	hit := newAnswer(t, upstreamReply(t, "hit.example.", dns.TypeA, dns.RcodeSuccess, []string{"hit.example. 300 IN A 192.0.2.9"}, nil))
	c := &fakeCache{
		OnLookup: func(q Question, now time.Time) (Cached, bool) {
			if q.Name == "hit.example." {
				return Cached{Answer: hit, Age: 10, FromCache: true}, true
			}
			return Cached{}, false
		},
		OnGet: func(ctx context.Context, q Question) (Cached, error) { return Cached{}, errors.New("unexpected Get") },
	}
	_, addr := startServer(t, ServerConfig{Cache: c})
	q := new(dns.Msg)
	q.SetQuestion("HIT.example.", dns.TypeA)
	r := exchange(t, "udp", addr, q)
	if len(r.Answer) != 1 || r.Answer[0].Header().Ttl != 290 {
		t.Errorf("reply = %v, want the cached A with ttl 290", r)
	}
}

func TestServer_errorReplies(t *testing.T) {
	_, addr := startServer(t, ServerConfig{Cache: answering(t, nil)})
	tests := []struct {
		name      string
		edit      func(m *dns.Msg)
		wantRcode int
	}{
		{name: "notify opcode", edit: func(m *dns.Msg) { m.Opcode = dns.OpcodeNotify }, wantRcode: dns.RcodeNotImplemented},
		{name: "update opcode", edit: func(m *dns.Msg) { m.Opcode = dns.OpcodeUpdate }, wantRcode: dns.RcodeNotImplemented},
		{name: "two questions", edit: func(m *dns.Msg) { m.Question = append(m.Question, m.Question[0]) }, wantRcode: dns.RcodeFormatError},
		{name: "no question", edit: func(m *dns.Msg) { m.Question = nil }, wantRcode: dns.RcodeFormatError},
		{name: "chaos version.bind", edit: func(m *dns.Msg) {
			m.Question[0] = dns.Question{Name: "version.bind.", Qtype: dns.TypeTXT, Qclass: dns.ClassCHAOS}
		}, wantRcode: dns.RcodeRefused},
		{name: "class any", edit: func(m *dns.Msg) { m.Question[0].Qclass = dns.ClassANY }, wantRcode: dns.RcodeRefused},
		{name: "axfr", edit: func(m *dns.Msg) { m.Question[0].Qtype = dns.TypeAXFR }, wantRcode: dns.RcodeRefused},
		{name: "edns version 1", edit: func(m *dns.Msg) { m.SetEdns0(1232, false); m.IsEdns0().SetVersion(1) }, wantRcode: dns.RcodeBadVers},
		{name: "escaped name still answered", edit: func(m *dns.Msg) { m.Question[0].Name = `we\"ird\032name.example.` }, wantRcode: dns.RcodeSuccess},
		{name: "any type answered", edit: func(m *dns.Msg) { m.Question[0].Qtype = dns.TypeANY }, wantRcode: dns.RcodeSuccess},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := new(dns.Msg)
			q.SetQuestion("example.org.", dns.TypeA)
			tt.edit(q)
			pkt, err := q.Pack()
			if err != nil {
				t.Fatal(err)
			}
			reply := rawExchange(t, addr, pkt, 5*time.Second)
			if reply == nil {
				t.Fatal("no reply")
			}
			r := new(dns.Msg)
			if err := r.Unpack(reply); err != nil {
				t.Fatalf("unpack: %v", err)
			}
			if r.Id != q.Id || !r.Response {
				t.Errorf("id %d response %v, want id %d response", r.Id, r.Response, q.Id)
			}
			if r.Rcode != tt.wantRcode {
				t.Errorf("rcode = %s, want %s", dns.RcodeToString[r.Rcode], dns.RcodeToString[tt.wantRcode])
			}
			if r.Opcode != q.Opcode {
				t.Errorf("opcode = %d, want echo of %d", r.Opcode, q.Opcode)
			}
		})
	}
}

func TestServer_garbage(t *testing.T) {
	_, addr := startServer(t, ServerConfig{Cache: answering(t, nil)})
	if r := rawExchange(t, addr, []byte{1, 2, 3}, 200*time.Millisecond); r != nil {
		t.Errorf("reply to a 3-byte packet: %x", r)
	}
	// A header claiming a question that is not there: FORMERR, same ID.
	r := rawExchange(t, addr, []byte{0xab, 0xcd, 0x01, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0x05, 'a'}, 5*time.Second)
	if len(r) < 12 || r[0] != 0xab || r[1] != 0xcd || r[3]&0xF != dns.RcodeFormatError {
		t.Errorf("reply = %x, want FORMERR for id abcd", r)
	}
	// Responses are never answered (that is how loops start).
	resp := packQuery(t, func(m *dns.Msg) { m.Response = true })
	if r := rawExchange(t, addr, resp, 200*time.Millisecond); r != nil {
		t.Errorf("reply to a response: %x", r)
	}
	// The server still works.
	q := new(dns.Msg)
	q.SetQuestion("still.example.", dns.TypeA)
	if r := exchange(t, "udp", addr, q); r.Rcode != dns.RcodeSuccess {
		t.Errorf("after garbage: %v", r)
	}
}

func TestServer_refusesOutsideAllowedNetworks(t *testing.T) {
	var gets atomic.Int64
	_, addr := startServer(t, ServerConfig{Cache: answering(t, &gets), Policy: testPolicy(t, "10.0.0.0/8")})
	q := new(dns.Msg)
	q.SetQuestion("example.org.", dns.TypeA)
	q.SetEdns0(1232, false)
	r := exchange(t, "udp", addr, q)
	if r.Rcode != dns.RcodeRefused || len(r.Answer) != 0 {
		t.Errorf("reply = %v, want REFUSED", r)
	}
	if gets.Load() != 0 {
		t.Errorf("a refused query reached upstream")
	}
}

func TestServer_SetPolicySwapsAccess(t *testing.T) {
	s, addr := startServer(t, ServerConfig{Cache: answering(t, nil), Policy: testPolicy(t, "10.0.0.0/8")})
	q := new(dns.Msg)
	q.SetQuestion("example.org.", dns.TypeA)
	if r := exchange(t, "udp", addr, q); r.Rcode != dns.RcodeRefused {
		t.Fatalf("before swap: %s", dns.RcodeToString[r.Rcode])
	}
	s.SetPolicy(testPolicy(t, "127.0.0.0/8"))
	if r := exchange(t, "udp", addr, q); r.Rcode != dns.RcodeSuccess {
		t.Errorf("after swap: %s, want NOERROR", dns.RcodeToString[r.Rcode])
	}
}

func TestServer_servfailCarriesEDE(t *testing.T) {
	tests := []struct {
		err  error
		want uint16
	}{
		{fmt.Errorf("forward: %w", ErrNoUpstream), dns.ExtendedErrorCodeNoReachableAuthority},
		{fmt.Errorf("udp: %w", ErrNetwork), dns.ExtendedErrorCodeNetworkError},
		{errors.New("something else"), dns.ExtendedErrorCodeOther},
		{fmt.Errorf("recursing: %w", &ExtendedError{Code: dns.ExtendedErrorCodeDNSBogus, Text: "signature expired"}), dns.ExtendedErrorCodeDNSBogus},
	}
	for _, tt := range tests {
		c := &fakeCache{OnGet: func(ctx context.Context, q Question) (Cached, error) { return Cached{}, tt.err }}
		_, addr := startServer(t, ServerConfig{Cache: c})
		q := new(dns.Msg)
		q.SetQuestion("example.org.", dns.TypeA)
		q.SetEdns0(1232, false)
		r := exchange(t, "udp", addr, q)
		opt := r.IsEdns0()
		if r.Rcode != dns.RcodeServerFailure || opt == nil || len(opt.Option) != 1 {
			t.Fatalf("reply = %v, want SERVFAIL with an EDE", r)
		}
		if got := opt.Option[0].(*dns.EDNS0_EDE).InfoCode; got != tt.want {
			t.Errorf("%v: EDE = %d, want %d", tt.err, got, tt.want)
		}
	}
}

func TestServer_staleAnswer(t *testing.T) {
	a := newAnswer(t, upstreamReply(t, "old.example.", dns.TypeA, dns.RcodeSuccess, []string{"old.example. 300 IN A 192.0.2.3"}, nil))
	c := &fakeCache{OnGet: func(ctx context.Context, q Question) (Cached, error) {
		return Cached{Answer: a, Age: 4000, Stale: true, FromCache: true}, nil
	}}
	_, addr := startServer(t, ServerConfig{Cache: c})
	q := new(dns.Msg)
	q.SetQuestion("old.example.", dns.TypeA)
	q.SetEdns0(1232, false)
	r := exchange(t, "udp", addr, q)
	if len(r.Answer) != 1 || r.Answer[0].Header().Ttl != StaleTTL {
		t.Fatalf("reply = %v, want the stale A with ttl %d", r, StaleTTL)
	}
	if opt := r.IsEdns0(); opt == nil || len(opt.Option) != 1 || opt.Option[0].(*dns.EDNS0_EDE).InfoCode != dns.ExtendedErrorCodeStaleAnswer {
		t.Errorf("OPT = %v, want EDE 3 (stale answer)", r.IsEdns0())
	}
}

func TestServer_truncatesUDPNotTCP(t *testing.T) {
	var records []string
	for i := range 60 {
		records = append(records, fmt.Sprintf("big.example. 300 IN TXT \"%s-%d\"", strings.Repeat("x", 40), i))
	}
	a := newAnswer(t, upstreamReply(t, "big.example.", dns.TypeTXT, dns.RcodeSuccess, records, nil))
	c := &fakeCache{OnGet: func(ctx context.Context, q Question) (Cached, error) { return Cached{Answer: a}, nil }}
	_, addr := startServer(t, ServerConfig{Cache: c})

	q := new(dns.Msg)
	q.SetQuestion("big.example.", dns.TypeTXT)
	r := exchange(t, "udp", addr, q)
	if !r.Truncated || len(r.Answer) != 0 {
		t.Errorf("udp without EDNS: TC %v answers %d, want TC and none", r.Truncated, len(r.Answer))
	}
	q.SetEdns0(4096, false) // we cap at our own 1232
	r = exchange(t, "udp", addr, q)
	if !r.Truncated {
		t.Errorf("udp with EDNS 4096: not truncated, want TC at our 1232-byte limit")
	}
	r = exchange(t, "tcp", addr, q)
	if r.Truncated || len(r.Answer) != 60 {
		t.Errorf("tcp: TC %v answers %d, want all 60", r.Truncated, len(r.Answer))
	}
}

func TestServer_tcpPipelining(t *testing.T) {
	release := make(chan struct{})
	c := &fakeCache{OnGet: func(ctx context.Context, q Question) (Cached, error) {
		if q.Name == "slow.example." {
			<-release
		}
		m := upstreamReply(t, q.Name, q.Type, dns.RcodeSuccess, []string{q.Name + " 300 IN A 192.0.2.1"}, nil)
		return Cached{Answer: newAnswer(t, m)}, nil
	}}
	_, addr := startServer(t, ServerConfig{Cache: c})
	conn, err := dns.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	slow := new(dns.Msg)
	slow.SetQuestion("slow.example.", dns.TypeA)
	fast := new(dns.Msg)
	fast.SetQuestion("fast.example.", dns.TypeA)
	if err := conn.WriteMsg(slow); err != nil {
		t.Fatal(err)
	}
	if err := conn.WriteMsg(fast); err != nil {
		t.Fatal(err)
	}
	// The fast answer overtakes the slow one on the same connection.
	r, err := conn.ReadMsg()
	if err != nil {
		t.Fatal(err)
	}
	if r.Id != fast.Id {
		t.Errorf("first reply is for %s, want fast.example.", r.Question[0].Name)
	}
	close(release)
	r, err = conn.ReadMsg()
	if err != nil || r.Id != slow.Id {
		t.Errorf("second reply = %v, %v; want slow.example.", r, err)
	}
}

func TestServer_tcpConnectionCap(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	_, addr := startServer(t, ServerConfig{Cache: answering(t, nil), TCPMaxConns: 1, Metrics: m})
	first, err := dns.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	q := new(dns.Msg)
	q.SetQuestion("a.example.", dns.TypeA)
	first.SetDeadline(time.Now().Add(5 * time.Second))
	if err := first.WriteMsg(q); err != nil {
		t.Fatal(err)
	}
	if _, err := first.ReadMsg(); err != nil {
		t.Fatal(err)
	}
	second, err := dns.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer second.Close()
	second.SetDeadline(time.Now().Add(5 * time.Second))
	second.WriteMsg(q)
	if _, err := second.ReadMsg(); err == nil {
		t.Error("second connection served past a cap of 1")
	}
	if got := testutil.ToFloat64(m.tcpRejected); got != 1 {
		t.Errorf("tcp_rejected_total = %v, want 1", got)
	}
}

func TestServer_tcpIdleTimeoutCloses(t *testing.T) {
	_, addr := startServer(t, ServerConfig{Cache: answering(t, nil), TCPIdleTimeout: 50 * time.Millisecond})
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	var b [1]byte
	if _, err := c.Read(b[:]); err == nil {
		t.Error("idle connection got data, want it closed")
	} else if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Error("server did not close an idle connection")
	}
}

func TestServer_rateLimit(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	// Loopback is not exempt here, so the test client is limited.
	_, addr := startServer(t, ServerConfig{Cache: answering(t, nil), Metrics: m, RateLimit: RateLimit{QPS: 0.001, Burst: 3}})
	answered := 0
	for i := range 6 {
		q := new(dns.Msg)
		q.SetQuestion(fmt.Sprintf("n%d.example.", i), dns.TypeA)
		pkt, _ := q.Pack()
		if rawExchange(t, addr, pkt, 300*time.Millisecond) != nil {
			answered++
		}
	}
	if answered != 3 {
		t.Errorf("answered %d of 6, want the burst of 3", answered)
	}
	if got := testutil.ToFloat64(m.drops[dropRateLimit]); got != 3 {
		t.Errorf("dropped_total{reason=ratelimit} = %v, want 3", got)
	}
}

func TestLimiter_exemptAndRefill(t *testing.T) {
	l := newLimiter(RateLimit{QPS: 10, Burst: 2, Exempt: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}})
	now := time.Unix(1000, 0)
	lo, other := netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("10.1.2.3")
	for range 100 {
		if !l.allow(lo, now) {
			t.Fatal("exempt client limited")
		}
	}
	var got []bool
	for range 3 {
		got = append(got, l.allow(other, now))
	}
	if !got[0] || !got[1] || got[2] {
		t.Fatalf("allow x3 = %v, want the burst of 2 then a refusal", got)
	}
	if !l.allow(other, now.Add(100*time.Millisecond)) {
		t.Error("no token after 100ms at 10 qps")
	}
	l.sweep(now.Add(time.Hour))
	if l.len() != 0 {
		t.Errorf("sweep kept %d idle buckets", l.len())
	}
}

func TestServer_recoversPanics(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	c := &fakeCache{OnGet: func(ctx context.Context, q Question) (Cached, error) {
		if q.Name == "boom.example." {
			panic("boom")
		}
		return answering(t, nil).OnGet(ctx, q)
	}}
	_, addr := startServer(t, ServerConfig{Cache: c, Metrics: m})
	q := new(dns.Msg)
	q.SetQuestion("boom.example.", dns.TypeA)
	pkt, _ := q.Pack()
	rawExchange(t, addr, pkt, 300*time.Millisecond)
	q.SetQuestion("fine.example.", dns.TypeA)
	if r := exchange(t, "udp", addr, q); r.Rcode != dns.RcodeSuccess {
		t.Errorf("after a panic: %v", r)
	}
	if got := testutil.ToFloat64(m.panics); got != 1 {
		t.Errorf("panics_total = %v, want 1", got)
	}
}

func TestServer_listenFailsWhole(t *testing.T) {
	s, _ := startServer(t, ServerConfig{Cache: answering(t, nil)})
	busy := s.Addrs()[0].String()
	s2, err := NewServer(ServerConfig{Cache: answering(t, nil), Policy: testPolicy(t), UDPSockets: 1})
	if err != nil {
		t.Fatal(err)
	}
	// The second address is taken (by TCP at least), so nothing may stay bound.
	err = s2.Listen([]string{"127.0.0.1:0", busy})
	if err == nil {
		t.Fatal("Listen on a busy address succeeded")
	}
	if len(s2.Addrs()) != 0 {
		t.Errorf("after a failed Listen, still bound: %v", s2.Addrs())
	}
}

func TestServer_metricsLint(t *testing.T) {
	reg := prometheus.NewRegistry()
	if _, err := NewMetrics(reg); err != nil {
		t.Fatal(err)
	}
	problems, err := testutil.GatherAndLint(reg)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("metric %s: %s", p.Metric, p.Text)
	}
}

func TestServer_wildcardRepliesFromTheAddressAsked(t *testing.T) {
	s, err := NewServer(ServerConfig{Cache: answering(t, nil), Policy: testPolicy(t), UDPSockets: 2})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Listen([]string{":0"}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Shutdown(context.Background()) })
	port := s.Addrs()[0].(*net.UDPAddr).Port
	// dns.Client uses a connected UDP socket, which discards a reply from
	// any address other than the one it sent to: 127.0.0.2 must answer as
	// 127.0.0.2, not as the host's primary 127.0.0.1.
	for _, addr := range []string{"127.0.0.1", "127.0.0.2", "::1"} {
		q := new(dns.Msg)
		q.SetQuestion("wild.example.", dns.TypeA)
		r := exchange(t, "udp", net.JoinHostPort(addr, fmt.Sprint(port)), q)
		if r.Rcode != dns.RcodeSuccess {
			t.Errorf("via %s: %v", addr, r)
		}
	}
}

func TestServer_ipv6Loopback(t *testing.T) {
	s, err := NewServer(ServerConfig{Cache: answering(t, nil), Policy: testPolicy(t)})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Listen([]string{"[::1]:0"}); err != nil {
		t.Skipf("no IPv6 loopback here: %v", err)
	}
	t.Cleanup(func() { s.Shutdown(context.Background()) })
	addr := s.Addrs()[0].String()
	for _, network := range []string{"udp", "tcp"} {
		q := new(dns.Msg)
		q.SetQuestion("six.example.", dns.TypeAAAA)
		if r := exchange(t, network, addr, q); r.Rcode != dns.RcodeSuccess {
			t.Errorf("%s over IPv6: %v", network, r)
		}
	}
}
