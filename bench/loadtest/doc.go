//go:build linux

// Command loadtest is the cache-hit load test of Gatehouse against Unbound.
//
// It starts its processes on 127.0.0.1, all in a temporary directory: a
// backend Unbound serving N names as a static local zone, and, in front of
// it, Gatehouse (forward mode, full query pipeline) and a comparison Unbound
// (forwarding "." to the backend, no validation), plus, unless
// -baseline=false, go-echo: this program re-executed as a bare Go UDP
// responder doing no DNS work, the floor for any Go server. Optional
// servers: -nolog, the same Gatehouse with its query log off, and
// -unbound-log, the same Unbound writing a line per reply to its log
// file, so that a Gatehouse logging every query can be compared with an
// Unbound doing the same. After warming
// and checking both caches with every name it drives each server in turn
// with dnsperf, rotating the order every round: a saturation phase (queries
// per second, lost queries, latency percentiles from dnsperf -v) and a
// fixed-rate phase (server CPU time per answered query, from /proc/PID/stat
// before and after; the total is the scheduler's exact runtime, its split
// into user space and kernel is sampled at the clock tick). A phase during
// which other processes took much CPU is run again. It prints the medians
// over the rounds, peak RSS (VmHWM) and the ratios Gatehouse/Unbound of the
// medians, then the same ratios round by round with their median (steadier
// when the machine's state drifts during a run), as a table or as JSON
// (-json, -out).
//
//	go run ./bench/loadtest [-names 10000] [-rounds 3] [-duration 10s] [-rate 20000] [-json]
//	go run ./bench/loadtest -hold   # start and warm the servers, then wait (for profiling)
//
// It needs dnsperf and unbound (the Debian packages) and Linux (/proc).
// Every process it starts runs in its own process group and is killed when
// the harness exits, also on error and on Ctrl-C. docs/performance.md
// records its results.
package main
