//go:build linux

package main

import (
	"context"
	"fmt"
	"io"
	"maps"
	"slices"
	"sort"
	"time"

	"github.com/miekg/dns"
)

// nameRun is one question resolved once by one resolver.
type nameRun struct {
	cold, warm time.Duration
	queries    []exchange // what the name servers received for it, cold
}

// resolverRun is one resolver's cold and warm pass over every question, in
// a fresh process.
type resolverRun struct {
	startup []exchange // queries between start and the first question
	names   []nameRun
	warm    []exchange // queries during the warm pass (none expected)
}

func (r resolverRun) total() int {
	n := len(r.startup)
	for _, nr := range r.names {
		n += len(nr.queries)
	}
	return n
}

func (r resolverRun) coldTotal() time.Duration {
	var d time.Duration
	for _, nr := range r.names {
		d += nr.cold
	}
	return d
}

// benchResult holds every round of both resolvers.
type benchResult struct {
	rounds int
	delay  time.Duration
	runs   map[string][]resolverRun
}

// runBench resolves every question through each resolver in turn, each
// time in a fresh process (cold caches), then again (warm). Rounds
// alternate which resolver goes first. Name server queries are attributed
// to a question by waiting, after each answer, until the name servers have
// been quiet for a while: resolvers finish some work (such as fetching
// name server addresses) after answering.
func runBench(ctx context.Context, s *setup, h *hierarchy, rounds int, progress io.Writer) (*benchResult, error) {
	quiet := max(100*time.Millisecond, 5*h.delay)
	res := &benchResult{rounds: rounds, delay: h.delay, runs: map[string][]resolverRun{}}
	order := []string{gatehouseName, unboundName}
	for r := range rounds {
		for _, name := range order {
			run, err := benchOne(ctx, s, h, name, quiet)
			if err != nil {
				return nil, err
			}
			res.runs[name] = append(res.runs[name], run)
			fmt.Fprintf(progress, "round %d %-9s %3d name server queries, cold %7.1f ms, warm %5.2f ms\n",
				r+1, name, run.total(), ms(run.coldTotal()), ms(sum(run.names, func(n nameRun) time.Duration { return n.warm })))
		}
		slices.Reverse(order)
	}
	return res, nil
}

func benchOne(ctx context.Context, s *setup, h *hierarchy, name string, quiet time.Duration) (resolverRun, error) {
	var run resolverRun
	h.take()
	rp, err := s.start(ctx, name)
	if err != nil {
		return run, err
	}
	defer rp.stop()
	run.startup = h.settle(quiet)
	for _, q := range questions {
		start := time.Now()
		m, err := ask(ctx, rp.addr, q.name, q.qtype, true, false)
		d := time.Since(start)
		if err != nil {
			return run, fmt.Errorf("%s: %w", name, err)
		}
		if m.Rcode != q.rcode {
			return run, fmt.Errorf("%s answered %s %s with %s, want %s", name, q.name, dns.Type(q.qtype),
				dns.RcodeToString[m.Rcode], dns.RcodeToString[q.rcode])
		}
		run.names = append(run.names, nameRun{cold: d, queries: h.settle(quiet)})
	}
	for i, q := range questions {
		start := time.Now()
		if _, err := ask(ctx, rp.addr, q.name, q.qtype, true, false); err != nil {
			return run, fmt.Errorf("%s (warm): %w", name, err)
		}
		run.names[i].warm = time.Since(start)
	}
	run.warm = h.settle(quiet)
	return run, nil
}

