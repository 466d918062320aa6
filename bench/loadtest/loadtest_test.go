//go:build linux

package main

import (
	"bytes"
	"context"
	"errors"
	"math"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"

	"gatehouse/bench/internal/dnsperf"
	"gatehouse/config"
	"gatehouse/internal/syncbuf"
)

func readTestdata(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestMedian(t *testing.T) {
	tests := []struct {
		in   []float64
		want float64
	}{{nil, 0}, {[]float64{3}, 3}, {[]float64{9, 1, 5}, 5}, {[]float64{4, 1, 3, 2}, 2.5}}
	for _, tt := range tests {
		in := append([]float64(nil), tt.in...)
		if got := median(tt.in); got != tt.want {
			t.Errorf("median(%v) = %v, want %v", in, got, tt.want)
		}
		for i := range in {
			if in[i] != tt.in[i] {
				t.Errorf("median reordered its input: %v", tt.in)
			}
		}
	}
}

func TestParseStatCPU(t *testing.T) {
	got, err := parseStatCPU(readTestdata(t, "proc-pid-stat.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if got != (procCPU{User: 6, System: 6}) || got.total() != 12 {
		t.Errorf("cpu ticks = %+v, want utime 6 and stime 6", got)
	}
	// A command name with spaces and a ')' must not shift the fields.
	odd := []byte("77 (a) b c) S 1 77 77 0 -1 4194304 10 0 0 0 150 25 0 0 20 0 3 0 100 1000 50")
	if got, err := parseStatCPU(odd); err != nil || got != (procCPU{User: 150, System: 25}) {
		t.Errorf("parseStatCPU(odd name) = %+v, %v; want utime 150, stime 25", got, err)
	}
	for _, bad := range []string{"", "1 (x", "1 (x) S 1 2", "1 (x) S 1 77 77 0 -1 4194304 10 0 0 0 ten 25 0"} {
		if _, err := parseStatCPU([]byte(bad)); err == nil {
			t.Errorf("parseStatCPU(%q) succeeded", bad)
		}
	}
	// The live file parses too.
	if _, err := cpuTicks(os.Getpid()); err != nil {
		t.Error(err)
	}
}

func TestParseUDPDrops(t *testing.T) {
	in := readTestdata(t, "proc-net-udp.txt")
	tests := []struct {
		port int
		want map[uint64]int64
	}{
		{42433, map[uint64]int64{126111: 0, 126110: 0}}, // Gatehouse: two SO_REUSEPORT sockets
		{33359, map[uint64]int64{125758: 0, 125756: 0}}, // Unbound: two threads
		{35389, map[uint64]int64{125733: 0}},            // the backend
		{53, map[uint64]int64{}},
	}
	for _, tt := range tests {
		got, err := parseUDPDrops(bytes.NewReader(in), tt.port)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(tt.want) {
			t.Errorf("port %d: %v, want %v", tt.port, got, tt.want)
		}
		for k, v := range tt.want {
			if d, ok := got[k]; !ok || d != v {
				t.Errorf("port %d: %v, want %v", tt.port, got, tt.want)
			}
		}
	}
	withDrops := strings.Replace(string(in), "00000000a49d506c 0", "00000000a49d506c 17", 1)
	got, err := parseUDPDrops(strings.NewReader(withDrops), 42433)
	if err != nil || got[126111] != 17 {
		t.Errorf("drops = %v, %v; want 17 on inode 126111", got, err)
	}
}

func TestParseSNMP(t *testing.T) {
	c, err := parseSNMP(bytes.NewReader(readTestdata(t, "proc-net-snmp.txt")))
	if err != nil {
		t.Fatal(err)
	}
	if c.InDatagrams <= 0 {
		t.Errorf("InDatagrams = %d, want > 0", c.InDatagrams)
	}
	in := "Udp: InDatagrams NoPorts InErrors OutDatagrams RcvbufErrors SndbufErrors\nUdp: 100 1 7 90 5 2\n"
	c, err = parseSNMP(strings.NewReader(in))
	if err != nil || c != (udpCounters{InDatagrams: 100, InErrors: 7, RcvbufErrors: 5, SndbufErrors: 2}) {
		t.Errorf("parseSNMP = %+v, %v", c, err)
	}
	if d := c.sub(udpCounters{InDatagrams: 40, RcvbufErrors: 1}); d.InDatagrams != 60 || d.RcvbufErrors != 4 || d.InErrors != 7 {
		t.Errorf("sub = %+v", d)
	}
	for _, bad := range []string{"", "Udp: InDatagrams\n", "Udp: A B\nUdp: 1\n", "Udp: InDatagrams\nUdp: x\n"} {
		if _, err := parseSNMP(strings.NewReader(bad)); err == nil {
			t.Errorf("parseSNMP(%q) succeeded", bad)
		}
	}
}

func TestParseHostCPU(t *testing.T) {
	c, err := parseHostCPU(readTestdata(t, "proc-stat.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Total <= c.Idle || c.Idle <= 0 {
		t.Errorf("host cpu %+v: want 0 < idle < total", c)
	}
	c, err = parseHostCPU([]byte("cpu  10 1 5 100 4 0 3 2 0 0\ncpu0 1 1 1 1 1 1 1 1 0 0\n"))
	if err != nil || c != (hostCPU{Total: 125, Idle: 104, Tasks: 16, IRQ: 3, Steal: 2}) {
		t.Errorf("parseHostCPU = %+v, %v", c, err)
	}
	if _, err := parseHostCPU([]byte("intr 1 2 3\n")); err == nil {
		t.Error("parseHostCPU without a cpu line succeeded")
	}
}

func TestParseMetrics(t *testing.T) {
	m, err := parseMetrics(bytes.NewReader(readTestdata(t, "metrics.txt")))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]float64{
		"gatehouse_cache_hits_total":     201,
		"gatehouse_cache_misses_total":   2000,
		"gatehouse_server_queries_total": 2201, // summed over proto and type
		"go_gc_duration_seconds_count":   5,
	}
	for k, v := range want {
		if m[k] != v {
			t.Errorf("%s = %v, want %v", k, m[k], v)
		}
	}
	if _, err := parseMetrics(strings.NewReader("x{a=\"1\" 3\n")); err == nil {
		t.Error("unclosed labels accepted")
	}
	if _, err := parseMetrics(strings.NewReader("x notanumber\n")); err == nil {
		t.Error("bad value accepted")
	}
	g := gatehouseCounters(map[string]float64{"gatehouse_cache_hits_total": 10}, m)
	if g.CacheHits != 191 || g.CacheMisses != 2000 || g.GCCycles != 5 || g.Mallocs != 184163 || g.Threads != 9 {
		t.Errorf("gatehouseCounters = %+v", g)
	}
}

func TestParseUnboundStats(t *testing.T) {
	got, err := parseUnboundStats(bytes.NewReader(readTestdata(t, "unbound.log")))
	if err != nil {
		t.Fatal(err)
	}
	want := []unboundThread{
		{Thread: 0, Queries: 149031, CacheAnswers: 148173, Recursions: 858},
		{Thread: 1, Queries: 116385, CacheAnswers: 115243, Recursions: 1142},
	}
	if len(got) != len(want) {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("thread %d: %+v, want %+v", i, got[i], want[i])
		}
	}
}

func TestMakeNames(t *testing.T) {
	const n = 70000 // past 65536, where the address's third octet wraps
	names := makeNames(n)
	seenName := map[string]bool{}
	seenAddr := map[netip.Addr]bool{}
	zone := netip.MustParsePrefix("198.18.0.0/15")
	for _, bn := range names {
		if _, ok := dns.IsDomainName(bn.Name); !ok || !dns.IsFqdn(bn.Name) || !dns.IsSubDomain(benchZone, bn.Name) {
			t.Fatalf("%q is not a fully qualified name under %s", bn.Name, benchZone)
		}
		if strings.ToLower(bn.Name) != bn.Name {
			t.Fatalf("%q is not lower case", bn.Name)
		}
		if !zone.Contains(bn.Addr) {
			t.Fatalf("%s is outside %s", bn.Addr, zone)
		}
		if seenName[bn.Name] || seenAddr[bn.Addr] {
			t.Fatalf("duplicate %s %s", bn.Name, bn.Addr)
		}
		seenName[bn.Name], seenAddr[bn.Addr] = true, true
	}
	in := dnsperfInput(names[:2])
	if in != "www.maple0.bench.test A\nwww.maple1.bench.test A\n" {
		t.Errorf("dnsperf input = %q", in)
	}
}

// The generated Gatehouse configuration is one the real parser accepts, with
// the settings the benchmark depends on.
func TestGatehouseConfig(t *testing.T) {
	for _, names := range []int{500, 10000, 300000} {
		cfg, err := config.Parse("bench.yaml", []byte(gatehouseConfig(5300, 8300, 5400, names, "/var/lib/gatehouse-bench", true)))
		if err != nil {
			t.Fatalf("names=%d: %v", names, err)
		}
		if cfg.Cache.Size < 2*names {
			t.Errorf("names=%d: cache size %d, want at least %d", names, cfg.Cache.Size, 2*names)
		}
		if cfg.Access.RateLimit.QueriesPerSecond != 0 {
			t.Errorf("rate limit %d, want off", cfg.Access.RateLimit.QueriesPerSecond)
		}
		if len(cfg.Resolver.Upstreams) != 1 || cfg.Resolver.Upstreams[0].Address != netip.MustParseAddrPort("127.0.0.1:5400") {
			t.Errorf("upstreams = %+v", cfg.Resolver.Upstreams)
		}
		if len(cfg.Listen.DNS) != 1 || cfg.Listen.HTTP == nil {
			t.Errorf("listen = %+v", cfg.Listen)
		}
		if !cfg.Access.Allow[0].Contains(netip.MustParseAddr("127.0.0.1")) {
			t.Errorf("allow = %v", cfg.Access.Allow)
		}
	}
}

// The generated Unbound configurations pass unbound-checkconf.
func TestUnboundConfigs(t *testing.T) {
	checkconf, err := exec.LookPath("unbound-checkconf")
	if err != nil {
		skipOrFail(t, "unbound-checkconf not installed")
	}
	dir := t.TempDir()
	for name, text := range map[string]string{
		"backend.conf":     backendConfig(dir, 5400, makeNames(50)),
		"unbound.conf":     unboundFrontConfig(dir, unboundName, 5500, 5400, false),
		"unbound-log.conf": unboundFrontConfig(dir, unboundLogName, 5600, 5400, true),
	} {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		if out, err := exec.Command(checkconf, path).CombinedOutput(); err != nil {
			t.Errorf("%s: %v\n%s\n%s", name, err, out, text)
		}
	}
}

func TestParseFlags(t *testing.T) {
	o, err := parseFlags(nil, &bytes.Buffer{})
	if err != nil {
		t.Fatalf("defaults: %v", err)
	}
	if o.Names != 10000 || o.Rounds != 3 || o.Duration != 10*time.Second || o.Rate != 20000 {
		t.Errorf("defaults = %+v", o)
	}
	o, err = parseFlags([]string{"-names", "500", "-rounds", "1", "-duration", "2s", "-json", "-dnsperf-cpus", "none"}, &bytes.Buffer{})
	if err != nil || o.Names != 500 || o.Rounds != 1 || o.Duration != 2*time.Second || !o.JSON || o.DnsperfCPUs != "none" {
		t.Errorf("parseFlags = %+v, %v", o, err)
	}
	for _, bad := range [][]string{
		{"-names", "0"}, {"-rounds", "0"}, {"-duration", "1ms"}, {"-rate", "0"},
		{"-threads", "4", "-clients", "2"}, {"-outstanding", "0"}, {"extra"}, {"-nosuchflag"},
		{"-max-noise", "-1"}, {"-retries", "-1"}, {"-nice", "-21"},
	} {
		if _, err := parseFlags(bad, &bytes.Buffer{}); err == nil {
			t.Errorf("parseFlags(%q) succeeded", bad)
		}
	}
}

func TestNewPhaseResultSplitsCPU(t *testing.T) {
	st := &dnsperf.Stats{Sent: 1000, Completed: 800, QPS: 800, RunTime: 1}
	pr := newPhaseResult(st, cpuSeconds{User: 0.002, System: 0.006}, 0.5)
	near := func(got, want float64) bool { return math.Abs(got-want) < 1e-9 }
	if !near(pr.ServerCPUSeconds, 0.008) || !near(pr.CPUPerQueryUs, 10) || !near(pr.UserPerQueryUs, 2.5) || !near(pr.SystemPerQueryUs, 7.5) {
		t.Errorf("server cpu %v s, %v µs/query = %v user + %v kernel; want 0.008 s, 10 = 2.5 + 7.5",
			pr.ServerCPUSeconds, pr.CPUPerQueryUs, pr.UserPerQueryUs, pr.SystemPerQueryUs)
	}
	m := summarize([]round{{Saturation: pr, Fixed: pr}})
	if !near(m.UserPerQueryUs, 2.5) || !near(m.SystemPerQueryUs, 7.5) {
		t.Errorf("medians: user %v, kernel %v µs/query; want 2.5, 7.5", m.UserPerQueryUs, m.SystemPerQueryUs)
	}
}

func TestReportFinish(t *testing.T) {
	st := &dnsperf.Stats{Sent: 1000, Completed: 990, Lost: 10, QPS: 990, RunTime: 1, Rcodes: map[string]int64{"NOERROR": 985, "SERVFAIL": 5}}
	res := func(name string, qps, cpu float64) serverResult {
		pr := newPhaseResult(st, cpuSeconds{User: 0.25, System: 0.25}, 0.5)
		pr.QPS, pr.CPUPerQueryUs = qps, cpu
		return serverResult{Name: name, Rounds: []round{{Saturation: pr, Fixed: pr}}, Median: summary{QPS: qps, CPUPerQueryUs: cpu}}
	}
	tests := []struct {
		gQPS, uQPS, gCPU, uCPU float64
		qpsRatio, cpuRatio     float64
		tputMet, cpuMet        bool
	}{
		{100000, 80000, 5, 10, 1.25, 0.5, true, true},
		{60000, 80000, 20, 10, 0.75, 2, false, false},
		{80000, 80000, 10, 10, 1, 1, true, true},
	}
	for _, tt := range tests {
		rep := &report{Options: options{Rate: 20000}, Servers: []serverResult{res(gatehouseName, tt.gQPS, tt.gCPU), res(unboundName, tt.uQPS, tt.uCPU)}}
		rep.finish()
		if rep.QPSRatio != tt.qpsRatio || rep.CPUPerQueryRatio != tt.cpuRatio || rep.ThroughputTargetMet != tt.tputMet || rep.CPUTargetMet != tt.cpuMet {
			t.Errorf("%+v: ratios %v %v, met %v %v", tt, rep.QPSRatio, rep.CPUPerQueryRatio, rep.ThroughputTargetMet, rep.CPUTargetMet)
		}
		var table bytes.Buffer
		writeTable(&table, rep)
		if want := strconv.FormatFloat(tt.qpsRatio, 'f', 2, 64); !strings.Contains(table.String(), want) {
			t.Errorf("table lacks the qps ratio %s:\n%s", want, table.String())
		}
	}
	// Losses above 0.1 % and rcodes other than NOERROR are flagged; the
	// fixed rate was not reached (990 of 20000 q/s).
	rep := &report{Options: options{Rate: 20000, MaxNoise: 20}, Servers: []serverResult{res(gatehouseName, 990, 1), res(unboundName, 990, 1)}}
	rep.Servers[1].Rounds[0].Fixed.OtherCPUSeconds = 0.5 // of a 1 s run
	rep.Servers[1].Rounds[0].Fixed.Attempts = 4
	rep.Servers[0].Rounds[0].Fixed.LogDropped = 1234
	rep.Servers[0].Rounds[0].Saturation.LogDropped = 99 // under saturation, by design: no warning
	rep.finish()
	all := strings.Join(rep.Warnings, "\n")
	if strings.Contains(all, "dropped 99") {
		t.Errorf("warned of entries dropped under saturation:\n%s", all)
	}
	for _, want := range []string{"1.00% of queries lost", "5 SERVFAIL responses", "answered 990 q/s of the 20000 offered",
		"gatehouse round 1 fixed: the query log dropped 1234 entries at 20000 q/s",
		"unbound: 1 of 2 phases disturbed even after retries: other processes used 50% to 50% of a core (limit 20%)"} {
		if !strings.Contains(all, want) {
			t.Errorf("warnings lack %q:\n%s", want, all)
		}
	}
}

// skipOrFail skips a test that needs missing software, except on CI
// (CI=true), where .ci/run installs it and a skip would hide a broken
// install step.
func skipOrFail(t *testing.T, why string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s (CI=true: .ci/run should have installed it)", why)
	}
	t.Skip(why)
}

