package resolver

import (
	"context"
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"gatehouse/clientmap"
	"gatehouse/config"
	"gatehouse/policy"
	"gatehouse/querylog"
)

// checkedPolicy compiles a policy with every answer-side check on: a
// tracker list (for CNAME cloaking), an address list and rebinding
// protection, answering blocks in style.
func checkedPolicy(t testing.TB, style string) *policy.Snapshot {
	t.Helper()
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	cfg, err := config.Parse("t.yaml", []byte(fmt.Sprintf(`version: 1
access: {allow: [127.0.0.0/8]}
resolver: {mode: forward, upstreams: [{address: 192.0.2.53}]}
lists:
  - {name: trackers, category: custom, path: %s}
  - {name: bad-ips, category: malware, path: %s, format: cidr}
groups:
  - {name: pupils, block: [custom, malware], block_answer: %q}
`, write("trackers.txt", "trk.example\n"), write("ips.txt", "198.18.0.0/15\n"), style)))
	if err != nil {
		t.Fatal(err)
	}
	p, err := policy.Compile(cfg, 1, time.Now(), nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// chainAnswer is an upstream answer for name: a CNAME chain through
// targets, ending in the addresses.
func chainAnswer(t testing.TB, name string, qtype uint16, targets []string, addrs ...string) *Answer {
	var rrs []string
	owner := name
	for _, tg := range targets {
		rrs = append(rrs, fmt.Sprintf("%s 300 IN CNAME %s", owner, tg))
		owner = tg
	}
	for _, a := range addrs {
		typ := "A"
		if strings.Contains(a, ":") {
			typ = "AAAA"
		}
		rrs = append(rrs, fmt.Sprintf("%s 300 IN %s %s", owner, typ, a))
	}
	return newAnswer(t, upstreamReply(t, name, qtype, dns.RcodeSuccess, rrs, nil))
}

func TestServer_answerSideBlocks(t *testing.T) {
	answers := map[string]*Answer{
		"cloaked.example.": chainAnswer(t, "cloaked.example.", dns.TypeA, []string{"cdn.example.", "x.trk.example."}, "192.0.2.7"),
		"rebind.example.":  chainAnswer(t, "rebind.example.", dns.TypeA, nil, "192.0.2.7", "127.0.0.1"),
		"listed.example.":  chainAnswer(t, "listed.example.", dns.TypeA, nil, "198.19.1.1"),
		"fine.example.":    chainAnswer(t, "fine.example.", dns.TypeA, []string{"cdn.example."}, "192.0.2.7"),
	}
	c := &fakeCache{
		OnLookup: func(q Question, now time.Time) (Cached, bool) {
			a, ok := answers[q.Name]
			return Cached{Answer: a, FromCache: true}, ok
		},
	}
	for _, style := range []string{"nxdomain", "null"} {
		t.Run(style, func(t *testing.T) {
			log := &recordingLog{}
			_, addr := startServer(t, ServerConfig{Cache: c, QueryLog: log, Policy: checkedPolicy(t, style)})
			for _, tc := range []struct {
				name                      string
				category, list, matched   string
				wantAnswer, wantBlockText string
			}{
				{"cloaked.example.", "custom", "trackers", "cname target x.trk.example. (trk.example.)", "CNAME cdn.example.", "custom (trackers)"},
				{"rebind.example.", "rebinding", "rebinding", "loopback 127.0.0.0/8", "A 127.0.0.1", "rebinding (rebinding)"},
				{"listed.example.", "malware", "bad-ips", "198.18.0.0/15", "A 198.19.1.1", "malware (bad-ips)"},
				{"fine.example.", "", "", "", "", ""},
			} {
				q := new(dns.Msg)
				q.SetQuestion(tc.name, dns.TypeA)
				q.SetEdns0(1232, false)
				r := exchange(t, "udp", addr, q)
				e := log.last(t)
				if tc.category == "" {
					if r.Rcode != dns.RcodeSuccess || len(r.Answer) != 2 || e.Decision != querylog.Allowed {
						t.Errorf("%s: %v, logged %v", tc.name, r, e.Decision)
					}
					continue
				}
				switch style {
				case "nxdomain":
					if r.Rcode != dns.RcodeNameError || len(r.Answer) != 0 || len(r.Ns) != 1 || r.Ns[0].Header().Name != tc.name {
						t.Errorf("%s: %v, want NXDOMAIN with our SOA at the name", tc.name, r)
					}
				case "null":
					if r.Rcode != dns.RcodeSuccess || len(r.Answer) != 1 || r.Answer[0].(*dns.A).A.String() != "0.0.0.0" {
						t.Errorf("%s: %v, want 0.0.0.0", tc.name, r)
					}
				}
				if x := ednsEDE(r); x == nil || x.InfoCode != dns.ExtendedErrorCodeBlocked || !strings.Contains(x.ExtraText, tc.wantBlockText) {
					t.Errorf("%s: EDE %+v", tc.name, x)
				}
				if e.Decision != querylog.Blocked || e.Category != tc.category || e.List != tc.list || e.Matched != tc.matched {
					t.Errorf("%s: logged %v %q %q %q, want blocked %q %q %q", tc.name, e.Decision, e.Category, e.List, e.Matched, tc.category, tc.list, tc.matched)
				}
				if e.Answer == nil || !strings.Contains(e.Answer.Summary(), tc.wantAnswer) {
					t.Errorf("%s: the log does not show the blocked answer (%v)", tc.name, e.Answer)
				}
			}
		})
	}
}

func ednsEDE(r *dns.Msg) *dns.EDNS0_EDE {
	if opt := r.IsEdns0(); opt != nil {
		for _, o := range opt.Option {
			if e, ok := o.(*dns.EDNS0_EDE); ok {
				return e
			}
		}
	}
	return nil
}

// TestServer_answerChecksOnEveryHit: a cached answer is decided again
// under the policy in force, so a policy published after it was cached
// blocks it; and a miss resolved upstream is checked the same way.
func TestServer_answerChecksOnEveryHit(t *testing.T) {
	a := chainAnswer(t, "late.example.", dns.TypeA, []string{"edge.trk.example."}, "192.0.2.7")
	c := &fakeCache{
		OnLookup: func(q Question, now time.Time) (Cached, bool) {
			return Cached{Answer: a, FromCache: true}, q.Name == "late.example."
		},
		OnGet: func(ctx context.Context, q Question) (Cached, error) {
			return Cached{Answer: chainAnswer(t, q.Name, q.Type, []string{"y.trk.example."}, "192.0.2.8")}, nil
		},
	}
	s, addr := startServer(t, ServerConfig{Cache: c})
	ask := func(name string) int {
		q := new(dns.Msg)
		q.SetQuestion(name, dns.TypeA)
		return exchange(t, "udp", addr, q).Rcode
	}
	if rc := ask("late.example."); rc != dns.RcodeSuccess {
		t.Fatalf("before the policy change: %s", dns.RcodeToString[rc])
	}
	s.SetPolicy(checkedPolicy(t, "nxdomain"))
	if rc := ask("late.example."); rc != dns.RcodeNameError {
		t.Errorf("cache hit after the policy change: %s, want NXDOMAIN", dns.RcodeToString[rc])
	}
	if rc := ask("miss.example."); rc != dns.RcodeNameError {
		t.Errorf("resolved miss with a listed target: %s, want NXDOMAIN", dns.RcodeToString[rc])
	}
}

// checkedHitServer answers every question from a with checkedPolicy.
func checkedHitServer(t testing.TB, a *Answer) *Server {
	c := &fakeCache{OnLookup: func(q Question, now time.Time) (Cached, bool) {
		return Cached{Answer: a, Age: 5, FromCache: true}, true
	}}
	s, err := NewServer(ServerConfig{Cache: c, Policy: checkedPolicy(t, "nxdomain")})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

var hitAnswers = []struct {
	name    string
	targets []string
}{
	{"addresses", nil},
	{"cname-chain", []string{"www.example.org.edgekey.net.", "e1234.a.akamaiedge.net."}},
}

func TestServer_checkedHitPathDoesNotAllocate(t *testing.T) {
	for _, h := range hitAnswers {
		s := checkedHitServer(t, chainAnswer(t, "www.example.org.", dns.TypeA, h.targets, "192.0.2.1", "192.0.2.2"))
		pkt := packQuery(t, func(m *dns.Msg) { m.SetEdns0(1232, true) })
		b := newBuffers()
		src := netip.MustParseAddrPort("127.0.0.1:5300")
		n := testing.AllocsPerRun(200, func() {
			qu := query{src: src, proto: protoUDP, start: time.Now()}
			if r, miss := s.answer(pkt, &qu, b); miss || len(r) == 0 || r[3]&0xF != 0 {
				t.Fatal("no clean hit")
			}
		})
		if n != 0 {
			t.Errorf("%s: checked cache-hit path allocates %v times per query, want 0", h.name, n)
		}
	}
}

// BenchmarkServer_answerHitChecked is the cache-hit path with every
// answer-side check on (lists, an address list, rebinding), for an answer
// of two addresses with and without a two-CNAME chain. Compare with
// BenchmarkServer_answerHit (no checks configured) in the same run.
//
// Each case runs twice: "checked", and "unchecked" with the same policy
// and reply but the answer's targets and addresses hidden from the checks,
// so the difference is the cost of the answer-side checks alone.
func BenchmarkServer_answerHitChecked(b *testing.B) {
	for _, h := range hitAnswers {
		for _, checked := range []bool{true, false} {
			name := h.name + "/checked"
			if !checked {
				name = h.name + "/unchecked"
			}
			b.Run(name, func(b *testing.B) {
				a := chainAnswer(b, "www.example.org.", dns.TypeA, h.targets, "192.0.2.1", "192.0.2.2")
				if !checked {
					hidden := *a
					hidden.Targets, hidden.Addrs = nil, nil
					a = &hidden
				}
				s := checkedHitServer(b, a)
				pkt := packQuery(b, func(m *dns.Msg) { m.SetEdns0(1232, false) })
				bufs := newBuffers()
				src := netip.MustParseAddrPort("127.0.0.1:5300")
				b.ReportAllocs()
				for b.Loop() {
					qu := query{src: src, proto: protoUDP, start: time.Now()}
					s.answer(pkt, &qu, bufs)
				}
			})
		}
	}
}

// TestServer_handleUDPCheckedHitDoesNotAllocate: the listener's per-packet
// work over a real UDP socket, with the answer-side checks on and a CNAME
// chain to check.
func TestServer_handleUDPCheckedHitDoesNotAllocate(t *testing.T) {
	s := checkedHitServer(t, chainAnswer(t, "www.example.org.", dns.TypeA, hitAnswers[1].targets, "192.0.2.1"))
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	sink, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Close()
	src := sink.LocalAddr().(*net.UDPAddr).AddrPort()
	pkt := packQuery(t, func(m *dns.Msg) { m.SetEdns0(1232, false) })
	b := newBuffers()
	u := udpListener{conn: conn}
	if n := testing.AllocsPerRun(200, func() { s.handleUDP(u, pkt, nil, src, b) }); n != 0 {
		t.Errorf("handleUDP allocates %v times per checked cache hit, want 0", n)
	}
}

// TestNewAnswer_serviceTargetsAndHints: SVCB and HTTPS records' target
// names and address hints are checked like CNAME targets and addresses.
func TestNewAnswer_serviceTargetsAndHints(t *testing.T) {
	a := newAnswer(t, upstreamReply(t, "svc.example.", dns.TypeHTTPS, dns.RcodeSuccess, []string{
		`svc.example. 300 IN HTTPS 1 x.TRK.example. alpn="h2" ipv4hint="192.168.1.1,192.0.2.1" ipv6hint="fd00::1,2001:db8::1"`,
		`svc.example. 300 IN HTTPS 2 . alpn="h3"`,
	}, nil))
	if got := fmt.Sprint(a.Targets, a.Addrs); got != "[x.trk.example.] [192.168.1.1 192.0.2.1 fd00::1 2001:db8::1]" {
		t.Errorf("targets and addresses = %s", got)
	}
	d := checkedPolicy(t, "nxdomain").DecideAnswer(clientmap.Client{Group: "pupils"}, policy.Decision{}, "svc.example.", a.Targets, a.Addrs, time.Now())
	if d.Reason != policy.ReasonCNAME || d.List != "trackers" {
		t.Errorf("HTTPS target on a list: %+v", d)
	}
}

// FuzzServer_answerChecked: any packet through a server whose every answer
// is blocked by an answer-side check (a listed CNAME target and a private
// address) gets a well-formed reply with the query's ID, or none.
func FuzzServer_answerChecked(f *testing.F) {
	for _, seed := range [][]byte{
		packQuery(f, nil),
		packQuery(f, func(m *dns.Msg) { m.SetEdns0(1232, true) }),
		packQuery(f, func(m *dns.Msg) { m.Question[0].Qtype = dns.TypeHTTPS }),
		packQuery(f, func(m *dns.Msg) { m.Question[0].Name = `a\000b.example.` }),
	} {
		f.Add(seed)
	}
	s := checkedHitServer(f, chainAnswer(f, "www.example.org.", dns.TypeA, []string{"x.trk.example."}, "10.0.0.1"))
	src := netip.MustParseAddrPort("127.0.0.1:5300")
	f.Fuzz(func(t *testing.T, pkt []byte) {
		b := newBuffers()
		qu := query{src: src, proto: protoUDP, start: time.Now()}
		reply, miss := s.answer(pkt, &qu, b)
		if miss || reply == nil {
			return
		}
		r := new(dns.Msg)
		if err := r.Unpack(reply); err != nil {
			t.Fatalf("reply does not parse: %v (%x)", err, reply)
		}
		if r.Id != binary.BigEndian.Uint16(pkt) || !r.Response {
			t.Fatalf("reply %v does not answer the query", r)
		}
	})
}
