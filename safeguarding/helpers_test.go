package safeguarding

import (
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
