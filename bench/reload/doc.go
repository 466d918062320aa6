//go:build linux

// Command reload is issue 4's reload-under-load benchmark: it starts the
// real gatehouse binary on 127.0.0.1 with one block list file of a million
// names, drives it with dnsperf at a fixed rate, and replaces the list file
// (write aside, atomic rename, as list tools do) several times during the
// run. It reports the queries that failed or were lost (the target is
// none), how long each reload took, and Gatehouse's resident memory: the
// steady level before the first swap against the peak during the swaps,
// sampled from /proc/PID/status (VmRSS) and from VmHWM, which the harness
// resets before the first swap (target: peak at most 1.5 times steady).
//
//	go run ./bench/reload                      # 1M names, 5 swaps
//	go run ./bench/reload -names 5000000 -json
//
// Half of dnsperf's queries are cache hits for names the harness's own
// authority (in this process, on loopback, REFUSED for anything outside
// bench.test.) answers; the other half are listed names, which Gatehouse
// blocks with NXDOMAIN. After each swap the harness checks that the new
// version is in force: a marker name only the new version lists is
// blocked, and the previous version's marker is answered again. Nothing
// leaves the machine. `go test ./bench/reload` runs a small version (20,000
// names, 2 swaps, a few seconds); it is skipped without dnsperf, and fails
// instead under CI=true. See docs/performance.md.
package main
