package querylog

import (
	"slices"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := NewMetrics(reg); err == nil {
		t.Error("registering twice succeeded")
	}
	l := openTest(t, Config{Metrics: m, Retention: Retention{Default: 1}})
	old := fullEntry() // years old: purged
	l.Enqueue(old)
	flush(t, l)
	maintain(t, l)
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
	for _, want := range []string{
		"gatehouse_querylog_queued", "gatehouse_querylog_written_total", "gatehouse_querylog_dropped_total",
		"gatehouse_querylog_write_duration_seconds", "gatehouse_querylog_database_bytes",
		"gatehouse_querylog_purged_total", "gatehouse_querylog_errors_total",
		"gatehouse_querylog_merge_duration_seconds", "gatehouse_querylog_staged",
	} {
		if !slices.Contains(names, want) {
			t.Errorf("metric %s missing (have %v)", want, names)
		}
	}
	if got := testutil.ToFloat64(m.purged); got != 1 {
		t.Errorf("purged_total = %v, want 1", got)
	}
	if got := testutil.ToFloat64(m.dbBytes); got <= 0 {
		t.Errorf("database_bytes = %v", got)
	}
}
