package resolver

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"runtime/debug"
	"sync"
	"time"

	"github.com/miekg/dns"
)

// maxTCPInFlight bounds the queries one TCP connection may have waiting on
// upstream at once (RFC 7766 6.2.1.1 pipelining), so one client cannot
// start unbounded goroutines.
const maxTCPInFlight = 32

// Listen binds UDP and TCP on every address ("host:port"; an empty host or
// "::" means every local address, IPv4 and IPv6) and starts serving. It
// binds all or nothing: on any failure, what was opened is closed. A port of
// 0 picks a free port, the same one for UDP and TCP.
func (s *Server) Listen(addrs []string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.tcpSem == nil {
		s.tcpSem = make(chan struct{}, s.tcpMaxConns)
		s.tcpConns = make(map[net.Conn]struct{})
	}
	var opened []closer
	var starts []func()
	for _, a := range addrs {
		udps, tcp, err := s.bind(a)
		if err != nil {
			for _, c := range opened {
				c.Close()
			}
			return err
		}
		for _, u := range udps {
			opened = append(opened, u.conn)
			starts = append(starts, func() { s.serveUDP(u) })
		}
		opened = append(opened, tcp)
		starts = append(starts, func() { s.serveTCP(tcp) })
	}
	s.lns = append(s.lns, opened...)
	for _, start := range starts {
		s.serving.Add(1)
		go func() {
			defer s.serving.Done()
			start()
		}()
	}
	if !s.sweeping {
		s.sweeping = true
		s.serving.Add(1)
		go func() {
			defer s.serving.Done()
			s.sweepLoop()
		}()
	}
	return nil
}

// Addrs lists the bound UDP and TCP addresses (one of each per listen
// address; the extra SO_REUSEPORT sockets share them).
func (s *Server) Addrs() []net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	seen := make(map[string]bool)
	var out []net.Addr
	for _, l := range s.lns {
		var a net.Addr
		switch l := l.(type) {
		case *net.UDPConn:
			a = l.LocalAddr()
		case *net.TCPListener:
			a = l.Addr()
		}
		if a != nil && !seen[a.Network()+a.String()] {
			seen[a.Network()+a.String()] = true
			out = append(out, a)
		}
	}
	return out
}

// Shutdown stops the listeners, closes client TCP connections, and waits
// (until ctx ends) for queries in flight to finish.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.closed = true
	for _, l := range s.lns {
		l.Close()
	}
	for c := range s.tcpConns {
		c.Close()
	}
	s.mu.Unlock()
	s.cancel()
	done := make(chan struct{})
	go func() {
		s.serving.Wait()
		s.queries.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

type udpListener struct {
	conn    *net.UDPConn
	pktinfo bool // wildcard address: learn each packet's destination to reply from it
	// raw is the read loop's direct system-call state (udpraw_linux.go),
	// set only on the read loop's own copy: cache hits answered there
	// write through it.
	raw *udpRaw
}

// bind opens the UDP sockets and the TCP listener for one address.
func (s *Server) bind(addr string) ([]udpListener, *net.TCPListener, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, nil, fmt.Errorf("listen %q: %w", addr, err)
	}
	wildcard := host == "" || host == "::" || host == "0.0.0.0"
	for attempt := 0; ; attempt++ {
		udps, tcp, err := s.bindOnce(addr, wildcard)
		if err == nil || port != "0" || attempt == 10 {
			return udps, tcp, err
		}
		// Port 0: the port UDP got may be taken for TCP; try another.
	}
}

func (s *Server) bindOnce(addr string, wildcard bool) ([]udpListener, *net.TCPListener, error) {
	lc := net.ListenConfig{Control: reusePort}
	first, err := lc.ListenPacket(context.Background(), "udp", addr)
	if err != nil {
		return nil, nil, fmt.Errorf("listen udp %s: %w", addr, err)
	}
	bound := first.LocalAddr().String() // the concrete port, if addr said 0
	udps := []udpListener{{conn: first.(*net.UDPConn), pktinfo: wildcard}}
	fail := func(err error) ([]udpListener, *net.TCPListener, error) {
		for _, u := range udps {
			u.conn.Close()
		}
		return nil, nil, err
	}
	for len(udps) < s.udpSockets {
		c, err := lc.ListenPacket(context.Background(), "udp", bound)
		if err != nil {
			return fail(fmt.Errorf("listen udp %s (socket %d): %w", bound, len(udps)+1, err))
		}
		udps = append(udps, udpListener{conn: c.(*net.UDPConn), pktinfo: wildcard})
	}
	if wildcard {
		for _, u := range udps {
			if err := setPktinfo(u.conn); err != nil {
				return fail(fmt.Errorf("listen udp %s: %w", bound, err))
			}
		}
	}
	ln, err := net.Listen("tcp", bound)
	if err != nil {
		return fail(fmt.Errorf("listen tcp %s: %w", bound, err))
	}
	return udps, ln.(*net.TCPListener), nil
}

