package safeguarding

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"gatehouse/policy/schedule"
)

func testutilCounter(c prometheus.Collector) float64 { return testutil.ToFloat64(c) }

func mustWeekly(s string) []schedule.Weekly {
	w, err := schedule.ParseWeekly(s)
	if err != nil {
		panic(err)
	}
	return []schedule.Weekly{w}
}

func TestMetricsLint(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	m.deliveries.WithLabelValues("email", "sent").Inc()
	problems, err := testutil.GatherAndLint(reg)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("metric %s: %s", p.Metric, p.Text)
	}
	if _, err := NewMetrics(reg); err == nil {
		t.Error("registering twice succeeded")
	}
}
