package recursor

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/miekg/dns"

	"gatehouse/resolver"
)

// Budget defaults, applied to zero Budget fields. They bound the work of one
// Resolve call, including the lookups of name server addresses it starts and
// the CNAME chains it follows, so that a hostile or broken zone cannot turn
// one client question into thousands of upstream queries (NXNSAttack,
// CVE-2020-8616 and CVE-2020-12662; RFC 1034 section 5.3.3 already asks
// resolvers to bound the work per request).
const (
	// DefaultMaxQueries bounds upstream exchanges. A cold lookup of a name
	// three labels deep with QNAME minimisation takes four or five; one
	// with a glueless delegation and a CNAME into another zone about
	// fifteen. Unbound's MAX_SENT_COUNT, its NXNSAttack fix, is 32 per
	// query state, and its sub-queries get their own.
	DefaultMaxQueries = 50
	// DefaultMaxReferrals bounds the referrals followed.
	DefaultMaxReferrals = 30
	// DefaultMaxGlueless bounds the name server names whose addresses are
	// looked up (delegations without glue). BIND's NXNSAttack fix stops
	// after a handful of address fetches per delegation; this bounds the
	// whole resolution.
	DefaultMaxGlueless = 8
	// DefaultMaxCNAMEs bounds the CNAME and DNAME records followed (Unbound's
	// MAX_RESTART_COUNT is 11).
	DefaultMaxCNAMEs = 11
	// DefaultMaxTime bounds a whole resolution.
	DefaultMaxTime = 10 * time.Second
	// DefaultInfraCacheSize is the default size of each infrastructure
	// cache: delegations, name server addresses, and server statistics.
	DefaultInfraCacheSize = 10000
)

// Tuning that is not worth a config knob.
const (
	// maxZoneTries bounds the servers asked for one step of a resolution
	// (one zone, one question) before the zone counts as unreachable.
	maxZoneTries = 6
	// gluelessBatch is how many name server names without addresses are
	// looked up at once, in parallel, before their servers are tried.
	gluelessBatch int64 = 3
	// maxLookupDepth bounds nested name server address lookups (resolving
	// a name server's name needs a delegation whose servers are glueless
	// too...).
	maxLookupDepth = 4
	// minInfraTTL and maxInfraTTL bound how long delegations and server
	// addresses are kept (the maximum is Unbound's cache-max-ttl). The
	// minimum keeps data with TTL 0 long enough to be used.
	minInfraTTL = 5 * time.Second
	maxInfraTTL = 24 * time.Hour
	// minNegAddrTTL and maxNegAddrTTL bound how long a name server name
	// without addresses is remembered as such.
	minNegAddrTTL = 30 * time.Second
	maxNegAddrTTL = 15 * time.Minute
	// primeRetry is how long the root hints are used as they are after a
	// failed priming, before priming is tried again.
	primeRetry = 10 * time.Second
)

// Budget is the most work one Resolve call may do. Zero fields take the
// defaults above. Blowing any of them ends the resolution with an error
// wrapping ErrBudget, answered as SERVFAIL with an Extended DNS Error.
type Budget struct {
	MaxQueries   int           // upstream exchanges
	MaxReferrals int           // referrals followed
	MaxGlueless  int           // name server names whose addresses are looked up
	MaxCNAMEs    int           // CNAME and DNAME records followed
	MaxTime      time.Duration // wall time
}

func (b Budget) withDefaults() Budget {
	if b.MaxQueries == 0 {
		b.MaxQueries = DefaultMaxQueries
	}
	if b.MaxReferrals == 0 {
		b.MaxReferrals = DefaultMaxReferrals
	}
	if b.MaxGlueless == 0 {
		b.MaxGlueless = DefaultMaxGlueless
	}
	if b.MaxCNAMEs == 0 {
		b.MaxCNAMEs = DefaultMaxCNAMEs
	}
	if b.MaxTime == 0 {
		b.MaxTime = DefaultMaxTime
	}
	return b
}

func (b Budget) validate() error {
	var errs []error
	for _, f := range []struct {
		name string
		v    int64
	}{
		{"max queries", int64(b.MaxQueries)},
		{"max referrals", int64(b.MaxReferrals)},
		{"max glueless", int64(b.MaxGlueless)},
		{"max cnames", int64(b.MaxCNAMEs)},
		{"max time", int64(b.MaxTime)},
	} {
		if f.v < 0 {
			errs = append(errs, fmt.Errorf("budget: %s is negative", f.name))
		}
	}
	return errors.Join(errs...)
}

// Config configures a Recursor. The zero value is usable: it resolves from
// the IANA root servers over a default resolver.Transport.
type Config struct {
	// Exchanger talks to authoritative servers (default: a new
	// resolver.Transport whose timeout does not cut the recursor's own
	// per-server timeouts short). Tests use dnstest.Net. If it also has an
	// ExchangeTCP method like resolver.Transport's, a truncated reply that
	// reaches the recursor is retried with it.
	Exchanger resolver.Exchanger
	// RootHints are the root name servers: NS records for "." and A/AAAA
	// records for their names (see ParseHints). Nil means the IANA root
	// servers built in (BuiltinHints).
	RootHints []dns.RR
	// QNameMinimisation sends each server only as much of the name as it
	// needs to see (RFC 9156), in relaxed mode: when a server mishandles a
	// minimised query the full name is sent instead.
	QNameMinimisation bool
	// Use0x20 randomises the case of the letters in each query name and
	// rejects replies that do not echo it exactly (draft-vixie-dnsext-
	// dns0x20), making spoofed replies harder to forge. A server that does
	// not preserve case then counts as failing.
	Use0x20 bool
	// AllowLoopback lets name server addresses learnt from the network be
	// loopback or link-local. Only for a private hierarchy on one machine
	// (tests, benchmarks): otherwise glue could make us query ourselves.
	AllowLoopback bool
	// IPv6 lets the recursor use name servers' IPv6 addresses. Leave it off
	// on hosts without IPv6 connectivity.
	IPv6 bool
	// Budget bounds the work of each Resolve call.
	Budget Budget
	// InfraCacheSize is the number of entries in each infrastructure cache
	// (delegations, name server addresses, server statistics, lame server
	// memory). Zero means DefaultInfraCacheSize.
	InfraCacheSize int
	// Logger receives debug messages (default: discard).
	Logger *slog.Logger
	// Metrics, from NewMetrics (default: unregistered metrics).
	Metrics *Metrics
	// Now returns the current time (default time.Now); it times exchanges
	// and expires cached infrastructure.
	Now func() time.Time
}
