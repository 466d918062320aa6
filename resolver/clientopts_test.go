package resolver

import (
	"encoding/base64"
	"encoding/binary"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"gatehouse/clientmap"
	"gatehouse/policy"
)

// opt builds one EDNS option in wire form.
func opt(code uint16, data ...byte) []byte {
	b := binary.BigEndian.AppendUint16(nil, code)
	b = binary.BigEndian.AppendUint16(b, uint16(len(data)))
	return append(b, data...)
}

func cat(parts ...[]byte) []byte {
	var out []byte
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func TestParseClientOptions(t *testing.T) {
	mac := clientmap.MAC{0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff}
	b64 := base64.RawStdEncoding.EncodeToString(mac[:])
	if b64 != "qrvM3e7/" {
		t.Fatalf("base64 of the MAC is %q", b64)
	}
	cookie := opt(10, 1, 2, 3, 4, 5, 6, 7, 8)
	tests := []struct {
		name     string
		opts     []byte
		wantAddr string // "" invalid
		wantMAC  clientmap.MAC
	}{
		{"none", nil, "", clientmap.MAC{}},
		{"ECS /32", opt(optECS, 0, 1, 32, 0, 10, 9, 1, 5), "10.9.1.5", clientmap.MAC{}},
		{"ECS /24 (dnsmasq add-subnet=24)", opt(optECS, 0, 1, 24, 0, 10, 9, 1), "10.9.1.0", clientmap.MAC{}},
		{"ECS /20 with stray bits masked", opt(optECS, 0, 1, 20, 0, 10, 9, 0x1f), "10.9.16.0", clientmap.MAC{}},
		{"ECS IPv6 /128", opt(optECS, cat([]byte{0, 2, 128, 0}, netip.MustParseAddr("fd00:20::5").AsSlice())...), "fd00:20::5", clientmap.MAC{}},
		{"ECS IPv6 /56", opt(optECS, 0, 2, 56, 0, 0xfd, 0, 0, 0x20, 0, 0, 0x17), "fd00:20:0:1700::", clientmap.MAC{}},
		{"ECS after a cookie", cat(cookie, opt(optECS, 0, 1, 32, 0, 10, 9, 1, 5)), "10.9.1.5", clientmap.MAC{}},
		{"ECS first one wins", cat(opt(optECS, 0, 1, 32, 0, 10, 9, 1, 5), opt(optECS, 0, 1, 32, 0, 10, 9, 1, 6)), "10.9.1.5", clientmap.MAC{}},
		{"ECS prefix 0 says nothing", opt(optECS, 0, 1, 0, 0), "", clientmap.MAC{}},
		{"ECS too many octets", opt(optECS, 0, 1, 24, 0, 10, 9, 1, 5), "", clientmap.MAC{}},
		{"ECS too few octets", opt(optECS, 0, 1, 32, 0, 10, 9, 1), "", clientmap.MAC{}},
		{"ECS prefix too long", opt(optECS, 0, 1, 33, 0, 10, 9, 1, 5, 0), "", clientmap.MAC{}},
		{"ECS unknown family", opt(optECS, 0, 3, 8, 0, 10), "", clientmap.MAC{}},
		{"ECS short", opt(optECS, 0, 1, 8), "", clientmap.MAC{}},
		{"add-mac raw", opt(optMAC, mac[:]...), "", mac},
		{"add-mac raw, not 6 octets", opt(optMAC, 1, 2, 3, 4, 5, 6, 7, 8), "", clientmap.MAC{}},
		{"add-mac=base64", opt(optDeviceID, []byte(b64)...), "", mac},
		{"add-mac=base64 bad character", opt(optDeviceID, []byte("qrvM3e7=")...), "", clientmap.MAC{}},
		{"add-mac=text", opt(optDeviceID, []byte("aa:bb:cc:dd:ee:ff")...), "", mac},
		{"add-mac=text upper case, dashes", opt(optDeviceID, []byte("AA-BB-CC-DD-EE-FF")...), "", mac},
		{"add-mac=text bad separator", opt(optDeviceID, []byte("aa.bb.cc.dd.ee.ff")...), "", clientmap.MAC{}},
		{"add-mac=text bad digit", opt(optDeviceID, []byte("aa:bb:cc:dd:ee:fg")...), "", clientmap.MAC{}},
		{"device ID of another length (a CPE id)", opt(optDeviceID, []byte("school")...), "", clientmap.MAC{}},
		{"raw MAC beats a later device ID", cat(opt(optMAC, mac[:]...), opt(optDeviceID, []byte("00:11:22:33:44:55")...)), "", mac},
		{"both ECS and MAC", cat(opt(optMAC, mac[:]...), opt(optECS, 0, 1, 32, 0, 10, 9, 1, 5)), "10.9.1.5", mac},
		{"truncated option stops, what came before stays", cat(opt(optECS, 0, 1, 32, 0, 10, 9, 1, 5), []byte{0xfd, 0xe9, 0, 6, 0xaa}), "10.9.1.5", clientmap.MAC{}},
		{"truncated header", []byte{0, 8, 0}, "", clientmap.MAC{}},
	}
	for _, tt := range tests {
		f := parseClientOptions(tt.opts)
		got := ""
		if f.Addr.IsValid() {
			got = f.Addr.String()
		}
		if got != tt.wantAddr || f.MAC != tt.wantMAC {
			t.Errorf("%s: got %q %v, want %q %v", tt.name, got, f.MAC, tt.wantAddr, tt.wantMAC)
		}
	}
	opts := cat(cookie, opt(optECS, 0, 1, 32, 0, 10, 9, 1, 5), opt(optDeviceID, []byte(b64)...))
	if n := testing.AllocsPerRun(100, func() { parseClientOptions(opts) }); n != 0 {
		t.Errorf("parseClientOptions allocates %v times, want 0", n)
	}
}

// The fast parser and the full one hand the same options over, as miekg/dns
// encodes them.
func TestParseQuery_clientOptions(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(m *dns.Msg)
	}{
		{"fast", func(m *dns.Msg) {}},
		// An escaped character in the name sends the packet to the full
		// parser.
		{"full", func(m *dns.Msg) { m.Question[0].Name = `a\000b.example.org.` }},
	} {
		pkt := packQuery(t, func(m *dns.Msg) {
			tc.edit(m)
			m.SetEdns0(1232, false)
			o := m.IsEdns0()
			o.Option = append(o.Option,
				&dns.EDNS0_COOKIE{Code: dns.EDNS0COOKIE, Cookie: "0102030405060708"},
				&dns.EDNS0_SUBNET{Code: dns.EDNS0SUBNET, Family: 1, SourceNetmask: 24, Address: net.ParseIP("10.9.1.77").To4()},
				&dns.EDNS0_LOCAL{Code: optMAC, Data: []byte{0xaa, 0xbb, 0xcc, 0, 0, 1}},
			)
		})
		s := hitServer(t)
		var wq wireQuery
		var scratch [256]byte
		if parseQuery(pkt, scratch[:], &wq) == parseSlow {
			if _, ok := s.parseFull(pkt, &wq); !ok {
				t.Fatalf("%s: full parser refused the query", tc.name)
			}
		}
		f := parseClientOptions(wq.opts)
		if f.Addr != netip.MustParseAddr("10.9.1.0") || f.MAC != (clientmap.MAC{0xaa, 0xbb, 0xcc, 0, 0, 1}) {
			t.Errorf("%s parser: options give %+v", tc.name, f)
		}
	}
	var wq wireQuery
	var scratch [256]byte
	if parseQuery(packQuery(t, func(m *dns.Msg) { m.SetEdns0(1232, false) }), scratch[:], &wq) != parsedOK || wq.opts != nil {
		t.Errorf("an OPT without options left opts %v", wq.opts)
	}
}

