package policy

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gatehouse/clientmap"
	"gatehouse/config"
	"gatehouse/internal/geoiptest"
	"gatehouse/policy/override"
)

// answerSite is a config with every answer-side check: a tracker list
// (CNAME cloaking), an IWF list, an address list of malware networks, a
// timed address list, GeoIP databases, and groups that differ.
type answerSite struct {
	dir, yaml, countryDB, asnDB string
}

func newAnswerSite(t testing.TB) *answerSite {
	t.Helper()
	writeFile := func(t testing.TB, dir, name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	dir := t.TempDir()
	s := &answerSite{dir: dir, countryDB: filepath.Join(dir, "country.mmdb"), asnDB: filepath.Join(dir, "asn.mmdb")}
	trackers := writeFile(t, dir, "trackers.txt", "tracker.example\n")
	iwf := writeFile(t, dir, "iwf.txt", "abuse.example\n")
	allow := writeFile(t, dir, "allow.txt", "ok.tracker.example\n")
	bad := writeFile(t, dir, "bad-ips.txt", "# malware networks\n198.18.0.0/15\n198.18.7.0/24\n2001:db8:bad::/48\n")
	games := writeFile(t, dir, "game-ips.txt", "192.0.2.64/26\n")
	geoiptest.WriteCountry(t, s.countryDB, map[string]string{"203.0.113.0/24": "KP", "2001:db8:c0::/48": "KP", "192.0.2.0/26": "GB"})
	geoiptest.WriteASN(t, s.asnDB, map[string]uint32{"198.51.100.0/24": 64500})
	s.yaml = fmt.Sprintf(`version: 1
resolver:
  mode: forward
  upstreams: [{address: 192.0.2.53}]
  conditional: [{domains: [corp.school.uk], upstreams: [{address: 10.0.0.53}]}]
geoip: {country_database: %s, asn_database: %s}
blocking: {internal_domains: [intranet.school.uk]}
lists:
  - {name: trackers, category: custom, path: %s}
  - {name: iwf-list, category: iwf, path: %s}
  - {name: school-allow, category: custom, path: %s, allow: true}
  - {name: bad-ips, category: malware, path: %s, format: cidr}
  - {name: game-ips, category: gaming, path: %s, format: ip}
periods:
  - {name: lessons, weekly: ["Mon-Fri 08:40-15:20"], term_time_only: false}
groups:
  - name: pupils
    block: [custom, malware]
    block_during: [{categories: [gaming], during: [lessons]}]
    allow_lists: [school-allow]
    block_countries: [KP]
    block_asns: [64500]
    block_answer: "null"
  - name: staff
    allow: [tracker.example]
    block_rebinding: false
`, s.countryDB, s.asnDB, trackers, iwf, allow, bad, games)
	return s
}

func (s *answerSite) compile(t testing.TB, prev *Snapshot) (*Snapshot, error) {
	t.Helper()
	cfg, err := config.Parse("t.yaml", []byte(s.yaml))
	if err != nil {
		t.Fatal(err)
	}
	return Compile(cfg, 1, time.Now(), nil, prev, nil)
}

func addrs(ss ...string) []netip.Addr {
	var out []netip.Addr
	for _, s := range ss {
		out = append(out, netip.MustParseAddr(s))
	}
	return out
}

func TestSnapshot_DecideAnswer(t *testing.T) {
	site := newAnswerSite(t)
	snap, err := site.compile(t, nil)
	if err != nil {
		t.Fatal(err)
	}
	lesson := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC) // a Monday
	evening := time.Date(2026, 11, 23, 20, 0, 0, 0, time.UTC)
	pupils, staff := clientmap.Client{Group: "pupils"}, clientmap.Client{Group: "staff"}
	pass, allow := Decision{Action: Pass}, Decision{Action: Allow, Reason: ReasonAllowlist}
	for _, tc := range []struct {
		name    string
		c       clientmap.Client
		d       Decision
		qname   string
		targets []string
		addrs   []netip.Addr
		at      time.Time
		want    Decision
	}{
		{"nothing to check", pupils, pass, "www.example.", nil, nil, lesson, pass},
		{"clean answer", pupils, pass, "www.example.", []string{"cdn.example."}, addrs("192.0.2.200", "2001:db8::1"), lesson, pass},
		{"cname cloaking", pupils, pass, "metrics.shop.example.", []string{"x.tracker.example."}, addrs("192.0.2.200"), lesson,
			Decision{Action: Block, Reason: ReasonCNAME, Style: StyleNull, Category: "custom", List: "trackers", Matched: "cname target x.tracker.example. (tracker.example.)"}},
		{"second target of a chain", pupils, pass, "a.example.", []string{"b.example.", "tracker.example."}, nil, lesson,
			Decision{Action: Block, Reason: ReasonCNAME, Style: StyleNull, Category: "custom", List: "trackers", Matched: "cname target tracker.example."}},
		{"allowed target", pupils, pass, "a.example.", []string{"ok.tracker.example."}, nil, lesson, pass},
		{"group allows the target", staff, pass, "a.example.", []string{"x.tracker.example."}, nil, lesson, pass},
		{"locked target behind an allowed name", staff, allow, "a.example.", []string{"img.abuse.example."}, nil, lesson,
			Decision{Action: Block, Reason: ReasonLocked, Style: StyleNXDOMAIN, Category: "iwf", List: "iwf-list", Matched: "cname target img.abuse.example. (abuse.example.)"}},
		{"allowed name: unlocked target not checked", pupils, allow, "a.example.", []string{"x.tracker.example."}, addrs("10.0.0.1", "203.0.113.5"), lesson, allow},
		{"address list, most specific entry", pupils, pass, "a.example.", nil, addrs("192.0.2.200", "198.18.7.9"), lesson,
			Decision{Action: Block, Reason: ReasonAddress, Style: StyleNull, Category: "malware", List: "bad-ips", Matched: "198.18.7.0/24"}},
		{"address list v6", pupils, pass, "a.example.", nil, addrs("2001:db8:bad:1::1"), lesson,
			Decision{Action: Block, Reason: ReasonAddress, Style: StyleNull, Category: "malware", List: "bad-ips", Matched: "2001:db8:bad::/48"}},
		{"address list not selected", staff, pass, "a.example.", nil, addrs("198.18.7.9"), lesson, pass},
		{"timed address list in lessons", pupils, pass, "a.example.", nil, addrs("192.0.2.70"), lesson,
			Decision{Action: Block, Reason: ReasonAddress, Style: StyleNull, Category: "gaming", List: "game-ips", Matched: "192.0.2.64/26"}},
		{"timed address list after school", pupils, pass, "a.example.", nil, addrs("192.0.2.70"), evening, pass},
		{"country", pupils, pass, "a.example.", nil, addrs("203.0.113.9"), lesson,
			Decision{Action: Block, Reason: ReasonGeo, Style: StyleNull, Category: "geoip", List: "country", Matched: "country KP"}},
		{"country v6", pupils, pass, "a.example.", nil, addrs("2001:db8:c0::5"), lesson,
			Decision{Action: Block, Reason: ReasonGeo, Style: StyleNull, Category: "geoip", List: "country", Matched: "country KP"}},
		{"country not blocked", pupils, pass, "a.example.", nil, addrs("192.0.2.1"), lesson, pass},
		{"country, other group", staff, pass, "a.example.", nil, addrs("203.0.113.9"), lesson, pass},
		{"asn", pupils, pass, "a.example.", nil, addrs("198.51.100.20"), lesson,
			Decision{Action: Block, Reason: ReasonGeo, Style: StyleNull, Category: "geoip", List: "asn", Matched: "AS64500"}},
		{"rebinding", pupils, pass, "evil.example.", nil, addrs("192.0.2.1", "192.168.1.1"), lesson,
			Decision{Action: Block, Reason: ReasonRebinding, Style: StyleNull, Category: "rebinding", List: "rebinding", Matched: "private 192.168.0.0/16"}},
		{"rebinding loopback v6", pupils, pass, "evil.example.", nil, addrs("::1"), lesson,
			Decision{Action: Block, Reason: ReasonRebinding, Style: StyleNull, Category: "rebinding", List: "rebinding", Matched: "loopback ::1"}},
		{"rebinding mapped", pupils, pass, "evil.example.", nil, addrs("::ffff:127.0.0.1"), lesson,
			Decision{Action: Block, Reason: ReasonRebinding, Style: StyleNull, Category: "rebinding", List: "rebinding", Matched: "loopback 127.0.0.0/8"}},
		{"the table's order explains, not the answer's", pupils, pass, "a.example.", nil, addrs("10.0.0.1", "203.0.113.9", "198.18.7.9"), lesson,
			Decision{Action: Block, Reason: ReasonAddress, Style: StyleNull, Category: "malware", List: "bad-ips", Matched: "198.18.7.0/24"}},
		{"rebinding off for the group", staff, pass, "evil.example.", nil, addrs("10.1.2.3"), lesson, pass},
		{"internal domain", pupils, pass, "wiki.intranet.school.uk.", nil, addrs("10.1.2.3"), lesson, pass},
		{"conditional domain", pupils, pass, "dc1.corp.school.uk.", nil, addrs("10.1.2.3"), lesson, pass},
		{"special-use name", pupils, pass, "printer.home.arpa.", nil, addrs("192.168.1.9"), lesson, pass},
		{"single label", pupils, pass, "printer.", nil, addrs("192.168.1.9"), lesson, pass},
		{"lookalike of an internal domain", pupils, pass, "xintranet.school.uk.", nil, addrs("10.1.2.3"), lesson,
			Decision{Action: Block, Reason: ReasonRebinding, Style: StyleNull, Category: "rebinding", List: "rebinding", Matched: "private 10.0.0.0/8"}},
		{"block decisions are kept", pupils, Decision{Action: Block, Reason: ReasonList}, "a.example.", []string{"tracker.example."}, nil, lesson, Decision{Action: Block, Reason: ReasonList}},
		{"rewrites are kept", pupils, Decision{Action: Rewrite, Target: "safe.example."}, "a.example.", nil, addrs("10.0.0.1"), lesson, Decision{Action: Rewrite, Target: "safe.example."}},
	} {
		if got := snap.DecideAnswer(tc.c, tc.d, tc.qname, tc.targets, tc.addrs, tc.at); got != tc.want {
			t.Errorf("%s:\n got %+v\nwant %+v", tc.name, got, tc.want)
		}
	}
	if n := testing.AllocsPerRun(100, func() {
		snap.DecideAnswer(pupils, pass, "www.example.", []string{"cdn.example.", "edge.cdn.example."}, addrs("192.0.2.200"), lesson)
	}); n > 1 { // addrs() allocates once
		t.Errorf("a passing answer check allocates %v times", n-1)
	}
}

