package main

import (
	"fmt"
	"io"
	"net/netip"
	"time"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"

	"gatehouse/clientmap"
	"gatehouse/geoip"
	"gatehouse/policy"
)

// answerChecksBuilt reports what a new snapshot's answer-side checks were
// built around: GeoIP databases kept from before because the new file did
// not load, skipped lines of address lists (with file:line), and the
// databases in force.
func (s *site) answerChecksBuilt(snap *policy.Snapshot) {
	for _, w := range snap.Warnings() {
		s.log.Warn("answer checks: a database failed to load", "error", w)
	}
	for _, l := range snap.Addresses().Lists() {
		if l.Stats.Invalid+l.Stats.Unsupported == 0 {
			continue
		}
		issues := make([]string, len(l.Issues))
		for i, e := range l.Issues {
			issues[i] = e.Error()
		}
		s.log.Warn("address list lines skipped", "list", l.Name, "entries", l.Entries,
			"invalid", l.Stats.Invalid, "unsupported", l.Stats.Unsupported, "first", issues)
	}
	countries, asns := snap.GeoIP()
	for _, ix := range []*geoip.Index{countries, asns} {
		if ix != nil {
			i := ix.Info()
			s.log.Debug("geoip database", "kind", ix.Kind(), "path", i.Path, "type", i.Type,
				"built", i.Built, "networks", i.Networks, "ranges_kept", i.Ranges)
		}
	}
	s.geoM.set(countries, asns, len(snap.Warnings()))
}

// geoipMetrics show the GeoIP databases in force, so a monitor can tell a
// database that stopped being updated (or failed to load) from a fresh one.
type geoipMetrics struct {
	built    *prometheus.GaugeVec
	ranges   *prometheus.GaugeVec
	failures prometheus.Counter
}

func newGeoipMetrics(reg prometheus.Registerer) (*geoipMetrics, error) {
	m := &geoipMetrics{
		built: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: "gatehouse", Subsystem: "geoip", Name: "database_build_timestamp_seconds",
			Help: "When the GeoIP database in force was built by its publisher, by kind (country, asn).",
		}, []string{"kind"}),
		ranges: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: "gatehouse", Subsystem: "geoip", Name: "ranges",
			Help: "Address ranges kept from the GeoIP database in force (those of blocked countries or ASNs), by kind.",
		}, []string{"kind"}),
		failures: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "gatehouse", Subsystem: "geoip", Name: "load_failures_total",
			Help: "Reloads that kept the last good GeoIP database because the new file did not load.",
		}),
	}
	for _, c := range []prometheus.Collector{m.built, m.ranges, m.failures} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

func (m *geoipMetrics) set(countries, asns *geoip.Index, failures int) {
	if m == nil {
		return
	}
	for _, ix := range []struct {
		kind string
		ix   *geoip.Index
	}{{"country", countries}, {"asn", asns}} {
		if ix.ix == nil {
			m.built.DeleteLabelValues(ix.kind)
			m.ranges.DeleteLabelValues(ix.kind)
			continue
		}
		m.built.WithLabelValues(ix.kind).Set(float64(ix.ix.Info().Built.Unix()))
		m.ranges.WithLabelValues(ix.kind).Set(float64(ix.ix.Info().Ranges))
	}
	m.failures.Add(float64(failures))
}

// explainAnswer adds the answer-side checks to explain: with --answer
// values (CNAME targets and addresses, in answer order) it decides the
// answer as the server would and shows every address-list and name-list
// entry they hit, with file:line. explain does not resolve anything, so
// without them it only says the checks exist.
func explainAnswer(w io.Writer, snap *policy.Snapshot, c clientmap.Client, d policy.Decision, name string, answer []string, now time.Time) error {
	if len(answer) == 0 {
		if d.Action == policy.Pass || d.Action == policy.Allow {
			fmt.Fprintf(w, "answer\tthe answer's CNAME targets and addresses are checked too when it arrives; give them with --answer to see the result\n")
		}
		return nil
	}
	var targets []string
	var addrs []netip.Addr
	for _, a := range answer {
		if ip, err := netip.ParseAddr(a); err == nil {
			addrs = append(addrs, ip.Unmap())
			continue
		}
		if _, ok := dns.IsDomainName(a); !ok {
			return fmt.Errorf("--answer: %q is neither an IP address nor a domain name", a)
		}
		targets = append(targets, dns.CanonicalName(a))
	}
	ad := snap.DecideAnswer(c, d, name, targets, addrs, now)
	switch {
	case ad != d:
		fmt.Fprintf(w, "answer\t%s\n", describe(ad))
	case d.Action == policy.Block || d.Action == policy.Rewrite:
		fmt.Fprintf(w, "answer\tnot checked: the question's decision stands\n")
	default:
		fmt.Fprintf(w, "answer\tpasses the answer checks\n")
	}
	for _, t := range targets {
		if set := snap.Lists(); set != nil {
			hits, _ := set.Explain(t)
			for _, h := range hits {
				fmt.Fprintf(w, "listed\tcname target %s: %s in %s (%s) at %s\n", t, h.Entry, h.ListName, h.Category, where(h.Source, h.Line))
			}
		}
	}
	for _, a := range addrs {
		for _, m := range snap.Addresses().Explain(a) {
			locked := ""
			if m.Locked {
				locked = ", locked"
			}
			fmt.Fprintf(w, "listed\taddress %s: %s in %s (%s%s) at %s\n", a, m.Entry(), m.Name, m.Category, locked, where(m.Source, m.Line))
		}
	}
	return nil
}

func where(source string, line int) string {
	if line > 0 {
		return fmt.Sprintf("%s:%d", source, line)
	}
	return source
}