// Server.answer believes the options from a trusted forwarder only.
func TestServer_forwardedIdentity(t *testing.T) {
	cm, err := clientmap.New(clientmap.Config{DefaultGroup: "pupils", Rules: []clientmap.Rule{
		{Group: "staff", Subnets: []netip.Prefix{netip.MustParsePrefix("10.9.0.0/16")}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	snap, err := policy.New(policy.Options{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}, Clients: cm,
		TrustedForwarders: []netip.Prefix{netip.MustParsePrefix("127.0.0.2/32")},
		Groups:            []policy.GroupOptions{{Name: "pupils"}, {Name: "staff"}}, DefaultGroup: "pupils"})
	if err != nil {
		t.Fatal(err)
	}
	s := hitServer(t)
	s.SetPolicy(snap)
	pkt := packQuery(t, func(m *dns.Msg) {
		m.SetEdns0(1232, false)
		m.IsEdns0().Option = append(m.IsEdns0().Option,
			&dns.EDNS0_SUBNET{Code: dns.EDNS0SUBNET, Family: 1, SourceNetmask: 32, Address: net.ParseIP("10.9.1.5").To4()})
	})
	for _, tc := range []struct {
		src, wantAddr, wantGroup string
		wantFwd                  bool
	}{
		{"127.0.0.2:5300", "10.9.1.5", "staff", true},
		{"127.0.0.1:5300", "127.0.0.1", "pupils", false}, // anyone may send the option; only the trusted are believed
	} {
		qu := query{src: netip.MustParseAddrPort(tc.src), proto: protoUDP, start: time.Now()}
		reply, miss := s.answer(pkt, &qu, newBuffers())
		if miss {
			t.Fatal("miss")
		}
		if qu.client.Addr.String() != tc.wantAddr || qu.client.Group != tc.wantGroup || qu.client.Forwarder.IsValid() != tc.wantFwd {
			t.Errorf("from %s: client %+v, want %s in %s", tc.src, qu.client, tc.wantAddr, tc.wantGroup)
		}
		// RFC 7871 7.2.2: the trusted forwarder gets its option back, scoped
		// to its source prefix; others' options were not used, so not echoed.
		ecs := replyECS(t, reply)
		if tc.wantFwd != (ecs != nil) {
			t.Fatalf("from %s: reply ECS %v, want one only for the trusted forwarder", tc.src, ecs)
		}
		if ecs != nil && (ecs.Family != 1 || ecs.SourceNetmask != 32 || ecs.SourceScope != 32 || !ecs.Address.Equal(net.ParseIP("10.9.1.5"))) {
			t.Errorf("echoed ECS %v, want 10.9.1.5/32 scope 32", ecs)
		}
	}
	b := newBuffers()
	src := netip.MustParseAddrPort("127.0.0.2:5300")
	if n := testing.AllocsPerRun(200, func() {
		qu := query{src: src, proto: protoUDP, start: time.Now()}
		s.answer(pkt, &qu, b)
	}); n != 0 {
		t.Errorf("cache hit for a forwarded client allocates %v times, want 0", n)
	}
}

func FuzzParseClientOptions(f *testing.F) {
	f.Add(opt(optECS, 0, 1, 24, 0, 10, 9, 1))
	f.Add(opt(optECS, 0, 2, 56, 0, 0xfd, 0, 0, 0x20, 0, 0, 0x17))
	f.Add(opt(optMAC, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff))
	f.Add(opt(optDeviceID, []byte("qrvM3e7/")...))
	f.Add(opt(optDeviceID, []byte("aa:bb:cc:dd:ee:ff")...))
	f.Add(cat(opt(10, 1, 2, 3, 4, 5, 6, 7, 8), opt(optECS, 0, 1, 32, 0, 10, 9, 1, 5)))
	f.Fuzz(func(t *testing.T, opts []byte) {
		fw := parseClientOptions(opts)
		if fw.Addr.IsValid() && fw.Addr.Is4In6() {
			t.Fatalf("address %s not unmapped", fw.Addr)
		}
		// The option echoed is the one the identity came from, and it
		// reads back as the same subnet with the source as its scope.
		ecs := ecsOption(opts)
		if (ecs != nil) != fw.Addr.IsValid() {
			t.Fatalf("ecsOption %x, but the identity's address is %v", ecs, fw.Addr)
		}
		if ecs != nil {
			echo := appendECS(nil, ecs)
			if got := parseECS(echo[4:]); got != parseECS(ecs) || echo[6] != echo[7] {
				t.Fatalf("echo %x of %x reads as %v", echo, ecs, got)
			}
		}
		// The MAC, when found, is in the options as raw bytes or text.
		if !fw.MAC.IsZero() {
			raw := string(fw.MAC[:])
			text := fw.MAC.String()
			b64 := base64.RawStdEncoding.EncodeToString(fw.MAC[:])
			s := string(opts)
			ls := strings.ReplaceAll(strings.ToLower(s), "-", ":")
			if !strings.Contains(s, raw) && !strings.Contains(s, b64) && !strings.Contains(ls, text) {
				t.Fatalf("MAC %s not in the options %x", fw.MAC, opts)
			}
		}
	})
}

// BenchmarkServer_answerHitForwarded is BenchmarkServer_answerHit for a
// query from a trusted forwarder carrying EDNS Client Subnet and a dnsmasq
// MAC, against the same query from an ordinary client with no options:
// what believing a forwarder costs on the cache-hit path.
func BenchmarkServer_answerHitForwarded(b *testing.B) {
	cm, err := clientmap.New(clientmap.Config{DefaultGroup: "pupils", Rules: []clientmap.Rule{
		{Group: "staff", Subnets: []netip.Prefix{netip.MustParsePrefix("10.9.0.0/16")}},
	}})
	if err != nil {
		b.Fatal(err)
	}
	snap, err := policy.New(policy.Options{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}, Clients: cm,
		TrustedForwarders: []netip.Prefix{netip.MustParsePrefix("127.0.0.2/32")},
		Groups:            []policy.GroupOptions{{Name: "pupils"}, {Name: "staff"}}, DefaultGroup: "pupils"})
	if err != nil {
		b.Fatal(err)
	}
	s := hitServer(b)
	s.SetPolicy(snap)
	plain := packQuery(b, func(m *dns.Msg) { m.SetEdns0(1232, false) })
	forwarded := packQuery(b, func(m *dns.Msg) {
		m.SetEdns0(1232, false)
		m.IsEdns0().Option = append(m.IsEdns0().Option,
			&dns.EDNS0_SUBNET{Code: dns.EDNS0SUBNET, Family: 1, SourceNetmask: 32, Address: net.ParseIP("10.9.1.5").To4()},
			&dns.EDNS0_LOCAL{Code: optMAC, Data: []byte{0xaa, 0xbb, 0xcc, 0, 0, 1}})
	})
	for _, bc := range []struct {
		name string
		pkt  []byte
		src  netip.AddrPort
	}{
		{"direct", plain, netip.MustParseAddrPort("127.0.0.1:5300")},
		{"forwarded", forwarded, netip.MustParseAddrPort("127.0.0.2:5300")},
	} {
		b.Run(bc.name, func(b *testing.B) {
			bufs := newBuffers()
			b.ReportAllocs()
			for b.Loop() {
				qu := query{src: bc.src, proto: protoUDP, start: time.Now()}
				s.answer(bc.pkt, &qu, bufs)
			}
		})
	}
}

// FuzzClientOptionsParsers checks that the fast parser and the full one find
// the same client options in any packet both accept, and that a trusted
// forwarder's packets never crash the query path.
func FuzzClientOptionsParsers(f *testing.F) {
	f.Add(packQuery(f, func(m *dns.Msg) {
		m.SetEdns0(1232, false)
		m.IsEdns0().Option = append(m.IsEdns0().Option,
			&dns.EDNS0_SUBNET{Code: dns.EDNS0SUBNET, Family: 1, SourceNetmask: 24, Address: net.ParseIP("10.9.1.0").To4()},
			&dns.EDNS0_LOCAL{Code: optDeviceID, Data: []byte("qrvM3e7/")})
	}))
	f.Add(packQuery(f, func(m *dns.Msg) {
		m.SetEdns0(1232, true)
		m.IsEdns0().Option = append(m.IsEdns0().Option, &dns.EDNS0_LOCAL{Code: optMAC, Data: []byte{1, 2, 3, 4, 5, 6}})
	}))
	cm, err := clientmap.New(clientmap.Config{DefaultGroup: "pupils", Rules: []clientmap.Rule{
		{Group: "staff", Subnets: []netip.Prefix{netip.MustParsePrefix("10.9.0.0/16")}},
	}})
	if err != nil {
		f.Fatal(err)
	}
	snap, err := policy.New(policy.Options{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}, Clients: cm,
		TrustedForwarders: []netip.Prefix{netip.MustParsePrefix("127.0.0.2/32")},
		Groups:            []policy.GroupOptions{{Name: "pupils"}, {Name: "staff"}}, DefaultGroup: "pupils"})
	if err != nil {
		f.Fatal(err)
	}
	s := hitServer(f)
	s.SetPolicy(snap)
	src := netip.MustParseAddrPort("127.0.0.2:5300")
	f.Fuzz(func(t *testing.T, pkt []byte) {
		var fast, full wireQuery
		var scratch [256]byte
		if parseQuery(pkt, scratch[:], &fast) == parsedOK {
			if _, ok := s.parseFull(pkt, &full); ok {
				if a, b := parseClientOptions(fast.opts), parseClientOptions(full.opts); a != b {
					t.Fatalf("fast parser options %+v, full parser %+v (%x)", a, b, pkt)
				}
			}
		}
		qu := query{src: src, proto: protoUDP, start: time.Now()}
		s.answer(pkt, &qu, newBuffers())
	})
}

// replyECS unpacks a reply and returns its ECS option, nil for none.
func replyECS(t *testing.T, reply []byte) *dns.EDNS0_SUBNET {
	t.Helper()
	var m dns.Msg
	if err := m.Unpack(reply); err != nil {
		t.Fatalf("unpacking the reply: %v", err)
	}
	opt := m.IsEdns0()
	if opt == nil {
		return nil
	}
	var found *dns.EDNS0_SUBNET
	for _, o := range opt.Option {
		if e, ok := o.(*dns.EDNS0_SUBNET); ok {
			if found != nil {
				t.Fatal("two ECS options in the reply")
			}
			found = e
		}
	}
	return found
}

// Every kind of reply to a trusted forwarder echoes its ECS option: a
// block (packed by miekg/dns), a cache hit for an IPv6 /56, and an empty
// reply (SERVFAIL after a failed resolution).
func TestServer_ecsEchoEveryReply(t *testing.T) {
	cm, err := clientmap.New(clientmap.Config{DefaultGroup: "pupils"})
	if err != nil {
		t.Fatal(err)
	}
	snap, err := policy.New(policy.Options{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}, Clients: cm,
		TrustedForwarders: []netip.Prefix{netip.MustParsePrefix("127.0.0.2/32")},
		Groups:            []policy.GroupOptions{{Name: "pupils"}}, DefaultGroup: "pupils"})
	if err != nil {
		t.Fatal(err)
	}
	s := hitServer(t)
	s.SetPolicy(snap)
	v6 := &dns.EDNS0_SUBNET{Code: dns.EDNS0SUBNET, Family: 2, SourceNetmask: 56, Address: net.ParseIP("2001:db8:1:2300::")}
	for _, tc := range []struct {
		name  string
		qname string
		qtype uint16
	}{
		{"cache hit", "", 0},
		{"bypass block", "use-application-dns.net.", dns.TypeA},
	} {
		pkt := packQuery(t, func(m *dns.Msg) {
			if tc.qname != "" {
				m.Question[0].Name = tc.qname
			}
			if tc.qtype != 0 {
				m.Question[0].Qtype = tc.qtype
			}
			m.SetEdns0(1232, false)
			m.IsEdns0().Option = append(m.IsEdns0().Option, v6)
		})
		qu := query{src: netip.MustParseAddrPort("127.0.0.2:5300"), proto: protoUDP, start: time.Now()}
		reply, miss := s.answer(pkt, &qu, newBuffers())
		if miss {
			t.Fatalf("%s: miss", tc.name)
		}
		ecs := replyECS(t, reply)
		if ecs == nil || ecs.Family != 2 || ecs.SourceNetmask != 56 || ecs.SourceScope != 56 || !ecs.Address.Equal(net.ParseIP("2001:db8:1:2300::")) {
			t.Errorf("%s: echoed ECS %v, want 2001:db8:1:2300::/56 scope 56", tc.name, ecs)
		}
	}
	wq := wireQuery{id: 7, edns: true, udpSize: 1232, ecs: ecsOption(opt(optECS, 0, 1, 24, 0, 10, 9, 1))}
	ecs := replyECS(t, appendEmptyReply(nil, &wq, dns.RcodeServerFailure, &dns.EDNS0_EDE{InfoCode: 23}, 1232))
	if ecs == nil || ecs.SourceNetmask != 24 || ecs.SourceScope != 24 || !ecs.Address.Equal(net.ParseIP("10.9.1.0").To4()) {
		t.Errorf("SERVFAIL: echoed ECS %v, want 10.9.1.0/24 scope 24", ecs)
	}
}
