package resolver

import (
	"net"
	"net/netip"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// An upstream exchange's socket calls, made directly (RawSyscall, never
// blocking: the sockets are non-blocking and the calls pass MSG_DONTWAIT)
// from inside the socket's RawConn callbacks, for the reason udpRaw gives:
// the first call through the syscall package after a quiet spell wakes the
// runtime's monitor thread, which then polls every 20 µs on the other
// core, beside the name server the exchange waits for. Waiting for the
// reply still parks in the netpoller, with the socket's deadline.

// sendRaw sends pkt on the connected socket c.
func sendRaw(c *net.UDPConn, pkt []byte) error {
	rc, err := c.SyscallConn()
	if err != nil {
		return err
	}
	var errno syscall.Errno
	err = rc.Write(func(fd uintptr) bool {
		for {
			_, _, errno = unix.RawSyscall6(unix.SYS_SENDTO, fd, uintptr(unsafe.Pointer(&pkt[0])), uintptr(len(pkt)), unix.MSG_DONTWAIT, 0, 0)
			switch errno {
			case unix.EINTR:
				continue
			case unix.EAGAIN:
				return false // no room: wait until there is
			}
			return true
		}
	})
	if err == nil && errno != 0 {
		err = errno
	}
	return err
}

// recvRaw reads one datagram from c into buf.
func recvRaw(c *net.UDPConn, buf []byte) (int, error) {
	rc, err := c.SyscallConn()
	if err != nil {
		return 0, err
	}
	var (
		n     uintptr
		errno syscall.Errno
	)
	err = rc.Read(func(fd uintptr) bool {
		for {
			n, _, errno = unix.RawSyscall6(unix.SYS_RECVFROM, fd, uintptr(unsafe.Pointer(&buf[0])), uintptr(len(buf)), unix.MSG_DONTWAIT, 0, 0)
			switch errno {
			case unix.EINTR:
				continue
			case unix.EAGAIN:
				return false // nothing yet: park until the netpoller sees more
			}
			return true
		}
	})
	if err == nil && errno != 0 {
		err = errno
	}
	if err != nil {
		return 0, err
	}
	return int(n), nil
}

// connectRaw connects fd to an IPv4 server and discards up to maxDrain
// datagrams queued before, reporting whether the queue is then empty.
func connectRaw(fd uintptr, server netip.AddrPort) (empty bool, err error) {
	sa := unix.RawSockaddrInet4{Family: unix.AF_INET, Port: netPort(server.Port()), Addr: server.Addr().Unmap().As4()}
	if _, _, e := unix.RawSyscall(unix.SYS_CONNECT, fd, uintptr(unsafe.Pointer(&sa)), unix.SizeofSockaddrInet4); e != 0 {
		return false, e
	}
	var b [1]byte
	for range maxDrain {
		_, _, e := unix.RawSyscall6(unix.SYS_RECVFROM, fd, uintptr(unsafe.Pointer(&b[0])), 1, unix.MSG_DONTWAIT|unix.MSG_TRUNC, 0, 0)
		if e == unix.EAGAIN {
			return true, nil
		}
		// Anything else (a datagram, a pending socket error) is dropped,
		// and the queue read again.
	}
	return false, nil
}

// writeToRaw sends reply to dst on a listener socket, for an answer
// finished off the read loop (a cache miss). The socket's address family
// is dst's as the read loop reported it (udpRaw.source): a plain IPv4
// address came to an IPv4 socket, anything else to an IPv6 one. It
// reports false, having sent nothing, when the reply must go through net
// instead (a zoned address, or a family the guess got wrong).
func writeToRaw(c *net.UDPConn, reply []byte, dst netip.AddrPort) (bool, error) {
	a := dst.Addr()
	if a.Zone() != "" || len(reply) == 0 {
		return false, nil
	}
	var (
		sa4 unix.RawSockaddrInet4
		sa6 unix.RawSockaddrInet6
		sa  unsafe.Pointer
		sl  uintptr
	)
	if a.Is4() {
		sa4 = unix.RawSockaddrInet4{Family: unix.AF_INET, Port: netPort(dst.Port()), Addr: a.As4()}
		sa, sl = unsafe.Pointer(&sa4), unix.SizeofSockaddrInet4
	} else {
		sa6 = unix.RawSockaddrInet6{Family: unix.AF_INET6, Port: netPort(dst.Port()), Addr: a.As16()}
		sa, sl = unsafe.Pointer(&sa6), unix.SizeofSockaddrInet6
	}
	rc, err := c.SyscallConn()
	if err != nil {
		return false, nil
	}
	var errno syscall.Errno
	err = rc.Write(func(fd uintptr) bool {
		for {
			_, _, errno = unix.RawSyscall6(unix.SYS_SENDTO, fd, uintptr(unsafe.Pointer(&reply[0])), uintptr(len(reply)), unix.MSG_DONTWAIT, uintptr(sa), sl)
			switch errno {
			case unix.EINTR:
				continue
			case unix.EAGAIN, unix.ENOBUFS:
				return false // a full send buffer: wait for room
			}
			return true
		}
	})
	switch {
	case err != nil:
		return true, err
	case errno == unix.EAFNOSUPPORT || errno == unix.EINVAL:
		return false, nil
	case errno != 0:
		return true, errno
	}
	return true, nil
}
