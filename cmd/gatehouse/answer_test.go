package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/miekg/dns"

	"gatehouse/internal/dnstest"
	"gatehouse/internal/geoiptest"
)

// answerUpstream is a loopback authority whose answers exercise every
// answer-side check: CNAME chains into a tracker's names, private
// addresses, and addresses in the test GeoIP databases and address list.
func answerUpstream(t *testing.T) (netip.AddrPort, *atomic.Int64) {
	z := dnstest.NewZone(t, `
$ORIGIN example.org.
@        3600 IN SOA   ns.example.org. host.example.org. 1 7200 3600 1209600 300
@        3600 IN NS    ns.example.org.
ns       3600 IN A     127.0.0.1
www       300 IN A     192.0.2.80
www2      300 IN A     192.0.2.81
metrics   300 IN CNAME shop-metrics.cdn.example.org.
shop-metrics.cdn 300 IN CNAME edge.trk.example.org.
edge.trk  300 IN A     192.0.2.90
rebind    300 IN A     192.168.1.5
rebind6   300 IN AAAA  fd00::5
nas.intranet 300 IN A  10.0.0.5
kp        300 IN A     203.0.113.7
asn       300 IN A     198.51.100.7
bad       300 IN A     198.18.0.9
bad6      300 IN AAAA  2001:db8:bad::9
`)
	var n atomic.Int64
	addr := dnstest.NewServer(t, dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
		n.Add(1)
		z.ServeDNS(w, r)
	}))
	return addr, &n
}

func queryType(t *testing.T, addr, name string, qtype uint16) *dns.Msg {
	t.Helper()
	m := new(dns.Msg)
	m.SetQuestion(name, qtype)
	m.SetEdns0(1232, false)
	r, _, err := (&dns.Client{Net: "udp"}).Exchange(m, addr)
	if err != nil {
		t.Fatalf("query %s: %v", name, err)
	}
	return r
}

