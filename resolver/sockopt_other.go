//go:build !linux

package resolver

import (
	"net"
	"net/netip"
	"syscall"
)

// Gatehouse is built for Linux; elsewhere (a developer's laptop) it serves
// with what the portable net package gives: one UDP socket per address,
// and replies from a wildcard listener leave from the address the kernel
// picks, which is right on a host with one address.

// reusePortBalances reports whether several sockets can share a UDP port
// with the kernel spreading packets across them. BSD and macOS
// SO_REUSEPORT does not spread them, so one socket serves each address.
const reusePortBalances = false

var oobSize = 0

func reusePort(network, address string, c syscall.RawConn) error { return nil }

func setPktinfo(c *net.UDPConn) error { return nil }

func parsePktinfo(oob []byte) (netip.Addr, uint32) { return netip.Addr{}, 0 }

func appendPktinfo(dst []byte, local netip.Addr, ifidx uint32) []byte { return dst }
