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
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/miekg/dns"

	"gatehouse/bench/internal/benchproc"
	"gatehouse/bench/internal/dnsperf"
)

// harness is one run: its work directory and what it started.
type harness struct {
	o       options
	dir     string
	log     io.Writer
	proc    *benchproc.Process
	addr    string // Gatehouse's DNS address
	metrics string // its /metrics URL
}

func (h *harness) logf(format string, args ...any) {
	fmt.Fprintf(h.log, "%s %s\n", time.Now().Format("15:04:05.000"), fmt.Sprintf(format, args...))
}

// run performs the benchmark and returns its report. Everything it starts
// is stopped before it returns.
func run(ctx context.Context, o options, command string, progress io.Writer) (rep *report, err error) {
	if err := o.validate(); err != nil {
		return nil, err
	}
	if o.Dnsperf, err = exec.LookPath(o.Dnsperf); err != nil {
		return nil, fmt.Errorf("finding dnsperf (install the Debian package): %w", err)
	}
	dir, err := os.MkdirTemp(o.TempDir, "gatehouse-reload-")
	if err != nil {
		return nil, fmt.Errorf("creating work directory: %w", err)
	}
	h := &harness{o: o, dir: dir, log: progress}
	defer func() {
		if h.proc != nil {
			h.proc.Stop(5 * time.Second)
		}
		if o.Keep || err != nil {
			fmt.Fprintf(progress, "work directory kept: %s\n", dir)
		} else {
			os.RemoveAll(dir)
		}
	}()
	rep = &report{Command: command, Options: o, Started: time.Now().UTC().Format(time.RFC3339)}
	if err := h.run(ctx, rep); err != nil {
		return nil, err
	}
	return rep, nil
}

