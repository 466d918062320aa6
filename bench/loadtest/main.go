//go:build linux

package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

// options are the harness's settings, one flag each.
type options struct {
	Gatehouse   string        `json:"gatehouse_binary,omitempty"` // "" = build ./cmd/gatehouse
	Dnsperf     string        `json:"dnsperf"`
	Unbound     string        `json:"unbound"`
	Names       int           `json:"names"`
	Rounds      int           `json:"rounds"`
	Duration    time.Duration `json:"-"`
	Seconds     float64       `json:"duration_s"` // Duration, for JSON
	Rate        int           `json:"fixed_rate_qps"`
	Clients     int           `json:"dnsperf_clients"`
	Outstanding int           `json:"dnsperf_outstanding"`
	Threads     int           `json:"dnsperf_threads"`
	DnsperfCPUs string        `json:"dnsperf_cpus,omitempty"` // taskset CPU list; "auto" = the last CPU; "" or "none" = not pinned
	Pause       time.Duration `json:"-"`                      // idle gap between dnsperf runs
	MaxNoise    float64       `json:"max_noise_pct"`          // other processes' CPU, % of a core, above which a phase is run again
	Retries     int           `json:"retries"`                // extra runs of a disturbed phase
	Nice        int           `json:"nice"`                   // nice(1) adjustment of every process started
	JSON        bool          `json:"-"`
	Out         string        `json:"-"` // also write the JSON report here
	Keep        bool          `json:"-"`
	Hold        bool          `json:"-"`           // start and warm, then wait for Ctrl-C
	Baseline    bool          `json:"baseline"`    // also measure the bare Go responder
	QueryLog    bool          `json:"query_log"`   // Gatehouse writes its query log (the full pipeline)
	NoLog       bool          `json:"nolog"`       // also measure Gatehouse with the query log off
	UnboundLog  bool          `json:"unbound_log"` // also measure Unbound logging every reply
	TempDir     string        `json:"-"`           // parent of the work directory; "" = the system's
}

func defaultOptions() options {
	return options{
		Dnsperf:     "dnsperf",
		Unbound:     "unbound",
		Names:       10000,
		Rounds:      3,
		Duration:    10 * time.Second,
		Rate:        20000,
		Clients:     32,
		Outstanding: 200,
		Threads:     1,
		DnsperfCPUs: "auto",
		Baseline:    true,
		QueryLog:    true,
		Pause:       time.Second,
		MaxNoise:    60,
		Retries:     1,
	}
}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	o := defaultOptions()
	fs := flag.NewFlagSet("loadtest", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: go run ./bench/loadtest [flags]\n\n"+
			"Cache-hit load test of Gatehouse against Unbound on 127.0.0.1 with dnsperf.\n"+
			"See docs/performance.md.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	fs.StringVar(&o.Gatehouse, "gatehouse", o.Gatehouse, "gatehouse binary to test (default: build ./cmd/gatehouse into the work directory)")
	fs.StringVar(&o.Dnsperf, "dnsperf", o.Dnsperf, "dnsperf binary")
	fs.StringVar(&o.Unbound, "unbound", o.Unbound, "unbound binary")
	fs.IntVar(&o.Names, "names", o.Names, "names in the warmed set")
	fs.IntVar(&o.Rounds, "rounds", o.Rounds, "rounds; each runs every phase on each server, alternating which goes first")
	fs.DurationVar(&o.Duration, "duration", o.Duration, "length of each dnsperf run")
	fs.IntVar(&o.Rate, "rate", o.Rate, "offered load of the fixed-rate phase, queries per second")
	fs.IntVar(&o.Clients, "clients", o.Clients, "dnsperf -c: client sockets (source ports), spread over the servers' SO_REUSEPORT sockets")
	fs.IntVar(&o.Outstanding, "outstanding", o.Outstanding, "dnsperf -q: queries outstanding at once")
	fs.IntVar(&o.Threads, "threads", o.Threads, "dnsperf -T: threads (each a sender and a receiver)")
	fs.StringVar(&o.DnsperfCPUs, "dnsperf-cpus", o.DnsperfCPUs, "pin dnsperf to these CPUs with taskset (a list such as 1 or 2-3); auto = the last CPU when there are two or more; none = not pinned")
	fs.DurationVar(&o.Pause, "pause", o.Pause, "idle gap between dnsperf runs")
	fs.Float64Var(&o.MaxNoise, "max-noise", o.MaxNoise, "run a phase again when other processes used more than this percentage of one core during it")
	fs.IntVar(&o.Retries, "retries", o.Retries, "most extra runs of a disturbed phase; the last one counts either way")
	fs.IntVar(&o.Nice, "nice", o.Nice, "run the servers and dnsperf under nice -n N; a negative N (root only) shields them from other work on a shared machine")
	fs.BoolVar(&o.Baseline, "baseline", o.Baseline, "also measure "+baselineName+", a Go UDP responder that echoes each query doing no DNS work: the floor for any Go server")
	fs.BoolVar(&o.QueryLog, "querylog", o.QueryLog, "Gatehouse writes every query to its query log, as a school runs it; -querylog=false measures DNS alone")
	fs.BoolVar(&o.NoLog, "nolog", o.NoLog, "also measure "+noLogName+", the same Gatehouse with its query log off, in the same run (issue 6: logging on must keep 90% of the throughput)")
	fs.BoolVar(&o.UnboundLog, "unbound-log", o.UnboundLog, "also measure "+unboundLogName+", the same Unbound writing a line per reply to its log file (log-replies): both servers logging every query")
	fs.BoolVar(&o.JSON, "json", o.JSON, "print the results as JSON instead of a table")
	fs.StringVar(&o.Out, "out", o.Out, "also write the JSON report to this file")
	fs.BoolVar(&o.Keep, "keep", o.Keep, "keep the work directory (configs, logs, dnsperf output)")
	fs.BoolVar(&o.Hold, "hold", o.Hold, "start and warm the servers, print their addresses, and wait for Ctrl-C without measuring (for profiling or your own dnsperf runs)")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	return o, o.validate()
}

