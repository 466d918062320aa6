//go:build linux

package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"syscall"
	"testing"
	"time"
)

type options struct {
	rounds    int
	delay     time.Duration
	unbound   string
	gatehouse string // prebuilt binary; "" builds ./cmd/gatehouse
	keep      bool
	verbose   bool
	noBench   bool
}

func main() {
	o := options{}
	flag.IntVar(&o.rounds, "rounds", 5, "benchmark rounds, each with fresh processes; the order alternates")
	flag.DurationVar(&o.delay, "delay", 0, "wait this long in every name server before answering, as a network round trip would")
	flag.StringVar(&o.unbound, "unbound", "unbound", "unbound binary")
	flag.StringVar(&o.gatehouse, "gatehouse", "", "gatehouse binary (default: build ./cmd/gatehouse)")
	flag.BoolVar(&o.keep, "keep", false, "keep the work directory (configurations and logs)")
	flag.BoolVar(&o.verbose, "v", false, "list every name server query of the first round")
	flag.BoolVar(&o.noBench, "parity-only", false, "compare answers only")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	fmt.Printf("go run ./bench/recursion %s\n", strings.Join(os.Args[1:], " "))
	mismatches, err := run(ctx, o, os.Stdout)
	if err != nil {
		fmt.Fprintln(os.Stderr, "recursion:", err)
		os.Exit(1)
	}
	if mismatches > 0 {
		os.Exit(1)
	}
}

// fatalTB lets the harness build the hierarchy with dnstest's helpers,
// which report bad zone text through a testing.TB: Fatalf panics with a
// buildError that buildHierarchy turns back into an error. Only the
// methods dnstest's zone builders call are implemented.
type fatalTB struct{ testing.TB }

type buildError struct{ error }

func (fatalTB) Helper() {}
func (fatalTB) Fatalf(format string, args ...any) {
	panic(buildError{fmt.Errorf(format, args...)})
}

func buildHierarchy(delay time.Duration) (h *hierarchy, err error) {
	defer func() {
		if r := recover(); r != nil {
			be, ok := r.(buildError)
			if !ok {
				panic(r)
			}
			err = fmt.Errorf("building the hierarchy: %w", be.error)
		}
	}()
	return newHierarchy(fatalTB{}, delay)
}

// run does the whole comparison: parity, then the benchmark. It returns
// the number of parity rows that differ.
func run(ctx context.Context, o options, out io.Writer) (int, error) {
	h, err := buildHierarchy(o.delay)
	if err != nil {
		if errors.Is(err, errBind) {
			return 0, fmt.Errorf("%w (run as root, with nothing else on port 53 of 127.0.0.2-20)", err)
		}
		return 0, err
	}
	defer h.close()
	s, cleanup, err := newSetup(ctx, o)
	if err != nil {
		return 0, err
	}
	defer cleanup(o.keep)
	if err := s.writeFiles(h); err != nil {
		return 0, err
	}
	fmt.Fprintf(out, "%s\n%s\n\n", versionLine(ctx, s.unbound), machineLine())

	mismatches, err := parity(ctx, s, out)
	if err != nil || o.noBench {
		return mismatches, err
	}
	res, err := runBench(ctx, s, h, o.rounds, out)
	if err != nil {
		return mismatches, err
	}
	res.print(out, o.verbose)
	return mismatches, nil
}

// newSetup makes the work directory and finds or builds the binaries.
func newSetup(ctx context.Context, o options) (*setup, func(keep bool), error) {
	ub, err := exec.LookPath(o.unbound)
	if err != nil {
		return nil, nil, fmt.Errorf("finding unbound (install the Debian package): %w", err)
	}
	dir, err := os.MkdirTemp("", "gatehouse-recursion-")
	if err != nil {
		return nil, nil, fmt.Errorf("creating work directory: %w", err)
	}
	cleanup := func(keep bool) {
		if keep {
			fmt.Fprintf(os.Stderr, "work directory kept: %s\n", dir)
			return
		}
		os.RemoveAll(dir)
	}
	s := &setup{dir: dir, unbound: ub, gatehouse: o.gatehouse}
	if s.gatehouse == "" {
		if err := s.buildGatehouse(ctx); err != nil {
			cleanup(o.keep)
			return nil, nil, err
		}
	}
	return s, cleanup, nil
}

// parity starts both resolvers fresh, compares their answers and prints
// the table.
func parity(ctx context.Context, s *setup, out io.Writer) (int, error) {
	g, err := s.start(ctx, gatehouseName)
	if err != nil {
		return 0, err
	}
	defer g.stop()
	u, err := s.start(ctx, unboundName)
	if err != nil {
		return 0, err
	}
	defer u.stop()
	rows := runParity(ctx, g.addr, u.addr)
	return printParity(out, rows), nil
}

func versionLine(ctx context.Context, unbound string) string {
	v := "unbound ?"
	if b, err := exec.CommandContext(ctx, unbound, "-V").Output(); err == nil {
		first, _, _ := strings.Cut(string(b), "\n")
		v = "unbound " + strings.TrimPrefix(first, "Version ")
	}
	return v
}

// machineLine names the CPU and its count, from /proc/cpuinfo.
func machineLine() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	model, n := "?", 0
	if err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			k, v, ok := strings.Cut(line, ":")
			if !ok {
				continue
			}
			switch strings.TrimSpace(k) {
			case "model name":
				model = strings.TrimSpace(v)
			case "processor":
				n++
			}
		}
	}
	return fmt.Sprintf("machine: %d x %s", n, model)
}
