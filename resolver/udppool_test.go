package resolver

import (
	"errors"
	"net"
	"net/netip"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"
	"golang.org/x/sys/unix"

	"gatehouse/internal/dnstest"
)

// warmPool makes exchanges until tr's socket pool is full (each opens up
// to udpOpenPerWait sockets while it waits), so that the next exchanges
// use pooled sockets. It returns how many exchanges it made.
func warmPool(t *testing.T, tr *Transport, addr netip.AddrPort) int {
	t.Helper()
	n := 0
	for ; n == 0 || pooled(tr) < udpPoolSize; n++ {
		if n > udpPoolSize {
			t.Fatalf("pool holds %d sockets after %d exchanges, want %d", pooled(tr), n, udpPoolSize)
		}
		if _, err := tr.Exchange(t.Context(), dnstest.Msg(t, "www.example.org.", dns.TypeA), addr); err != nil {
			t.Fatalf("Exchange: %v", err)
		}
	}
	return n
}

// pooled is how many ready sockets tr's pool holds.
func pooled(tr *Transport) int {
	tr.udp.mu.Lock()
	defer tr.udp.mu.Unlock()
	return len(tr.udp.ready)
}

// TestTransport_Exchange_pooledSocketsOncePerExchange: sockets opened
// ahead of need still give every exchange its own source port.
func TestTransport_Exchange_pooledSocketsOncePerExchange(t *testing.T) {
	var s seen
	addr := dnstest.NewServer(t, recording(&s, dnstest.NewZone(t, transportZone)))
	tr := NewTransport(TransportConfig{})
	t.Cleanup(func() { tr.Close() })
	warm := warmPool(t, tr, addr)
	const n = 2 * udpPoolSize
	for range n {
		r, err := tr.Exchange(t.Context(), dnstest.Msg(t, "www.example.org.", dns.TypeA), addr)
		if err != nil {
			t.Fatalf("Exchange: %v", err)
		}
		wantA(t, r, "192.0.2.1")
	}
	var ports []uint16
	for _, ap := range s.get().remotes[warm:] {
		ports = append(ports, ap.Port())
	}
	// Kernel-chosen random ports may collide by chance (about 1 in 3,000
	// for a pair among eight); a socket used twice would repeat its port
	// every time it is reused.
	if got := distinct(ports); got < n-1 {
		t.Errorf("%d exchanges came from %d distinct source ports %v, want one socket each", n, got, ports)
	}
}

// TestTransport_Exchange_pooledSocketRefused: a pooled socket is connected
// before use, so ICMP port unreachable still fails the exchange at once.
func TestTransport_Exchange_pooledSocketRefused(t *testing.T) {
	live := dnstest.NewServer(t, dnstest.NewZone(t, transportZone))
	conn, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := conn.LocalAddr().(*net.UDPAddr).AddrPort()
	conn.Close()

	tr := NewTransport(TransportConfig{Timeout: time.Hour})
	t.Cleanup(func() { tr.Close() })
	warmPool(t, tr, live)
	_, err = tr.Exchange(t.Context(), dnstest.Msg(t, "www.example.org.", dns.TypeA), dead)
	if !errors.Is(err, ErrNetwork) || !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("Exchange error = %v, want ErrNetwork and ECONNREFUSED", err)
	}
}

// TestConnectAndDrain: datagrams that reached a pooled socket before it was
// connected are discarded; after the connect only the server's arrive.
func TestConnectAndDrain(t *testing.T) {
	server, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer server.Close()
	other, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4zero})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	to := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: c.LocalAddr().(*net.UDPAddr).Port}

	// Queued before the connect, from the server and from someone else.
	for _, from := range []*net.UDPConn{server, other, other} {
		if _, err := from.WriteToUDP([]byte("early"), to); err != nil {
			t.Fatal(err)
		}
	}
	if err := connectAndDrain(c, server.LocalAddr().(*net.UDPAddr).AddrPort()); err != nil {
		t.Fatalf("connectAndDrain: %v", err)
	}
	if n := pending(t, c); n != 0 {
		t.Fatalf("%d datagrams left after draining, want 0", n)
	}
	if _, err := other.WriteToUDP([]byte("spoof"), to); err != nil {
		t.Fatal(err)
	}
	if _, err := server.WriteToUDP([]byte("reply"), to); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, 16)
	n, err := c.Read(buf)
	if err != nil || string(buf[:n]) != "reply" {
		t.Fatalf("read %q, %v; want the server's datagram only", buf[:n], err)
	}
	if n := pending(t, c); n != 0 {
		t.Fatalf("%d more datagrams readable, want 0 (the other source's is filtered)", n)
	}
}

