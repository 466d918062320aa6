// Package dnsperf reads the output of dnsperf (2.10), the load generator
// the benchmark harnesses drive Gatehouse and Unbound with.
package dnsperf

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
)

// Stats is what one dnsperf run reports. Latencies are in seconds.
type Stats struct {
	Sent       int64            `json:"sent"`
	Completed  int64            `json:"completed"`
	Lost       int64            `json:"lost"`
	Rcodes     map[string]int64 `json:"rcodes"`
	ReqSize    int              `json:"request_bytes"`
	RespSize   int              `json:"response_bytes"`
	RunTime    float64          `json:"run_time_s"`
	QPS        float64          `json:"qps"`
	AvgLatency float64          `json:"avg_latency_s"`
	MinLatency float64          `json:"min_latency_s"`
	MaxLatency float64          `json:"max_latency_s"`
	StdDev     float64          `json:"latency_stddev_s"`

	// From verbose (-v) output only: one latency per answered query, sorted
	// ascending, and the queries reported as timed out ("T") or interrupted.
	Latencies   []float64 `json:"-"`
	Timeouts    int64     `json:"verbose_timeouts,omitempty"`
	Interrupted int64     `json:"verbose_interrupted,omitempty"`
}

// Parse reads dnsperf's standard output: the "Statistics:" block and,
// when it ran with -v, one "> RCODE name type latency" line per response.
// Lines it does not know are ignored, so warnings mixed in (-W) are fine.
func Parse(r io.Reader) (*Stats, error) {
	st := &Stats{Rcodes: map[string]int64{}}
	seen := map[string]bool{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		line := sc.Text()
		if rest, ok := strings.CutPrefix(line, "> "); ok {
			if err := st.addVerbose(rest); err != nil {
				return nil, err
			}
			continue
		}
		key, val, ok := strings.Cut(strings.TrimSpace(line), ":")
		if !ok {
			continue
		}
		val = strings.TrimSpace(val)
		var err error
		switch key {
		case "Queries sent":
			st.Sent, err = LeadingInt(val)
		case "Queries completed":
			st.Completed, err = LeadingInt(val)
		case "Queries lost":
			st.Lost, err = LeadingInt(val)
		case "Response codes":
			err = st.parseRcodes(val)
		case "Average packet size":
			err = st.parseSizes(val)
		case "Run time (s)":
			st.RunTime, err = strconv.ParseFloat(val, 64)
		case "Queries per second":
			st.QPS, err = strconv.ParseFloat(val, 64)
		case "Average Latency (s)":
			err = st.parseLatency(val)
		case "Latency StdDev (s)":
			st.StdDev, err = strconv.ParseFloat(val, 64)
		default:
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("parsing dnsperf %q line %q: %w", key, line, err)
		}
		seen[key] = true
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading dnsperf output: %w", err)
	}
	for _, k := range []string{"Queries sent", "Queries completed", "Queries lost", "Run time (s)", "Queries per second"} {
		if !seen[k] {
			return nil, fmt.Errorf("parsing dnsperf output: no %q line (did dnsperf fail?)", k)
		}
	}
	slices.Sort(st.Latencies)
	return st, nil
}

// addVerbose takes one verbose line without its "> ": "NOERROR name A
// 0.000231", or "T name A" for a timeout, "I name A" for an interrupted
// query.
func (st *Stats) addVerbose(s string) error {
	f := strings.Fields(s)
	if len(f) == 0 {
		return fmt.Errorf("parsing dnsperf verbose line %q: empty", s)
	}
	switch f[0] {
	case "T":
		st.Timeouts++
		return nil
	case "I":
		st.Interrupted++
		return nil
	}
	if len(f) < 2 {
		return fmt.Errorf("parsing dnsperf verbose line %q: no latency", s)
	}
	lat, err := strconv.ParseFloat(f[len(f)-1], 64)
	if err != nil || lat < 0 || math.IsNaN(lat) || math.IsInf(lat, 0) {
		return fmt.Errorf("parsing dnsperf verbose line %q: bad latency", s)
	}
	st.Latencies = append(st.Latencies, lat)
	return nil
}

// parseRcodes reads "NOERROR 193869 (100.00%), SERVFAIL 2 (0.00%)", or
// nothing when no query was answered.
func (st *Stats) parseRcodes(s string) error {
	if s == "" {
		return nil
	}
	for part := range strings.SplitSeq(s, ",") {
		f := strings.Fields(part)
		if len(f) < 2 {
			return fmt.Errorf("bad response code entry %q", part)
		}
		n, err := strconv.ParseInt(f[1], 10, 64)
		if err != nil {
			return fmt.Errorf("bad response code count %q", part)
		}
		st.Rcodes[f[0]] += n
	}
	return nil
}

// parseSizes reads "request 35, response 51".
func (st *Stats) parseSizes(s string) error {
	for part := range strings.SplitSeq(s, ",") {
		f := strings.Fields(part)
		if len(f) != 2 {
			return fmt.Errorf("bad packet size entry %q", part)
		}
		n, err := strconv.Atoi(f[1])
		if err != nil {
			return fmt.Errorf("bad packet size %q", part)
		}
		switch f[0] {
		case "request":
			st.ReqSize = n
		case "response":
			st.RespSize = n
		}
	}
	return nil
}

// parseLatency reads "0.001596 (min 0.000014, max 0.012727)".
func (st *Stats) parseLatency(s string) error {
	avg, rest, _ := strings.Cut(s, " ")
	var err error
	if st.AvgLatency, err = strconv.ParseFloat(avg, 64); err != nil {
		return err
	}
	rest = strings.Trim(strings.TrimSpace(rest), "()")
	for part := range strings.SplitSeq(rest, ",") {
		f := strings.Fields(part)
		if len(f) != 2 {
			continue
		}
		v, err := strconv.ParseFloat(f[1], 64)
		if err != nil {
			return err
		}
		switch f[0] {
		case "min":
			st.MinLatency = v
		case "max":
			st.MaxLatency = v
		}
	}
	return nil
}

// LeadingInt reads the first field of "193869 (100.00%)".
func LeadingInt(s string) (int64, error) {
	f := strings.Fields(s)
	if len(f) == 0 {
		return 0, fmt.Errorf("empty")
	}
	return strconv.ParseInt(f[0], 10, 64)
}

// Percentile is the nearest-rank percentile (0 < p <= 100) of sorted
// values; NaN when there are none.
func Percentile(sorted []float64, p float64) float64 {
	if len(sorted) == 0 {
		return math.NaN()
	}
	rank := int(math.Ceil(p / 100 * float64(len(sorted))))
	rank = max(1, min(rank, len(sorted)))
	return sorted[rank-1]
}
