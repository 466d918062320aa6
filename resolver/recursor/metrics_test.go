package recursor_test

import (
	"strconv"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"gatehouse/resolver/recursor"
)

type registry struct {
	reg *prometheus.Registry
	m   *recursor.Metrics
}

func newRegistry(t testing.TB) registry {
	t.Helper()
	reg := prometheus.NewRegistry()
	m, err := recursor.NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	return registry{reg, m}
}

// want checks that the exposition holds each line.
func (r registry) want(t testing.TB, lines ...string) {
	t.Helper()
	mfs, err := r.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			b.WriteString(mf.GetName() + "{")
			for i, l := range m.GetLabel() {
				if i > 0 {
					b.WriteString(",")
				}
				b.WriteString(l.GetName() + `="` + l.GetValue() + `"`)
			}
			b.WriteString("} ")
			switch {
			case m.GetCounter() != nil:
				b.WriteString(trimFloat(m.GetCounter().GetValue()))
			case m.GetGauge() != nil:
				b.WriteString(trimFloat(m.GetGauge().GetValue()))
			case m.GetHistogram() != nil:
				b.WriteString(trimFloat(float64(m.GetHistogram().GetSampleCount())))
			}
			b.WriteString("\n")
		}
	}
	got := strings.ReplaceAll(b.String(), "{} ", " ")
	for _, l := range lines {
		if !strings.Contains(got, l+"\n") {
			t.Errorf("metrics lack %q; have:\n%s", l, got)
		}
	}
}

func trimFloat(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }

func TestMetrics_lint(t *testing.T) {
	reg := prometheus.NewRegistry()
	if _, err := recursor.NewMetrics(reg); err != nil {
		t.Fatal(err)
	}
	problems, err := testutil.GatherAndLint(reg)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("lint: %s: %s", p.Metric, p.Text)
	}
	if _, err := recursor.NewMetrics(reg); err == nil {
		t.Error("registering twice succeeded, want an error")
	}
}
