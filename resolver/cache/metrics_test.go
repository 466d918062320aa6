package cache

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"gatehouse/resolver"
)

func TestMetrics(t *testing.T) {
	clk := newClock()
	up := &fakeUpstream{OnResolve: answering(t, 60)}
	c, reg := newTestCache(t, up, Config{Size: 2, ServeStale: true, Now: clk.Now})
	a, b, d := question("a.example.", dns.TypeA), question("b.example.", dns.TypeA), question("d.example.", dns.TypeA)
	ctx := context.Background()

	mustGet := func(q resolver.Question) {
		t.Helper()
		if _, err := c.Get(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	mustGet(a)      // miss, insert
	c.Lookup(a, t0) // hit
	mustGet(a)      // hit
	c.Lookup(b, t0) // miss: counted by the Get that follows
	mustGet(b)      // miss, insert
	mustGet(d)      // miss, insert, evicts a
	clk.Advance(time.Hour)
	up.OnResolve = func(context.Context, resolver.Question) (*dns.Msg, error) { return nil, resolver.ErrNetwork }
	mustGet(b) // miss, stale

	for _, tc := range []struct {
		name string
		c    prometheus.Collector
		want float64
	}{
		{"hits_total", c.m.hits, 2},
		{"misses_total", c.m.misses, 4},
		{"inserts_total", c.m.inserts, 3},
		{"evictions_total", c.m.evictions, 1},
		{"stale_served_total", c.m.stale, 1},
		{"prefetches_total", c.m.prefetches, 0},
		{"upstream_shared_total", c.m.shared, 0},
		{"entries", c.m.entries, 2},
	} {
		if got := testutil.ToFloat64(tc.c); got != tc.want {
			t.Errorf("%s = %v, want %v", tc.name, got, tc.want)
		}
	}

	problems, err := testutil.GatherAndLint(reg)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("lint: %s: %s", p.Metric, p.Text)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, mf := range mfs {
		names = append(names, mf.GetName())
	}
	want := []string{
		"gatehouse_cache_entries", "gatehouse_cache_evictions_total", "gatehouse_cache_hits_total",
		"gatehouse_cache_inserts_total", "gatehouse_cache_misses_total", "gatehouse_cache_prefetches_total",
		"gatehouse_cache_stale_served_total", "gatehouse_cache_upstream_shared_total",
	}
	if !slices.Equal(names, want) {
		t.Errorf("metrics %v, want %v", names, want)
	}
}

func TestNewMetricsRegistersOnce(t *testing.T) {
	reg := prometheus.NewRegistry()
	if _, err := NewMetrics(reg); err != nil {
		t.Fatal(err)
	}
	if _, err := NewMetrics(reg); err == nil {
		t.Fatal("registering twice succeeded")
	}
}
