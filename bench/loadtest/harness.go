//go:build linux

package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/miekg/dns"

	"gatehouse/bench/internal/benchproc"
	"gatehouse/bench/internal/dnsperf"
)

// The two servers under test, in report order.
const (
	gatehouseName = "gatehouse"
	noLogName     = "gatehouse-nolog" // Gatehouse with its query log off, for issue 6's on/off comparison
	unboundName   = "unbound"
	// unboundLogName is Unbound logging every reply (log-replies), against
	// which Gatehouse with its query log on is compared like for like.
	unboundLogName = "unbound-log"
	baselineName   = "go-echo" // the floor: a Go UDP responder doing no DNS work
)

// target is one server under test.
type target struct {
	name    string
	addr    string // 127.0.0.1:port
	port    int
	proc    *benchproc.Process
	metrics string // Gatehouse's /metrics URL; "" for the others
	verify  func(*dns.Msg, benchName) error
	warm    bool // holds the names in a cache that needs warming
}

// harness is one run: its work directory and the processes it started.
type harness struct {
	o     options
	dir   string
	log   io.Writer // progress
	procs []*benchproc.Process
	hz    int64
	input string // dnsperf data file
	names []benchName
}

// run performs the whole benchmark and returns its report. Every process
// it starts is stopped before it returns, whatever happens.
func run(ctx context.Context, o options, command string, progress io.Writer) (rep *report, err error) {
	if err := o.validate(); err != nil {
		return nil, err
	}
	for _, bin := range []*string{&o.Dnsperf, &o.Unbound} {
		p, err := exec.LookPath(*bin)
		if err != nil {
			return nil, fmt.Errorf("finding %s (install the Debian package): %w", *bin, err)
		}
		*bin = p
	}
	switch o.DnsperfCPUs {
	case "none":
		o.DnsperfCPUs = ""
	case "auto":
		o.DnsperfCPUs = ""
		if n := runtime.NumCPU(); n >= 2 {
			if _, err := exec.LookPath("taskset"); err == nil {
				o.DnsperfCPUs = strconv.Itoa(n - 1)
			}
		}
	}
	if o.DnsperfCPUs != "" {
		if _, err := exec.LookPath("taskset"); err != nil {
			return nil, fmt.Errorf("-dnsperf-cpus needs taskset: %w", err)
		}
	}
	if o.Nice < 0 && os.Geteuid() != 0 {
		return nil, fmt.Errorf("-nice %d needs root", o.Nice)
	}
	dir, err := os.MkdirTemp(o.TempDir, "gatehouse-loadtest-")
	if err != nil {
		return nil, fmt.Errorf("creating work directory: %w", err)
	}
	h := &harness{o: o, dir: dir, log: progress, hz: clockTicks()}
	defer func() {
		h.stopAll()
		if o.Keep || err != nil {
			fmt.Fprintf(progress, "work directory kept: %s\n", dir)
		} else {
			os.RemoveAll(dir)
		}
	}()
	return h.run(ctx, command)
}

