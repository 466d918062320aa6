//go:build !linux

package resolver

import (
	"errors"
	"net"
	"net/netip"

	"golang.org/x/sys/unix"
)

// Elsewhere an exchange's socket calls go through net and the syscall
// package (udpio_linux.go says why Linux makes them directly).

func sendRaw(c *net.UDPConn, pkt []byte) error {
	_, err := c.Write(pkt)
	return err
}

func recvRaw(c *net.UDPConn, buf []byte) (int, error) { return c.Read(buf) }

// writeToRaw never sends: the caller writes through net.
func writeToRaw(c *net.UDPConn, reply []byte, dst netip.AddrPort) (bool, error) { return false, nil }

// connectRaw connects fd to an IPv4 server and discards up to maxDrain
// datagrams queued before, reporting whether the queue is then empty.
func connectRaw(fd uintptr, server netip.AddrPort) (empty bool, err error) {
	sa := &unix.SockaddrInet4{Port: int(server.Port()), Addr: server.Addr().Unmap().As4()}
	if err := unix.Connect(int(fd), sa); err != nil {
		return false, err
	}
	var buf [1]byte
	for range maxDrain {
		_, _, rerr := unix.Recvfrom(int(fd), buf[:], unix.MSG_DONTWAIT|unix.MSG_TRUNC)
		if errors.Is(rerr, unix.EAGAIN) {
			return true, nil
		}
	}
	return false, nil
}
