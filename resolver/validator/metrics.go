package validator

import (
	"fmt"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
)

const (
	namespace = "gatehouse"
	subsystem = "validator"
)

// Metrics are the validator's Prometheus metrics. Build them with
// NewMetrics and pass them in Config.Metrics.
type Metrics struct {
	results       *prometheus.CounterVec
	bogus         *prometheus.CounterVec
	verifications prometheus.Counter
	sigCacheHits  prometheus.Counter
	timeFailures  prometheus.Counter
	fetches       *prometheus.CounterVec
	clockWarnings prometheus.Counter
	referralDS    prometheus.Counter
	keyPrefetches prometheus.Counter
	aggressive    *prometheus.CounterVec
}

// Bogus reasons, the values of the bogus_total "reason" label.
const (
	reasonExpired     = "signature_expired"
	reasonNotYetValid = "signature_not_yet_valid"
	reasonBadSig      = "signature_invalid"
	reasonNoKey       = "dnskey_missing"
	reasonNoSig       = "rrsigs_missing"
	reasonNoNSEC      = "nsec_missing"
	reasonChain       = "bad_chain"
	reasonBudget      = "work_limit"
)

var allReasons = []string{reasonExpired, reasonNotYetValid, reasonBadSig, reasonNoKey, reasonNoSig, reasonNoNSEC, reasonChain, reasonBudget}

// NewMetrics creates the validator metrics and registers them with reg. A
// nil reg leaves them unregistered.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	opts := func(name, help string) prometheus.CounterOpts {
		return prometheus.CounterOpts{Namespace: namespace, Subsystem: subsystem, Name: name, Help: help}
	}
	m := &Metrics{
		results: prometheus.NewCounterVec(opts("results_total",
			"Answers by DNSSEC status: secure, insecure, bogus, indeterminate, or unchecked (client set CD)."), []string{"status"}),
		bogus: prometheus.NewCounterVec(opts("bogus_total",
			"Bogus answers by reason."), []string{"reason"}),
		verifications: prometheus.NewCounter(opts("signature_verifications_total",
			"Cryptographic RRSIG verifications performed.")),
		sigCacheHits: prometheus.NewCounter(opts("signature_cache_hits_total",
			"RRSIG verifications skipped because the same signature over the same records with the same key verified before.")),
		timeFailures: prometheus.NewCounter(opts("signature_time_failures_total",
			"RRsets whose signatures failed only because they were expired or not yet valid; a burst means the clock is wrong.")),
		fetches: prometheus.NewCounterVec(opts("upstream_queries_total",
			"DS and DNSKEY queries sent upstream to build chains of trust."), []string{"type"}),
		clockWarnings: prometheus.NewCounter(opts("clock_warnings_total",
			"Warnings logged because most signatures failed their validity period.")),
		referralDS: prometheus.NewCounter(opts("referral_ds_total",
			"DS RRsets and proofs of no DS taken from the recursor's referrals instead of a DS query.")),
		keyPrefetches: prometheus.NewCounter(opts("key_prefetches_total",
			"Zone key (DNSKEY) fetches started as soon as a signed referral or a trust anchor showed they would be needed, side by side with the recursion.")),
		aggressive: prometheus.NewCounterVec(opts("aggressive_nsec_answers_total",
			"Negative answers synthesized from cached, validated NSEC records (RFC 8198), by rcode."), []string{"rcode"}),
	}
	for s := Unchecked; s <= Indeterminate; s++ {
		m.results.WithLabelValues(s.String())
	}
	for _, r := range allReasons {
		m.bogus.WithLabelValues(r)
	}
	for _, t := range []uint16{dns.TypeDS, dns.TypeDNSKEY} {
		m.fetches.WithLabelValues(dns.TypeToString[t])
	}
	if reg == nil {
		return m, nil
	}
	for _, rc := range []string{"NXDOMAIN", "NOERROR"} {
		m.aggressive.WithLabelValues(rc)
	}
	for _, c := range []prometheus.Collector{m.results, m.bogus, m.verifications, m.sigCacheHits, m.timeFailures, m.fetches, m.clockWarnings, m.referralDS, m.keyPrefetches, m.aggressive} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("registering validator metrics: %w", err)
		}
	}
	return m, nil
}