func needTools(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("starts servers and runs dnsperf; skipped with -short")
	}
	for _, bin := range []string{"dnsperf", "unbound"} {
		if _, err := exec.LookPath(bin); err != nil {
			skipOrFail(t, bin+" not installed (apt-get install dnsperf unbound)")
		}
	}
	if _, err := exec.LookPath("go"); err != nil {
		skipOrFail(t, "go not on PATH: needed to build gatehouse")
	}
}

func smokeOptions(t *testing.T) options {
	o := defaultOptions()
	o.Names = 500
	o.Rounds = 1
	o.Duration = time.Second
	o.Rate = 5000
	o.Pause = 100 * time.Millisecond
	o.Retries = 0 // CI machines are busy; the smoke test checks sanity, not figures
	o.TempDir = t.TempDir()
	// A prebuilt binary, for when the working tree does not build.
	o.Gatehouse = os.Getenv("LOADTEST_GATEHOUSE")
	return o
}

// gone reports whether no process with this pid exists any more.
func gone(pid int) bool {
	return errors.Is(syscall.Kill(pid, 0), syscall.ESRCH)
}

// TestSmoke runs the whole harness with tiny settings and -unbound-log: it
// must measure every server, find every measured query a cache hit, and
// leave no process or file behind.
func TestSmoke(t *testing.T) {
	needTools(t)
	o := smokeOptions(t)
	o.UnboundLog = true
	var progress syncbuf.Buffer
	rep, err := run(t.Context(), o, "smoke", &progress)
	t.Log(progress.String())
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Servers) != 4 || rep.Servers[0].Name != gatehouseName || rep.Servers[1].Name != unboundName ||
		rep.Servers[2].Name != unboundLogName || rep.Servers[3].Name != baselineName {
		t.Fatalf("servers = %+v", rep.Servers)
	}
	for _, s := range rep.Servers {
		m := s.Median
		if m.QPS <= 0 || m.FixedQPS <= 0 {
			t.Errorf("%s: qps %v, fixed %v; want > 0", s.Name, m.QPS, m.FixedQPS)
		}
		if m.CPUPerQueryUs <= 0 || m.SatCPUPerQueryUs <= 0 {
			t.Errorf("%s: cpu per query %v (fixed), %v (saturation); want > 0", s.Name, m.CPUPerQueryUs, m.SatCPUPerQueryUs)
		}
		if m.P50Ms <= 0 || m.P99Ms < m.P50Ms || m.FixedP50Ms <= 0 || m.FixedP99Ms < m.FixedP50Ms {
			t.Errorf("%s: latency p50/p99 %v/%v (saturation), %v/%v (fixed)", s.Name, m.P50Ms, m.P99Ms, m.FixedP50Ms, m.FixedP99Ms)
		}
		if s.PeakRSSKiB <= 0 || s.RSSKiB <= 0 || s.RSSKiB > s.PeakRSSKiB {
			t.Errorf("%s: rss %d KiB, peak %d KiB", s.Name, s.RSSKiB, s.PeakRSSKiB)
		}
		for _, r := range s.Rounds {
			for _, p := range []phaseResult{r.Saturation, r.Fixed} {
				if n := p.Dnsperf.Rcodes["NOERROR"]; n != p.Dnsperf.Completed {
					t.Errorf("%s: %d NOERROR of %d answers: %v", s.Name, n, p.Dnsperf.Completed, p.Dnsperf.Rcodes)
				}
				if p.UserPerQueryUs < 0 || p.SystemPerQueryUs < 0 || math.Abs(p.UserPerQueryUs+p.SystemPerQueryUs-p.CPUPerQueryUs) > 1e-6*p.CPUPerQueryUs {
					t.Errorf("%s: cpu per query %v = user %v + kernel %v?", s.Name, p.CPUPerQueryUs, p.UserPerQueryUs, p.SystemPerQueryUs)
				}
				if isGatehouse := s.Name == gatehouseName; isGatehouse != (p.GoProcs >= 1) {
					t.Errorf("%s: go procs %v; want it read from Gatehouse's metrics only", s.Name, p.GoProcs)
				}
			}
		}
		if !gone(s.PID) {
			t.Errorf("%s (pid %d) still running after run returned", s.Name, s.PID)
		}
	}
	g := rep.Servers[0].Gatehouse
	if g == nil || g.CacheHits <= 0 || g.CacheMisses != 0 {
		t.Errorf("gatehouse counters %+v: want hits and no misses while measuring", g)
	}
	var cached int64
	for _, th := range rep.Servers[1].UnboundThreads {
		cached += th.CacheAnswers
	}
	if cached <= 0 {
		t.Errorf("unbound threads %+v: want cache answers", rep.Servers[1].UnboundThreads)
	}
	if rep.QPSRatio <= 0 || rep.CPUPerQueryRatio <= 0 {
		t.Errorf("ratios %v, %v; want > 0", rep.QPSRatio, rep.CPUPerQueryRatio)
	}
	if left, _ := filepath.Glob(filepath.Join(o.TempDir, "*")); len(left) != 0 {
		t.Errorf("work directory left behind: %v", left)
	}
}

