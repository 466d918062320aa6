package resolver

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/netip"
	"os"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"

	"gatehouse/internal/dnstest"
)

const transportZone = `
example.org.     3600 IN SOA ns.example.org. host.example.org. 1 7200 900 1209600 300
www.example.org.  300 IN A   192.0.2.1
`

// seen records what a test server observed about each query.
type seen struct {
	mu      sync.Mutex
	ids     []uint16
	remotes []netip.AddrPort
	nets    []string
	bufs    []uint16
}

func (s *seen) record(w dns.ResponseWriter, r *dns.Msg) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ids = append(s.ids, r.Id)
	ap, _ := netip.ParseAddrPort(w.RemoteAddr().String())
	s.remotes = append(s.remotes, ap)
	s.nets = append(s.nets, w.RemoteAddr().Network())
	var size uint16
	if opt := r.IsEdns0(); opt != nil {
		size = opt.UDPSize()
	}
	s.bufs = append(s.bufs, size)
}

// get returns a copy of what s saw, safe to read while servers run.
func (s *seen) get() seen {
	s.mu.Lock()
	defer s.mu.Unlock()
	return seen{
		ids:     append([]uint16(nil), s.ids...),
		remotes: append([]netip.AddrPort(nil), s.remotes...),
		nets:    append([]string(nil), s.nets...),
		bufs:    append([]uint16(nil), s.bufs...),
	}
}

// recording wraps h so that s sees every query.
func recording(s *seen, h dns.Handler) dns.Handler {
	return dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
		s.record(w, r)
		h.ServeDNS(w, r)
	})
}

func distinct[T comparable](xs []T) int {
	m := make(map[T]bool)
	for _, x := range xs {
		m[x] = true
	}
	return len(m)
}

func wantA(t *testing.T, r *dns.Msg, want string) {
	t.Helper()
	if len(r.Answer) != 1 {
		t.Fatalf("answer = %v, want one A %s", r.Answer, want)
	}
	a, ok := r.Answer[0].(*dns.A)
	if !ok || a.A.String() != want {
		t.Fatalf("answer = %v, want A %s", r.Answer[0], want)
	}
}

func TestTransport_Exchange_udp(t *testing.T) {
	var s seen
	addr := dnstest.NewServer(t, recording(&s, dnstest.NewZone(t, transportZone)))
	tr := NewTransport(TransportConfig{})

	m := dnstest.Msg(t, "WWW.example.org.", dns.TypeA)
	m.Id = 4242
	m.SetEdns0(4096, true)
	before := m.String()
	r, err := tr.Exchange(t.Context(), m, addr)
	if err != nil {
		t.Fatalf("Exchange: %v", err)
	}
	wantA(t, r, "192.0.2.1")
	if r.Id != 4242 {
		t.Errorf("reply ID = %d, want the caller's 4242", r.Id)
	}
	if after := m.String(); after != before {
		t.Errorf("Exchange modified the query:\n%s\nwant\n%s", after, before)
	}
	if s.get().nets[0] != "udp" {
		t.Errorf("server saw the query over %s, want udp", s.get().nets[0])
	}
	if s.get().bufs[0] != DefaultBufSize {
		t.Errorf("advertised EDNS0 size = %d, want it capped to %d", s.get().bufs[0], DefaultBufSize)
	}
}

func TestTransport_Exchange_randomIDAndPort(t *testing.T) {
	var s seen
	addr := dnstest.NewServer(t, recording(&s, dnstest.NewZone(t, transportZone)))
	tr := NewTransport(TransportConfig{})
	const n = 6
	for range n {
		m := dnstest.Msg(t, "www.example.org.", dns.TypeA)
		m.Id = 1 // the caller's ID must not reach the wire
		if _, err := tr.Exchange(t.Context(), m, addr); err != nil {
			t.Fatalf("Exchange: %v", err)
		}
	}
	// With 16 random bits each, six equal IDs (or six IDs all equal to the
	// caller's) have probability 2^-80: a failure here is a bug.
	if got := distinct(s.get().ids); got < 2 {
		t.Errorf("%d exchanges used %d distinct IDs %v, want random ones", n, got, s.get().ids)
	}
	ports := make([]uint16, 0, n)
	for _, ap := range s.get().remotes {
		ports = append(ports, ap.Port())
	}
	if got := distinct(ports); got < 2 {
		t.Errorf("%d exchanges came from %d distinct source ports %v, want a fresh socket each", n, got, ports)
	}
}

