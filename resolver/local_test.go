package resolver

import (
	"context"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"

	"gatehouse/clientmap"
	"gatehouse/policy"
	"gatehouse/querylog"
	"gatehouse/safesearch"
)

// questions records what the cache was asked, from server goroutines.
type questions struct {
	mu sync.Mutex
	qs []Question
}

func (a *questions) add(q Question) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.qs = append(a.qs, q)
}

func (a *questions) take() []Question {
	a.mu.Lock()
	defer a.mu.Unlock()
	qs := a.qs
	a.qs = nil
	return qs
}

// typedCache answers every question by type from upstream-like data:
// A 192.0.2.1, AAAA 2001:db8::1, anything else no data.
func typedCache(t testing.TB, asked *questions) *fakeCache {
	return &fakeCache{OnGet: func(ctx context.Context, q Question) (Cached, error) {
		if asked != nil {
			asked.add(q)
		}
		var rrs []string
		switch q.Type {
		case dns.TypeA:
			rrs = []string{q.Name + " 120 IN A 192.0.2.1"}
		case dns.TypeAAAA:
			rrs = []string{q.Name + " 120 IN AAAA 2001:db8::1"}
		}
		m := upstreamReply(t, q.Name, q.Type, dns.RcodeSuccess, rrs,
			[]string{"example. 60 IN SOA ns.example. host.example. 1 7200 3600 1209600 60"})
		return Cached{Answer: newAnswer(t, m)}, nil
	}}
}

