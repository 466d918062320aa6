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
	Names       int           `json:"list_names"`
	Swaps       int           `json:"swaps"`
	Interval    time.Duration `json:"-"`
	IntervalS   float64       `json:"swap_interval_s"`
	Settle      time.Duration `json:"-"`
	SettleS     float64       `json:"settle_s"`
	Rate        int           `json:"rate_qps"`
	Clients     int           `json:"dnsperf_clients"`
	QueryNames  int           `json:"query_names"` // of each kind: answered and blocked
	SampleEvery time.Duration `json:"-"`
	JSON        bool          `json:"-"`
	Out         string        `json:"-"`
	Keep        bool          `json:"-"`
	TempDir     string        `json:"-"`
}

func defaultOptions() options {
	return options{
		Dnsperf:     "dnsperf",
		Names:       1_000_000,
		Swaps:       5,
		Interval:    6 * time.Second,
		Settle:      6 * time.Second,
		Rate:        20000,
		Clients:     16,
		QueryNames:  2000,
		SampleEvery: 10 * time.Millisecond,
	}
}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	o := defaultOptions()
	fs := flag.NewFlagSet("reload", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: go run ./bench/reload [flags]\n\n"+
			"Replaces a large block list file while dnsperf drives Gatehouse on 127.0.0.1;\n"+
			"reports failed queries and resident memory during the swaps. See docs/performance.md.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	fs.StringVar(&o.Gatehouse, "gatehouse", o.Gatehouse, "gatehouse binary to test (default: build ./cmd/gatehouse into the work directory)")
	fs.StringVar(&o.Dnsperf, "dnsperf", o.Dnsperf, "dnsperf binary")
	fs.IntVar(&o.Names, "names", o.Names, "names in the block list file")
	fs.IntVar(&o.Swaps, "swaps", o.Swaps, "how many times the list file is replaced during the run")
	fs.DurationVar(&o.Interval, "interval", o.Interval, "time between swaps (and after the last one)")
	fs.DurationVar(&o.Settle, "settle", o.Settle, "load before the first swap; the steady memory is measured in its second half")
	fs.IntVar(&o.Rate, "rate", o.Rate, "dnsperf -Q: offered queries per second")
	fs.IntVar(&o.Clients, "clients", o.Clients, "dnsperf -c: client sockets")
	fs.IntVar(&o.QueryNames, "query-names", o.QueryNames, "distinct names dnsperf asks of each kind (answered from cache, blocked by the list)")
	fs.DurationVar(&o.SampleEvery, "sample", o.SampleEvery, "how often resident memory is sampled")
	fs.BoolVar(&o.JSON, "json", o.JSON, "print the results as JSON instead of a table")
	fs.StringVar(&o.Out, "out", o.Out, "also write the JSON report to this file")
	fs.BoolVar(&o.Keep, "keep", o.Keep, "keep the work directory (config, list, logs, dnsperf output)")
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
	if o.Names < 1000 || o.Names > 20_000_000 {
		errs = append(errs, fmt.Errorf("-names %d: want 1000 to 20000000", o.Names))
	}
	if o.Swaps < 1 || o.Swaps > 100 {
		errs = append(errs, fmt.Errorf("-swaps %d: want 1 to 100", o.Swaps))
	}
	if o.Interval < 500*time.Millisecond || o.Interval > 10*time.Minute {
		errs = append(errs, fmt.Errorf("-interval %s: want 500ms to 10m", o.Interval))
	}
	if o.Settle < 500*time.Millisecond || o.Settle > 10*time.Minute {
		errs = append(errs, fmt.Errorf("-settle %s: want 500ms to 10m", o.Settle))
	}
	if o.Rate < 1 {
		errs = append(errs, fmt.Errorf("-rate %d: want at least 1", o.Rate))
	}
	if o.Clients < 1 {
		errs = append(errs, fmt.Errorf("-clients %d: want at least 1", o.Clients))
	}
	if o.QueryNames < 1 || o.QueryNames > o.Names/2 || o.QueryNames > 65536 {
		errs = append(errs, fmt.Errorf("-query-names %d: want 1 to min(names/2, 65536)", o.QueryNames))
	}
	if o.SampleEvery < time.Millisecond || o.SampleEvery > time.Second {
		errs = append(errs, fmt.Errorf("-sample %s: want 1ms to 1s", o.SampleEvery))
	}
	o.IntervalS, o.SettleS = o.Interval.Seconds(), o.Settle.Seconds()
	return errors.Join(errs...)
}

func main() {
	o, err := parseFlags(os.Args[1:], os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "reload:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	rep, err := run(ctx, o, "go run ./bench/reload "+strings.Join(os.Args[1:], " "), os.Stderr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "reload:", err)
		os.Exit(1)
	}
	if o.Out != "" {
		b, _ := json.MarshalIndent(rep, "", "  ")
		if err := os.WriteFile(o.Out, append(b, '\n'), 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "reload:", err)
			os.Exit(1)
		}
	}
	if o.JSON {
		b, _ := json.MarshalIndent(rep, "", "  ")
		fmt.Println(string(b))
	} else {
		rep.print(os.Stdout)
	}
	if !rep.Pass() {
		os.Exit(3)
	}
}