func TestTransport_Exchange_truncatedRetriesTCP(t *testing.T) {
	var s seen
	zone := dnstest.NewZone(t, transportZone)
	addr := dnstest.NewServer(t, recording(&s, dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
		if w.RemoteAddr().Network() == "udp" {
			m := new(dns.Msg)
			m.SetReply(r)
			m.Truncated = true
			_ = w.WriteMsg(m)
			return
		}
		zone.ServeDNS(w, r)
	})))
	tr := NewTransport(TransportConfig{})
	r, err := tr.Exchange(t.Context(), dnstest.Msg(t, "www.example.org.", dns.TypeA), addr)
	if err != nil {
		t.Fatalf("Exchange: %v", err)
	}
	wantA(t, r, "192.0.2.1")
	if r.Truncated {
		t.Errorf("reply is truncated, want the TCP answer")
	}
	if len(s.get().nets) != 2 || s.get().nets[0] != "udp" || s.get().nets[1] != "tcp" {
		t.Errorf("server saw queries over %v, want [udp tcp]", s.get().nets)
	}
}

func TestTransport_Exchange_oversizedRetriesTCP(t *testing.T) {
	// A server that ignores our advertised size and sends a large reply
	// over UDP: the datagram is cut at our buffer, so the transport must
	// notice and fetch the whole answer over TCP (larger than its buffer).
	var s seen
	addr := dnstest.NewServer(t, recording(&s, dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(r)
		for i := range 200 {
			m.Answer = append(m.Answer, &dns.A{
				Hdr: dns.RR_Header{Name: r.Question[0].Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 60},
				A:   net.IPv4(10, 0, byte(i>>8), byte(i)),
			})
		}
		_ = w.WriteMsg(m)
	})))
	tr := NewTransport(TransportConfig{})
	m := dnstest.Msg(t, "www.example.org.", dns.TypeA)
	m.SetEdns0(DefaultBufSize, false)
	r, err := tr.Exchange(t.Context(), m, addr)
	if err != nil {
		t.Fatalf("Exchange: %v", err)
	}
	if len(r.Answer) != 200 {
		t.Errorf("reply has %d answers, want all 200", len(r.Answer))
	}
	if nets := s.get().nets; len(nets) != 2 || nets[0] != "udp" || nets[1] != "tcp" {
		t.Errorf("server saw queries over %v, want [udp tcp]", nets)
	}
}

func TestTransport_ExchangeTCP(t *testing.T) {
	var s seen
	addr := dnstest.NewServer(t, recording(&s, dnstest.NewZone(t, transportZone)))
	tr := NewTransport(TransportConfig{})
	r, err := tr.ExchangeTCP(t.Context(), dnstest.Msg(t, "www.example.org.", dns.TypeA), addr)
	if err != nil {
		t.Fatalf("ExchangeTCP: %v", err)
	}
	wantA(t, r, "192.0.2.1")
	if len(s.get().nets) != 1 || s.get().nets[0] != "tcp" {
		t.Errorf("server saw queries over %v, want [tcp]", s.get().nets)
	}
}

// rawUDPServer starts a UDP socket on loopback that hands each query to
// reply, which writes whatever packets it likes back to the sender.
func rawUDPServer(t *testing.T, reply func(conn net.PacketConn, from net.Addr, q *dns.Msg)) netip.AddrPort {
	t.Helper()
	conn, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	t.Cleanup(func() {
		conn.Close()
		<-done
	})
	go func() {
		defer close(done)
		buf := make([]byte, 65535)
		for {
			n, from, err := conn.ReadFrom(buf)
			if err != nil {
				return
			}
			q := new(dns.Msg)
			if q.Unpack(buf[:n]) == nil {
				reply(conn, from, q)
			}
		}
	}()
	return conn.LocalAddr().(*net.UDPAddr).AddrPort()
}

func TestTransport_Exchange_ignoresSpoofedReplies(t *testing.T) {
	answer := func(q *dns.Msg, ip string) *dns.Msg {
		m := new(dns.Msg)
		m.SetReply(q)
		m.Answer = []dns.RR{dnstest.RR(t, q.Question[0].Name+" 60 IN A "+ip)}
		return m
	}
	send := func(conn net.PacketConn, to net.Addr, m *dns.Msg) {
		b, err := m.Pack()
		if err != nil {
			t.Errorf("packing %v: %v", m, err)
			return
		}
		_, _ = conn.WriteTo(b, to)
	}
	addr := rawUDPServer(t, func(conn net.PacketConn, from net.Addr, q *dns.Msg) {
		_, _ = conn.WriteTo([]byte{0x01, 0x02, 0x03}, from) // too short
		_, _ = conn.WriteTo([]byte{byte(q.Id >> 8), byte(q.Id), 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0, 3, 'w', 'w'}, from)

		wrongID := answer(q, "203.0.113.1")
		wrongID.Id++
		send(conn, from, wrongID)

		wrongIDTC := answer(q, "203.0.113.2") // would send us to TCP, where nothing listens
		wrongIDTC.Id++
		wrongIDTC.Truncated = true
		send(conn, from, wrongIDTC)

		wrongName := answer(q, "203.0.113.3")
		wrongName.Question[0].Name = "evil.example.org."
		send(conn, from, wrongName)

		wrongType := answer(q, "203.0.113.4")
		wrongType.Question[0].Qtype = dns.TypeAAAA
		send(conn, from, wrongType)

		notResponse := answer(q, "203.0.113.5")
		notResponse.Response = false
		send(conn, from, notResponse)

		good := answer(q, "192.0.2.7")
		good.Question[0].Name = "wWw.ExAmPlE.oRg." // 0x20-style case is fine
		send(conn, from, good)
	})
	tr := NewTransport(TransportConfig{})
	r, err := tr.Exchange(t.Context(), dnstest.Msg(t, "www.example.org.", dns.TypeA), addr)
	if err != nil {
		t.Fatalf("Exchange: %v", err)
	}
	wantA(t, r, "192.0.2.7")
}

