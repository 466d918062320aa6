package resolver

import (
	"context"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"

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
