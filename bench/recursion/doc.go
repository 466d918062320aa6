//go:build linux

// Command recursion compares Gatehouse's recursion and DNSSEC validation
// with Unbound's on a private fake internet (GitHub issue 3).
//
// It signs a small DNS hierarchy in memory (internal/dnstest) and serves it
// from authoritative servers on 127.0.0.2 to 127.0.0.20, port 53, UDP and
// TCP: a signed root, the TLDs test. (NSEC) and example. (NSEC3 opt-out),
// and leaf zones signed with NSEC, with NSEC3, with NSEC3 opt-out, unsigned,
// with expired signatures, with a DS that matches no key, and a glueless
// delegation, holding wildcards, a DNAME and CNAME chains across zones. It
// writes a root hints file and a trust anchor file (the root's DS) and
// starts Gatehouse (built from ./cmd/gatehouse, recursive mode with those
// two files) and Unbound (the Debian package, with the same two files) on
// 127.0.0.1.
//
// Parity: every question of the table in parity.go is asked of both, with
// DO, with DO and CD, and plainly, and the rcode, AD bit and answer section
// are compared; EDE codes are shown. Benchmark: in fresh processes (cold
// caches), each resolver resolves every question in turn, one resolver
// after the other so the name servers' query counts are attributable; the
// report gives name server queries per question and latencies, cold and
// warm, as medians over the rounds, which alternate the order.
//
//	go run ./bench/recursion [-rounds 5] [-delay 0] [-v]
//
// It needs root (port 53 on loopback addresses) and unbound. Every process
// it starts is killed when it exits. docs/performance.md records its
// results.
package main