// silentServer returns a loopback UDP address that reads queries and never
// answers, and a channel that receives each query as it arrives.
func silentServer(t *testing.T) (netip.AddrPort, <-chan *dns.Msg) {
	got := make(chan *dns.Msg, 16)
	addr := rawUDPServer(t, func(_ net.PacketConn, _ net.Addr, q *dns.Msg) {
		select {
		case got <- q:
		default:
		}
	})
	return addr, got
}

func TestTransport_Exchange_timeout(t *testing.T) {
	addr, _ := silentServer(t)
	tr := NewTransport(TransportConfig{Timeout: 50 * time.Millisecond})
	_, err := tr.Exchange(t.Context(), dnstest.Msg(t, "www.example.org.", dns.TypeA), addr)
	if !errors.Is(err, ErrNetwork) || !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("Exchange error = %v, want ErrNetwork and a deadline error", err)
	}
}

func TestTransport_Exchange_contextDeadline(t *testing.T) {
	addr, _ := silentServer(t)
	tr := NewTransport(TransportConfig{Timeout: time.Hour})
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	_, err := tr.Exchange(ctx, dnstest.Msg(t, "www.example.org.", dns.TypeA), addr)
	if !errors.Is(err, ErrNetwork) || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Exchange error = %v, want ErrNetwork and context.DeadlineExceeded", err)
	}
}

func TestTransport_Exchange_contextCancel(t *testing.T) {
	addr, got := silentServer(t)
	tr := NewTransport(TransportConfig{Timeout: time.Hour})
	ctx, cancel := context.WithCancel(t.Context())
	go func() {
		<-got // the query is on the wire: now give up on it
		cancel()
	}()
	_, err := tr.Exchange(ctx, dnstest.Msg(t, "www.example.org.", dns.TypeA), addr)
	if !errors.Is(err, ErrNetwork) || !errors.Is(err, context.Canceled) {
		t.Errorf("Exchange error = %v, want ErrNetwork and context.Canceled", err)
	}
}

func TestTransport_Exchange_refused(t *testing.T) {
	// A port nobody listens on: the kernel answers with ICMP port
	// unreachable, which the connected socket reports at once.
	conn, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := conn.LocalAddr().(*net.UDPAddr).AddrPort()
	conn.Close()

	tr := NewTransport(TransportConfig{Timeout: time.Hour})
	_, err = tr.Exchange(t.Context(), dnstest.Msg(t, "www.example.org.", dns.TypeA), addr)
	if !errors.Is(err, ErrNetwork) || !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("Exchange error = %v, want ErrNetwork and ECONNREFUSED", err)
	}
}

func TestTransport_Exchange_badQuery(t *testing.T) {
	tr := NewTransport(TransportConfig{})
	_, err := tr.Exchange(t.Context(), new(dns.Msg), netip.MustParseAddrPort("127.0.0.1:53"))
	if err == nil || errors.Is(err, ErrNetwork) {
		t.Errorf("Exchange of a message without a question = %v, want a non-network error", err)
	}
}

