//go:build !linux

package main

import (
	"errors"
	"net"
)

// peerUID is only implemented on Linux, the platform Gatehouse ships on;
// elsewhere the creator is recorded as "unknown".
func peerUID(*net.UnixConn) (uint32, error) {
	return 0, errors.New("peer credentials are only read on Linux")
}

func userName(uint32) string { return "unknown" }

func listenPrivate(path string) (net.Listener, error) { return net.Listen("unix", path) }