func TestReason_answerSide(t *testing.T) {
	for r, want := range map[Reason]string{ReasonCNAME: "cname", ReasonAddress: "address", ReasonGeo: "geoip", ReasonRebinding: "rebinding", ReasonList: "list"} {
		if r.String() != want || r.AnswerSide() != (r != ReasonList) {
			t.Errorf("%d: %q %v", r, r.String(), r.AnswerSide())
		}
	}
}

func TestCompile_geoipKeepsLastGood(t *testing.T) {
	site := newAnswerSite(t)
	first, err := site.compile(t, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(first.Warnings()) != 0 {
		t.Fatalf("warnings: %v", first.Warnings())
	}
	// A download tool leaves half a file.
	data, _ := os.ReadFile(site.countryDB)
	if err := os.WriteFile(site.countryDB, data[:len(data)/3], 0o644); err != nil {
		t.Fatal(err)
	}
	future := time.Now().Add(time.Minute)
	os.Chtimes(site.countryDB, future, future)
	second, err := site.compile(t, first)
	if err != nil {
		t.Fatalf("a broken database failed the reload: %v", err)
	}
	if w := second.Warnings(); len(w) != 1 || !strings.Contains(w[0], site.countryDB) || !strings.Contains(w[0], "keeping the copy in force") {
		t.Errorf("warnings = %q", w)
	}
	pupils := clientmap.Client{Group: "pupils"}
	if d := second.DecideAnswer(pupils, Decision{}, "a.example.", nil, addrs("203.0.113.9"), time.Now()); d.Reason != ReasonGeo {
		t.Errorf("after a failed database reload: %+v, want the last good database's block", d)
	}
	// With nothing to keep (at start), it is an error naming the file.
	if _, err := site.compile(t, nil); err == nil || !strings.Contains(err.Error(), site.countryDB) {
		t.Errorf("start with a broken database: %v", err)
	}
	// A new good file takes over, without the warning.
	geoiptest.WriteCountry(t, site.countryDB, map[string]string{"192.0.2.128/25": "KP"})
	third, err := site.compile(t, second)
	if err != nil || len(third.Warnings()) != 0 {
		t.Fatalf("%v %v", err, third.Warnings())
	}
	if d := third.DecideAnswer(pupils, Decision{}, "a.example.", nil, addrs("203.0.113.9"), time.Now()); d.Action != Pass {
		t.Errorf("old network still blocked: %+v", d)
	}
	if d := third.DecideAnswer(pupils, Decision{}, "a.example.", nil, addrs("192.0.2.129"), time.Now()); d.Reason != ReasonGeo {
		t.Errorf("new network not blocked: %+v", d)
	}
}

func TestCompile_addressListIDs(t *testing.T) {
	site := newAnswerSite(t)
	snap, err := site.compile(t, nil)
	if err != nil {
		t.Fatal(err)
	}
	ips := snap.Addresses()
	if ips == nil || len(ips.Lists()) != 2 {
		t.Fatalf("address lists: %+v", ips.Lists())
	}
	for _, l := range ips.Lists() {
		if snap.Lists().ListMask(l.Name) != 0 || snap.listNames[l.ID] != "" {
			t.Errorf("address list %s (id %d) collides with a name list", l.Name, l.ID)
		}
	}
	// Name lists never see address entries.
	if d := snap.Decide(clientmap.Client{Group: "pupils"}, "198.18.7.0.", 1, time.Now()); d.Action != Pass {
		t.Errorf("an address entry decided a name: %+v", d)
	}
	// A broken address list file fails the compile (and so the reload,
	// keeping the policy in force), naming the file.
	os.Remove(filepath.Join(site.dir, "bad-ips.txt"))
	if _, err := site.compile(t, snap); err == nil || !strings.Contains(err.Error(), "bad-ips.txt") {
		t.Errorf("missing address list: %v", err)
	}
}

func TestSnapshot_DecideAnswer_overrides(t *testing.T) {
	site := newAnswerSite(t)
	snap, err := site.compile(t, nil)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	pupils := clientmap.Client{Group: "pupils"}
	targets := []string{"x.tracker.example."}
	if d := snap.DecideAnswer(pupils, Decision{}, "a.example.", targets, nil, now); d.Reason != ReasonCNAME {
		t.Fatalf("without an override: %+v", d)
	}
	ov := override.Override{ID: "o1", Group: "pupils", Action: override.Allow, Category: "custom",
		Created: now.Add(-time.Minute), Until: now.Add(time.Hour)}
	with := snap.WithOverrides([]override.Override{ov}, now)
	if d := with.DecideAnswer(pupils, Decision{}, "a.example.", targets, nil, now); d.Action != Pass {
		t.Errorf("custom allowed for an hour, yet its CNAME target blocks: %+v", d)
	}
	if d := with.DecideAnswer(pupils, Decision{}, "a.example.", targets, nil, now.Add(2*time.Hour)); d.Reason != ReasonCNAME {
		t.Errorf("after the override expired: %+v", d)
	}
	// A category with only address lists can be overridden too.
	lesson := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	games := override.Override{ID: "o2", Group: "pupils", Action: override.Allow, Category: "gaming",
		Created: lesson.Add(-time.Minute), Until: lesson.Add(time.Hour)}
	if d := snap.DecideAnswer(pupils, Decision{}, "a.example.", nil, addrs("192.0.2.70"), lesson); d.Reason != ReasonAddress {
		t.Fatalf("gaming address in lessons: %+v", d)
	}
	if d := snap.WithOverrides([]override.Override{games}, lesson).DecideAnswer(pupils, Decision{}, "a.example.", nil, addrs("192.0.2.70"), lesson); d.Action != Pass {
		t.Errorf("gaming allowed by an override, yet its address list blocks: %+v", d)
	}
	// The address lists and rebinding protection still apply.
	if d := with.DecideAnswer(pupils, Decision{}, "a.example.", targets, addrs("198.18.7.9"), now); d.Reason != ReasonAddress {
		t.Errorf("override of another category lifted an address block: %+v", d)
	}
}

// BenchmarkSnapshot_DecideAnswer is the answer-side check alone, per
// answer, with every check on (name lists, address lists, country, ASN,
// rebinding): two addresses, with and without a two-CNAME chain.
func BenchmarkSnapshot_DecideAnswer(b *testing.B) {
	site := newAnswerSite(b)
	snap, err := site.compile(b, nil)
	if err != nil {
		b.Fatal(err)
	}
	pupils := clientmap.Client{Group: "pupils"}
	now := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	as := addrs("192.0.2.200", "2001:db8::1")
	for _, bc := range []struct {
		name    string
		targets []string
	}{
		{"addresses", nil},
		{"cname-chain", []string{"www.example.org.edgekey.net.", "e1234.a.akamaiedge.net."}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if d := snap.DecideAnswer(pupils, Decision{}, "www.example.org.", bc.targets, as, now); d.Action != Pass {
					b.Fatal(d)
				}
			}
		})
	}
}
