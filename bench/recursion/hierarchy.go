//go:build linux

package main

import (
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"

	"gatehouse/internal/dnstest"
)

// zone is one zone of the fake internet: its text, how it is signed, and
// the servers that serve it.
type zone struct {
	origin  string
	servers []host               // name servers: NS records, and glue where in bailiwick
	body    string               // records besides SOA, NS and the servers' addresses; relative to origin
	sign    *dnstest.SignOptions // nil: unsigned
	badDS   bool                 // the parent publishes the DS of a key the zone does not have
	child   []string             // origins of delegated children
	serveAt []string             // addresses serving it (default: its in-bailiwick servers)
}

// host is a name server name and its address.
type host struct {
	name, addr string
}

const zoneTTL = 3600 // TTL of every record; the SOA minimum (negative TTL) is 300

// zones is the fake internet, parents before children. Every address is
// on 127.0.0.0/8; port 53.
func zones(now time.Time) []*zone {
	nsec3 := func(iter uint16, salt string, optOut bool) *dnstest.SignOptions {
		return &dnstest.SignOptions{NSEC3: &dnstest.NSEC3Options{Iterations: iter, Salt: salt, OptOut: optOut}}
	}
	return []*zone{
		{origin: ".", servers: []host{{"a.root-servers.test.", "127.0.0.2"}},
			sign: &dnstest.SignOptions{}, child: []string{"test.", "example."}},
		{origin: "test.", servers: []host{{"ns1.nic.test.", "127.0.0.3"}},
			// The root server's name lives here, as root-servers.net does in net.
			body:  "a.root-servers A 127.0.0.2\n",
			sign:  &dnstest.SignOptions{},
			child: []string{"secure.test.", "insecure.test.", "expired.test.", "badds.test.", "glueless.test."}},
		{origin: "example.", servers: []host{{"ns1.nic.example.", "127.0.0.4"}},
			// NSEC3 with opt-out, as most TLDs: plain.example. is an opted-out
			// insecure delegation.
			sign:  nsec3(0, "", true),
			child: []string{"nsec3.example.", "optout.example.", "dns-host.example.", "plain.example."}},

		// Signed with NSEC, a KSK and a ZSK.
		{origin: "secure.test.", servers: []host{{"ns1.secure.test.", "127.0.0.10"}},
			body: `www A 192.0.2.10
www AAAA 2001:db8::10
mail A 192.0.2.11
*.wild A 192.0.2.12
cross CNAME www.nsec3.example.
chain CNAME alias.insecure.test.
dangling CNAME nope.nsec3.example.
dname DNAME nsec3.example.
`, sign: &dnstest.SignOptions{}}, // keys set in newHierarchy
		// Signed with NSEC3 (no salt, no extra iterations: RFC 9276), Ed25519.
		{origin: "nsec3.example.", servers: []host{{"ns1.nsec3.example.", "127.0.0.11"}},
			body: `www A 192.0.2.20
*.wild A 192.0.2.21
`, sign: &dnstest.SignOptions{Algorithm: dns.ED25519, NSEC3: &dnstest.NSEC3Options{}}},
		// NSEC3 with opt-out, salt and iterations, and an insecure child.
		{origin: "optout.example.", servers: []host{{"ns1.optout.example.", "127.0.0.12"}},
			body: "www A 192.0.2.30\n", sign: nsec3(5, "aabbccdd", true), child: []string{"sub.optout.example."}},
		{origin: "sub.optout.example.", servers: []host{{"ns1.sub.optout.example.", "127.0.0.13"}},
			body: "www A 192.0.2.31\n"},
		// Unsigned, delegated without DS from a signed NSEC zone.
		{origin: "insecure.test.", servers: []host{{"ns1.insecure.test.", "127.0.0.14"}},
			body: `www A 192.0.2.40
alias CNAME www.nsec3.example.
`},
		// Signatures expired ten days ago.
		{origin: "expired.test.", servers: []host{{"ns1.expired.test.", "127.0.0.15"}},
			body: "www A 192.0.2.50\n",
			sign: &dnstest.SignOptions{Inception: now.Add(-40 * 24 * time.Hour), Expiration: now.Add(-10 * 24 * time.Hour)}},
		// The parent's DS matches no key of the zone.
		{origin: "badds.test.", servers: []host{{"ns1.badds.test.", "127.0.0.16"}},
			body: "www A 192.0.2.60\n", sign: &dnstest.SignOptions{}, badDS: true},
		// Hosts the glueless zone's name servers.
		{origin: "dns-host.example.", servers: []host{{"ns1.dns-host.example.", "127.0.0.17"}},
			body: `a A 127.0.0.18
b A 127.0.0.19
`, sign: &dnstest.SignOptions{}},
		// Glueless: its name servers are in another TLD.
		{origin: "glueless.test.", servers: []host{{"a.dns-host.example.", "127.0.0.18"}, {"b.dns-host.example.", "127.0.0.19"}},
			body: "www A 192.0.2.70\n", sign: &dnstest.SignOptions{}, serveAt: []string{"127.0.0.18", "127.0.0.19"}},
		// Unsigned child of an opt-out TLD.
		{origin: "plain.example.", servers: []host{{"ns1.plain.example.", "127.0.0.20"}},
			body: "www A 192.0.2.80\n"},
	}
}

