package dashboard

import (
	"strconv"
	"time"
)

// chart is an SVG bar chart drawn on the server: the template only
// places numbers into attributes, and every text goes through
// html/template's escaping.
type chart struct {
	W, H   int
	Bars   []bar
	Labels []axisLabel
	Max    string // value of the top line
	Empty  bool
	Title  string
}

type bar struct {
	X, Y, W, H float64
	Class      string // "a" or "b" series
	Title      string
}

type axisLabel struct {
	Text string
}

const (
	// The SVG holds only the bars and stretches to the page width; the
	// labels are HTML around it, so text is never stretched.
	chartW, chartH = 600, 120
	chartTop       = 1
	chartBottom    = 0
)

// qpsChart draws q/s per sample interval.
func qpsChart(hist []sample, loc *time.Location) chart {
	c := chart{W: chartW, H: chartH, Title: "Queries per second"}
	if len(hist) < 2 {
		c.Empty = true
		return c
	}
	n := len(hist) - 1
	vals := make([]float64, n)
	peak := 0.0
	for i := range n {
		vals[i] = rate(hist[i], hist[i+1], func(s sample) float64 { return s.queries })
		peak = max(peak, vals[i])
	}
	top := niceCeil(peak)
	c.Max = trimFloat(top) + " q/s"
	plotH := float64(chartH - chartTop - chartBottom)
	bw := float64(chartW) / float64(n)
	for i, v := range vals {
		h := 0.0
		if top > 0 {
			h = v / top * plotH
		}
		c.Bars = append(c.Bars, bar{X: float64(i) * bw, Y: chartTop + plotH - h, W: max(bw-1, 0.5), H: h, Class: "a",
			Title: hist[i+1].at.In(loc).Format("15:04:05") + ": " + trimFloat(v) + " q/s"})
	}
	c.Labels = []axisLabel{{Text: hist[0].at.In(loc).Format("15:04")}, {Text: hist[n].at.In(loc).Format("15:04")}}
	return c
}

// pairChart draws two series per slot (e.g. queries and blocked per day).
func pairChart(title string, labels []string, a, b []float64, aName, bName string) chart {
	c := chart{W: chartW, H: chartH, Title: title}
	if len(labels) == 0 {
		c.Empty = true
		return c
	}
	peak := 0.0
	for i := range labels {
		peak = max(peak, a[i], b[i])
	}
	top := niceCeil(peak)
	c.Max = trimFloat(top)
	plotH := float64(c.H - chartTop - chartBottom)
	slot := float64(chartW) / float64(len(labels))
	bw := max(slot/2-2, 1)
	scale := func(v float64) float64 {
		if top == 0 {
			return 0
		}
		return v / top * plotH
	}
	for i, l := range labels {
		x := float64(i) * slot
		ha, hb := scale(a[i]), scale(b[i])
		c.Bars = append(c.Bars,
			bar{X: x + 1, Y: chartTop + plotH - ha, W: bw, H: ha, Class: "a", Title: l + ": " + trimFloat(a[i]) + " " + aName},
			bar{X: x + 1 + bw, Y: chartTop + plotH - hb, W: bw, H: hb, Class: "b", Title: l + ": " + trimFloat(b[i]) + " " + bName})
		if len(labels) <= 14 {
			c.Labels = append(c.Labels, axisLabel{Text: l})
		}
	}
	return c
}

// niceCeil rounds up to 1, 2 or 5 times a power of ten.
func niceCeil(v float64) float64 {
	if v <= 0 {
		return 1
	}
	p := 1.0
	for p*10 <= v {
		p *= 10
	}
	for p > v && p > 0.01 {
		p /= 10
	}
	for _, m := range []float64{1, 2, 5, 10} {
		if m*p >= v {
			return m * p
		}
	}
	return 10 * p
}

func trimFloat(f float64) string {
	if f >= 10 || f == float64(int64(f)) {
		return strconv.FormatInt(int64(f+0.5), 10)
	}
	return strconv.FormatFloat(f, 'f', 1, 64)
}