func (h *harness) logf(format string, args ...any) {
	fmt.Fprintf(h.log, "%s %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
}

func (h *harness) stopAll() {
	for i := len(h.procs) - 1; i >= 0; i-- {
		h.procs[i].Stop(5 * time.Second)
	}
	h.procs = nil
}

// niced wraps a command in nice(1) when -nice is set, so every thread the
// program starts inherits the priority. nice execs the program: the pid
// stays the program's.
func (h *harness) niced(name string, args []string) (string, []string) {
	if h.o.Nice == 0 {
		return name, args
	}
	return "nice", append([]string{"-n", strconv.Itoa(h.o.Nice), name}, args...)
}

func (h *harness) start(label, name string, args ...string) (*benchproc.Process, error) {
	return h.startEnv(label, nil, name, args...)
}

// startEnv starts a process with env added to the harness's environment,
// at the -nice priority.
func (h *harness) startEnv(label string, env []string, name string, args ...string) (*benchproc.Process, error) {
	name, args = h.niced(name, args)
	p, err := benchproc.Start(label, filepath.Join(h.dir, label+".out"), env, name, args...)
	if err != nil {
		return nil, err
	}
	h.procs = append(h.procs, p)
	return p, nil
}

func (h *harness) run(ctx context.Context, command string) (*report, error) {
	o := h.o
	rep := &report{Command: command, Options: o, Machine: machineInfo(), Started: time.Now().UTC().Format(time.RFC3339)}

	gatehouseBin := o.Gatehouse
	if gatehouseBin == "" {
		gatehouseBin = filepath.Join(h.dir, "gatehouse")
		h.logf("building gatehouse")
		build := exec.CommandContext(ctx, "go", "build", "-o", gatehouseBin, "gatehouse/cmd/gatehouse")
		if out, err := build.CombinedOutput(); err != nil {
			return nil, fmt.Errorf("building gatehouse: %w\n%s", err, out)
		}
	}
	rep.Versions = versions(ctx, o, gatehouseBin)

	h.names = makeNames(o.Names)
	h.input = filepath.Join(h.dir, "names.txt")
	if err := os.WriteFile(h.input, []byte(dnsperfInput(h.names)), 0o644); err != nil {
		return nil, fmt.Errorf("writing names: %w", err)
	}

	// Backend authority.
	bport, err := benchproc.FreePort()
	if err != nil {
		return nil, err
	}
	backendCfg := filepath.Join(h.dir, "backend.conf")
	if err := os.WriteFile(backendCfg, []byte(backendConfig(h.dir, bport, h.names)), 0o644); err != nil {
		return nil, fmt.Errorf("writing backend config: %w", err)
	}
	backend, err := h.start("backend", o.Unbound, "-d", "-c", backendCfg)
	if err != nil {
		return nil, err
	}
	baddr := fmt.Sprintf("127.0.0.1:%d", bport)
	if err := waitReady(ctx, backend, baddr, h.names[0], answerIs, 20*time.Second); err != nil {
		return nil, err
	}
	h.logf("backend unbound on %s with %d names", baddr, len(h.names))

	// Gatehouse.
	gport, err := benchproc.FreePort()
	if err != nil {
		return nil, err
	}
	hport, err := benchproc.FreePort()
	if err != nil {
		return nil, err
	}
	gcfg := filepath.Join(h.dir, "gatehouse.yaml")
	if err := os.WriteFile(gcfg, []byte(gatehouseConfig(gport, hport, bport, o.Names, filepath.Join(h.dir, "state"), o.QueryLog)), 0o644); err != nil {
		return nil, fmt.Errorf("writing gatehouse config: %w", err)
	}
	gproc, err := h.start(gatehouseName, gatehouseBin, "serve", "--config", gcfg)
	if err != nil {
		return nil, err
	}
	gh := &target{name: gatehouseName, port: gport, addr: fmt.Sprintf("127.0.0.1:%d", gport), proc: gproc,
		metrics: fmt.Sprintf("http://127.0.0.1:%d/metrics", hport), verify: answerIs, warm: true}

	// Comparison Unbound.
	uport, err := benchproc.FreePort()
	if err != nil {
		return nil, err
	}
	ucfg := filepath.Join(h.dir, "unbound.conf")
	if err := os.WriteFile(ucfg, []byte(unboundFrontConfig(h.dir, unboundName, uport, bport, false)), 0o644); err != nil {
		return nil, fmt.Errorf("writing unbound config: %w", err)
	}
	uproc, err := h.start(unboundName, o.Unbound, "-d", "-c", ucfg)
	if err != nil {
		return nil, err
	}
	ub := &target{name: unboundName, port: uport, addr: fmt.Sprintf("127.0.0.1:%d", uport), proc: uproc, verify: answerIs, warm: true}
	targets := []*target{gh, ub}

	// The same Gatehouse with its query log off, measured in the same run.
	if o.NoLog {
		nport, err := benchproc.FreePort()
		if err != nil {
			return nil, err
		}
		nhport, err := benchproc.FreePort()
		if err != nil {
			return nil, err
		}
		ncfg := filepath.Join(h.dir, "gatehouse-nolog.yaml")
		if err := os.WriteFile(ncfg, []byte(gatehouseConfig(nport, nhport, bport, o.Names, filepath.Join(h.dir, "state-nolog"), false)), 0o644); err != nil {
			return nil, fmt.Errorf("writing gatehouse config: %w", err)
		}
		nproc, err := h.start(noLogName, gatehouseBin, "serve", "--config", ncfg)
		if err != nil {
			return nil, err
		}
		targets = append(targets, &target{name: noLogName, port: nport, addr: fmt.Sprintf("127.0.0.1:%d", nport), proc: nproc,
			metrics: fmt.Sprintf("http://127.0.0.1:%d/metrics", nhport), verify: answerIs, warm: true})
	}

	// The same Unbound writing a line per reply to its log file.
	if o.UnboundLog {
		lport, err := benchproc.FreePort()
		if err != nil {
			return nil, err
		}
		lcfg := filepath.Join(h.dir, unboundLogName+".conf")
		if err := os.WriteFile(lcfg, []byte(unboundFrontConfig(h.dir, unboundLogName, lport, bport, true)), 0o644); err != nil {
			return nil, fmt.Errorf("writing unbound config: %w", err)
		}
		lproc, err := h.start(unboundLogName, o.Unbound, "-d", "-c", lcfg)
		if err != nil {
			return nil, err
		}
		targets = append(targets, &target{name: unboundLogName, port: lport, addr: fmt.Sprintf("127.0.0.1:%d", lport), proc: lproc, verify: answerIs, warm: true})
	}

	// Baseline: this binary again, as the bare Go responder.
	if o.Baseline {
		eport, err := benchproc.FreePort()
		if err != nil {
			return nil, err
		}
		self, err := os.Executable()
		if err != nil {
			return nil, fmt.Errorf("finding this program to start the baseline responder: %w", err)
		}
		eaddr := fmt.Sprintf("127.0.0.1:%d", eport)
		eproc, err := h.startEnv(baselineName, []string{responderEnv + "=" + eaddr}, self)
		if err != nil {
			return nil, err
		}
		targets = append(targets, &target{name: baselineName, port: eport, addr: eaddr, proc: eproc, verify: isEcho})
	}

	for _, t := range targets {
		if err := waitReady(ctx, t.proc, t.addr, h.names[0], t.verify, 20*time.Second); err != nil {
			return nil, err
		}
		if !t.warm {
			continue
		}
		start := time.Now()
		if err := warm(ctx, t.addr, h.names, 16); err != nil {
			return nil, err
		}
		h.logf("%s on %s (pid %d): warmed %d names in %s", t.name, t.addr, t.proc.Pid(), len(h.names), time.Since(start).Round(time.Millisecond))
	}

	if h.o.Hold {
		var parts []string
		for _, t := range targets {
			parts = append(parts, fmt.Sprintf("%s %s pid %d", t.name, t.addr, t.proc.Pid()))
		}
		parts = append(parts, fmt.Sprintf("backend %s pid %d", baddr, backend.Pid()))
		fmt.Fprintf(h.log, "holding (Ctrl-C to stop): %s; names in %s\n", strings.Join(parts, ", "), h.input)
		<-ctx.Done()
		return nil, ctx.Err()
	}

	gBefore, err := scrape(ctx, gh.metrics)
	if err != nil {
		return nil, err
	}
	results := map[string]*serverResult{}
	for _, t := range targets {
		results[t.name] = &serverResult{Name: t.name, PID: t.proc.Pid()}
	}
	for r := range o.Rounds {
		// Rotate who goes first, so no server always runs on a machine
		// just warmed (or disturbed) by another.
		order := append(slices.Clone(targets[r%len(targets):]), targets[:r%len(targets)]...)
		for _, t := range order {
			var rd round
			if rd.Saturation, err = h.quietPhase(ctx, t, r, "saturation", 0); err != nil {
				return nil, err
			}
			if rd.Fixed, err = h.quietPhase(ctx, t, r, "fixed", o.Rate); err != nil {
				return nil, err
			}
			results[t.name].Rounds = append(results[t.name].Rounds, rd)
		}
	}

	// Peak memory, then the servers' own counters.
	for _, t := range targets {
		res := results[t.name]
		if res.PeakRSSKiB, res.RSSKiB, err = benchproc.MemStatus(t.proc.Pid()); err != nil {
			return nil, err
		}
	}
	gAfter, err := scrape(ctx, gh.metrics)
	if err != nil {
		return nil, err
	}
	results[gatehouseName].Gatehouse = gatehouseCounters(gBefore, gAfter)
	uproc.Stop(5 * time.Second)
	results[unboundName].UnboundThreads = unboundThreadStats(filepath.Join(h.dir, "unbound.log"))

	for _, t := range targets {
		res := results[t.name]
		res.Median = summarize(res.Rounds)
		rep.Servers = append(rep.Servers, *res)
	}
	rep.finish()
	return rep, nil
}

// quietPhase runs a phase, and again (up to o.Retries more times, after a
// pause) while other processes took more than o.MaxNoise percent of a core
// during it: on a shared machine a compile or a test run next door would
// otherwise decide the result. The last attempt counts either way. "Other"
// also holds CPU time charged to no process, such as waking idle CPUs,
// which a server that sleeps between packets causes: on the 2-core VM of
// docs/performance.md that is about 45% of a core for Unbound at 20,000 q/s
// on a quiet machine, hence the default limit of 60%.
func (h *harness) quietPhase(ctx context.Context, t *target, r int, name string, rate int) (phaseResult, error) {
	for attempt := 1; ; attempt++ {
		pr, err := h.phase(ctx, t, r, name, rate)
		if err != nil {
			return pr, err
		}
		pr.Attempts = attempt
		noise := pr.otherPct()
		if noise <= h.o.MaxNoise || attempt > h.o.Retries {
			return pr, nil
		}
		h.logf("%-9s round %d %-10s disturbed: other processes used %.0f%% of a core (limit %.0f%%); again after %s",
			t.name, r+1, name, noise, h.o.MaxNoise, 5*h.o.Pause)
		if err := sleepCtx(ctx, 5*h.o.Pause); err != nil {
			return pr, err
		}
	}
}

// phase runs dnsperf once against t: flat out when rate is 0, else at rate
// queries per second, and measures the server's CPU time around it.
func (h *harness) phase(ctx context.Context, t *target, r int, name string, rate int) (phaseResult, error) {
	o := h.o
	if err := sleepCtx(ctx, o.Pause); err != nil {
		return phaseResult{}, err
	}
	if t.proc.Exited() {
		return phaseResult{}, fmt.Errorf("%s exited (%v); its log:\n%s", t.name, t.proc.Err(), t.proc.LogTail())
	}
	args := []string{
		"-s", "127.0.0.1", "-p", strconv.Itoa(t.port), "-d", h.input,
		"-l", strconv.FormatFloat(o.Duration.Seconds(), 'f', -1, 64),
		"-c", strconv.Itoa(o.Clients), "-q", strconv.Itoa(o.Outstanding), "-T", strconv.Itoa(o.Threads),
		"-t", "2", // a cache hit that takes 2 s is lost
		"-v", // one latency per response, for percentiles; written to a file
	}
	if rate > 0 {
		args = append(args, "-Q", strconv.Itoa(rate))
	}
	bin := o.Dnsperf
	if o.DnsperfCPUs != "" {
		args = append([]string{"-c", o.DnsperfCPUs, bin}, args...)
		bin = "taskset"
	}
	bin, args = h.niced(bin, args)
	// Not in h.dir itself: Gatehouse watches its config file's directory,
	// and dnsperf's -v output (megabytes a run) written beside the configs
	// kept both Gatehouse servers busy classifying inotify events, 0.15 of
	// a core whenever any dnsperf ran (docs/performance.md, session 3).
	outDir := filepath.Join(h.dir, "dnsperf")
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return phaseResult{}, fmt.Errorf("creating dnsperf output directory: %w", err)
	}
	base := filepath.Join(outDir, fmt.Sprintf("dnsperf-%s-%s-%d", t.name, name, r+1))

	udpBefore, err := readUDPCounters()
	if err != nil {
		return phaseResult{}, err
	}
	dropsBefore, err := udpDrops(t.port)
	if err != nil {
		return phaseResult{}, err
	}
	var metricsBefore map[string]float64
	if t.metrics != "" {
		if metricsBefore, err = scrape(ctx, t.metrics); err != nil {
			return phaseResult{}, err
		}
	}
	wallBefore := time.Now()
	hostBefore, err := readHostCPU()
	if err != nil {
		return phaseResult{}, err
	}
	cpuBefore, err := cpuTicks(t.proc.Pid())
	if err != nil {
		return phaseResult{}, err
	}
	dnsperfCPU, err := h.runDnsperf(ctx, base, bin, args)
	if err != nil {
		return phaseResult{}, err
	}
	cpuAfter, err := cpuTicks(t.proc.Pid())
	if err != nil {
		return phaseResult{}, err
	}
	hostAfter, err := readHostCPU()
	wall := time.Since(wallBefore).Seconds()
	if err != nil {
		return phaseResult{}, err
	}
	dropsAfter, err := udpDrops(t.port)
	if err != nil {
		return phaseResult{}, err
	}
	udpAfter, err := readUDPCounters()
	if err != nil {
		return phaseResult{}, err
	}

	f, err := os.Open(base + ".out")
	if err != nil {
		return phaseResult{}, fmt.Errorf("reading dnsperf output: %w", err)
	}
	st, err := dnsperf.Parse(f)
	f.Close()
	if err != nil {
		return phaseResult{}, fmt.Errorf("%s %s round %d: %w", t.name, name, r+1, err)
	}
	if st.Completed == 0 {
		return phaseResult{}, fmt.Errorf("%s %s round %d: no query answered; see %s.out", t.name, name, r+1, base)
	}
	used := cpuAfter.sub(cpuBefore)
	pr := newPhaseResult(st, cpuSeconds{User: float64(used.User) / float64(h.hz), System: float64(used.System) / float64(h.hz)}, dnsperfCPU)
	for inode, d := range dropsAfter {
		pr.ServerSocketDrops = append(pr.ServerSocketDrops, d-dropsBefore[inode])
	}
	pr.HostUDP = udpAfter.sub(udpBefore)
	hz := float64(h.hz)
	// Busy time is every CPU's wall time less its idle time: the kernel
	// measures idle time exactly, while its user, system and softirq
	// counters are sampled at the tick and miss much of a server's short
	// bursts. A process's own time is exact, and includes the softirq work
	// done in its context (on loopback, delivering what it sends).
	pr.HostBusySeconds = float64(runtime.NumCPU())*wall - float64(hostAfter.Idle-hostBefore.Idle)/hz
	pr.HostIRQSeconds = float64(hostAfter.IRQ-hostBefore.IRQ) / hz
	pr.HostStealSeconds = float64(hostAfter.Steal-hostBefore.Steal) / hz
	pr.OtherCPUSeconds = pr.HostBusySeconds - pr.ServerCPUSeconds - pr.DnsperfCPUSeconds
	pr.TickedTaskSeconds = float64(hostAfter.Tasks-hostBefore.Tasks) / hz
	procs := ""
	if t.metrics != "" {
		// The Ps Gatehouse's scheduler ran on at the end (internal/procs:
		// one while quiet, all under load).
		m, err := scrape(ctx, t.metrics)
		if err != nil {
			return phaseResult{}, err
		}
		pr.GoProcs = m["gatehouse_go_procs"]
		procs = fmt.Sprintf(", go procs %g", pr.GoProcs)
		// Entries the query log dropped rather than slow DNS (its writer
		// yields to a saturating load); the counter is absent with the
		// log off.
		if v, ok := m[logDropped]; ok {
			pr.LogDropped = v - metricsBefore[logDropped]
			procs += fmt.Sprintf(", log dropped %.0f", pr.LogDropped)
		}
	}
	h.logf("%-9s round %d %-10s %7.0f q/s  lost %d  p50 %.3f ms  p99 %.3f ms  cpu: server %.2f s = %.2f µs/q, dnsperf %.2f s, irq %.2f s, other %.2f s, steal %.2f s%s",
		t.name, r+1, name, pr.QPS, pr.Lost, pr.P50Ms, pr.P99Ms, pr.ServerCPUSeconds, pr.CPUPerQueryUs, pr.DnsperfCPUSeconds, pr.HostIRQSeconds, pr.OtherCPUSeconds, pr.HostStealSeconds, procs)
	return pr, nil
}