// TestCancelStopsEverything cancels a run (as Ctrl-C does) while the
// servers are up, and checks every process it started is gone.
func TestCancelStopsEverything(t *testing.T) {
	needTools(t)
	o := smokeOptions(t)
	o.Hold = true
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	progress := &syncbuf.Buffer{}
	holding := regexp.MustCompile(`holding \(Ctrl-C to stop\): (.*); names in`)
	pidRe := regexp.MustCompile(`pid (\d+)`)
	errc := make(chan error, 1)
	go func() {
		_, err := run(ctx, o, "cancel", progress)
		errc <- err
	}()
	var pids []int
	for pids == nil {
		select {
		case err := <-errc:
			t.Fatalf("run returned before holding: %v\n%s", err, progress.String())
		case <-time.After(50 * time.Millisecond):
		}
		if m := holding.FindStringSubmatch(progress.String()); m != nil {
			for _, pm := range pidRe.FindAllStringSubmatch(m[1], -1) {
				pid, _ := strconv.Atoi(pm[1])
				pids = append(pids, pid)
			}
			if len(pids) != 4 { // gatehouse, unbound, go-echo, backend
				t.Fatalf("holding line %q: want 4 pids", m[0])
			}
		}
	}
	for _, pid := range pids {
		if gone(pid) {
			t.Fatalf("pid %d not running while holding", pid)
		}
	}
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Errorf("run = %v, want context.Canceled", err)
	}
	for _, pid := range pids {
		if !gone(pid) {
			t.Errorf("pid %d still running after cancel", pid)
		}
	}
}

