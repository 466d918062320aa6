package resolver

import (
	"strconv"
	"time"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"

	"gatehouse/policy"
)

// Metrics are the server's Prometheus metrics (gatehouse_server_*). Every
// labelled child the query path touches is created up front, so counting a
// query is a few atomic adds and never a map lookup or an allocation.
type Metrics struct {
	queries     [numProtos][len(countedTypes) + 1]prometheus.Counter
	responses   [17]prometheus.Counter // rcodes 0..15, then "other"
	duration    [numSources]prometheus.Observer
	drops       [numDropReasons]prometheus.Counter
	refusedACL  prometheus.Counter
	staleServed prometheus.Counter
	panics      prometheus.Counter
	tcpConns    prometheus.Gauge
	tcpRejected prometheus.Counter
	decisions   [numActions][numReasons + numAnswerReasons]prometheus.Counter
}

// The policy decisions counted, by action and reason: both bounded enums.
const (
	numActions = int(policy.Rewrite) + 1
	numReasons = policy.NumReasons
	// numAnswerReasons are the answer-side reasons, counted after the rest.
	numAnswerReasons = int(policy.ReasonRebinding-policy.ReasonCNAME) + 1
)

// countedTypes get their own label value; the rest count as "other", so a
// client sending random types cannot grow the label set.
var countedTypes = [...]uint16{
	dns.TypeA, dns.TypeAAAA, dns.TypeHTTPS, dns.TypeSVCB, dns.TypeCNAME, dns.TypePTR,
	dns.TypeMX, dns.TypeTXT, dns.TypeSRV, dns.TypeNS, dns.TypeSOA, dns.TypeDS,
	dns.TypeDNSKEY, dns.TypeCAA, dns.TypeNAPTR, dns.TypeANY,
}

type dropReason uint8

const (
	dropMalformed dropReason = iota
	dropRateLimit
	numDropReasons
)

var dropReasonNames = [numDropReasons]string{"malformed", "ratelimit"}

// NewMetrics registers the server metrics on reg.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	const ns, sub = "gatehouse", "server"
	queries := prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: ns, Subsystem: sub, Name: "queries_total",
		Help: "DNS queries received, by transport and query type.",
	}, []string{"proto", "type"})
	responses := prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: ns, Subsystem: sub, Name: "responses_total",
		Help: "DNS responses sent, by response code.",
	}, []string{"rcode"})
	duration := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: ns, Subsystem: sub, Name: "query_duration_seconds",
		Help:    "Time from receiving a query to having its reply, by where the answer came from.",
		Buckets: []float64{.00005, .0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
	}, []string{"source"})
	drops := prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: ns, Subsystem: sub, Name: "dropped_total",
		Help: "Packets dropped without a reply, by reason.",
	}, []string{"reason"})
	m := &Metrics{
		refusedACL: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: ns, Subsystem: sub, Name: "access_refused_total",
			Help: "Queries refused because the client is outside the allowed networks.",
		}),
		staleServed: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: ns, Subsystem: sub, Name: "stale_answers_total",
			Help: "Replies served from expired cache data because upstream failed (RFC 8767).",
		}),
		panics: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: ns, Subsystem: sub, Name: "panics_total",
			Help: "Panics recovered while handling a query.",
		}),
		tcpConns: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: ns, Subsystem: sub, Name: "tcp_connections",
			Help: "Open client TCP connections.",
		}),
		tcpRejected: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: ns, Subsystem: sub, Name: "tcp_rejected_total",
			Help: "TCP connections closed at once because the connection cap was reached.",
		}),
	}
	decisions := prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: ns, Subsystem: "policy", Name: "decisions_total",
		Help: "Policy decisions, by action and the kind of rule that decided.",
	}, []string{"action", "reason"})
	for a := range numActions {
		for r := range numReasons + numAnswerReasons {
			m.decisions[a][r] = decisions.WithLabelValues(policy.Action(a).String(), reasonAt(r).String())
		}
	}
	for _, c := range []prometheus.Collector{queries, responses, duration, drops, decisions, m.refusedACL, m.staleServed, m.panics, m.tcpConns, m.tcpRejected} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	m.fill(queries, responses, duration, drops)
	return m, nil
}

func (m *Metrics) fill(queries, responses *prometheus.CounterVec, duration *prometheus.HistogramVec, drops *prometheus.CounterVec) {
	for p := range numProtos {
		for i, t := range countedTypes {
			m.queries[p][i] = queries.WithLabelValues(p.String(), dns.TypeToString[t])
		}
		m.queries[p][len(countedTypes)] = queries.WithLabelValues(p.String(), "other")
	}
	for rc := range 16 {
		name, ok := dns.RcodeToString[rc]
		if !ok {
			name = "RCODE" + strconv.Itoa(rc)
		}
		m.responses[rc] = responses.WithLabelValues(name)
	}
	m.responses[16] = responses.WithLabelValues("other")
	for s, name := range [numSources]string{"cache", "upstream", "local"} {
		m.duration[s] = duration.WithLabelValues(name)
	}
	for r, name := range dropReasonNames {
		m.drops[r] = drops.WithLabelValues(name)
	}
}

// discardMetrics registers on a private registry: for servers built without
// metrics (tests), so the query path needs no nil checks.
func discardMetrics() *Metrics {
	m, err := NewMetrics(prometheus.NewRegistry())
	if err != nil {
		panic(err) // a fresh registry cannot have clashes
	}
	return m
}

func (m *Metrics) query(p proto, qtype uint16) {
	i := len(countedTypes)
	for j, t := range countedTypes {
		if t == qtype {
			i = j
			break
		}
	}
	m.queries[p][i].Inc()
}

func (m *Metrics) answered(rcode int, s source, elapsed time.Duration) {
	if rcode < 0 || rcode > 15 {
		rcode = 16 // extended rcodes (BADVERS) count as "other"
	}
	m.responses[rcode].Inc()
	m.duration[s].Observe(elapsed.Seconds())
}

func (m *Metrics) dropped(r dropReason) { m.drops[r].Inc() }

func (m *Metrics) decided(d policy.Decision) {
	r := int(d.Reason)
	if d.Reason.AnswerSide() {
		r = numReasons + int(d.Reason-policy.ReasonCNAME)
	}
	if int(d.Action) < numActions && r < numReasons+numAnswerReasons {
		m.decisions[d.Action][r].Inc()
	}
}

// reasonAt is the reason counted at index i of a decisions row.
func reasonAt(i int) policy.Reason {
	if i >= numReasons {
		return policy.ReasonCNAME + policy.Reason(i-numReasons)
	}
	return policy.Reason(i)
}
func (m *Metrics) refused() { m.refusedACL.Inc() }
func (m *Metrics) stale()   { m.staleServed.Inc() }
