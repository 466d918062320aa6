package resolver

import (
	"context"
	"encoding/binary"
	"net"
	"net/netip"
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
			for _, p := range []string{"first", "second"} {
				if _, err := cl.WriteToUDPAddrPort([]byte(p), to); err != nil {
					t.Fatal(err)
				}
			}
			r, rc, err := newUDPRaw(ln)
			if err != nil {
				t.Fatal(err)
			}
			pkt, oob := make([]byte, 512), make([]byte, oobSize)
			var (
				n     int
				src   netip.AddrPort
				errno error
			)
			ln.SetReadDeadline(time.Now().Add(5 * time.Second))
			if err := rc.Read(func(fd uintptr) bool {
				r.fd = fd
				var e unix.Errno
				n, _, src, e = r.recv(pkt, oob)
				if e == unix.EAGAIN {
					return false
				}
				if e != 0 {
					errno = e
				}
				return true
			}); err != nil {
				t.Fatal(err)
			}
			if errno != nil || string(pkt[:n]) != "first" {
				t.Fatalf("direct read: %q, %v", pkt[:n], errno)
			}
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
	sent, errno := r.send([]byte("x"), nil, netip.MustParseAddrPort("[fe80::1%lo]:53"))
	if sent || errno != 0 {
		t.Errorf("send to a zoned address = %v, %v; want false, 0", sent, errno)
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