// pending counts the datagrams c could read now, reading them.
func pending(t *testing.T, c *net.UDPConn) int {
	t.Helper()
	rc, err := c.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	_ = rc.Control(func(fd uintptr) {
		var b [16]byte
		for {
			if _, _, err := unix.Recvfrom(int(fd), b[:], unix.MSG_DONTWAIT); err != nil {
				return
			}
			n++
		}
	})
	return n
}

// TestTransport_Close_poolClosed: Close closes the sockets the pool held;
// exchanges still work afterwards, without pooling.
func TestTransport_Close_poolClosed(t *testing.T) {
	addr := dnstest.NewServer(t, dnstest.NewZone(t, transportZone))
	tr := NewTransport(TransportConfig{})
	warmPool(t, tr, addr)
	tr.udp.mu.Lock()
	held := append(slices.Clone(tr.udp.ready), tr.udp.spent...)
	tr.udp.mu.Unlock()
	if len(held) < udpPoolSize {
		t.Fatalf("pool holds %d sockets, want at least %d", len(held), udpPoolSize)
	}
	tr.Close()
	for _, c := range held {
		if _, err := c.Write([]byte{0}); !errors.Is(err, net.ErrClosed) {
			t.Errorf("pooled socket write after Close = %v, want net.ErrClosed", err)
		}
	}
	r, err := tr.Exchange(t.Context(), dnstest.Msg(t, "www.example.org.", dns.TypeA), addr)
	if err != nil {
		t.Fatalf("Exchange after Close: %v", err)
	}
	wantA(t, r, "192.0.2.1")
	tr.udp.mu.Lock()
	defer tr.udp.mu.Unlock()
	if len(tr.udp.ready)+len(tr.udp.spent) != 0 {
		t.Errorf("pool holds %d ready and %d spent sockets after Close, want none", len(tr.udp.ready), len(tr.udp.spent))
	}
}

// poolState is how many ready and spent sockets tr's pool holds.
func poolState(tr *Transport) (ready, spent int) {
	tr.udp.mu.Lock()
	defer tr.udp.mu.Unlock()
	return len(tr.udp.ready), len(tr.udp.spent)
}

// TestTransport_Exchange_serviceAfterReply: under a query whose reply is
// still to be written (the server's afterReply in the context), the
// exchanges leave the pool's housekeeping until that reply is out, unless
// the pool has run dry; without one they do it while they wait.
func TestTransport_Exchange_serviceAfterReply(t *testing.T) {
	addr := dnstest.NewServer(t, dnstest.NewZone(t, transportZone))
	tr := NewTransport(TransportConfig{})
	t.Cleanup(func() { tr.Close() })
	warmPool(t, tr, addr)
	_, spent0 := poolState(tr)
	var after afterReply
	ctx := withAfterReply(t.Context(), &after)
	for i := range udpPoolSize - 1 {
		if _, err := tr.Exchange(ctx, dnstest.Msg(t, "www.example.org.", dns.TypeA), addr); err != nil {
			t.Fatalf("Exchange: %v", err)
		}
		ready, spent := poolState(tr)
		if ready != udpPoolSize-i-1 || spent != spent0+i+1 {
			t.Fatalf("after %d exchanges under one query: %d ready, %d spent sockets; want %d and %d (housekeeping put off)",
				i+1, ready, spent, udpPoolSize-i-1, spent0+i+1)
		}
	}
	// This exchange takes the last socket: it services the pool while it
	// waits, as without a reply to wait for, rather than leave the next
	// exchanges to open their own.
	if _, err := tr.Exchange(ctx, dnstest.Msg(t, "www.example.org.", dns.TypeA), addr); err != nil {
		t.Fatalf("Exchange: %v", err)
	}
	if ready, _ := poolState(tr); ready != udpOpenPerWait {
		t.Errorf("an exchange emptying the pool left %d ready sockets, want %d", ready, udpOpenPerWait)
	}
	after.run() // the reply is written
	if ready, spent := poolState(tr); ready != min(udpPoolSize, 2*udpOpenPerWait) || spent != 0 {
		t.Errorf("after the reply: %d ready, %d spent sockets; want %d and none", ready, spent, min(udpPoolSize, 2*udpOpenPerWait))
	}
	// Later exchanges under the same query, whose reply is out, do their
	// own housekeeping.
	if _, err := tr.Exchange(ctx, dnstest.Msg(t, "www.example.org.", dns.TypeA), addr); err != nil {
		t.Fatalf("Exchange: %v", err)
	}
	if ready, _ := poolState(tr); ready != udpPoolSize {
		t.Errorf("an exchange after the reply left %d ready sockets, want %d (it refills the pool while it waits)", ready, udpPoolSize)
	}
}
