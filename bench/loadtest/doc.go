//go:build linux

// Command loadtest is the cache-hit load test of Gatehouse against Unbound.
//
// It starts three processes on 127.0.0.1, all in a temporary directory: a
// backend Unbound serving N names as a static local zone, and, in front of
// it, Gatehouse (forward mode, full query pipeline) and a comparison Unbound
// (forwarding "." to the backend, no validation). After warming both caches
// with every name it drives each server in turn with dnsperf, alternating
// the order every round: a saturation phase (queries per second, lost
// queries, latency percentiles) and a fixed-rate phase (server CPU time per
// answered query, from /proc/PID/stat before and after). It prints the
// medians over the rounds, peak RSS (VmHWM) and the ratios
// Gatehouse/Unbound, as a table or as JSON (-json).
//
//	go run ./bench/loadtest [-names 10000] [-rounds 3] [-duration 10s] [-rate 20000] [-json]
//
// It needs dnsperf and unbound (the Debian packages) and Linux (/proc).
// Every process it starts runs in its own process group and is killed when
// the harness exits, also on error and on Ctrl-C. docs/performance.md
// records its results.
package main
