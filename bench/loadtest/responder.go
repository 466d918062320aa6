//go:build linux

package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/signal"
	"runtime"
	"syscall"

	"golang.org/x/sys/unix"
)

// responderEnv, when set to an address, makes this binary (or the test
// binary, see TestMain) run the baseline responder instead of the harness.
// The harness starts it that way so the responder is a process of its own,
// measured exactly like the real servers.
const responderEnv = "GATEHOUSE_LOADTEST_RESPONDER"

// responderMain runs the baseline responder on addr until SIGTERM or
// SIGINT and returns the process exit code.
func responderMain(addr string) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := serveEcho(ctx, addr, runtime.NumCPU()); err != nil {
		fmt.Fprintln(os.Stderr, "responder:", err)
		return 1
	}
	return 0
}

// serveEcho is the floor for a Go UDP server: it answers every query by
// sending it back with QR and RA set, doing no DNS work at all, with the
// same socket layout and calls as Gatehouse's listener (one goroutine per
// SO_REUSEPORT socket, ReadMsgUDPAddrPort then WriteToUDPAddrPort). What
// it costs per query is what the Go runtime and the kernel cost; what
// Gatehouse costs beyond it is Gatehouse's own work.
func serveEcho(ctx context.Context, addr string, sockets int) error {
	lc := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		if err := c.Control(func(fd uintptr) {
			serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1)
		}); err != nil {
			return err
		}
		return serr
	}}
	conns := make([]*net.UDPConn, 0, sockets)
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for range max(1, sockets) {
		pc, err := lc.ListenPacket(ctx, "udp", addr)
		if err != nil {
			return fmt.Errorf("listening on %s: %w", addr, err)
		}
		conns = append(conns, pc.(*net.UDPConn))
	}
	for _, c := range conns {
		go echoLoop(c)
	}
	<-ctx.Done()
	return nil
}

func echoLoop(c *net.UDPConn) {
	pkt := make([]byte, 65535)
	oob := make([]byte, 64)
	for {
		n, _, _, src, err := c.ReadMsgUDPAddrPort(pkt, oob)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		if n < 12 || pkt[2]&0x80 != 0 { // not a DNS header, or a response
			continue
		}
		pkt[2] |= 0x80 // QR
		pkt[3] |= 0x80 // RA
		_, _ = c.WriteToUDPAddrPort(pkt[:n], src)
	}
}
