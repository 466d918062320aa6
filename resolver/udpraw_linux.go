package resolver

import (
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"syscall"
	"unsafe"

	"github.com/miekg/dns"
	"golang.org/x/sys/unix"
)

// udpRaw is one UDP read loop's own system-call state. The loop reads and
// answers cache hits with recvmmsg and sendmmsg made directly (RawSyscall,
// MSG_DONTWAIT) from inside the socket's RawConn.Read callback, and parks
// in the netpoller only when the socket is empty.
//
// Why not net.UDPConn's methods: each of them enters the runtime's syscall
// state, and entering it while the scheduler's monitor thread (sysmon) is
// asleep wakes that thread, which then polls every 20 µs until the process
// is idle again. At a school's query rates (a few thousand a second, the
// process idle between queries) that meant one extra thread wake-up and
// about a third of all context switches per query. The calls here cannot
// block (non-blocking socket, MSG_DONTWAIT), which is what RawSyscall
// requires. Why batches: under a flood the socket holds many packets, and
// one recvmmsg and one sendmmsg serve up to udpBatch of them; at everyday
// rates a batch is one packet, as before.
//
// Only the read loop's goroutine may use a udpRaw; a cache miss answered
// on its own goroutine writes through the net.UDPConn as before.
type udpRaw struct {
	fd     uintptr
	family int // the socket's address family: replies are addressed in it

	rmsgs  [udpBatch]mmsghdr
	riovs  [udpBatch]unix.Iovec
	rnames [udpBatch]unix.RawSockaddrInet6 // large enough for either family
	pkts   [udpBatch][]byte
	oobs   [udpBatch][]byte
	bufs   [udpBatch]*buffers // one per packet: its reply waits for the batch's send
	filled int                // messages the last recvmmsg wrote

	smsgs  [udpBatch]mmsghdr
	siovs  [udpBatch]unix.Iovec
	snames [udpBatch]unix.RawSockaddrInet6
	sent   [udpBatch]udpReply // what each queued message holds, to send it the ordinary way
	queued int

	zones map[uint32]string // IPv6 scope id → zone name, as net reports it
}

// udpBatch is the most packets one recvmmsg reads and one sendmmsg writes.
const udpBatch = 16

// mmsghdr is struct mmsghdr: x/sys/unix has none. Go lays it out as C
// does on 32- and 64-bit Linux alike (Msghdr, then an unsigned int, padded
// to Msghdr's alignment).
type mmsghdr struct {
	hdr unix.Msghdr
	n   uint32
}

type udpReply struct {
	reply, oob []byte
	dst        netip.AddrPort
}

// newUDPRaw prepares direct system calls on conn.
func newUDPRaw(conn *net.UDPConn) (*udpRaw, syscall.RawConn, error) {
	rc, err := conn.SyscallConn()
	if err != nil {
		return nil, nil, err
	}
	r := &udpRaw{family: unix.AF_INET6, zones: map[uint32]string{}}
	for i := range udpBatch {
		// Address space, mostly: the kernel touches only what a packet fills.
		r.pkts[i] = make([]byte, dns.MaxMsgSize)
		r.oobs[i] = make([]byte, oobSize)
		r.bufs[i] = newBuffers()
		r.riovs[i].Base = &r.pkts[i][0]
		r.riovs[i].SetLen(len(r.pkts[i]))
		r.rmsgs[i] = mmsghdr{hdr: unix.Msghdr{Name: (*byte)(unsafe.Pointer(&r.rnames[i])), Namelen: unix.SizeofSockaddrInet6, Iov: &r.riovs[i]}}
		r.rmsgs[i].hdr.SetIovlen(1)
		r.rmsgs[i].hdr.Control = &r.oobs[i][0]
		r.rmsgs[i].hdr.SetControllen(len(r.oobs[i]))
	}
	var serr error
	if err := rc.Control(func(fd uintptr) {
		var sa unix.Sockaddr
		if sa, serr = unix.Getsockname(int(fd)); serr == nil {
			if _, ok := sa.(*unix.SockaddrInet4); ok {
				r.family = unix.AF_INET
			}
		}
	}); err != nil {
		return nil, nil, err
	}
	if serr != nil {
		return nil, nil, fmt.Errorf("getsockname: %w", serr)
	}
	return r, rc, nil
}

