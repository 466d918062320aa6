package resolver

import (
	"encoding/binary"
	"net"
	"net/netip"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// oobSize fits one IPv6 packet-info control message (the larger of the two).
var oobSize = unix.CmsgSpace(unix.SizeofInet6Pktinfo)

// reusePortBalances reports whether several sockets can share a UDP port
// with the kernel spreading packets across them.
const reusePortBalances = true

// reusePort lets several sockets share one UDP port; the kernel spreads
// packets across them, so each core's read loop gets its share.
func reusePort(network, address string, c syscall.RawConn) error {
	var serr error
	err := c.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1)
	})
	if err != nil {
		return err
	}
	return serr
}

// setPktinfo asks the kernel to report each packet's destination address.
// A socket bound to a wildcard address must reply from the address the
// client sent to, or the client drops the reply (hosts with several
// addresses, virtual IPs for a secondary resolver).
func setPktinfo(c *net.UDPConn) error {
	rc, err := c.SyscallConn()
	if err != nil {
		return err
	}
	var err4, err6 error
	err = rc.Control(func(fd uintptr) {
		err4 = unix.SetsockoptInt(int(fd), unix.IPPROTO_IP, unix.IP_PKTINFO, 1)
		err6 = unix.SetsockoptInt(int(fd), unix.IPPROTO_IPV6, unix.IPV6_RECVPKTINFO, 1)
	})
	if err != nil {
		return err
	}
	if err4 != nil && err6 != nil { // one of them fails on a single-family socket
		return err4
	}
	return nil
}

// parsePktinfo finds the destination address in a control message without
// allocating.
func parsePktinfo(oob []byte) (netip.Addr, uint32) {
	hdr := unix.CmsgLen(0)
	for len(oob) >= hdr {
		h := (*unix.Cmsghdr)(unsafe.Pointer(&oob[0]))
		l := int(h.Len)
		if l < hdr || l > len(oob) {
			break
		}
		data := oob[hdr:l]
		switch {
		case h.Level == unix.IPPROTO_IP && h.Type == unix.IP_PKTINFO && len(data) >= unix.SizeofInet4Pktinfo:
			// struct in_pktinfo { int ifindex; in_addr spec_dst; in_addr addr; }
			return netip.AddrFrom4([4]byte(data[8:12])), 0
		case h.Level == unix.IPPROTO_IPV6 && h.Type == unix.IPV6_PKTINFO && len(data) >= unix.SizeofInet6Pktinfo:
			// struct in6_pktinfo { in6_addr addr; unsigned ifindex; }
			return netip.AddrFrom16([16]byte(data[0:16])), binary.NativeEndian.Uint32(data[16:20])
		}
		oob = oob[min(unix.CmsgSpace(l-hdr), len(oob)):]
	}
	return netip.Addr{}, 0
}

// appendPktinfo builds the control message that sets a reply's source
// address.
func appendPktinfo(dst []byte, local netip.Addr, ifidx uint32) []byte {
	if local.Is4() || local.Is4In6() {
		n := unix.CmsgSpace(unix.SizeofInet4Pktinfo)
		dst = append(dst, make([]byte, n)...)[:n]
		h := (*unix.Cmsghdr)(unsafe.Pointer(&dst[0]))
		h.Level, h.Type = unix.IPPROTO_IP, unix.IP_PKTINFO
		h.SetLen(unix.CmsgLen(unix.SizeofInet4Pktinfo))
		a := local.Unmap().As4()
		copy(dst[unix.CmsgLen(0)+4:], a[:]) // spec_dst
		return dst
	}
	n := unix.CmsgSpace(unix.SizeofInet6Pktinfo)
	dst = append(dst, make([]byte, n)...)[:n]
	h := (*unix.Cmsghdr)(unsafe.Pointer(&dst[0]))
	h.Level, h.Type = unix.IPPROTO_IPV6, unix.IPV6_PKTINFO
	h.SetLen(unix.CmsgLen(unix.SizeofInet6Pktinfo))
	a := local.As16()
	copy(dst[unix.CmsgLen(0):], a[:])
	binary.NativeEndian.PutUint32(dst[unix.CmsgLen(0)+16:], ifidx)
	return dst
}