func sum[T any](xs []T, f func(T) time.Duration) time.Duration {
	var d time.Duration
	for _, x := range xs {
		d += f(x)
	}
	return d
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// quantile is the q-quantile of ds (nearest rank), 0 for none.
func quantile(ds []time.Duration, q float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := int(q*float64(len(s))+0.5) - 1
	return s[min(max(i, 0), len(s)-1)]
}

func medianInt(xs []int) int {
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}

// summary is the figures the report and docs/performance.md give per
// resolver.
type summary struct {
	queries      int           // median over rounds of all name server queries, start-up included
	startup      int           // median start-up queries
	perName      []int         // median per question
	coldTotal    time.Duration // median over rounds of the summed cold latencies
	coldMed      time.Duration // over every (question, round)
	coldP90      time.Duration
	warmMed      time.Duration
	warmP90      time.Duration
	nameColdMed  []time.Duration // per question, over rounds
	warmQueries  int             // name server queries during warm passes, all rounds
	byType       map[string]int  // first round: queries by type
	tcp          int             // first round: queries over TCP
	queriesRange [2]int          // min and max over rounds
}

func summarise(runs []resolverRun) summary {
	var s summary
	var totals, startups []int
	var coldTotals, cold, warm []time.Duration
	for _, r := range runs {
		totals = append(totals, r.total())
		startups = append(startups, len(r.startup))
		coldTotals = append(coldTotals, r.coldTotal())
		for _, n := range r.names {
			cold = append(cold, n.cold)
			warm = append(warm, n.warm)
		}
		s.warmQueries += len(r.warm)
	}
	s.queries, s.startup = medianInt(totals), medianInt(startups)
	s.queriesRange = [2]int{slices.Min(totals), slices.Max(totals)}
	s.coldTotal = quantile(coldTotals, 0.5)
	s.coldMed, s.coldP90 = quantile(cold, 0.5), quantile(cold, 0.9)
	s.warmMed, s.warmP90 = quantile(warm, 0.5), quantile(warm, 0.9)
	for i := range questions {
		var qs []int
		var ds []time.Duration
		for _, r := range runs {
			qs = append(qs, len(r.names[i].queries))
			ds = append(ds, r.names[i].cold)
		}
		s.perName = append(s.perName, medianInt(qs))
		s.nameColdMed = append(s.nameColdMed, quantile(ds, 0.5))
	}
	s.byType = map[string]int{}
	first := runs[0]
	all := slices.Clone(first.startup)
	for _, n := range first.names {
		all = append(all, n.queries...)
	}
	for _, e := range all {
		s.byType[dns.Type(e.Type).String()]++
		if e.TCP {
			s.tcp++
		}
	}
	return s
}

// print writes the report: per question, totals and ratios, and the
// queries by type.
func (b *benchResult) print(w io.Writer, verbose bool) {
	g, u := summarise(b.runs[gatehouseName]), summarise(b.runs[unboundName])
	fmt.Fprintf(w, "\nCold-cache resolution, %d round(s), name server delay %s; medians over rounds\n", b.rounds, b.delay)
	fmt.Fprintf(w, "%-36s %-30s %8s %8s %12s %12s\n", "case", "question", "gh qs", "ub qs", "gh cold ms", "ub cold ms")
	for i, q := range questions {
		fmt.Fprintf(w, "%-36s %-30s %8d %8d %12.2f %12.2f\n", q.label, q.String(), g.perName[i], u.perName[i], ms(g.nameColdMed[i]), ms(u.nameColdMed[i]))
	}
	fmt.Fprintf(w, "%-67s %8d %8d\n", "start-up (before the first question)", g.startup, u.startup)
	row := func(label, gs, us, ratio string) {
		fmt.Fprintf(w, "%-44s %14s %14s %10s\n", label, gs, us, ratio)
	}
	fmt.Fprintln(w)
	row("", gatehouseName, unboundName, "gh/ub")
	row("name server queries, all questions", fmt.Sprintf("%d", g.queries), fmt.Sprintf("%d", u.queries), ratio(float64(g.queries), float64(u.queries)))
	row("  range over rounds", fmt.Sprintf("%d-%d", g.queriesRange[0], g.queriesRange[1]), fmt.Sprintf("%d-%d", u.queriesRange[0], u.queriesRange[1]), "")
	perQ := func(s summary) float64 { return float64(s.queries) / float64(len(questions)) }
	row("  per question", fmt.Sprintf("%.2f", perQ(g)), fmt.Sprintf("%.2f", perQ(u)), "")
	row("  over TCP (first round)", fmt.Sprintf("%d", g.tcp), fmt.Sprintf("%d", u.tcp), "")
	row("cold: all questions in turn, ms", fmt.Sprintf("%.1f", ms(g.coldTotal)), fmt.Sprintf("%.1f", ms(u.coldTotal)), ratio(ms(g.coldTotal), ms(u.coldTotal)))
	row("cold: per question, median ms", fmt.Sprintf("%.2f", ms(g.coldMed)), fmt.Sprintf("%.2f", ms(u.coldMed)), ratio(ms(g.coldMed), ms(u.coldMed)))
	row("cold: per question, p90 ms", fmt.Sprintf("%.2f", ms(g.coldP90)), fmt.Sprintf("%.2f", ms(u.coldP90)), ratio(ms(g.coldP90), ms(u.coldP90)))
	row("warm: per question, median ms", fmt.Sprintf("%.3f", ms(g.warmMed)), fmt.Sprintf("%.3f", ms(u.warmMed)), ratio(ms(g.warmMed), ms(u.warmMed)))
	row("warm: per question, p90 ms", fmt.Sprintf("%.3f", ms(g.warmP90)), fmt.Sprintf("%.3f", ms(u.warmP90)), ratio(ms(g.warmP90), ms(u.warmP90)))
	row("warm: name server queries", fmt.Sprintf("%d", g.warmQueries), fmt.Sprintf("%d", u.warmQueries), "")

	fmt.Fprintf(w, "\nName server queries by type (first round):\n")
	types := slices.Sorted(maps.Keys(g.byType))
	for t := range maps.Keys(u.byType) {
		if !slices.Contains(types, t) {
			types = append(types, t)
		}
	}
	sort.Strings(types)
	for _, t := range types {
		fmt.Fprintf(w, "  %-8s %5d %5d\n", t, g.byType[t], u.byType[t])
	}
	if !verbose {
		return
	}
	for _, name := range []string{gatehouseName, unboundName} {
		r := b.runs[name][0]
		fmt.Fprintf(w, "\n%s, first round, name server queries:\n", name)
		fmt.Fprintf(w, "  start-up: %d\n", len(r.startup))
		for _, e := range r.startup {
			fmt.Fprintf(w, "    %s\n", e)
		}
		for i, q := range questions {
			fmt.Fprintf(w, "  %s: %d\n", q, len(r.names[i].queries))
			for _, e := range r.names[i].queries {
				fmt.Fprintf(w, "    %s\n", e)
			}
		}
		fmt.Fprintf(w, "  warm pass: %d\n", len(r.warm))
		for _, e := range r.warm {
			fmt.Fprintf(w, "    %s\n", e)
		}
	}
}

func ratio(a, b float64) string {
	if b == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2f", a/b)
}