func (o *options) validate() error {
	var errs []error
	if o.Names < 1 || o.Names > 1000000 {
		errs = append(errs, fmt.Errorf("-names %d: want 1 to 1000000", o.Names))
	}
	if o.Rounds < 1 || o.Rounds > 100 {
		errs = append(errs, fmt.Errorf("-rounds %d: want 1 to 100", o.Rounds))
	}
	if o.Duration < 100*time.Millisecond || o.Duration > 10*time.Minute {
		errs = append(errs, fmt.Errorf("-duration %s: want 100ms to 10m", o.Duration))
	}
	if o.Rate < 1 {
		errs = append(errs, fmt.Errorf("-rate %d: want at least 1", o.Rate))
	}
	if o.Threads < 1 || o.Clients < o.Threads {
		errs = append(errs, fmt.Errorf("-threads %d, -clients %d: want 1 <= threads <= clients", o.Threads, o.Clients))
	}
	if o.Outstanding < 1 {
		errs = append(errs, fmt.Errorf("-outstanding %d: want at least 1", o.Outstanding))
	}
	if o.MaxNoise < 0 {
		errs = append(errs, fmt.Errorf("-max-noise %v: want at least 0", o.MaxNoise))
	}
	if o.Retries < 0 || o.Retries > 20 {
		errs = append(errs, fmt.Errorf("-retries %d: want 0 to 20", o.Retries))
	}
	if o.Nice < -20 || o.Nice > 19 {
		errs = append(errs, fmt.Errorf("-nice %d: want -20 to 19", o.Nice))
	}
	if o.Pause < 0 || o.Pause > time.Minute {
		errs = append(errs, fmt.Errorf("-pause %s: want 0 to 1m", o.Pause))
	}
	o.Seconds = o.Duration.Seconds()
	return errors.Join(errs...)
}

func main() {
	if addr := os.Getenv(responderEnv); addr != "" {
		os.Exit(responderMain(addr))
	}
	o, err := parseFlags(os.Args[1:], os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadtest:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	command := strings.Join(append([]string{"go run ./bench/loadtest"}, quoteArgs(os.Args[1:])...), " ")
	rep, err := run(ctx, o, command, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadtest:", err)
		os.Exit(1)
	}
	js, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadtest:", err)
		os.Exit(1)
	}
	js = append(js, '\n')
	if o.Out != "" {
		if err := os.WriteFile(o.Out, js, 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "loadtest:", err)
			os.Exit(1)
		}
	}
	if o.JSON {
		os.Stdout.Write(js)
		return
	}
	writeTable(os.Stdout, rep)
}

// quoteArgs quotes the arguments a shell would split.
func quoteArgs(args []string) []string {
	out := make([]string, len(args))
	for i, a := range args {
		if a == "" || strings.ContainsAny(a, " \t\n'\"$\\*?;&|<>()") {
			a = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
		out[i] = a
	}
	return out
}