// logDropped counts the query log entries dropped under load.
const logDropped = "gatehouse_querylog_dropped_total"

// runDnsperf runs dnsperf with stdout to base.out and stderr to base.err,
// bounded by the run length plus a margin, in its own process group. It
// returns dnsperf's own CPU time in seconds.
func (h *harness) runDnsperf(ctx context.Context, base, bin string, args []string) (float64, error) {
	ctx, cancel := context.WithTimeout(ctx, h.o.Duration+30*time.Second)
	defer cancel()
	out, err := os.Create(base + ".out")
	if err != nil {
		return 0, fmt.Errorf("creating dnsperf output: %w", err)
	}
	defer out.Close()
	errf, err := os.Create(base + ".err")
	if err != nil {
		return 0, fmt.Errorf("creating dnsperf output: %w", err)
	}
	defer errf.Close()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Stdout, cmd.Stderr = out, errf
	cmd.SysProcAttr = benchproc.ChildAttr()
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return 0, fmt.Errorf("running dnsperf: %w", context.Cause(ctx))
		}
		tail, _ := os.ReadFile(base + ".err")
		return 0, fmt.Errorf("running %s %s: %w\n%s", bin, strings.Join(args, " "), err, tail)
	}
	ps := cmd.ProcessState
	return (ps.UserTime() + ps.SystemTime()).Seconds(), nil
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// scrape fetches Prometheus text metrics and sums each metric's samples
// over their labels.
func scrape(ctx context.Context, url string) (map[string]float64, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("scraping gatehouse metrics: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("scraping gatehouse metrics: %s", resp.Status)
	}
	return parseMetrics(resp.Body)
}