// serveUDPRaw is serveUDP on Linux. It returns when the socket is closed,
// or nil once it has handed the socket over to another read loop.
func (s *Server) serveUDPRaw(u udpListener) error {
	growStack()
	r, rc, err := newUDPRaw(u.conn)
	if err != nil {
		return err
	}
	return s.udpRawLoop(u, r, rc)
}

// udpRawLoop reads queries in batches and answers cache hits until a batch
// holds a miss. Then, once the batch's replies are sent, it hands the
// socket and its system-call state and buffers to a new read loop on a new
// goroutine, and resolves the first miss itself: the question goes on at
// once on the thread that read it, whose caches hold it, while the new
// loop waits to be scheduled. Handing the miss to a new goroutine instead
// left the question waiting for that goroutine to be scheduled, often on
// the other core woken from idle: 100–250 µs of a cold question's ~1 ms on
// the benchmark machine (docs/performance.md, Recursion). Further misses
// in the same batch go to their own goroutines. It returns when the socket
// is closed (its error), or nil after the miss it kept is answered.
func (s *Server) udpRawLoop(u udpListener, r *udpRaw, rc syscall.RawConn) error {
	u.raw = r
	var (
		miss   query // outside the loop: the callback captures it, hits must not allocate
		missed bool
	)
	for {
		var rerr syscall.Errno
		err := rc.Read(func(fd uintptr) bool {
			r.fd = fd
			for {
				n, errno := r.recv()
				switch errno {
				case 0:
				case unix.EINTR:
					continue
				case unix.EAGAIN:
					return false // empty: park until the netpoller sees more
				default:
					rerr = errno
					return true
				}
				s.udpReads.Add(1)
				if n == udpBatch {
					s.udpFull.Add(1)
				}
				for i := range n {
					qu, m := s.answerUDP(u, r.pkts[i][:r.rmsgs[i].n], r.oobs[i][:r.rmsgs[i].hdr.Controllen], r.source(i), r.bufs[i])
					switch {
					case !m:
					case !missed:
						miss, missed = qu, true // resolved here, after the batch
					default:
						s.resolveUDP(u, qu)
					}
				}
				s.flushUDP(u)
				if missed {
					return true // leave the socket to the next loop
				}
				if n < udpBatch {
					// The socket was empty when read: park now rather than
					// spend a system call to hear EAGAIN. Nothing is missed:
					// a packet that arrived since marks the poller ready
					// (edge-triggered), and waitRead then returns at once.
					return false
				}
			}
		})
		if missed {
			s.serving.Add(1)
			go func(u udpListener) {
				defer s.serving.Done()
				growStack() // this loop may resolve the next miss: grow while idle
				s.udpRawLoop(u, r, rc)
			}(u)
			u.raw = nil // the next loop's now: write through the conn
			b := s.bufs.Get().(*buffers)
			s.finishUDP(u, &miss, b)
			s.bufs.Put(b)
			return nil
		}
		if err != nil {
			return err // closed
		}
		if s.isClosed() {
			return net.ErrClosed
		}
		s.log.Warn("udp read failed", "error", rerr)
		sleepAfterReadError()
	}
}

// flushUDP sends the replies the batch queued: with sendmmsg while the
// socket takes them, the rest (a full send buffer) the ordinary way, which
// waits for room in the netpoller.
func (s *Server) flushUDP(u udpListener) {
	r := u.raw
	for start := 0; start < r.queued; {
		m, errno := r.sendBatch(start)
		switch errno {
		case 0:
			start += m
		case unix.EINTR:
		case unix.EAGAIN, unix.ENOBUFS:
			for _, q := range r.sent[start:r.queued] {
				s.writeUDPConn(u, q.reply, q.oob, q.dst)
			}
			start = r.queued
		default: // this message cannot be sent; the others may
			s.log.Debug("udp write failed", "client", r.sent[start].dst.String(), "error", errno)
			start++
		}
	}
	clear(r.sent[:r.queued])
	r.queued = 0
}

// recv reads up to udpBatch datagrams without blocking. The headers are
// built once (newUDPRaw); the kernel rewrites only the lengths of the
// messages it filled, so only those are reset.
func (r *udpRaw) recv() (int, syscall.Errno) {
	for i := range r.filled {
		r.rmsgs[i].hdr.Namelen = unix.SizeofSockaddrInet6
		r.rmsgs[i].hdr.SetControllen(len(r.oobs[i]))
		r.rmsgs[i].hdr.Flags = 0
	}
	r.filled = 0
	n, _, e := unix.RawSyscall6(unix.SYS_RECVMMSG, r.fd, uintptr(unsafe.Pointer(&r.rmsgs[0])), udpBatch, unix.MSG_DONTWAIT, 0, 0)
	if e != 0 {
		return 0, e
	}
	r.filled = int(n)
	return int(n), 0
}

