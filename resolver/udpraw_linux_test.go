package resolver

import (
	"context"
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/miekg/dns"
	"golang.org/x/sys/unix"
)

// The direct read must report a client's address exactly as
// net.UDPConn does, or access control, client groups and the query log
// would see a different client depending on the read path.
func TestUDPRaw_sourceAsNetReportsIt(t *testing.T) {
	for _, tc := range []struct{ name, listen, client string }{
		{"IPv4", "127.0.0.1:0", "127.0.0.1:0"},
		{"IPv6", "[::1]:0", "[::1]:0"},
		{"IPv4 client on a dual-stack socket", "[::]:0", "127.0.0.1:0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ln, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.MustParseAddrPort(tc.listen)))
			if err != nil {
				t.Skipf("no %s socket here: %v", tc.listen, err)
			}
			defer ln.Close()
			cl, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.MustParseAddrPort(tc.client)))
			if err != nil {
				t.Skipf("no %s socket here: %v", tc.client, err)
			}
			defer cl.Close()
			to := netip.AddrPortFrom(netip.MustParseAddrPort(tc.client).Addr(), ln.LocalAddr().(*net.UDPAddr).AddrPort().Port())
			r, rc, err := newUDPRaw(ln)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := cl.WriteToUDPAddrPort([]byte("first"), to); err != nil {
				t.Fatal(err)
			}
			n := readRaw(t, ln, rc, r)
			if n != 1 || string(r.pkts[0][:r.rmsgs[0].n]) != "first" {
				t.Fatalf("direct read: %d packets, %q", n, r.pkts[0][:r.rmsgs[0].n])
			}
			src := r.source(0)
			if _, err := cl.WriteToUDPAddrPort([]byte("second"), to); err != nil {
				t.Fatal(err)
			}
			pkt, oob := make([]byte, 512), make([]byte, oobSize)
			n2, _, _, want, err := ln.ReadMsgUDPAddrPort(pkt, oob)
			if err != nil || string(pkt[:n2]) != "second" {
				t.Fatalf("net read: %q, %v", pkt[:n2], err)
			}
			if src != want {
				t.Errorf("direct read says the client is %v, net says %v", src, want)
			}
		})
	}
}

// readRaw waits until the socket is readable and reads one batch.
func readRaw(t *testing.T, ln *net.UDPConn, rc syscall.RawConn, r *udpRaw) int {
	t.Helper()
	ln.SetReadDeadline(time.Now().Add(5 * time.Second))
	var n int
	var errno unix.Errno
	if err := rc.Read(func(fd uintptr) bool {
		r.fd = fd
		n, errno = r.recv()
		return errno != unix.EAGAIN
	}); err != nil {
		t.Fatal(err)
	}
	if errno != 0 {
		t.Fatalf("recvmmsg: %v", errno)
	}
	return n
}

// Packets waiting in the socket are read udpBatch at a time, and a batch's
// replies go out together, each to its own client.
func TestUDPRaw_batches(t *testing.T) {
	ln, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var clients []*net.UDPConn
	for range 2 {
		c, err := net.DialUDP("udp", nil, ln.LocalAddr().(*net.UDPAddr))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		clients = append(clients, c)
	}
	const total = udpBatch + 4
	for i := range total {
		if _, err := clients[i%2].Write([]byte{byte(i)}); err != nil {
			t.Fatal(err)
		}
	}
	r, rc, err := newUDPRaw(ln)
	if err != nil {
		t.Fatal(err)
	}
	// Loopback delivers at once: all 20 are queued before the first read.
	if n := readRaw(t, ln, rc, r); n != udpBatch {
		t.Fatalf("first batch: %d packets, want %d", n, udpBatch)
	}
	s := hitServer(t)
	u := udpListener{conn: ln, raw: r}
	for i := range udpBatch {
		reply := append(r.bufs[i].out[:0], r.pkts[i][0], 'r')
		if !r.queue(reply, nil, r.source(i)) {
			t.Fatalf("packet %d: reply not queued", i)
		}
	}
	if err := rc.Control(func(fd uintptr) { r.fd = fd }); err != nil {
		t.Fatal(err)
	}
	s.flushUDP(u)
	if r.queued != 0 {
		t.Errorf("%d replies still queued after the flush", r.queued)
	}
	if n := readRaw(t, ln, rc, r); n != total-udpBatch {
		t.Errorf("second batch: %d packets, want %d", n, total-udpBatch)
	}
	for ci, c := range clients {
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		buf := make([]byte, 16)
		for want := ci; want < udpBatch; want += 2 {
			n, err := c.Read(buf)
			if err != nil {
				t.Fatalf("client %d: %v", ci, err)
			}
			if n != 2 || buf[0] != byte(want) || buf[1] != 'r' {
				t.Fatalf("client %d got %q, want the reply to packet %d", ci, buf[:n], want)
			}
		}
	}
}

// A zoned destination goes the ordinary way, where net turns the zone's
// name into a scope id.
func TestUDPRaw_sendLeavesZonedDestinationsToNet(t *testing.T) {
	ln, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv6loopback})
	if err != nil {
		t.Skipf("no IPv6 loopback: %v", err)
	}
	defer ln.Close()
	r, _, err := newUDPRaw(ln)
	if err != nil {
		t.Fatal(err)
	}
	if r.queue([]byte("x"), nil, netip.MustParseAddrPort("[fe80::1%lo]:53")) {
		t.Error("a reply to a zoned address was queued for sendmmsg")
	}
}

