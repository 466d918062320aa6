package resolver

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/miekg/dns"
)

func mustRR(t testing.TB, s string) dns.RR {
	t.Helper()
	rr, err := dns.NewRR(s)
	if err != nil {
		t.Fatal(err)
	}
	return rr
}

func upstreamReply(t testing.TB, qname string, qtype uint16, rcode int, answer, ns []string) *dns.Msg {
	t.Helper()
	m := new(dns.Msg)
	m.SetQuestion(qname, qtype)
	m.Response, m.Rcode = true, rcode
	for _, s := range answer {
		m.Answer = append(m.Answer, mustRR(t, s))
	}
	for _, s := range ns {
		m.Ns = append(m.Ns, mustRR(t, s))
	}
	return m
}

func newAnswer(t testing.TB, m *dns.Msg) *Answer {
	t.Helper()
	a, err := NewAnswer(m)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func unpack(t testing.TB, b []byte) *dns.Msg {
	t.Helper()
	m := new(dns.Msg)
	if err := m.Unpack(b); err != nil {
		t.Fatalf("unpack reply: %v", err)
	}
	return m
}

func TestNewAnswer_metadata(t *testing.T) {
	m := upstreamReply(t, "www.example.org.", dns.TypeA, dns.RcodeSuccess, []string{
		"www.example.org. 300 IN CNAME Edge.CDN.example.",
		"edge.cdn.example. 60 IN A 192.0.2.7",
	}, nil)
	m.SetEdns0(1232, false)
	m.IsEdns0().Option = append(m.IsEdns0().Option, &dns.EDNS0_EDE{InfoCode: 6, ExtraText: strings.Repeat("x", 500)})
	a := newAnswer(t, m)
	if a.MinTTL != 60 {
		t.Errorf("MinTTL = %d, want 60", a.MinTTL)
	}
	if len(a.Targets) != 1 || a.Targets[0] != "edge.cdn.example." {
		t.Errorf("Targets = %v, want [edge.cdn.example.]", a.Targets)
	}
	if len(a.Addrs) != 1 || a.Addrs[0].String() != "192.0.2.7" {
		t.Errorf("Addrs = %v", a.Addrs)
	}
	if a.EDE == nil || a.EDE.InfoCode != 6 || len(a.EDE.ExtraText) > maxEDEText {
		t.Errorf("EDE = %+v, want code 6 with text capped at %d", a.EDE, maxEDEText)
	}
	if strings.Contains(string(a.wire), "\x00\x29") && len(unpack(t, a.wire).Extra) != 0 {
		t.Errorf("stored wire keeps the upstream OPT")
	}
}

// Up to two addresses live in the Answer's own memory, so that a cache hit
// does not follow one more pointer to read them; more spill to the heap in
// order, and an answer without addresses keeps Addrs nil.
func TestNewAnswer_addressesInline(t *testing.T) {
	tests := []struct {
		records []string
		want    []string
		inline  bool
	}{
		{nil, nil, false},
		{[]string{"a.example. 60 IN A 192.0.2.1"}, []string{"192.0.2.1"}, true},
		{[]string{"a.example. 60 IN A 192.0.2.1", "a.example. 60 IN AAAA 2001:db8::1"}, []string{"192.0.2.1", "2001:db8::1"}, true},
		{[]string{"a.example. 60 IN A 192.0.2.1", "a.example. 60 IN A 192.0.2.2", "a.example. 60 IN A 192.0.2.3"},
			[]string{"192.0.2.1", "192.0.2.2", "192.0.2.3"}, false},
	}
	for _, tt := range tests {
		a := newAnswer(t, upstreamReply(t, "a.example.", dns.TypeA, dns.RcodeSuccess, tt.records, nil))
		var got []string
		for _, ip := range a.Addrs {
			got = append(got, ip.String())
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("%d records: Addrs = %v, want %v", len(tt.records), got, tt.want)
		}
		if tt.want == nil && a.Addrs != nil {
			t.Errorf("no addresses: Addrs = %#v, want nil", a.Addrs)
		}
		if inline := len(a.Addrs) > 0 && &a.Addrs[0] == &a.addrBuf[0]; inline != tt.inline {
			t.Errorf("%d addresses: held in the Answer = %v, want %v", len(a.Addrs), inline, tt.inline)
		}
	}
}

func TestNewAnswer_negativeTTL(t *testing.T) {
	m := upstreamReply(t, "nope.example.org.", dns.TypeA, dns.RcodeNameError, nil, []string{
		"example.org. 3600 IN SOA ns.example.org. host.example.org. 1 7200 3600 1209600 300",
	})
	a := newAnswer(t, m)
	if !a.HasSOA || a.MinTTL != 300 {
		t.Errorf("HasSOA %v MinTTL %d, want true and 300 (the SOA minimum)", a.HasSOA, a.MinTTL)
	}
}

func TestAnswer_AppendReply(t *testing.T) {
	m := upstreamReply(t, "www.example.org.", dns.TypeA, dns.RcodeSuccess, []string{
		"www.example.org. 300 IN A 192.0.2.1",
		"www.example.org. 300 IN A 192.0.2.2",
	}, nil)
	m.AuthenticatedData = true
	a := newAnswer(t, m)
	q := packQuery(t, func(m *dns.Msg) { m.SetEdns0(1232, true) }) // asks "Www.Example.ORG."
	var wq wireQuery
	var scratch [256]byte
	if parseQuery(q, scratch[:], &wq) != parsedOK {
		t.Fatal("query did not parse")
	}
	base := ReplyOptions{ID: 0xbeef, Question: wq.question, RD: true, EDNS: true, DO: true, WantAD: true, BufSize: 1232}

	tests := []struct {
		name  string
		edit  func(o *ReplyOptions)
		check func(t *testing.T, r *dns.Msg)
	}{
		{name: "ttl aged and question case echoed", edit: func(o *ReplyOptions) { o.Age = 100 }, check: func(t *testing.T, r *dns.Msg) {
			if r.Id != 0xbeef || !r.Response || !r.RecursionAvailable || !r.RecursionDesired {
				t.Errorf("header = %+v", r.MsgHdr)
			}
			if r.Question[0].Name != "Www.Example.ORG." {
				t.Errorf("question = %q, want the client's case", r.Question[0].Name)
			}
			for _, rr := range r.Answer {
				if rr.Header().Ttl != 200 {
					t.Errorf("ttl = %d, want 200", rr.Header().Ttl)
				}
			}
			if opt := r.IsEdns0(); opt == nil || opt.UDPSize() != 1232 || !opt.Do() {
				t.Errorf("OPT = %v, want size 1232 with DO", opt)
			}
			if !r.AuthenticatedData {
				t.Error("AD not set for a DO client on validated data")
			}
		}},
		{name: "expired ttl floors at zero", edit: func(o *ReplyOptions) { o.Age = 1000 }, check: func(t *testing.T, r *dns.Msg) {
			if r.Answer[0].Header().Ttl != 0 {
				t.Errorf("ttl = %d, want 0", r.Answer[0].Header().Ttl)
			}
		}},
		{name: "stale ttl", edit: func(o *ReplyOptions) { o.Age = 1000; o.StaleTTL = StaleTTL }, check: func(t *testing.T, r *dns.Msg) {
			if r.Answer[0].Header().Ttl != StaleTTL || r.AuthenticatedData {
				t.Errorf("ttl = %d AD %v, want %d and no AD", r.Answer[0].Header().Ttl, r.AuthenticatedData, StaleTTL)
			}
		}},
		{name: "ttl cap", edit: func(o *ReplyOptions) { o.MaxTTL = 30 }, check: func(t *testing.T, r *dns.Msg) {
			if r.Answer[0].Header().Ttl != 30 {
				t.Errorf("ttl = %d, want 30", r.Answer[0].Header().Ttl)
			}
		}},
		{name: "no AD without DO or AD", edit: func(o *ReplyOptions) { o.WantAD = false }, check: func(t *testing.T, r *dns.Msg) {
			if r.AuthenticatedData {
				t.Error("AD set for a client that did not ask")
			}
		}},
		{name: "no edns no opt", edit: func(o *ReplyOptions) { o.EDNS = false }, check: func(t *testing.T, r *dns.Msg) {
			if r.IsEdns0() != nil {
				t.Error("OPT in reply to a non-EDNS query")
			}
		}},
		{name: "truncated to client buffer", edit: func(o *ReplyOptions) { o.MaxSize = 60 }, check: func(t *testing.T, r *dns.Msg) {
			if !r.Truncated || len(r.Answer) != 0 || len(r.Question) != 1 {
				t.Errorf("TC %v answers %d questions %d, want TC with question only", r.Truncated, len(r.Answer), len(r.Question))
			}
			if r.IsEdns0() == nil {
				t.Error("truncated reply lost its OPT")
			}
		}},
		{name: "ede attached", edit: func(o *ReplyOptions) { o.EDE = &dns.EDNS0_EDE{InfoCode: 3} }, check: func(t *testing.T, r *dns.Msg) {
			opt := r.IsEdns0()
			if opt == nil || len(opt.Option) != 1 || opt.Option[0].(*dns.EDNS0_EDE).InfoCode != 3 {
				t.Errorf("OPT = %v, want EDE 3", opt)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := base
			tt.edit(&o)
			tt.check(t, unpack(t, a.AppendReply(nil, &o)))
		})
	}
}

func TestAnswer_AppendReply_negativeSOAAges(t *testing.T) {
	m := upstreamReply(t, "nope.example.org.", dns.TypeAAAA, dns.RcodeNameError, nil, []string{
		"example.org. 300 IN SOA ns.example.org. host.example.org. 1 7200 3600 1209600 300",
	})
	a := newAnswer(t, m)
	r := unpack(t, a.AppendReply(nil, &ReplyOptions{ID: 1, Age: 40}))
	if r.Rcode != dns.RcodeNameError || len(r.Ns) != 1 || r.Ns[0].Header().Ttl != 260 {
		t.Errorf("reply = %v, want NXDOMAIN with SOA ttl 260", r)
	}
}

func TestAnswer_AppendReply_noAlloc(t *testing.T) {
	m := upstreamReply(t, "www.example.org.", dns.TypeA, dns.RcodeSuccess, []string{"www.example.org. 300 IN A 192.0.2.1"}, nil)
	a := newAnswer(t, m)
	dst := make([]byte, 0, 4096)
	o := &ReplyOptions{ID: 7, EDNS: true, BufSize: 1232, MaxSize: 1232, Age: 3}
	if n := testing.AllocsPerRun(100, func() { dst = a.AppendReply(dst[:0], o) }); n != 0 {
		t.Errorf("AppendReply allocates %v times, want 0", n)
	}
}

func TestAnswer_Summary(t *testing.T) {
	tests := []struct {
		m    *dns.Msg
		want string
	}{
		{upstreamReply(t, "www.example.org.", dns.TypeA, dns.RcodeSuccess, []string{
			"www.example.org. 300 IN CNAME edge.cdn.example.", "edge.cdn.example. 60 IN A 192.0.2.7"}, nil),
			"CNAME edge.cdn.example. A 192.0.2.7"},
		{upstreamReply(t, "nope.example.org.", dns.TypeA, dns.RcodeNameError, nil, nil), "NXDOMAIN"},
		{upstreamReply(t, "www.example.org.", dns.TypeAAAA, dns.RcodeSuccess, nil, nil), "NODATA"},
		{upstreamReply(t, "example.org.", dns.TypeTXT, dns.RcodeSuccess, []string{`example.org. 60 IN TXT "v=spf1 -all"`}, nil),
			`TXT "v=spf1 -all"`},
	}
	for _, tt := range tests {
		if got := newAnswer(t, tt.m).Summary(); got != tt.want {
			t.Errorf("Summary() = %q, want %q", got, tt.want)
		}
	}
	var many []string
	for i := range 50 {
		many = append(many, fmt.Sprintf("example.org. 60 IN A 192.0.2.%d", i))
	}
	if got := newAnswer(t, upstreamReply(t, "example.org.", dns.TypeA, 0, many, nil)).Summary(); len(got) > maxSummary+100 || !strings.HasSuffix(got, "...") {
		t.Errorf("long summary not bounded: %d bytes", len(got))
	}
}