func TestServe_answerSideBlocks(t *testing.T) {
	up, upstreamQueries := answerUpstream(t)
	dir := t.TempDir()
	trackers := filepath.Join(dir, "trackers.txt")
	ips := filepath.Join(dir, "bad-ips.txt")
	countryDB, asnDB := filepath.Join(dir, "country.mmdb"), filepath.Join(dir, "asn.mmdb")
	replace := func(path, text string) {
		tmp := path + ".tmp"
		if err := os.WriteFile(tmp, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, path); err != nil {
			t.Fatal(err)
		}
	}
	replace(trackers, "trk.example.org\n")
	replace(ips, "198.18.0.0/15 ; test network\n2001:db8:bad::/48\nnot an address\n")
	geoiptest.WriteCountry(t, countryDB, map[string]string{"203.0.113.0/24": "KP", "192.0.2.0/24": "GB"})
	geoiptest.WriteASN(t, asnDB, map[string]uint32{"198.51.100.0/24": 64500})
	in := start(t, func(d, h int) string {
		return siteConfig(d, h, up, "127.0.0.0/8") + fmt.Sprintf(`    block: [custom, malware]
    block_countries: [KP]
    block_asns: [64500]
geoip: {country_database: %s, asn_database: %s}
blocking: {internal_domains: [intranet.example.org]}
lists:
  - {name: trackers, category: custom, path: %s}
  - {name: bad-ips, category: malware, path: %s, format: cidr}
`, countryDB, asnDB, trackers, ips)
	})

	for _, tc := range []struct {
		name   string
		qtype  uint16
		rcode  int
		edeHas string // "" for no EDE
	}{
		{"www.example.org.", dns.TypeA, dns.RcodeSuccess, ""},
		{"metrics.example.org.", dns.TypeA, dns.RcodeNameError, "custom (trackers)"},
		{"metrics.example.org.", dns.TypeAAAA, dns.RcodeNameError, "custom (trackers)"}, // no addresses, still a listed target
		{"rebind.example.org.", dns.TypeA, dns.RcodeNameError, "rebinding (rebinding)"},
		{"rebind6.example.org.", dns.TypeAAAA, dns.RcodeNameError, "rebinding (rebinding)"},
		{"nas.intranet.example.org.", dns.TypeA, dns.RcodeSuccess, ""},
		{"kp.example.org.", dns.TypeA, dns.RcodeNameError, "geoip (country)"},
		{"asn.example.org.", dns.TypeA, dns.RcodeNameError, "geoip (asn)"},
		{"bad.example.org.", dns.TypeA, dns.RcodeNameError, "malware (bad-ips)"},
		{"bad6.example.org.", dns.TypeAAAA, dns.RcodeNameError, "malware (bad-ips)"},
	} {
		// Twice: the second answer comes from the cache and is checked again.
		for round := range 2 {
			r := queryType(t, in.dns, tc.name, tc.qtype)
			e := ede(r)
			switch {
			case r.Rcode != tc.rcode:
				t.Errorf("%s %s (round %d): %s, want %s", tc.name, dns.Type(tc.qtype), round, dns.RcodeToString[r.Rcode], dns.RcodeToString[tc.rcode])
			case tc.edeHas == "" && e != nil:
				t.Errorf("%s: unexpected EDE %+v", tc.name, e)
			case tc.edeHas != "" && (e == nil || e.InfoCode != dns.ExtendedErrorCodeBlocked || !strings.Contains(e.ExtraText, tc.edeHas)):
				t.Errorf("%s: EDE %+v, want code 15 with %q", tc.name, e, tc.edeHas)
			case tc.rcode == dns.RcodeNameError && (len(r.Ns) != 1 || r.Ns[0].Header().Name != tc.name || r.Ns[0].Header().Ttl != 60):
				t.Errorf("%s: authority %v, want our SOA at the query name with the block TTL", tc.name, r.Ns)
			}
		}
	}
	if got := metricValue(t, in, `gatehouse_policy_decisions_total{action="block",reason="cname"}`); got != "4" {
		t.Errorf("cname blocks counted = %q, want 4", got)
	}
	if got := metricValue(t, in, `gatehouse_policy_decisions_total{action="block",reason="rebinding"}`); got != "4" {
		t.Errorf("rebinding blocks counted = %q, want 4", got)
	}
	if !strings.Contains(in.logs.String(), "bad-ips.txt:3") {
		t.Errorf("the skipped address list line was not logged with file:line")
	}

	// A cached answer is checked again after a policy change: a new address
	// list entry blocks www2 from the cache, without asking upstream.
	if r := query(t, "udp", in.dns, "www2.example.org."); r.Rcode != dns.RcodeSuccess {
		t.Fatalf("www2 before the change: %s", dns.RcodeToString[r.Rcode])
	}
	before := upstreamQueries.Load()
	replace(ips, "198.18.0.0/15\n2001:db8:bad::/48\n192.0.2.81\n")
	waitFor(t, "the new address entry to block a cached answer", func() bool {
		r := query(t, "udp", in.dns, "www2.example.org.")
		return r.Rcode == dns.RcodeNameError
	})
	if e := ede(query(t, "udp", in.dns, "www2.example.org.")); e == nil || !strings.Contains(e.ExtraText, "malware (bad-ips)") {
		t.Errorf("EDE after the change: %+v", e)
	}
	if n := upstreamQueries.Load(); n != before {
		t.Errorf("upstream asked %d more times; the block should come from re-checking the cached answer", n-before)
	}

	// A replaced country database takes effect; a broken one leaves the
	// last good one in force.
	geoiptest.WriteCountry(t, countryDB, map[string]string{"192.0.2.80/32": "KP"})
	waitFor(t, "the new country database to block www", func() bool {
		return query(t, "udp", in.dns, "www.example.org.").Rcode == dns.RcodeNameError
	})
	replace(countryDB, "<html>503</html>")
	waitFor(t, "the broken database to be reported", func() bool {
		return strings.Contains(in.logs.String(), "keeping the copy in force")
	})
	if r := query(t, "udp", in.dns, "www.example.org."); r.Rcode != dns.RcodeNameError {
		t.Errorf("after a broken database: %s, want the last good database's block", dns.RcodeToString[r.Rcode])
	}
	if r := query(t, "udp", in.dns, "kp.example.org."); r.Rcode != dns.RcodeSuccess {
		t.Errorf("kp after the database change: %s, want it allowed (KP moved)", dns.RcodeToString[r.Rcode])
	}
	if got := metricValue(t, in, `gatehouse_geoip_load_failures_total`); got != "1" {
		t.Errorf("load failures = %q, want 1", got)
	}
	if got := metricValue(t, in, `gatehouse_geoip_ranges{kind="country"}`); got != "1" {
		t.Errorf("country ranges = %q, want 1 (the last good database's)", got)
	}
	if got := metricValue(t, in, `gatehouse_geoip_database_build_timestamp_seconds{kind="asn"}`); got == "" || got == "0" {
		t.Errorf("asn database build time = %q", got)
	}
}