// TestMain lets the harness start this test binary as the baseline
// responder, as it starts itself when run with go run.
func TestMain(m *testing.M) {
	if addr := os.Getenv(responderEnv); addr != "" {
		os.Exit(responderMain(addr))
	}
	os.Exit(m.Run())
}

// The round-by-round ratios pair each server's round i with Unbound's,
// skip rounds Unbound has no figure for, and take their median; the
// report prints them for each Gatehouse measured.
func TestPairedRatios(t *testing.T) {
	rounds := func(qps, cpu []float64) []round {
		rs := make([]round, len(qps))
		for i := range qps {
			rs[i].Saturation.QPS, rs[i].Fixed.CPUPerQueryUs = qps[i], cpu[i]
			rs[i].Saturation.Dnsperf = &dnsperf.Stats{RunTime: 1}
			rs[i].Fixed.Dnsperf = &dnsperf.Stats{RunTime: 1}
		}
		return rs
	}
	rep := report{Options: options{Rate: 20000}, Servers: []serverResult{
		{Name: gatehouseName, Rounds: rounds([]float64{100, 90, 120}, []float64{20, 30, 10})},
		{Name: unboundName, Rounds: rounds([]float64{100, 100, 100}, []float64{10, 0, 20})},
		{Name: noLogName, Rounds: rounds([]float64{110, 100, 105}, []float64{11, 10, 22})},
	}}
	rep.finish()
	if len(rep.Paired) != 2 || rep.Paired[0].Server != gatehouseName || rep.Paired[1].Server != noLogName {
		t.Fatalf("Paired = %+v; want gatehouse then gatehouse-nolog", rep.Paired)
	}
	g := rep.Paired[0]
	if want := []float64{1, 0.9, 1.2}; !slices.Equal(g.QPS, want) || g.QPSMedian != 1 {
		t.Errorf("q/s ratios %v median %v, want %v median 1", g.QPS, g.QPSMedian, want)
	}
	// Unbound's second round has no CPU figure: that round is left out.
	if want := []float64{2, 0.5}; !slices.Equal(g.CPUPerQuery, want) || g.CPUPerQueryMed != 1.25 {
		t.Errorf("CPU ratios %v median %v, want %v median 1.25", g.CPUPerQuery, g.CPUPerQueryMed, want)
	}
	var out strings.Builder
	writeTable(&out, &rep)
	if want := "gatehouse-nolog/unbound round by round: q/s 1.10 1.00 1.05 (median 1.05); CPU per query 1.10 1.10 (median 1.10)"; !strings.Contains(out.String(), want) {
		t.Errorf("report lacks %q:\n%s", want, out.String())
	}

	// With -unbound-log, Gatehouse logging its queries is also compared
	// with Unbound logging its replies; not when Gatehouse's log is off.
	ul := serverResult{Name: unboundLogName, Rounds: rounds([]float64{50, 60, 100}, []float64{40, 20, 10})}
	for _, queryLog := range []bool{true, false} {
		rep := report{Options: options{Rate: 20000, QueryLog: queryLog}, Servers: append(slices.Clone(rep.Servers[:2]), ul)}
		rep.finish()
		if !queryLog {
			if len(rep.Paired) != 1 {
				t.Errorf("query log off: Paired = %+v, want gatehouse/unbound alone", rep.Paired)
			}
			continue
		}
		if len(rep.Paired) != 2 || rep.Paired[1].Server != gatehouseName || rep.Paired[1].Against != unboundLogName {
			t.Fatalf("Paired = %+v; want gatehouse/unbound then gatehouse/unbound-log", rep.Paired)
		}
		var out strings.Builder
		writeTable(&out, &rep)
		if want := "gatehouse/unbound-log round by round: q/s 2.00 1.50 1.20 (median 1.50); CPU per query 0.50 1.50 1.00 (median 1.00)"; !strings.Contains(out.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, out.String())
		}
	}
}
