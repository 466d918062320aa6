package recursor_test

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"gatehouse/internal/dnstest"
	"gatehouse/resolver"
	"gatehouse/resolver/recursor"
)

// The fake internet most tests resolve in. Servers sit on documentation
// addresses (RFC 5737): the root on 192.0.2.0/24, TLDs on 198.51.100.0/24,
// leaf zones on 203.0.113.0/24.

const testHints = `
.                      3600000 IN NS a.root-servers.test.
a.root-servers.test.   3600000 IN A  192.0.2.1
`

const rootZone = `
.                    86400 IN SOA a.root-servers.test. nstld.root-servers.test. 1 1800 900 604800 86400
.                   518400 IN NS  a.root-servers.test.
a.root-servers.test. 518400 IN A   192.0.2.1
org.                172800 IN NS  ns1.nic.org.
org.                172800 IN NS  ns2.nic.org.
ns1.nic.org.        172800 IN A   198.51.100.1
ns2.nic.org.        172800 IN A   198.51.100.2
net.                172800 IN NS  ns1.nic.net.
ns1.nic.net.        172800 IN A   198.51.100.11
`

const orgZone = `
org.              86400 IN SOA ns1.nic.org. hostmaster.nic.org. 1 1800 900 604800 3600
org.              86400 IN NS  ns1.nic.org.
org.              86400 IN NS  ns2.nic.org.
ns1.nic.org.      86400 IN A   198.51.100.1
ns2.nic.org.      86400 IN A   198.51.100.2
example.org.      86400 IN NS  ns1.example.org.
example.org.      86400 IN NS  ns2.example.org.
ns1.example.org.  86400 IN A   203.0.113.1
ns2.example.org.  86400 IN A   203.0.113.2
glueless.org.     86400 IN NS  ns1.dnshost.net.
glueless.org.     86400 IN NS  ns2.dnshost.net.
`

const netZone = `
net.              86400 IN SOA ns1.nic.net. hostmaster.nic.net. 1 1800 900 604800 3600
net.              86400 IN NS  ns1.nic.net.
ns1.nic.net.      86400 IN A   198.51.100.11
example.net.      86400 IN NS  ns.example.net.
ns.example.net.   86400 IN A   203.0.113.11
dnshost.net.      86400 IN NS  ns.dnshost.net.
ns.dnshost.net.   86400 IN A   203.0.113.20
`

const exampleOrgZone = `
example.org.        3600 IN SOA   ns1.example.org. hostmaster.example.org. 1 7200 900 1209600 300
example.org.        3600 IN NS    ns1.example.org.
example.org.        3600 IN NS    ns2.example.org.
ns1.example.org.    3600 IN A     203.0.113.1
ns2.example.org.    3600 IN A     203.0.113.2
www.example.org.     300 IN A     192.0.2.80
www.example.org.     300 IN AAAA  2001:db8::80
alias.example.org.   300 IN CNAME www.example.org.
away.example.org.    300 IN CNAME www.example.net.
loop1.example.org.   300 IN CNAME loop2.example.net.
a.b.c.example.org.   300 IN TXT   "deep"
`

const exampleNetZone = `
example.net.       3600 IN SOA   ns.example.net. hostmaster.example.net. 1 7200 900 1209600 300
example.net.       3600 IN NS    ns.example.net.
ns.example.net.    3600 IN A     203.0.113.11
www.example.net.    300 IN A     192.0.2.81
loop2.example.net.  300 IN CNAME loop1.example.org.
chain.example.net.  300 IN CNAME alias.example.org.
`

const dnshostZone = `
dnshost.net.      3600 IN SOA ns.dnshost.net. hostmaster.dnshost.net. 1 7200 900 1209600 300
dnshost.net.      3600 IN NS  ns.dnshost.net.
ns.dnshost.net.   3600 IN A   203.0.113.20
ns1.dnshost.net.  3600 IN A   203.0.113.21
ns2.dnshost.net.  3600 IN A   203.0.113.22
`

const gluelessZone = `
glueless.org.      3600 IN SOA ns1.dnshost.net. hostmaster.dnshost.net. 1 7200 900 1209600 300
glueless.org.      3600 IN NS  ns1.dnshost.net.
glueless.org.      3600 IN NS  ns2.dnshost.net.
www.glueless.org.   300 IN A   192.0.2.90
`

// world is the fake internet: zones by server address.
type world map[string]dns.Handler

