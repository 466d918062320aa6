package resolver

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
)

const (
	// udpPoolSize is how many IPv4 sockets are kept open ahead of need. A
	// cold resolution sends a few queries one after another; a burst
	// larger than this opens the rest inline, as without the pool.
	udpPoolSize = 4
	// udpOpenPerWait bounds the sockets one exchange opens while it waits.
	udpOpenPerWait = 2
	// udpMaxSpent bounds the used sockets left for the next wait to close.
	udpMaxSpent = 16
)

// udpPool moves the opening and closing of UDP sockets off an exchange's
// critical path: into the time the exchange spends waiting for its reply.
// Opening a socket (socket, bind, netpoller registration) took about 60 µs
// and closing one 20 µs of a cold question's 1–1.5 ms on the benchmark
// machine (docs/performance.md, Recursion). An exchange takes a socket
// opened earlier, sends its query, and then, while the server works, opens
// the sockets the next exchanges will take and closes those earlier ones
// finished with. There is no goroutine: waking one cost as much as the
// work it would take over. When the exchange is part of a client's query
// whose reply is still to be written, that housekeeping waits until the
// reply is out (afterReply), unless the exchange took the pool's last
// socket: on the benchmark's 2 cores it competed with the name server
// being waited for.
//
// Each socket serves exactly one exchange, so every exchange still has its
// own random source port chosen by the kernel (RFC 5452 section 9.2). A
// pooled socket is connected to the server just before its query is sent,
// and then drained: datagrams that reached its port while it waited (from
// anyone) are discarded, so only what the server sends after the connect
// can be read, exactly as with a socket opened for the exchange.
//
// Only IPv4 sockets are pooled; IPv6 exchanges open their own.
type udpPool struct {
	mu     sync.Mutex
	ready  []*net.UDPConn // unconnected, bound to a random port
	spent  []*net.UDPConn // used once, to be closed
	closed bool
}

// take returns a socket connected to server: a pooled one for an IPv4
// server when there is one, else a fresh one.
func (p *udpPool) take(server netip.AddrPort) (*net.UDPConn, error) {
	if !server.Addr().Unmap().Is4() {
		return net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(server))
	}
	p.mu.Lock()
	var c *net.UDPConn
	if n := len(p.ready); n > 0 {
		c, p.ready = p.ready[n-1], p.ready[:n-1]
	}
	p.mu.Unlock()
	if c != nil {
		if err := connectAndDrain(c, server); err == nil {
			return c, nil
		}
		c.Close() // flooded, say: a fresh socket instead
	}
	return net.DialUDP("udp4", nil, net.UDPAddrFromAddrPort(server))
}

// put hands back a socket after its one exchange, for a later wait to
// close (or closes it now when too many are waiting, or after close).
func (p *udpPool) put(c *net.UDPConn) {
	p.mu.Lock()
	if !p.closed && len(p.spent) < udpMaxSpent {
		p.spent = append(p.spent, c)
		c = nil
	}
	p.mu.Unlock()
	if c != nil {
		c.Close()
	}
}

// empty reports whether no socket is ready: then the next exchange opens
// one itself, and the pool is better serviced at once (exchangeUDP).
func (p *udpPool) empty() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.ready) == 0
}

// service does the pool's housekeeping; exchanges call it while they wait
// for a reply. It closes the spent sockets and opens up to udpOpenPerWait
// new ones. No lock is held during the system calls.
func (p *udpPool) service() {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	spent := p.spent
	p.spent = nil
	open := min(udpPoolSize-len(p.ready), udpOpenPerWait)
	p.mu.Unlock()
	for _, c := range spent {
		c.Close()
	}
	for range open {
		c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4zero})
		if err != nil {
			return // out of descriptors, say: exchanges open their own
		}
		p.mu.Lock()
		if p.closed || len(p.ready) >= udpPoolSize {
			p.mu.Unlock()
			c.Close()
			return
		}
		p.ready = append(p.ready, c)
		p.mu.Unlock()
	}
}

// close closes every socket the pool holds; later exchanges open and
// close their own.
func (p *udpPool) close() {
	p.mu.Lock()
	p.closed = true
	all := append(p.ready, p.spent...)
	p.ready, p.spent = nil, nil
	p.mu.Unlock()
	for _, c := range all {
		c.Close()
	}
}

// maxDrain bounds the datagrams connectAndDrain discards: a socket's
// receive buffer holds a few hundred small ones.
const maxDrain = 4096

// connectAndDrain connects c to server, so that the kernel delivers only
// server's datagrams (and reports ICMP errors), then discards whatever
// was queued before the connect.
func connectAndDrain(c *net.UDPConn, server netip.AddrPort) error {
	rc, err := c.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	err = rc.Control(func(fd uintptr) {
		empty, cerr := connectRaw(fd, server)
		switch {
		case cerr != nil:
			serr = cerr
		case !empty:
			serr = errors.New("receive queue still not empty")
		}
	})
	if err == nil {
		err = serr
	}
	if err != nil {
		return fmt.Errorf("connecting pooled socket: %w", err)
	}
	return nil
}
