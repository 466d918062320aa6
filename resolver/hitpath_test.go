package resolver

import (
	"context"
	"encoding/binary"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/miekg/dns"

	"gatehouse/clientmap"
	"gatehouse/policy"
)

// hitServer is a Server whose cache answers every question from one stored
// answer, for measuring the query path itself.
func hitServer(t testing.TB) *Server {
	a := newAnswer(t, upstreamReply(t, "www.example.org.", dns.TypeA, dns.RcodeSuccess, []string{
		"www.example.org. 300 IN A 192.0.2.1", "www.example.org. 300 IN A 192.0.2.2",
	}, nil))
	c := &fakeCache{
		OnLookup: func(q Question, now time.Time) (Cached, bool) {
			return Cached{Answer: a, Age: 5, FromCache: true}, true
		},
		OnGet: func(ctx context.Context, q Question) (Cached, error) { return Cached{Answer: a}, nil },
	}
	s, err := NewServer(ServerConfig{Cache: c, Policy: testPolicy(t)})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestServer_hitPathDoesNotAllocate(t *testing.T) {
	s := hitServer(t)
	pkt := packQuery(t, func(m *dns.Msg) { m.SetEdns0(1232, true) })
	b := newBuffers()
	src := netip.MustParseAddrPort("127.0.0.1:5300")
	n := testing.AllocsPerRun(200, func() {
		qu := query{src: src, proto: protoUDP, start: time.Now()}
		if r, miss := s.answer(pkt, &qu, b); miss || len(r) == 0 {
			t.Fatal("no hit")
		}
	})
	if n != 0 {
		t.Errorf("cache-hit path allocates %v times per query, want 0", n)
	}
}

func BenchmarkServer_answerHit(b *testing.B) {
	s := hitServer(b)
	pkt := packQuery(b, func(m *dns.Msg) { m.SetEdns0(1232, false) })
	bufs := newBuffers()
	src := netip.MustParseAddrPort("127.0.0.1:5300")
	b.ReportAllocs()
	for b.Loop() {
		qu := query{src: src, proto: protoUDP, start: time.Now()}
		s.answer(pkt, &qu, bufs)
	}
}

func FuzzServer_answer(f *testing.F) {
	for _, seed := range [][]byte{
		packQuery(f, nil),
		packQuery(f, func(m *dns.Msg) { m.SetEdns0(1232, true) }),
		packQuery(f, func(m *dns.Msg) { m.Opcode = dns.OpcodeNotify }),
		packQuery(f, func(m *dns.Msg) { m.Question = append(m.Question, m.Question[0]) }),
		packQuery(f, func(m *dns.Msg) { m.Question[0].Name = `a\000b.example.` }),
		packQuery(f, func(m *dns.Msg) { m.SetEdns0(1232, false); m.IsEdns0().SetVersion(3) }),
		{0xab, 0xcd, 0x01, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 0x0c, 0, 1, 0, 1}, // self-pointing name
		{0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1, 0, 0, 1, 0, 1, 0, 0, 41, 0x10, 0, 0, 0, 0, 0, 0xff, 0xff},
	} {
		f.Add(seed)
	}
	s := hitServer(f)
	src := netip.MustParseAddrPort("127.0.0.1:5300")
	f.Fuzz(func(t *testing.T, pkt []byte) {
		b := newBuffers()
		qu := query{src: src, proto: protoUDP, start: time.Now()}
		reply, miss := s.answer(pkt, &qu, b)
		if miss {
			qu.detach()
			reply = s.resolve(&qu, b)
		}
		if reply == nil {
			if len(pkt) >= headerLen && pkt[2]&0x80 == 0 {
				t.Fatalf("no reply to a query-shaped packet %x", pkt)
			}
			return
		}
		if len(reply) < headerLen || binary.BigEndian.Uint16(reply) != binary.BigEndian.Uint16(pkt) {
			t.Fatalf("reply %x does not carry the query ID", reply)
		}
		if reply[2]&0x80 == 0 {
			t.Fatalf("reply %x lacks QR", reply)
		}
		if len(reply) > dns.MinMsgSize && reply[2]&0x02 == 0 {
			// Without EDNS a UDP reply must fit 512 bytes or be truncated.
			r := new(dns.Msg)
			if r.Unpack(reply) == nil && r.IsEdns0() == nil {
				t.Fatalf("%d-byte UDP reply without EDNS and without TC", len(reply))
			}
		}
		r := new(dns.Msg)
		if err := r.Unpack(reply); err != nil {
			t.Fatalf("reply does not parse: %v (%x)", err, reply)
		}
	})
}

// TestServer_handleUDPHitDoesNotAllocate covers the listener's own per-packet
// work, not just answer: a query that escapes to the heap there costs every
// packet an allocation (it once did, through the miss goroutine's capture).
func TestServer_handleUDPHitDoesNotAllocate(t *testing.T) {
	s := hitServer(t)
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
		t.Errorf("handleUDP allocates %v times per cache hit, want 0", n)
	}
}

// The same over a real socket for a trusted forwarder's query with ECS:
// identifying the client and echoing the option cost no allocation.
func TestServer_handleUDPHitForwardedECSDoesNotAllocate(t *testing.T) {
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
	s := hitServer(t)
	s.SetPolicy(snap)
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
	pkt := packQuery(t, func(m *dns.Msg) {
		m.SetEdns0(1232, false)
		m.IsEdns0().Option = append(m.IsEdns0().Option,
			&dns.EDNS0_SUBNET{Code: dns.EDNS0SUBNET, Family: 1, SourceNetmask: 24, Address: net.ParseIP("10.9.1.0").To4()})
	})
	b := newBuffers()
	u := udpListener{conn: conn}
	if n := testing.AllocsPerRun(200, func() { s.handleUDP(u, pkt, nil, src, b) }); n != 0 {
		t.Errorf("handleUDP allocates %v times per forwarded cache hit, want 0", n)
	}
	// What the forwarder received echoes its option.
	sink.SetReadDeadline(time.Now().Add(2 * time.Second))
	buf := make([]byte, 4096)
	n, _, err := sink.ReadFromUDP(buf)
	if err != nil {
		t.Fatal(err)
	}
	if ecs := replyECS(t, buf[:n]); ecs == nil || ecs.SourceScope != 24 {
		t.Errorf("reply over the socket: ECS %v, want the option echoed with scope 24", ecs)
	}
}
