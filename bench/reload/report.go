//go:build linux

package main

import (
	"fmt"
	"io"

	"gatehouse/bench/internal/dnsperf"
)

// maxPeakRatio is issue 4's target: peak RSS during the swaps at most this
// times the steady RSS.
const maxPeakRatio = 1.5

// report is one run's results.
type report struct {
	Command      string  `json:"command"`
	Version      string  `json:"gatehouse_version"`
	Started      string  `json:"started"`
	Options      options `json:"options"`
	ListBytes    int64   `json:"list_bytes"`
	StartSeconds float64 `json:"start_to_list_in_force_s"`

	Dnsperf *dnsperf.Stats `json:"dnsperf"`
	// Failed are the queries not answered NOERROR or NXDOMAIN (the only
	// rcodes this query mix can get), lost ones included.
	Failed int64 `json:"failed"`

	Swaps []swap `json:"swaps"`

	SteadyRSSKiB   int64   `json:"steady_rss_kib"`   // median VmRSS, second half of the settle time
	PeakSampledKiB int64   `json:"peak_sampled_kib"` // highest VmRSS sampled during the swaps
	PeakHWMKiB     int64   `json:"peak_hwm_kib"`     // VmHWM at the end, reset before the first swap
	EndRSSKiB      int64   `json:"end_rss_kib"`
	PeakRatio      float64 `json:"peak_ratio"` // max(PeakSampled, PeakHWM) / SteadyRSS
	Samples        int     `json:"samples"`
}

// swap is one replacement of the list file.
type swap struct {
	Version        int     `json:"version"`
	WriteSeconds   float64 `json:"write_s"`    // writing and renaming the file
	InForceSeconds float64 `json:"in_force_s"` // from starting to write to the new marker blocked
	RSSBeforeKiB   int64   `json:"rss_before_kib"`
	PeakRSSKiB     int64   `json:"peak_rss_kib"` // highest VmRSS sampled until the next swap
}

func (r *report) finish() {
	st := r.Dnsperf
	r.Failed = st.Lost
	for rcode, n := range st.Rcodes {
		if rcode != "NOERROR" && rcode != "NXDOMAIN" {
			r.Failed += n
		}
	}
	if r.SteadyRSSKiB > 0 {
		r.PeakRatio = float64(max(r.PeakSampledKiB, r.PeakHWMKiB)) / float64(r.SteadyRSSKiB)
	}
}

// Pass reports whether the run met issue 4's targets.
func (r *report) Pass() bool {
	return r.Failed == 0 && r.Dnsperf.Completed > 0 && r.PeakRatio <= maxPeakRatio
}

func mib(kib int64) float64 { return float64(kib) / 1024 }

func (r *report) print(w io.Writer) {
	st := r.Dnsperf
	fmt.Fprintf(w, "gatehouse %s, list of %d names (%.1f MiB), %d swaps every %s under %d q/s\n",
		r.Version, r.Options.Names, float64(r.ListBytes)/(1<<20), len(r.Swaps), r.Options.Interval, r.Options.Rate)
	fmt.Fprintf(w, "start to list in force: %.2f s\n", r.StartSeconds)
	fmt.Fprintf(w, "queries: sent %d, answered %d, lost %d, rcodes %v; failed %d\n", st.Sent, st.Completed, st.Lost, st.Rcodes, r.Failed)
	fmt.Fprintf(w, "%-5s %10s %12s %14s %14s\n", "swap", "write s", "in force s", "rss before", "peak after")
	for _, s := range r.Swaps {
		fmt.Fprintf(w, "%-5d %10.2f %12.2f %10.1f MiB %10.1f MiB\n", s.Version, s.WriteSeconds, s.InForceSeconds, mib(s.RSSBeforeKiB), mib(s.PeakRSSKiB))
	}
	fmt.Fprintf(w, "rss: steady %.1f MiB, peak sampled %.1f MiB, VmHWM %.1f MiB, at the end %.1f MiB (%d samples)\n",
		mib(r.SteadyRSSKiB), mib(r.PeakSampledKiB), mib(r.PeakHWMKiB), mib(r.EndRSSKiB), r.Samples)
	verdict := "met"
	if !r.Pass() {
		verdict = "NOT met"
	}
	fmt.Fprintf(w, "peak/steady %.2f (target <= %.1f), failed %d (target 0): %s\n", r.PeakRatio, maxPeakRatio, r.Failed, verdict)
}