func (s *Server) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// serveUDP is one socket's read loop. Cache hits are answered right here.
// On Linux the loop resolves a miss itself and hands the socket over to a
// new loop (udpRawLoop); elsewhere misses go to their own goroutine.
func (s *Server) serveUDP(u udpListener) {
	err := s.serveUDPRaw(u)
	if err == nil || errors.Is(err, net.ErrClosed) || s.isClosed() {
		return
	}
	s.log.Warn("udp: direct system calls unavailable, using net.UDPConn", "error", err)
	s.serveUDPConn(u)
}

// serveUDPConn is the portable read loop.
func (s *Server) serveUDPConn(u udpListener) {
	b := newBuffers()
	pkt := make([]byte, dns.MaxMsgSize)
	oob := make([]byte, oobSize)
	for {
		n, oobn, _, src, err := u.conn.ReadMsgUDPAddrPort(pkt, oob)
		if err != nil {
			if errors.Is(err, net.ErrClosed) || s.isClosed() {
				return
			}
			s.log.Warn("udp read failed", "error", err)
			sleepAfterReadError()
			continue
		}
		s.handleUDP(u, pkt[:n], oob[:oobn], src, b)
	}
}

// sleepAfterReadError keeps a persistent read error from spinning a core.
func sleepAfterReadError() { time.Sleep(time.Millisecond) }

func (s *Server) handleUDP(u udpListener, pkt, oob []byte, src netip.AddrPort, b *buffers) {
	if qu, miss := s.answerUDP(u, pkt, oob, src, b); miss {
		s.resolveUDP(u, qu)
	}
}

// answerUDP answers one query unless it misses the cache; a miss comes
// back detached from the buffers, for the caller to resolve.
func (s *Server) answerUDP(u udpListener, pkt, oob []byte, src netip.AddrPort, b *buffers) (qu query, miss bool) {
	defer s.recoverQuery()
	qu = query{src: src, proto: protoUDP, start: time.Now()}
	if u.pktinfo {
		qu.local, qu.ifidx = parsePktinfo(oob)
	}
	reply, miss := s.answer(pkt, &qu, b)
	if miss {
		qu.detach()
		return qu, true
	}
	s.writeUDP(u, &qu, reply, b)
	return qu, false
}

// resolveUDP finishes a cache miss on its own goroutine. It takes the query
// by value: were the goroutine to capture the listener's query, every
// query, hits included, would be allocated on the heap.
func (s *Server) resolveUDP(u udpListener, qu query) {
	u.raw = nil // the read loop's own: this goroutine writes through the conn
	s.queries.Add(1)
	go func() {
		defer s.queries.Done()
		growStack()
		b := s.bufs.Get().(*buffers)
		defer s.bufs.Put(b)
		s.finishUDP(u, &qu, b)
	}()
}

// finishUDP resolves a cache miss and writes the reply.
func (s *Server) finishUDP(u udpListener, qu *query, b *buffers) {
	defer s.recoverQuery()
	var after afterReply
	defer after.run() // even after a panic: what was put off must not be lost
	s.writeUDP(u, qu, s.resolveThen(qu, b, &after), b)
}

func (s *Server) writeUDP(u udpListener, qu *query, reply []byte, b *buffers) {
	if reply == nil {
		return
	}
	var oob []byte
	if u.pktinfo && qu.local.IsValid() {
		oob = appendPktinfo(b.oob[:0], qu.local, qu.ifidx)
	}
	if u.raw != nil && u.raw.queue(reply, oob, qu.src) {
		return // the read loop sends its batch's replies together
	}
	s.writeUDPConn(u, reply, oob, qu.src)
}

// writeUDPConn writes one reply through the net.UDPConn.
func (s *Server) writeUDPConn(u udpListener, reply, oob []byte, dst netip.AddrPort) {
	var (
		err  error
		sent bool
	)
	if oob == nil {
		sent, err = writeToRaw(u.conn, reply, dst)
	}
	switch {
	case sent:
	case oob != nil:
		_, _, err = u.conn.WriteMsgUDPAddrPort(reply, oob, dst)
	default:
		_, err = u.conn.WriteToUDPAddrPort(reply, dst)
	}
	if err != nil && !errors.Is(err, net.ErrClosed) {
		s.log.Debug("udp write failed", "client", dst.String(), "error", err)
	}
}