func TestNetPort(t *testing.T) {
	for _, p := range []uint16{0, 1, 53, 0x1234, 5353, 65535} {
		n := netPort(p)
		var mem [2]byte
		*(*uint16)(unsafe.Pointer(&mem)) = n
		if got := binary.BigEndian.Uint16(mem[:]); got != p {
			t.Errorf("netPort(%d) lays out as %d in network order", p, got)
		}
		if back := netPort(n); back != p {
			t.Errorf("netPort(netPort(%d)) = %d", p, back)
		}
	}
}

// The whole read loop, over real sockets: a cache hit read, answered and
// written by the listener makes no allocation.
func TestServer_udpLoopHitDoesNotAllocate(t *testing.T) {
	s := hitServer(t)
	if err := s.Listen([]string{"127.0.0.1:0"}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		s.Shutdown(ctx)
	})
	c, err := net.Dial("udp", s.Addrs()[0].String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	pkt := packQuery(t, func(m *dns.Msg) { m.SetEdns0(1232, false) })
	buf := make([]byte, 4096)
	c.SetDeadline(time.Now().Add(30 * time.Second))
	ask := func() {
		if _, err := c.Write(pkt); err != nil {
			t.Fatal(err)
		}
		n, err := c.Read(buf)
		if err != nil {
			t.Fatal(err)
		}
		var m dns.Msg
		if err := m.Unpack(buf[:n]); err != nil || len(m.Answer) != 2 {
			t.Fatalf("reply %v: %v", &m, err)
		}
	}
	ask()
	n := testing.AllocsPerRun(200, func() {
		if _, err := c.Write(pkt); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Read(buf); err != nil {
			t.Fatal(err)
		}
	})
	if n != 0 {
		t.Errorf("a cache hit through the UDP read loop allocates %v times, want 0", n)
	}
}

// A read loop that keeps a cache miss to resolve hands its socket over
// first: with more slow misses outstanding than there are sockets, other
// queries are still answered, and every slow one is answered once its
// resolution ends.
func TestServer_udpMissHandsSocketOver(t *testing.T) {
	release := make(chan struct{})
	var slowGets atomic.Int64
	fast := answering(t, nil)
	cache := &fakeCache{OnGet: func(ctx context.Context, q Question) (Cached, error) {
		if strings.HasPrefix(q.Name, "slow") {
			slowGets.Add(1)
			select {
			case <-release:
			case <-ctx.Done():
				return Cached{}, ctx.Err()
			}
		}
		return fast.Get(ctx, q)
	}}
	_, addr := startServer(t, ServerConfig{Cache: cache})

	const slow = 16
	replies := make(chan *dns.Msg, slow)
	for i := range slow {
		go func() {
			m := new(dns.Msg)
			m.SetQuestion(fmt.Sprintf("slow%d.example.", i), dns.TypeA)
			c := &dns.Client{Net: "udp", Timeout: 10 * time.Second}
			r, _, err := c.Exchange(m, addr)
			if err != nil {
				t.Errorf("slow query %d: %v", i, err)
			}
			replies <- r
		}()
	}
	deadline := time.Now().Add(5 * time.Second)
	for slowGets.Load() < slow && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if n := slowGets.Load(); n != slow {
		t.Fatalf("%d of %d slow misses reached the cache: the read loops stalled", n, slow)
	}
	for i := range 4 {
		m := new(dns.Msg)
		m.SetQuestion(fmt.Sprintf("fast%d.example.", i), dns.TypeA)
		if r := exchange(t, "udp", addr, m); r.Rcode != dns.RcodeSuccess || len(r.Answer) != 1 {
			t.Fatalf("fast query while %d misses wait: %v", slow, r)
		}
	}
	close(release)
	for range slow {
		if r := <-replies; r == nil || r.Rcode != dns.RcodeSuccess || len(r.Answer) != 1 {
			t.Fatalf("slow reply %v", r)
		}
	}
}

// UDPBacklog counts the read loop's reads, and those that found a full
// batch waiting: queries queued faster than the loop took them.
func TestServer_udpBacklog(t *testing.T) {
	ln, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	c, err := net.DialUDP("udp", nil, ln.LocalAddr().(*net.UDPAddr))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	pkt := packQuery(t, nil)
	// Queued before the loop starts: its first read takes a full batch.
	for range udpBatch + 4 {
		if _, err := c.Write(pkt); err != nil {
			t.Fatal(err)
		}
	}
	s := hitServer(t)
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.serveUDP(udpListener{conn: ln})
	}()
	defer func() { ln.Close(); <-done }()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 512)
	for i := range udpBatch + 4 {
		if _, err := c.Read(buf); err != nil {
			t.Fatalf("reply %d: %v", i, err)
		}
	}
	reads, full := s.UDPBacklog()
	if reads < 2 || full != 1 {
		t.Fatalf("after a queue of %d: %d reads, %d full; want at least 2 reads, 1 full", udpBatch+4, reads, full)
	}
	// One query at a time: every read finds one packet, none a backlog.
	for i := range 10 {
		if _, err := c.Write(pkt); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Read(buf); err != nil {
			t.Fatalf("single query %d: %v", i, err)
		}
	}
	reads2, full2 := s.UDPBacklog()
	if reads2-reads != 10 || full2 != full {
		t.Errorf("10 queries one at a time: %d more reads, %d more full; want 10 and 0", reads2-reads, full2-full)
	}
}
