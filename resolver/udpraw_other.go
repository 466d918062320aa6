//go:build !linux

package resolver

import "net/netip"

// udpRaw is the Linux read loop's direct system-call state
// (udpraw_linux.go); elsewhere the portable loop serves every socket.
type udpRaw struct{}

// queue never takes a reply: there is no batch to send it with.
func (*udpRaw) queue(reply, oob []byte, dst netip.AddrPort) bool { return false }

func (s *Server) serveUDPRaw(u udpListener) error {
	s.serveUDPConn(u)
	return nil
}