func TestExplain_answer(t *testing.T) {
	dir := t.TempDir()
	trackers := filepath.Join(dir, "trackers.txt")
	ips := filepath.Join(dir, "bad-ips.txt")
	countryDB := filepath.Join(dir, "country.mmdb")
	os.WriteFile(trackers, []byte("# trackers\ntrk.example.org\n"), 0o644)
	os.WriteFile(ips, []byte("# malware\n198.18.0.0/15\n198.18.0.0/24\n"), 0o644)
	geoiptest.WriteCountry(t, countryDB, map[string]string{"203.0.113.0/24": "KP"})
	path := filepath.Join(dir, "gatehouse.yaml")
	os.WriteFile(path, []byte(fmt.Sprintf(`version: 1
access: {allow: [127.0.0.0/8]}
geoip: {country_database: %s}
lists:
  - {name: trackers, category: custom, path: %s}
  - {name: bad-ips, category: malware, path: %s, format: cidr}
groups:
  - {name: pupils, block: [custom, malware], block_countries: [KP]}
`, countryDB, trackers, ips)), 0o644)
	explain := func(args ...string) (string, error) {
		var out, errOut bytes.Buffer
		err := run(context.Background(), append([]string{"gatehouse", "explain", "--config", path}, args...), &out, &errOut)
		return out.String(), err
	}
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"metrics.example.org"}, []string{"resolved normally", "checked too when it arrives; give them with --answer"}},
		{[]string{"--answer", "cdn.example.net", "--answer", "edge.trk.example.org", "metrics.example.org"},
			[]string{"BLOCKED: answered NXDOMAIN (the name does not exist) — cname rule, category custom, list trackers, matched entry cname target edge.trk.example.org. (trk.example.org.)",
				"cname target edge.trk.example.org.: trk.example.org. in trackers (custom) at " + trackers + ":2"}},
		{[]string{"--answer", "198.18.0.9", "bad.example.org"},
			[]string{"address rule, category malware, list bad-ips, matched entry 198.18.0.0/24",
				"address 198.18.0.9: 198.18.0.0/24 in bad-ips (malware) at " + ips + ":3"}},
		{[]string{"--answer", "203.0.113.7", "kp.example.org"}, []string{"geoip rule, category geoip, list country, matched entry country KP"}},
		{[]string{"--answer", "10.1.2.3", "evil.example.org"}, []string{"rebinding rule", "matched entry private 10.0.0.0/8"}},
		{[]string{"--answer", "192.0.2.1", "fine.example.org"}, []string{"passes the answer checks"}},
	} {
		out, err := explain(tc.args...)
		if err != nil {
			t.Fatalf("explain %v: %v", tc.args, err)
		}
		for _, w := range tc.want {
			if !strings.Contains(out, w) {
				t.Errorf("explain %v lacks %q:\n%s", tc.args, w, out)
			}
		}
	}
	if _, err := explain("--answer", "a..b", "x.example.org"); err == nil || !strings.Contains(err.Error(), "--answer") {
		t.Errorf("bad --answer: %v", err)
	}
}

// TestServe_downloadedAddressListBlocks: an address list from a URL is
// fetched, checked and stored like a name list, then blocks answers.
func TestServe_downloadedAddressListBlocks(t *testing.T) {
	up, _ := answerUpstream(t)
	lists := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "; DROP-style list\n198.18.0.0/15 ; SBL1\n203.0.113.0/24")
	}))
	defer lists.Close()
	in := start(t, func(d, h int) string {
		return siteConfig(d, h, up, "127.0.0.0/8") + fmt.Sprintf(`    block: [malware]
lists:
  - {name: drop, category: malware, url: "%s/drop.txt", format: cidr}
`, lists.URL)
	})
	waitFor(t, "the downloaded address list to block", func() bool {
		return query(t, "udp", in.dns, "bad.example.org.").Rcode == dns.RcodeNameError
	})
	if e := ede(query(t, "udp", in.dns, "bad.example.org.")); e == nil || !strings.Contains(e.ExtraText, "malware (drop)") {
		t.Errorf("EDE = %+v", e)
	}
	if r := query(t, "udp", in.dns, "www.example.org."); r.Rcode != dns.RcodeSuccess {
		t.Errorf("www: %s", dns.RcodeToString[r.Rcode])
	}
	if got := metricValue(t, in, `gatehouse_blocklists_entries{list="drop"}`); got != "2" {
		t.Errorf("entries metric of the address list = %q, want 2", got)
	}
}