// parseMetrics sums Prometheus text-format samples by metric name.
func parseMetrics(r io.Reader) (map[string]float64, error) {
	m := map[string]float64{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		name, rest := line, ""
		if i := strings.IndexAny(line, "{ "); i >= 0 {
			name, rest = line[:i], line[i:]
		}
		if strings.HasPrefix(rest, "{") {
			j := strings.LastIndexByte(rest, '}')
			if j < 0 {
				return nil, fmt.Errorf("parsing metrics line %q: unclosed labels", line)
			}
			rest = rest[j+1:]
		}
		f := strings.Fields(rest)
		if len(f) == 0 {
			return nil, fmt.Errorf("parsing metrics line %q: no value", line)
		}
		v, err := strconv.ParseFloat(f[0], 64)
		if err != nil {
			return nil, fmt.Errorf("parsing metrics line %q: %w", line, err)
		}
		m[name] += v
	}
	return m, sc.Err()
}

// unboundThreadStats reads the per-thread totals Unbound logs when it
// stops: "server stats for thread 0: 193873 queries, 193873 answers from
// cache, 0 recursions, ...". Missing or unreadable logs give nil.
func unboundThreadStats(path string) []unboundThread {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	out, _ := parseUnboundStats(f)
	return out
}

func parseUnboundStats(r io.Reader) ([]unboundThread, error) {
	var out []unboundThread
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		_, rest, ok := strings.Cut(sc.Text(), "server stats for thread ")
		if !ok {
			continue
		}
		var th unboundThread
		if strings.Contains(rest, "requestlist") {
			continue // the second line per thread: "0: requestlist max 0 ..."
		}
		if _, err := fmt.Sscanf(rest, "%d: %d queries, %d answers from cache, %d recursions",
			&th.Thread, &th.Queries, &th.CacheAnswers, &th.Recursions); err != nil {
			return out, fmt.Errorf("parsing unbound stats %q: %w", sc.Text(), err)
		}
		out = append(out, th)
	}
	return out, sc.Err()
}

// machineInfo describes where the run happened.
func machineInfo() machine {
	m := machine{NProc: runtime.NumCPU(), GoVersion: runtime.Version()}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range strings.SplitSeq(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPU = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		m.LoadAvg = strings.Join(strings.Fields(string(b))[:3], " ")
	}
	return m
}

// versions asks each program for its version; failures leave it empty.
func versions(ctx context.Context, o options, gatehouseBin string) map[string]string {
	v := map[string]string{}
	grab := func(key string, match func(string) bool, name string, args ...string) {
		ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		out, _ := exec.CommandContext(ctx, name, args...).CombinedOutput()
		for line := range strings.SplitSeq(string(out), "\n") {
			if match(strings.TrimSpace(line)) {
				v[key] = strings.TrimSpace(line)
				return
			}
		}
	}
	isVersion := func(s string) bool { return strings.HasPrefix(s, "Version ") }
	grab("dnsperf", isVersion, o.Dnsperf, "-h")
	grab("unbound", isVersion, o.Unbound, "-V")
	grab("gatehouse", func(s string) bool { return s != "" }, gatehouseBin, "version")
	return v
}