func (h *harness) run(ctx context.Context, rep *report) error {
	o := h.o
	bin := o.Gatehouse
	if bin == "" {
		bin = filepath.Join(h.dir, "gatehouse")
		h.logf("building gatehouse")
		if out, err := exec.CommandContext(ctx, "go", "build", "-o", bin, "gatehouse/cmd/gatehouse").CombinedOutput(); err != nil {
			return fmt.Errorf("building gatehouse: %w\n%s", err, out)
		}
	}
	if out, err := exec.CommandContext(ctx, bin, "version").Output(); err == nil {
		rep.Version = strings.TrimSpace(string(out))
	}

	listDir := filepath.Join(h.dir, "lists")
	if err := os.Mkdir(listDir, 0o755); err != nil {
		return err
	}
	listPath := filepath.Join(listDir, "bench.txt")
	start := time.Now()
	blocked, err := writeList(listPath, o.Names, 0, max(o.Names/o.QueryNames, 1))
	if err != nil {
		return err
	}
	st, _ := os.Stat(listPath)
	rep.ListBytes = st.Size()
	h.logf("wrote a list of %d names (%.1f MiB) in %s", o.Names, float64(st.Size())/(1<<20), time.Since(start).Round(time.Millisecond))

	be, err := startBackend()
	if err != nil {
		return err
	}
	defer be.close()

	dnsPort, err := benchproc.FreePort()
	if err != nil {
		return err
	}
	httpPort, err := benchproc.FreePort()
	if err != nil {
		return err
	}
	cfg := filepath.Join(h.dir, "gatehouse.yaml")
	if err := os.WriteFile(cfg, []byte(gatehouseConfig(dnsPort, httpPort, be.addr, listPath, filepath.Join(h.dir, "state"))), 0o644); err != nil {
		return fmt.Errorf("writing gatehouse config: %w", err)
	}
	h.addr = fmt.Sprintf("127.0.0.1:%d", dnsPort)
	h.metrics = fmt.Sprintf("http://127.0.0.1:%d/metrics", httpPort)
	start = time.Now()
	if h.proc, err = benchproc.Start("gatehouse", filepath.Join(h.dir, "gatehouse.out"), nil, bin, "serve", "--config", cfg); err != nil {
		return err
	}
	// Ready when the list is in force: version 0's marker is blocked.
	if err := h.await(ctx, 60*time.Second, func() error { return h.expect(marker(0), dns.RcodeNameError) }); err != nil {
		return err
	}
	rep.StartSeconds = time.Since(start).Seconds()
	h.logf("gatehouse (pid %d) on %s serving the list after %s", h.proc.Pid(), h.addr, time.Since(start).Round(time.Millisecond))

	// Warm the cache with the answered names, and check a blocked one.
	for i := range o.QueryNames {
		name, _ := answered(i)
		if err := h.expect(name, dns.RcodeSuccess); err != nil {
			return fmt.Errorf("warming: %w", err)
		}
	}
	if err := h.expect(blocked[0], dns.RcodeNameError); err != nil {
		return err
	}

	input := filepath.Join(h.dir, "queries.txt")
	if err := os.WriteFile(input, []byte(dnsperfInput(blocked, o.QueryNames)), 0o644); err != nil {
		return err
	}

	// Sample resident memory all along.
	smp := &sampler{pid: h.proc.Pid(), every: o.SampleEvery}
	sctx, stopSampling := context.WithCancel(ctx)
	var swg sync.WaitGroup
	swg.Add(1)
	go func() { defer swg.Done(); smp.run(sctx) }()
	defer func() { stopSampling(); swg.Wait() }()

	total := o.Settle + time.Duration(o.Swaps)*o.Interval
	perfOut := filepath.Join(h.dir, "dnsperf.out")
	perfDone := make(chan error, 1)
	t0 := time.Now()
	go func() {
		perfDone <- runDnsperf(ctx, o.Dnsperf, perfOut, total+10*time.Second,
			"-s", "127.0.0.1", "-p", strconv.Itoa(dnsPort), "-d", input, "-Q", strconv.Itoa(o.Rate),
			"-l", strconv.FormatFloat(total.Seconds(), 'f', 3, 64), "-c", strconv.Itoa(o.Clients), "-t", "2")
	}()
	h.logf("dnsperf at %d q/s for %s", o.Rate, total.Round(time.Millisecond))

	// Steady memory: the second half of the settle time.
	if err := sleepUntil(ctx, t0.Add(o.Settle)); err != nil {
		return err
	}
	rep.SteadyRSSKiB = smp.median(t0.Add(o.Settle/2), time.Now())
	if err := os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", h.proc.Pid()), []byte("5"), 0); err != nil {
		return fmt.Errorf("resetting gatehouse's peak RSS (VmHWM): %w", err)
	}
	swapStart := time.Now()
	h.logf("steady rss %.1f MiB; swapping the list %d times", float64(rep.SteadyRSSKiB)/1024, o.Swaps)

	reloads, err := h.successfulReloads(ctx)
	if err != nil {
		return err
	}
	for v := 1; v <= o.Swaps; v++ {
		at := t0.Add(o.Settle + time.Duration(v-1)*o.Interval)
		if err := sleepUntil(ctx, at); err != nil {
			return err
		}
		sw := swap{Version: v, RSSBeforeKiB: smp.last()}
		begin := time.Now()
		if _, err := writeList(listPath, o.Names, v, 0); err != nil {
			return err
		}
		sw.WriteSeconds = time.Since(begin).Seconds()
		// In force when Gatehouse counts one more successful reload and
		// blocks the new marker; the old marker is then answered.
		want := reloads + 1
		if err := h.await(ctx, o.Interval+30*time.Second, func() error {
			n, err := h.successfulReloads(ctx)
			if err != nil {
				return err
			}
			if n < want {
				return fmt.Errorf("%v successful reloads, waiting for %v", n, want)
			}
			reloads = n
			return h.expect(marker(v), dns.RcodeNameError)
		}); err != nil {
			return fmt.Errorf("swap %d: %w", v, err)
		}
		sw.InForceSeconds = time.Since(begin).Seconds()
		if err := h.expect(marker(v-1), dns.RcodeSuccess); err != nil {
			return fmt.Errorf("swap %d: %w", v, err)
		}
		if h.proc.Exited() {
			return fmt.Errorf("gatehouse exited during swap %d: %v\n%s", v, h.proc.Err(), h.proc.LogTail())
		}
		rep.Swaps = append(rep.Swaps, sw)
		h.logf("swap %d: in force after %.2f s (list written in %.2f s), rss before %.1f MiB", v, sw.InForceSeconds, sw.WriteSeconds, float64(sw.RSSBeforeKiB)/1024)
	}

	if err := <-perfDone; err != nil {
		return err
	}
	end := time.Now()
	hwm, rss, err := benchproc.MemStatus(h.proc.Pid())
	if err != nil {
		return err
	}
	rep.PeakHWMKiB, rep.EndRSSKiB = hwm, rss
	rep.PeakSampledKiB = smp.max(swapStart, end)
	for i := range rep.Swaps {
		from := t0.Add(o.Settle + time.Duration(i)*o.Interval)
		rep.Swaps[i].PeakRSSKiB = smp.max(from, from.Add(o.Interval))
	}
	rep.Samples = smp.count()

	f, err := os.Open(perfOut)
	if err != nil {
		return fmt.Errorf("reading dnsperf output: %w", err)
	}
	defer f.Close()
	if rep.Dnsperf, err = dnsperf.Parse(f); err != nil {
		return err
	}
	rep.finish()
	return nil
}