// source converts the sender's address the way net.UDPConn does: IPv4 on
// an IPv4 socket, a 16-byte address (IPv4-mapped for IPv4 clients) with
// its zone on an IPv6 socket.
func (r *udpRaw) source(i int) netip.AddrPort {
	name := &r.rnames[i]
	switch name.Family {
	case unix.AF_INET:
		sa := (*unix.RawSockaddrInet4)(unsafe.Pointer(name))
		return netip.AddrPortFrom(netip.AddrFrom4(sa.Addr), netPort(sa.Port))
	case unix.AF_INET6:
		a := netip.AddrFrom16(name.Addr)
		if id := name.Scope_id; id != 0 {
			a = a.WithZone(r.zone(id))
		}
		return netip.AddrPortFrom(a, netPort(name.Port))
	}
	return netip.AddrPort{}
}

// zone names an IPv6 scope id by its interface, remembering the answer:
// link-local clients are few and their interfaces do not change often.
func (r *udpRaw) zone(id uint32) string {
	if z, ok := r.zones[id]; ok {
		return z
	}
	z := strconv.FormatUint(uint64(id), 10)
	if ifi, err := net.InterfaceByIndex(int(id)); err == nil {
		z = ifi.Name
	}
	if len(r.zones) > 64 {
		clear(r.zones)
	}
	r.zones[id] = z
	return z
}

// queue adds a reply to the batch's sendmmsg. reply and oob must stay
// as they are until flushUDP. It reports false when the reply must go the
// ordinary way: a zoned destination (net turns the zone's name into a
// scope id), or an address the socket's family cannot carry.
func (r *udpRaw) queue(reply, oob []byte, dst netip.AddrPort) bool {
	a := dst.Addr()
	if a.Zone() != "" || len(reply) == 0 || r.queued == udpBatch {
		return false
	}
	i := r.queued
	name := &r.snames[i]
	var namelen uint32
	switch {
	case r.family == unix.AF_INET && (a.Is4() || a.Is4In6()):
		sa := (*unix.RawSockaddrInet4)(unsafe.Pointer(name))
		*sa = unix.RawSockaddrInet4{Family: unix.AF_INET, Port: netPort(dst.Port()), Addr: a.Unmap().As4()}
		namelen = unix.SizeofSockaddrInet4
	case r.family == unix.AF_INET6:
		*name = unix.RawSockaddrInet6{Family: unix.AF_INET6, Port: netPort(dst.Port()), Addr: a.As16()}
		namelen = unix.SizeofSockaddrInet6
	default:
		return false
	}
	r.siovs[i].Base = &reply[0]
	r.siovs[i].SetLen(len(reply))
	r.smsgs[i] = mmsghdr{hdr: unix.Msghdr{Name: (*byte)(unsafe.Pointer(name)), Namelen: namelen, Iov: &r.siovs[i]}}
	r.smsgs[i].hdr.SetIovlen(1)
	if len(oob) > 0 {
		r.smsgs[i].hdr.Control = &oob[0]
		r.smsgs[i].hdr.SetControllen(len(oob))
	}
	r.sent[i] = udpReply{reply: reply, oob: oob, dst: dst}
	r.queued++
	return true
}

// sendBatch sends the queued messages from start on without blocking; it
// returns how many went, or the error of the first (which did not).
func (r *udpRaw) sendBatch(start int) (int, syscall.Errno) {
	n, _, e := unix.RawSyscall6(unix.SYS_SENDMMSG, r.fd, uintptr(unsafe.Pointer(&r.smsgs[start])), uintptr(r.queued-start), unix.MSG_DONTWAIT, 0, 0)
	if e != 0 {
		return 0, e
	}
	return int(n), 0
}

// netPort swaps a port between network and host byte order (the same
// operation both ways).
func netPort(p uint16) uint16 {
	b := (*[2]byte)(unsafe.Pointer(&p))
	return uint16(b[0])<<8 | uint16(b[1])
}