// newWorld returns the standard zones on their servers.
func newWorld(t testing.TB) world {
	t.Helper()
	root := dnstest.NewZone(t, rootZone)
	org := dnstest.NewZone(t, orgZone)
	exOrg := dnstest.NewZone(t, exampleOrgZone)
	glueless := dnstest.NewZone(t, gluelessZone)
	return world{
		"192.0.2.1":     root,
		"198.51.100.1":  org,
		"198.51.100.2":  org,
		"198.51.100.11": dnstest.NewZone(t, netZone),
		"203.0.113.1":   exOrg,
		"203.0.113.2":   exOrg,
		"203.0.113.11":  dnstest.NewZone(t, exampleNetZone),
		"203.0.113.20":  dnstest.NewZone(t, dnshostZone),
		"203.0.113.21":  glueless,
		"203.0.113.22":  glueless,
	}
}

// delayed returns w with every server answering after d.
func (w world) delayed(d time.Duration) world {
	out := make(world, len(w))
	for addr, h := range w {
		out[addr] = dnstest.Delay(d, h)
	}
	return out
}

// net puts w's handlers on a new Net.
func (w world) net() *dnstest.Net {
	n := dnstest.NewNet()
	for addr, h := range w {
		n.Handle(addr, h)
	}
	return n
}

func hints(t testing.TB) []dns.RR {
	t.Helper()
	rrs, err := recursor.ParseHints("test.hints", []byte(testHints))
	if err != nil {
		t.Fatal(err)
	}
	return rrs
}

// newRecursor returns a Recursor over ex with the test hints and
// predictable server choice (always the first of equals), after applying
// mods to its config.
func newRecursor(t testing.TB, ex resolver.Exchanger, mods ...func(*recursor.Config)) *recursor.Recursor {
	t.Helper()
	cfg := recursor.Config{Exchanger: ex, RootHints: hints(t)}
	for _, mod := range mods {
		mod(&cfg)
	}
	r, err := recursor.New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	recursor.SetRand(r, func(int) int { return 0 })
	return r
}

func question(name string, qtype uint16) resolver.Question {
	return resolver.Question{Name: name, Type: qtype}
}

// resolve resolves name and fails the test on error.
func resolve(t testing.TB, r *recursor.Recursor, name string, qtype uint16) *dns.Msg {
	t.Helper()
	m, err := r.Resolve(t.Context(), question(name, qtype))
	if err != nil {
		t.Fatalf("Resolve(%s %s): %v", name, dns.Type(qtype), err)
	}
	return m
}

// rrStrings renders records as sorted strings.
func rrStrings(rrs []dns.RR) []string {
	out := []string{}
	for _, rr := range rrs {
		out = append(out, rr.String())
	}
	slices.Sort(out)
	return out
}

// rrs renders zone-file lines as rrStrings does, to compare with it.
func rrs(t testing.TB, lines ...string) []string {
	t.Helper()
	var out []dns.RR
	for _, l := range lines {
		out = append(out, dnstest.RR(t, l))
	}
	return rrStrings(out)
}

// checkMsg compares m's rcode, answer and authority sections.
func checkMsg(t testing.TB, m *dns.Msg, wantRcode int, wantAnswer, wantNs []string) {
	t.Helper()
	if m.Rcode != wantRcode {
		t.Errorf("rcode = %s, want %s", dns.RcodeToString[m.Rcode], dns.RcodeToString[wantRcode])
	}
	if got := rrStrings(m.Answer); !slices.Equal(got, wantAnswer) {
		t.Errorf("answer =\n\t%s\nwant\n\t%s", strings.Join(got, "\n\t"), strings.Join(wantAnswer, "\n\t"))
	}
	if got := rrStrings(m.Ns); !slices.Equal(got, wantNs) {
		t.Errorf("authority =\n\t%s\nwant\n\t%s", strings.Join(got, "\n\t"), strings.Join(wantNs, "\n\t"))
	}
}

// checkAnswer compares m's rcode and answer section.
func checkAnswer(t testing.TB, m *dns.Msg, wantRcode int, wantAnswer []string) {
	t.Helper()
	if m.Rcode != wantRcode {
		t.Errorf("rcode = %s, want %s", dns.RcodeToString[m.Rcode], dns.RcodeToString[wantRcode])
	}
	if got := rrStrings(m.Answer); !slices.Equal(got, wantAnswer) {
		t.Errorf("answer =\n\t%s\nwant\n\t%s", strings.Join(got, "\n\t"), strings.Join(wantAnswer, "\n\t"))
	}
}

// checkLog compares the exchanges made with want.
func checkLog(t testing.TB, n *dnstest.Net, want ...string) {
	t.Helper()
	if got := n.Lines(); !slices.Equal(got, want) {
		t.Errorf("exchanges =\n\t%s\nwant\n\t%s", strings.Join(got, "\n\t"), strings.Join(want, "\n\t"))
	}
}

// budgetKind returns the budget an error says was exceeded, or "".
func budgetKind(err error) string {
	var ext *resolver.ExtendedError
	if !errors.As(err, &ext) || !errors.Is(err, recursor.ErrBudget) {
		return ""
	}
	return strings.TrimPrefix(ext.Text, "resolution budget exceeded: ")
}