func (s *Server) recoverQuery() {
	if r := recover(); r != nil {
		s.m.panics.Inc()
		s.log.Error("panic while handling a query", "panic", r, "stack", string(debug.Stack()))
	}
}

// serveTCP accepts connections up to the cap; past it, new connections are
// closed at once rather than queued, so a flood cannot hold memory.
func (s *Server) serveTCP(ln *net.TCPListener) {
	for {
		c, err := ln.AcceptTCP()
		if err != nil {
			if errors.Is(err, net.ErrClosed) || s.isClosed() {
				return
			}
			s.log.Warn("tcp accept failed", "error", err)
			time.Sleep(5 * time.Millisecond)
			continue
		}
		select {
		case s.tcpSem <- struct{}{}:
		default:
			s.m.tcpRejected.Inc()
			c.Close()
			continue
		}
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			c.Close()
			<-s.tcpSem
			return
		}
		s.tcpConns[c] = struct{}{}
		s.mu.Unlock()
		s.m.tcpConns.Inc()
		s.serving.Add(1)
		go func() {
			defer s.serving.Done()
			s.serveTCPConn(c)
		}()
	}
}

// serveTCPConn reads queries until the client goes quiet for the idle
// timeout, stalls mid-message past the read timeout, or closes. Pipelined
// queries that miss the cache are resolved concurrently and answered as
// they complete (RFC 7766 6.2.1.1).
func (s *Server) serveTCPConn(c *net.TCPConn) {
	var wmu sync.Mutex
	var inflight sync.WaitGroup
	slots := make(chan struct{}, maxTCPInFlight)
	defer func() {
		inflight.Wait()
		c.Close()
		s.mu.Lock()
		delete(s.tcpConns, c)
		s.mu.Unlock()
		<-s.tcpSem
		s.m.tcpConns.Dec()
	}()
	src := c.RemoteAddr().(*net.TCPAddr).AddrPort()
	b := s.bufs.Get().(*buffers)
	defer s.bufs.Put(b)
	pkt := make([]byte, dns.MaxMsgSize)
	write := func(reply []byte, b *buffers) bool {
		if reply == nil {
			return true
		}
		wmu.Lock()
		defer wmu.Unlock()
		b.frame = append(b.frame[:0], byte(len(reply)>>8), byte(len(reply)))
		b.frame = append(b.frame, reply...)
		c.SetWriteDeadline(time.Now().Add(s.tcpRead))
		_, err := c.Write(b.frame)
		return err == nil
	}
	var lenbuf [2]byte
	for {
		c.SetReadDeadline(time.Now().Add(s.tcpIdle))
		if _, err := io.ReadFull(c, lenbuf[:1]); err != nil {
			return
		}
		c.SetReadDeadline(time.Now().Add(s.tcpRead))
		if _, err := io.ReadFull(c, lenbuf[1:]); err != nil {
			return
		}
		n := int(binary.BigEndian.Uint16(lenbuf[:]))
		if _, err := io.ReadFull(c, pkt[:n]); err != nil {
			return
		}
		if n < headerLen {
			s.m.dropped(dropMalformed)
			return // no header to answer: the stream cannot be trusted
		}
		ok := func() bool {
			defer s.recoverQuery()
			qu := query{src: src, proto: protoTCP, start: time.Now()}
			reply, miss := s.answer(pkt[:n], &qu, b)
			if !miss {
				return write(reply, b)
			}
			qu.detach()
			slots <- struct{}{}
			inflight.Add(1)
			go func(qu query) { // by value, as in resolveUDP
				defer func() { <-slots; inflight.Done() }()
				defer s.recoverQuery()
				growStack()
				b := s.bufs.Get().(*buffers)
				defer s.bufs.Put(b)
				var after afterReply
				defer after.run()
				write(s.resolveThen(&qu, b, &after), b)
			}(qu)
			return true
		}()
		if !ok {
			return
		}
	}
}

func (s *Server) sweepLoop() {
	t := time.NewTicker(time.Minute)
	defer t.Stop()
	for {
		select {
		case <-s.base.Done():
			return
		case now := <-t.C:
			s.limiter.sweep(now)
		}
	}
}
