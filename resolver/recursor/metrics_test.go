package recursor_test

import (
	"strconv"
	"strings"
	"testing"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"gatehouse/internal/dnstest"
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

func TestMetrics_exchanges(t *testing.T) {
	w := newWorld(t)
	w["203.0.113.1"] = dnstest.Rcode(dns.RcodeRefused)
	reg := newRegistry(t)
	r := newRecursor(t, w.net(), func(c *recursor.Config) { c.Metrics = reg.m })
	resolve(t, r, "www.example.org.", dns.TypeA)
	reg.want(t,
		`gatehouse_recursor_exchanges_total{result="ok"} 4`,
		`gatehouse_recursor_exchanges_total{result="refused"} 1`,
		`gatehouse_recursor_servers_held_total{reason="refused"} 1`,
		`gatehouse_recursor_infra_cache_entries{cache="delegations"} 3`,
		`gatehouse_recursor_infra_cache_entries{cache="servers"} 4`,
		`gatehouse_recursor_infra_cache_entries{cache="lame"} 1`,
		`gatehouse_recursor_exchange_duration_seconds 5`,
		`gatehouse_recursor_primings_total{result="success"} 1`,
		`gatehouse_recursor_budget_exceeded_total{kind="queries"} 0`,
	)
}
