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
// answers cache hits with recvmsg and sendmsg made directly (RawSyscall,
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
// requires.
//
// Only the read loop's goroutine may use a udpRaw; a cache miss answered
// on its own goroutine writes through the net.UDPConn as before.
type udpRaw struct {
	fd     uintptr
	family int // the socket's address family: replies are addressed in it

	rmsg  unix.Msghdr
	riov  unix.Iovec
	rname unix.RawSockaddrInet6 // large enough for either family

	smsg  unix.Msghdr
	siov  unix.Iovec
	sname unix.RawSockaddrInet6

	zones map[uint32]string // IPv6 scope id → zone name, as net reports it
}

// newUDPRaw prepares direct system calls on conn.
func newUDPRaw(conn *net.UDPConn) (*udpRaw, syscall.RawConn, error) {
	rc, err := conn.SyscallConn()
	if err != nil {
		return nil, nil, err
	}
	r := &udpRaw{family: unix.AF_INET6, zones: map[uint32]string{}}
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

// serveUDPRaw is serveUDP on Linux. It returns when the socket is closed.
func (s *Server) serveUDPRaw(u udpListener) error {
	r, rc, err := newUDPRaw(u.conn)
	if err != nil {
		return err
	}
	u.raw = r
	b := newBuffers()
	pkt := make([]byte, dns.MaxMsgSize)
	oob := make([]byte, oobSize)
	for {
		var rerr syscall.Errno
		err := rc.Read(func(fd uintptr) bool {
			r.fd = fd
			for {
				n, oobn, src, errno := r.recv(pkt, oob)
				switch errno {
				case 0:
					s.handleUDP(u, pkt[:n], oob[:oobn], src, b)
				case unix.EINTR:
				case unix.EAGAIN:
					return false // empty: park until the netpoller sees more
				default:
					rerr = errno
					return true
				}
			}
		})
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

// recv reads one datagram without blocking.
func (r *udpRaw) recv(pkt, oob []byte) (n, oobn int, src netip.AddrPort, errno syscall.Errno) {
	r.riov.Base = &pkt[0]
	r.riov.SetLen(len(pkt))
	r.rmsg = unix.Msghdr{Name: (*byte)(unsafe.Pointer(&r.rname)), Namelen: unix.SizeofSockaddrInet6, Iov: &r.riov}
	r.rmsg.SetIovlen(1)
	if len(oob) > 0 {
		r.rmsg.Control = &oob[0]
		r.rmsg.SetControllen(len(oob))
	}
	got, _, e := unix.RawSyscall(unix.SYS_RECVMSG, r.fd, uintptr(unsafe.Pointer(&r.rmsg)), unix.MSG_DONTWAIT)
	if e != 0 {
		return 0, 0, netip.AddrPort{}, e
	}
	return int(got), int(r.rmsg.Controllen), r.source(), 0
}

// source converts the sender's address the way net.UDPConn does: IPv4 on
// an IPv4 socket, a 16-byte address (IPv4-mapped for IPv4 clients) with
// its zone on an IPv6 socket.
func (r *udpRaw) source() netip.AddrPort {
	switch r.rname.Family {
	case unix.AF_INET:
		sa := (*unix.RawSockaddrInet4)(unsafe.Pointer(&r.rname))
		return netip.AddrPortFrom(netip.AddrFrom4(sa.Addr), netPort(sa.Port))
	case unix.AF_INET6:
		a := netip.AddrFrom16(r.rname.Addr)
		if id := r.rname.Scope_id; id != 0 {
			a = a.WithZone(r.zone(id))
		}
		return netip.AddrPortFrom(a, netPort(r.rname.Port))
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

// send writes one reply without blocking. It reports false when the reply
// must go the ordinary way: a zoned destination (net resolves zone names),
// a full socket buffer, or an address the socket's family cannot carry.
func (r *udpRaw) send(reply, oob []byte, dst netip.AddrPort) (sent bool, errno syscall.Errno) {
	a := dst.Addr()
	if a.Zone() != "" || len(reply) == 0 {
		return false, 0
	}
	var namelen uint32
	switch {
	case r.family == unix.AF_INET && (a.Is4() || a.Is4In6()):
		sa := (*unix.RawSockaddrInet4)(unsafe.Pointer(&r.sname))
		*sa = unix.RawSockaddrInet4{Family: unix.AF_INET, Port: netPort(dst.Port()), Addr: a.Unmap().As4()}
		namelen = unix.SizeofSockaddrInet4
	case r.family == unix.AF_INET6:
		r.sname = unix.RawSockaddrInet6{Family: unix.AF_INET6, Port: netPort(dst.Port()), Addr: a.As16()}
		namelen = unix.SizeofSockaddrInet6
	default:
		return false, 0
	}
	r.siov.Base = &reply[0]
	r.siov.SetLen(len(reply))
	r.smsg = unix.Msghdr{Name: (*byte)(unsafe.Pointer(&r.sname)), Namelen: namelen, Iov: &r.siov}
	r.smsg.SetIovlen(1)
	if len(oob) > 0 {
		r.smsg.Control = &oob[0]
		r.smsg.SetControllen(len(oob))
	}
	for {
		_, _, e := unix.RawSyscall(unix.SYS_SENDMSG, r.fd, uintptr(unsafe.Pointer(&r.smsg)), unix.MSG_DONTWAIT)
		switch e {
		case 0:
			return true, 0
		case unix.EINTR:
			continue
		case unix.EAGAIN, unix.ENOBUFS:
			return false, 0 // let the netpoller wait for room
		}
		return true, e // sent nowhere, and retrying will not help
	}
}

// netPort swaps a port between network and host byte order (the same
// operation both ways).
func netPort(p uint16) uint16 {
	b := (*[2]byte)(unsafe.Pointer(&p))
	return uint16(b[0])<<8 | uint16(b[1])
}