func stylePolicy(t testing.TB, style policy.Style, exempt bool) *policy.Snapshot {
	t.Helper()
	cm, err := clientmap.New(clientmap.Config{DefaultGroup: "pupils"})
	if err != nil {
		t.Fatal(err)
	}
	table := safesearch.Builtin()
	p, err := policy.New(policy.Options{
		Allow:         []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")},
		Clients:       cm,
		DefaultGroup:  "pupils",
		SafeSearch:    table,
		BlockTTL:      45 * time.Second,
		PageAddresses: []netip.Addr{netip.MustParseAddr("10.20.0.53"), netip.MustParseAddr("fd00::53")},
		Groups:        []policy.GroupOptions{{Name: "pupils", Style: style, SafeSearch: table.Defaults(), BypassExempt: exempt}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func ask(t *testing.T, addr, name string, qtype uint16) *dns.Msg {
	t.Helper()
	q := new(dns.Msg)
	q.SetQuestion(name, qtype)
	q.SetEdns0(1232, false)
	return exchange(t, "udp", addr, q)
}

func ede(r *dns.Msg) *dns.EDNS0_EDE {
	if opt := r.IsEdns0(); opt != nil {
		for _, o := range opt.Option {
			if e, ok := o.(*dns.EDNS0_EDE); ok {
				return e
			}
		}
	}
	return nil
}

func TestServer_bypassRules(t *testing.T) {
	log := &recordingLog{}
	asked := &questions{}
	_, addr := startServer(t, ServerConfig{Cache: typedCache(t, asked), Policy: stylePolicy(t, policy.StyleNull, false), QueryLog: log})
	tests := []struct {
		name      string
		qtype     uint16
		wantRcode int
		wantList  string
	}{
		{"use-application-dns.net.", dns.TypeA, dns.RcodeNameError, "firefox-doh-canary"},
		{"Mask.iCloud.com.", dns.TypeHTTPS, dns.RcodeNameError, "icloud-private-relay"},
		{"mask-h2.icloud.com.", dns.TypeAAAA, dns.RcodeNameError, "icloud-private-relay"},
		{"_dns.resolver.arpa.", dns.TypeSVCB, dns.RcodeSuccess, "ddr"},
	}
	for _, tt := range tests {
		r := ask(t, addr, tt.name, tt.qtype)
		if r.Rcode != tt.wantRcode || len(r.Answer) != 0 || len(r.Ns) != 1 || r.Ns[0].Header().Ttl != 45 {
			t.Errorf("%s: %v, want %s with only our SOA (ttl 45)", tt.name, r, dns.RcodeToString[tt.wantRcode])
		}
		if e := ede(r); e == nil || e.InfoCode != dns.ExtendedErrorCodeBlocked || !strings.Contains(e.ExtraText, tt.wantList) {
			t.Errorf("%s: EDE = %v, want 15 naming %s", tt.name, e, tt.wantList)
		}
		if r.Question[0].Name != tt.name {
			t.Errorf("question = %q, want the client's case %q", r.Question[0].Name, tt.name)
		}
		if e := log.last(t); e.Decision != querylog.BypassAttempt || e.List != tt.wantList || e.Category == "" {
			t.Errorf("%s logged as %+v", tt.name, e)
		}
	}
	if qs := asked.take(); len(qs) != 0 {
		t.Errorf("bypass names reached upstream: %v", qs)
	}
	// A lookalike is not caught.
	if r := ask(t, addr, "notmask.icloud.com.", dns.TypeA); r.Rcode != dns.RcodeSuccess || len(r.Answer) != 1 {
		t.Errorf("notmask.icloud.com: %v", r)
	}
}

func TestServer_bypassExemptGroup(t *testing.T) {
	_, addr := startServer(t, ServerConfig{Cache: typedCache(t, nil), Policy: stylePolicy(t, policy.StyleNull, true)})
	if r := ask(t, addr, "use-application-dns.net.", dns.TypeA); r.Rcode != dns.RcodeSuccess || len(r.Answer) != 1 {
		t.Errorf("exempt group: %v, want the real answer", r)
	}
}

func TestServer_blockStyles(t *testing.T) {
	// yandex.ru is blocked for pupils by the safe-search defaults.
	tests := []struct {
		style     policy.Style
		qtype     uint16
		wantRcode int
		wantAddr  string // "" for no answer
	}{
		{policy.StyleNXDOMAIN, dns.TypeA, dns.RcodeNameError, ""},
		{policy.StyleNull, dns.TypeA, dns.RcodeSuccess, "0.0.0.0"},
		{policy.StyleNull, dns.TypeAAAA, dns.RcodeSuccess, "::"},
		{policy.StyleNull, dns.TypeHTTPS, dns.RcodeSuccess, ""},
		{policy.StyleNull, dns.TypeMX, dns.RcodeSuccess, ""},
		{policy.StyleBlockPage, dns.TypeA, dns.RcodeSuccess, "10.20.0.53"},
		{policy.StyleBlockPage, dns.TypeAAAA, dns.RcodeSuccess, "fd00::53"},
		{policy.StyleBlockPage, dns.TypeSVCB, dns.RcodeSuccess, ""},
		{policy.StyleNXDOMAIN, dns.TypeHTTPS, dns.RcodeNameError, ""},
	}
	for _, tt := range tests {
		_, addr := startServer(t, ServerConfig{Cache: typedCache(t, nil), Policy: stylePolicy(t, tt.style, false)})
		r := ask(t, addr, "www.yandex.ru.", tt.qtype)
		var got string
		if len(r.Answer) == 1 {
			switch rr := r.Answer[0].(type) {
			case *dns.A:
				got = rr.A.String()
			case *dns.AAAA:
				got = rr.AAAA.String()
			}
			if r.Answer[0].Header().Ttl != 45 {
				t.Errorf("style %d %s: ttl %d, want the block ttl 45", tt.style, dns.TypeToString[tt.qtype], r.Answer[0].Header().Ttl)
			}
		}
		if r.Rcode != tt.wantRcode || got != tt.wantAddr || len(r.Answer) > 1 {
			t.Errorf("style %d %s: rcode %s answer %v, want %s %q", tt.style, dns.TypeToString[tt.qtype], dns.RcodeToString[r.Rcode], r.Answer, dns.RcodeToString[tt.wantRcode], tt.wantAddr)
		}
		if e := ede(r); e == nil || !strings.Contains(e.ExtraText, "safesearch") {
			t.Errorf("style %d: EDE = %v, want one naming the category", tt.style, e)
		}
	}
}

func TestServer_safeSearchRewrite(t *testing.T) {
	log := &recordingLog{}
	asked := &questions{}
	_, addr := startServer(t, ServerConfig{Cache: typedCache(t, asked), Policy: stylePolicy(t, policy.StyleNXDOMAIN, false), QueryLog: log})
	tests := []struct {
		name   string
		qtype  uint16
		target string
		want   string // the target's record, or "" for no data
	}{
		{"www.google.co.uk.", dns.TypeA, "forcesafesearch.google.com.", "192.0.2.1"},
		{"WWW.Google.com.", dns.TypeAAAA, "forcesafesearch.google.com.", "2001:db8::1"},
		{"www.youtube.com.", dns.TypeHTTPS, "restrict.youtube.com.", ""},
		{"www.bing.com.", dns.TypeA, "strict.bing.com.", "192.0.2.1"},
	}
	// Names in the reply may carry the client's letter case where they are
	// compressed against its question: DNS names compare case-insensitively
	// (RFC 4343), so the checks do too.
	for _, tt := range tests {
		r := ask(t, addr, tt.name, tt.qtype)
		if r.Rcode != dns.RcodeSuccess || len(r.Answer) == 0 {
			t.Fatalf("%s: %v", tt.name, r)
		}
		cname, ok := r.Answer[0].(*dns.CNAME)
		if !ok || !strings.EqualFold(cname.Target, tt.target) || !strings.EqualFold(cname.Hdr.Name, tt.name) {
			t.Errorf("%s: first record %v, want CNAME to %s", tt.name, r.Answer[0], tt.target)
		}
		var data []string
		for _, rr := range r.Answer[1:] {
			if !strings.EqualFold(rr.Header().Name, tt.target) {
				t.Errorf("%s: record %v is not the target's", tt.name, rr)
			}
			data = append(data, strings.Fields(rr.String())[4])
		}
		if (tt.want == "" && len(data) != 0) || (tt.want != "" && (len(data) != 1 || data[0] != tt.want)) {
			t.Errorf("%s %s: target data %v, want %q", tt.name, dns.TypeToString[tt.qtype], data, tt.want)
		}
		if qs := asked.take(); len(qs) != 1 || qs[0].Name != tt.target || qs[0].Type != tt.qtype {
			t.Errorf("%s: upstream asked %v, want only the target %s", tt.name, qs, tt.target)
		}
		if e := log.last(t); e.Decision != querylog.Rewritten || e.Category != "safesearch" || e.QName != strings.ToLower(tt.name) {
			t.Errorf("%s logged as %+v", tt.name, e)
		}
	}
}

func TestServer_rewriteFromCacheIsInline(t *testing.T) {
	// A rewrite whose target is cached is answered on the listener's
	// goroutine, like any hit.
	target := newAnswer(t, upstreamReply(t, "forcesafesearch.google.com.", dns.TypeA, 0, []string{"forcesafesearch.google.com. 300 IN A 192.0.2.7"}, nil))
	c := &fakeCache{
		OnLookup: func(q Question, now time.Time) (Cached, bool) {
			if q.Name == "forcesafesearch.google.com." {
				return Cached{Answer: target, Age: 100, FromCache: true}, true
			}
			return Cached{}, false
		},
		OnGet: func(context.Context, Question) (Cached, error) { return Cached{}, ErrNoUpstream },
	}
	s, err := NewServer(ServerConfig{Cache: c, Policy: stylePolicy(t, policy.StyleNXDOMAIN, false)})
	if err != nil {
		t.Fatal(err)
	}
	pkt := packQuery(t, func(m *dns.Msg) { m.Question[0].Name = "www.google.com." })
	qu := query{src: netip.MustParseAddrPort("127.0.0.1:9"), proto: protoUDP, start: time.Now()}
	reply, miss := s.answer(pkt, &qu, newBuffers())
	if miss {
		t.Fatal("cached rewrite target went to the slow path")
	}
	r := unpack(t, reply)
	if len(r.Answer) != 2 || r.Answer[1].Header().Ttl != 200 || r.Answer[0].Header().Ttl != 200 {
		t.Errorf("reply = %v, want CNAME + A, both aged to ttl 200", r)
	}
}

// TestServer_decisionTTLCap checks that a decision's TTL cap (a schedule
// edge coming) shortens the TTLs of a cached answer.
func TestServer_decisionTTLCap(t *testing.T) {
	a := newAnswer(t, upstreamReply(t, "social.example.", dns.TypeA, 0, []string{"social.example. 3600 IN A 192.0.2.5"}, nil))
	s := hitServer(t)
	s.cache = &fakeCache{
		OnLookup: func(q Question, now time.Time) (Cached, bool) { return Cached{Answer: a, FromCache: true}, true },
		OnGet:    func(context.Context, Question) (Cached, error) { return Cached{Answer: a}, nil },
	}
	qu := query{proto: protoUDP, start: time.Now(), wq: wireQuery{id: 1, question: nil}}
	qu.d.TTLCap = 42
	r := unpack(t, s.finish(&qu, Cached{Answer: a, FromCache: true}, nil, newBuffers()))
	if got := r.Answer[0].Header().Ttl; got != 42 {
		t.Errorf("ttl = %d, want the decision's cap 42", got)
	}
	if minCap(0, 7) != 7 || minCap(9, 0) != 9 || minCap(9, 7) != 7 || minCap(0, 0) != 0 {
		t.Error("minCap")
	}
}
