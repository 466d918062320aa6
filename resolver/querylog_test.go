package resolver

import (
	"context"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"

	"gatehouse/clientmap"
	"gatehouse/policy"
	"gatehouse/querylog"
)

// recordingLog is a QueryLog that keeps what it is given.
type recordingLog struct {
	mu      sync.Mutex
	entries []querylog.Entry
}

func (r *recordingLog) Enqueue(e querylog.Entry) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.entries = append(r.entries, e)
	return true
}

func (r *recordingLog) last(t *testing.T) querylog.Entry {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.entries) == 0 {
		t.Fatal("nothing logged")
	}
	return r.entries[len(r.entries)-1]
}

func TestServer_logsEveryQuery(t *testing.T) {
	log := &recordingLog{}
	secure := newAnswer(t, upstreamReply(t, "hit.example.", dns.TypeA, dns.RcodeSuccess, []string{"hit.example. 300 IN A 192.0.2.9"}, nil))
	secure.Security = SecuritySecure
	c := &fakeCache{
		OnLookup: func(q Question, now time.Time) (Cached, bool) {
			if q.Name == "hit.example." {
				return Cached{Answer: secure, FromCache: true}, true
			}
			return Cached{}, false
		},
		OnGet: func(ctx context.Context, q Question) (Cached, error) {
			if q.Name == "fail.example." {
				return Cached{}, ErrNoUpstream
			}
			return answering(t, nil).OnGet(ctx, q)
		},
	}
	_, addr := startServer(t, ServerConfig{Cache: c, QueryLog: log})
	ask := func(name string) {
		q := new(dns.Msg)
		q.SetQuestion(name, dns.TypeAAAA)
		exchange(t, "udp", addr, q)
	}

	ask("HIT.example.")
	e := log.last(t)
	if e.QName != "hit.example." || e.QType != dns.TypeAAAA || e.Source != querylog.SourceCache ||
		e.Decision != querylog.Allowed || e.DNSSEC != querylog.Secure || e.Group != "default" ||
		e.Client != netip.MustParseAddr("127.0.0.1") || e.Proto != querylog.UDP || e.Answer.Summary() != "A 192.0.2.9" {
		t.Errorf("cache hit logged as %+v", e)
	}
	ask("miss.example.")
	if e := log.last(t); e.QName != "miss.example." || e.Source != querylog.SourceUpstream || e.Rcode != dns.RcodeSuccess {
		t.Errorf("miss logged as %+v", e)
	}
	ask("fail.example.")
	if e := log.last(t); e.Decision != querylog.Failed || e.Rcode != dns.RcodeServerFailure || e.Source != querylog.SourceLocal {
		t.Errorf("failure logged as %+v", e)
	}
}

func TestServer_logsRefusedClients(t *testing.T) {
	log := &recordingLog{}
	_, addr := startServer(t, ServerConfig{Cache: answering(t, nil), QueryLog: log, Policy: testPolicy(t, "10.0.0.0/8")})
	q := new(dns.Msg)
	q.SetQuestion("outside.example.", dns.TypeA)
	exchange(t, "udp", addr, q)
	if e := log.last(t); e.Decision != querylog.Refused || e.Client != netip.MustParseAddr("127.0.0.1") || e.QName != "outside.example." {
		t.Errorf("refused query logged as %+v", e)
	}
}

func TestServer_loggedNameOutlivesTheBuffer(t *testing.T) {
	log := &recordingLog{}
	s := hitServer(t)
	s.qlog = log
	b := newBuffers()
	src := netip.MustParseAddrPort("127.0.0.1:5300")
	for _, name := range []string{"first.example.", "second.example."} {
		pkt := packQuery(t, func(m *dns.Msg) { m.Question[0].Name = name })
		qu := query{src: src, proto: protoUDP, start: time.Now()}
		s.answer(pkt, &qu, b)
	}
	// The second query reused the name buffer; the first entry must not change.
	if got := log.entries[0].QName; got != "first.example." {
		t.Errorf("first entry's name = %q after the buffer was reused", got)
	}
}

func TestServer_hitPathAllocsWithQueryLog(t *testing.T) {
	s := hitServer(t)
	s.qlog = discardLog{}
	pkt := packQuery(t, func(m *dns.Msg) { m.SetEdns0(1232, true) })
	b := newBuffers()
	src := netip.MustParseAddrPort("127.0.0.1:5300")
	n := testing.AllocsPerRun(200, func() {
		qu := query{src: src, proto: protoUDP, start: time.Now()}
		s.answer(pkt, &qu, b)
	})
	if n > 1 {
		t.Errorf("logged cache hit allocates %v times, want at most 1 (the name)", n)
	}
}

type discardLog struct{}

func (discardLog) Enqueue(querylog.Entry) bool { return true }

// A client named by a trusted forwarder is logged with the forwarder's
// address, and the forwarder gets its ECS option back, over a real socket.
func TestServer_logsForwarder(t *testing.T) {
	log := &recordingLog{}
	s, addr := startServer(t, ServerConfig{Cache: answering(t, nil), QueryLog: log})
	cm, err := clientmap.New(clientmap.Config{DefaultGroup: "pupils"})
	if err != nil {
		t.Fatal(err)
	}
	snap, err := policy.New(policy.Options{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}, Clients: cm,
		TrustedForwarders: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")},
		Groups:            []policy.GroupOptions{{Name: "pupils"}}, DefaultGroup: "pupils"})
	if err != nil {
		t.Fatal(err)
	}
	s.SetPolicy(snap)
	q := new(dns.Msg)
	q.SetQuestion("www.example.org.", dns.TypeA)
	q.SetEdns0(1232, false)
	q.IsEdns0().Option = append(q.IsEdns0().Option,
		&dns.EDNS0_SUBNET{Code: dns.EDNS0SUBNET, Family: 1, SourceNetmask: 32, Address: net.ParseIP("10.9.1.5").To4()})
	r := exchange(t, "udp", addr, q)
	e := log.last(t)
	if e.Client != netip.MustParseAddr("10.9.1.5") || e.Forwarder != netip.MustParseAddr("127.0.0.1") {
		t.Errorf("logged client %v via %v, want 10.9.1.5 via 127.0.0.1", e.Client, e.Forwarder)
	}
	var echoed *dns.EDNS0_SUBNET
	if opt := r.IsEdns0(); opt != nil {
		for _, o := range opt.Option {
			if ecs, ok := o.(*dns.EDNS0_SUBNET); ok {
				echoed = ecs
			}
		}
	}
	if echoed == nil || echoed.SourceScope != 32 || !echoed.Address.Equal(net.ParseIP("10.9.1.5")) {
		t.Errorf("reply ECS %v, want 10.9.1.5/32 scope 32", echoed)
	}
}