func TestTransport_ExchangeTLS(t *testing.T) {
	var s seen
	addr, pool, name := dnstest.NewTLSServer(t, recording(&s, dnstest.NewZone(t, transportZone)))
	tr := NewTransport(TransportConfig{})
	t.Cleanup(func() { tr.Close() })
	conf := &tls.Config{RootCAs: pool, ServerName: name}

	for range 3 {
		r, err := tr.ExchangeTLS(t.Context(), dnstest.Msg(t, "www.example.org.", dns.TypeA), addr, conf)
		if err != nil {
			t.Fatalf("ExchangeTLS: %v", err)
		}
		wantA(t, r, "192.0.2.1")
	}
	if got := distinct(s.get().remotes); got != 1 {
		t.Errorf("3 sequential queries used %d connections (%v), want 1 reused", got, s.get().remotes)
	}
	if got := distinct(s.get().ids); got < 2 {
		t.Errorf("3 queries used IDs %v, want random ones", s.get().ids)
	}

	// Another *tls.Config does not share the pool.
	other := &tls.Config{RootCAs: pool, ServerName: name}
	if _, err := tr.ExchangeTLS(t.Context(), dnstest.Msg(t, "www.example.org.", dns.TypeA), addr, other); err != nil {
		t.Fatalf("ExchangeTLS: %v", err)
	}
	if got := distinct(s.get().remotes); got != 2 {
		t.Errorf("a second tls.Config used %d connections in all, want 2", got)
	}
}

func TestTransport_ExchangeTLS_untrusted(t *testing.T) {
	addr, _, name := dnstest.NewTLSServer(t, dnstest.NewZone(t, transportZone))
	tr := NewTransport(TransportConfig{})
	_, err := tr.ExchangeTLS(t.Context(), dnstest.Msg(t, "www.example.org.", dns.TypeA), addr, &tls.Config{ServerName: name})
	var verr *tls.CertificateVerificationError
	if !errors.Is(err, ErrNetwork) || !errors.As(err, &verr) {
		t.Errorf("ExchangeTLS to an untrusted server = %v, want ErrNetwork and a verification error", err)
	}
}

func TestTransport_ExchangeTLS_serverClosedIdle(t *testing.T) {
	var s seen
	zone := dnstest.NewZone(t, transportZone)
	addr, pool, name := dnstest.NewTLSServer(t, recording(&s, dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
		zone.ServeDNS(w, r)
		_ = w.Close() // like a server whose idle timeout is very short
	})))
	tr := NewTransport(TransportConfig{})
	t.Cleanup(func() { tr.Close() })
	conf := &tls.Config{RootCAs: pool, ServerName: name}
	for i := range 3 {
		r, err := tr.ExchangeTLS(t.Context(), dnstest.Msg(t, "www.example.org.", dns.TypeA), addr, conf)
		if err != nil {
			t.Fatalf("ExchangeTLS #%d after the server closed the connection: %v", i, err)
		}
		wantA(t, r, "192.0.2.1")
	}
	if got := distinct(s.get().remotes); got != 3 {
		t.Errorf("server saw %d connections, want 3 (one per query)", got)
	}
}

func FuzzParseReply(f *testing.F) {
	q := new(dns.Msg)
	q.SetQuestion("www.example.org.", dns.TypeA)
	q.Id = 0x1234
	good := new(dns.Msg)
	good.SetReply(q)
	good.Answer = []dns.RR{&dns.A{Hdr: dns.RR_Header{Name: "www.example.org.", Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 60}, A: net.IPv4(192, 0, 2, 1)}}
	b, _ := good.Pack()
	f.Add(b)
	good.Truncated = true
	b, _ = good.Pack()
	f.Add(b)
	f.Add(b[:20])
	f.Add([]byte{0x12, 0x34, 0x80, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 0x0c})
	f.Fuzz(func(t *testing.T, pkt []byte) {
		r, tc, why := parseReply(q, pkt, false)
		if why != "" {
			if r != nil || tc {
				t.Fatalf("ignored packet (%s) returned a reply or TC", why)
			}
			return
		}
		if tc {
			return
		}
		if r == nil {
			t.Fatal("accepted packet returned no reply")
		}
		if r.Id != q.Id || !r.Response || len(r.Question) != 1 ||
			dns.CanonicalName(r.Question[0].Name) != q.Question[0].Name || r.Question[0].Qtype != dns.TypeA {
			t.Fatalf("accepted a reply that does not match the query: %v", r)
		}
	})
}

func BenchmarkTransportExchange(b *testing.B) {
	addr := dnstest.NewServer(b, dnstest.NewZone(b, transportZone))
	tr := NewTransport(TransportConfig{})
	m := dnstest.Msg(b, "www.example.org.", dns.TypeA)
	m.SetEdns0(DefaultBufSize, false)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := tr.Exchange(ctx, m, addr); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkTransportExchangeTLS(b *testing.B) {
	addr, pool, name := dnstest.NewTLSServer(b, dnstest.NewZone(b, transportZone))
	tr := NewTransport(TransportConfig{})
	b.Cleanup(func() { tr.Close() })
	conf := &tls.Config{RootCAs: pool, ServerName: name}
	m := dnstest.Msg(b, "www.example.org.", dns.TypeA)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := tr.ExchangeTLS(ctx, m, addr, conf); err != nil {
			b.Fatal(err)
		}
	}
}