// hierarchy is the fake internet running: one authoritative server per
// address, each counting the queries it gets.
type hierarchy struct {
	hints   string // root hints file text
	anchors string // trust anchor file text: the root's DS
	delay   time.Duration

	servers []*authServer

	mu  sync.Mutex
	log []exchange
}

// exchange is one query an authoritative server received.
type exchange struct {
	Addr string
	Name string
	Type uint16
	TCP  bool
}

func (e exchange) String() string {
	s := fmt.Sprintf("%-10s %-28s %-6s", e.Addr, e.Name, dns.Type(e.Type))
	if e.TCP {
		s += " tcp"
	}
	return s
}

// authServer serves one address: UDP and TCP on port 53.
type authServer struct {
	h     *hierarchy
	addr  string
	zone  dnstest.Authority
	glue  map[string][]dns.RR // addresses this zone holds, for additional-section processing
	udp   *dns.Server
	tcp   *dns.Server
	group sync.WaitGroup
}

// errBind is returned when port 53 on the loopback addresses cannot be
// bound (not root, or something else listens there).
var errBind = errors.New("binding port 53")

// newHierarchy builds and signs every zone and starts the servers. t
// receives dnstest's failures (bad zone text: a bug in this program).
func newHierarchy(t testing.TB, delay time.Duration) (*hierarchy, error) {
	now := time.Now()
	zs := zones(now)
	byOrigin := map[string]*zone{}
	for _, z := range zs {
		byOrigin[z.origin] = z
	}
	byOrigin["secure.test."].sign.Keys = []*dnstest.Key{
		dnstest.NewKey(t, "secure.test.", dns.ECDSAP256SHA256, true),
		dnstest.NewKey(t, "secure.test.", dns.ECDSAP256SHA256, false),
	}

	h := &hierarchy{delay: delay}
	built := map[string]dnstest.Authority{}
	ds := map[string]string{}
	// Children first: a parent needs their DS records.
	for _, z := range slices.Backward(zs) {
		text := z.text(byOrigin, ds)
		if z.sign == nil {
			built[z.origin] = dnstest.NewZone(t, text)
			continue
		}
		sz := dnstest.NewSignedZone(t, text, *z.sign)
		built[z.origin] = sz
		ds[z.origin] = sz.DSText()
		if z.badDS {
			k := dnstest.NewKey(t, z.origin, dns.ECDSAP256SHA256, true)
			ds[z.origin] = k.DS().String() + "\n"
		}
	}
	h.anchors = ds["."]
	root := byOrigin["."].servers[0]
	h.hints = fmt.Sprintf(".\t3600000\tIN\tNS\t%s\n%s\t3600000\tIN\tA\t%s\n", root.name, root.name, root.addr)

	for _, z := range zs {
		glue := z.addresses(byOrigin)
		addrs := z.serveAt
		if addrs == nil {
			for _, s := range z.servers {
				addrs = append(addrs, s.addr)
			}
		}
		for _, a := range addrs {
			s := &authServer{h: h, addr: a, zone: built[z.origin], glue: glue}
			if err := s.start(); err != nil {
				h.close()
				return nil, err
			}
			h.servers = append(h.servers, s)
		}
	}
	return h, nil
}

// text is the zone file: SOA, NS, the servers' addresses, the body, and
// the delegations with glue and DS.
func (z *zone) text(byOrigin map[string]*zone, ds map[string]string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "$ORIGIN %s\n$TTL %d\n", z.origin, zoneTTL)
	fmt.Fprintf(&b, "@ SOA %s hostmaster.%s 1 3600 600 86400 300\n", z.servers[0].name, strings.TrimPrefix(z.origin, "."))
	for _, s := range z.servers {
		fmt.Fprintf(&b, "@ NS %s\n", s.name)
		if dns.IsSubDomain(z.origin, s.name) && z.origin != "." {
			fmt.Fprintf(&b, "%s A %s\n", s.name, s.addr)
		}
	}
	b.WriteString(z.body)
	for _, c := range z.child {
		cz := byOrigin[c]
		for _, s := range cz.servers {
			fmt.Fprintf(&b, "%s NS %s\n", c, s.name)
			if dns.IsSubDomain(c, s.name) { // glue
				fmt.Fprintf(&b, "%s A %s\n", s.name, s.addr)
			}
		}
		b.WriteString(ds[c])
	}
	if z.origin == "." {
		// The root holds its own servers' addresses as glue below test.
		for _, s := range z.servers {
			fmt.Fprintf(&b, "%s A %s\n", s.name, s.addr)
		}
	}
	return b.String()
}