// expect asks Gatehouse for name's A record and checks the rcode.
func (h *harness) expect(name string, rcode int) error {
	c := &dns.Client{Timeout: 2 * time.Second}
	q := new(dns.Msg)
	q.SetQuestion(name, dns.TypeA)
	var r *dns.Msg
	var err error
	for range 3 {
		if r, _, err = c.Exchange(q, h.addr); err == nil {
			break
		}
	}
	if err != nil {
		return fmt.Errorf("asking gatehouse for %s: %w", name, err)
	}
	if r.Rcode != rcode {
		return fmt.Errorf("%s: rcode %s, want %s", name, dns.RcodeToString[r.Rcode], dns.RcodeToString[rcode])
	}
	return nil
}

// await retries check until it passes, Gatehouse exits, or the time is up.
func (h *harness) await(ctx context.Context, limit time.Duration, check func() error) error {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	for {
		if h.proc.Exited() {
			return fmt.Errorf("gatehouse exited (%v); its log:\n%s", h.proc.Err(), h.proc.LogTail())
		}
		err := check()
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (after %s); gatehouse's log:\n%s", err, limit, h.proc.LogTail())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// successfulReloads reads gatehouse_config_reloads_total{result="success"}.
func (h *harness) successfulReloads(ctx context.Context) (float64, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, h.metrics, nil)
	if err != nil {
		return 0, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, fmt.Errorf("scraping gatehouse metrics: %w", err)
	}
	defer resp.Body.Close()
	return reloadCount(resp.Body)
}

// reloadCount finds the successful-reload counter in Prometheus text.
func reloadCount(r io.Reader) (float64, error) {
	const series = `gatehouse_config_reloads_total{result="success"} `
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), series); ok {
			return strconv.ParseFloat(strings.TrimSpace(v), 64)
		}
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	return 0, nil // not yet incremented: the series does not exist yet
}

// gatehouseConfig is the shipped defaults with one block list, forwarding
// to the harness's authority, the query log off (this measures the list
// engine, not the log), and loopback addresses.
func gatehouseConfig(dnsPort, httpPort int, upstream, list, stateDir string) string {
	return fmt.Sprintf(`version: 1
state_dir: %q
query_log:
  enabled: false
log:
  level: info
listen:
  dns: ["127.0.0.1:%d"]
  http: "127.0.0.1:%d"
access:
  allow: [127.0.0.0/8]
  rate_limit:
    queries_per_second: 0
resolver:
  mode: forward
  upstreams:
    - address: %q
      protocol: udp
lists:
  - name: bench
    category: malware
    path: %q
    format: domains
groups:
  - name: bench
    block: [malware]
`, stateDir, dnsPort, httpPort, upstream, list)
}

// runDnsperf runs dnsperf with stdout to out, in its own process group,
// bounded by limit.
func runDnsperf(ctx context.Context, bin, out string, limit time.Duration, args ...string) error {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	f, err := os.Create(out)
	if err != nil {
		return fmt.Errorf("creating dnsperf output: %w", err)
	}
	defer f.Close()
	var stderr strings.Builder
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Stdout, cmd.Stderr = f, &stderr
	cmd.SysProcAttr = benchproc.ChildAttr()
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("running dnsperf: %w", context.Cause(ctx))
		}
		return fmt.Errorf("running dnsperf %s: %w\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return nil
}

func sleepUntil(ctx context.Context, t time.Time) error {
	d := time.Until(t)
	if d <= 0 {
		return ctx.Err()
	}
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-tm.C:
		return nil
	}
}

// sampler records a process's VmRSS over time.
type sampler struct {
	pid   int
	every time.Duration
	mu    sync.Mutex
	at    []time.Time
	rss   []int64 // KiB
}

func (s *sampler) run(ctx context.Context) {
	t := time.NewTicker(s.every)
	defer t.Stop()
	for {
		if _, rss, err := benchproc.MemStatus(s.pid); err == nil {
			s.mu.Lock()
			s.at, s.rss = append(s.at, time.Now()), append(s.rss, rss)
			s.mu.Unlock()
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (s *sampler) window(from, to time.Time) []int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []int64
	for i, at := range s.at {
		if !at.Before(from) && !at.After(to) {
			out = append(out, s.rss[i])
		}
	}
	return out
}

func (s *sampler) median(from, to time.Time) int64 {
	w := s.window(from, to)
	if len(w) == 0 {
		return s.last()
	}
	slices.Sort(w)
	return w[len(w)/2]
}

func (s *sampler) max(from, to time.Time) int64 {
	w := s.window(from, to)
	if len(w) == 0 {
		return 0
	}
	return slices.Max(w)
}

func (s *sampler) last() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.rss) == 0 {
		return 0
	}
	return s.rss[len(s.rss)-1]
}

func (s *sampler) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.rss)
}