// addresses returns the A records the zone holds (its own data or glue)
// for name server names, so that answers to NS queries carry them in the
// additional section, as real authorities do (priming relies on it).
func (z *zone) addresses(byOrigin map[string]*zone) map[string][]dns.RR {
	out := map[string][]dns.RR{}
	add := func(hs []host, ok func(string) bool) {
		for _, s := range hs {
			if ok(s.name) {
				rr, _ := dns.NewRR(fmt.Sprintf("%s %d IN A %s", s.name, zoneTTL, s.addr))
				out[s.name] = append(out[s.name], rr)
			}
		}
	}
	add(z.servers, func(n string) bool { return dns.IsSubDomain(z.origin, n) })
	for _, c := range z.child {
		add(byOrigin[c].servers, func(n string) bool { return dns.IsSubDomain(c, n) })
	}
	return out
}

func (s *authServer) start() error {
	ip := net.ParseIP(s.addr)
	pc, err := net.ListenUDP("udp4", &net.UDPAddr{IP: ip, Port: 53})
	if err != nil {
		return fmt.Errorf("%w on %s: %w", errBind, s.addr, err)
	}
	l, err := net.ListenTCP("tcp4", &net.TCPAddr{IP: ip, Port: 53})
	if err != nil {
		pc.Close()
		return fmt.Errorf("%w on %s: %w", errBind, s.addr, err)
	}
	s.udp = &dns.Server{PacketConn: pc, Handler: s}
	s.tcp = &dns.Server{Listener: l, Handler: s}
	for _, srv := range []*dns.Server{s.udp, s.tcp} {
		started := make(chan struct{})
		srv.NotifyStartedFunc = func() { close(started) }
		s.group.Add(1)
		go func() {
			defer s.group.Done()
			_ = srv.ActivateAndServe()
		}()
		<-started
	}
	return nil
}

func (s *authServer) stop() {
	_ = s.udp.Shutdown()
	_ = s.tcp.Shutdown()
	s.group.Wait()
}

// ServeDNS counts the query, waits the simulated network delay, and
// answers from the zone, with additional-section addresses for NS answers
// and truncation to the client's UDP size.
func (s *authServer) ServeDNS(w dns.ResponseWriter, r *dns.Msg) {
	_, tcp := w.RemoteAddr().(*net.TCPAddr)
	e := exchange{Addr: s.addr, TCP: tcp}
	if len(r.Question) > 0 {
		e.Name, e.Type = strings.ToLower(r.Question[0].Name), r.Question[0].Qtype
	}
	opt := r.IsEdns0()
	if s.h.delay > 0 {
		time.Sleep(s.h.delay)
	}
	m := s.zone.Reply(r)
	for _, rr := range m.Answer {
		if ns, ok := rr.(*dns.NS); ok {
			for _, a := range s.glue[dns.CanonicalName(ns.Ns)] {
				m.Extra = append(m.Extra, dns.Copy(a))
			}
		}
	}
	if !tcp {
		size := dns.MinMsgSize
		if opt != nil {
			size = max(size, int(opt.UDPSize()))
		}
		m.Truncate(size)
	}
	s.h.record(e)
	_ = w.WriteMsg(m)
}

func (h *hierarchy) record(e exchange) {
	h.mu.Lock()
	h.log = append(h.log, e)
	h.mu.Unlock()
}

// take returns the exchanges since the last take and forgets them.
func (h *hierarchy) take() []exchange {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := h.log
	h.log = nil
	return out
}

// count is the number of exchanges since the last take.
func (h *hierarchy) count() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.log)
}

// settle waits until no query has arrived for quiet (resolvers finish some
// work, such as fetching name server addresses, after they answer), and
// returns the exchanges since the last take.
func (h *hierarchy) settle(quiet time.Duration) []exchange {
	n := h.count()
	for {
		time.Sleep(quiet)
		m := h.count()
		if m == n {
			return h.take()
		}
		n = m
	}
}

func (h *hierarchy) close() {
	for _, s := range h.servers {
		s.stop()
	}
}
