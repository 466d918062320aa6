package validator

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	"github.com/miekg/dns"

	"gatehouse/resolver"
)

// ErrBogus is wrapped by the *resolver.ExtendedError a bogus answer
// becomes; errors.Is(err, ErrBogus) tells validation failures apart from
// upstream failures.
var ErrBogus = errors.New("dnssec validation failed")

// errBudget aborts a validation that hit a work limit.
var errBudget = errors.New("validation work limit reached")

// Validator is a DNSSEC-validating resolver.Resolver in front of an
// upstream resolver. It is safe for concurrent use.
type Validator struct {
	cfg     Config
	anchors anchors
	keys    *lru.Cache[string, *zoneKeys] // by zone apex
	ds      *lru.Cache[string, *dsResult] // by owner name
	metrics *Metrics
	log     *slog.Logger
	clock   *clockWatch
	neg     *negCache // validated NSEC records (RFC 8198); nil when off
	sigs    *sigCache // signatures that verified

	flightMu sync.Mutex
	flights  map[string]*keyFlight // key prefetches under way, by zone
}

// New returns a Validator for cfg.
func New(cfg Config) (*Validator, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	a, err := newAnchors(cfg.TrustAnchors)
	if err != nil {
		return nil, err
	}
	keys, err := lru.New[string, *zoneKeys](cfg.KeyCacheSize)
	if err != nil {
		return nil, fmt.Errorf("validator: creating key cache: %w", err)
	}
	ds, err := lru.New[string, *dsResult](cfg.KeyCacheSize)
	if err != nil {
		return nil, fmt.Errorf("validator: creating DS cache: %w", err)
	}
	v := &Validator{
		cfg: cfg, anchors: a, keys: keys, ds: ds,
		metrics: cfg.Metrics, log: cfg.Logger, sigs: newSigCache(),
		flights: map[string]*keyFlight{},
	}
	if !cfg.DisableAggressiveNSEC {
		v.neg = newNegCache()
	}
	v.clock = &clockWatch{logger: cfg.Logger, warnings: cfg.Metrics.clockWarnings.Inc}
	return v, nil
}

// Resolve implements resolver.Resolver: it answers q from upstream data,
// validated unless q.CD is set. See Validate.
func (v *Validator) Resolve(ctx context.Context, q resolver.Question) (*dns.Msg, error) {
	m, _, err := v.Validate(ctx, q)
	return m, err
}

// Validate answers q and reports the answer's security status. It asks
// upstream with DO and CD, then:
//   - with q.CD, returns the data unvalidated (Unchecked);
//   - secure data comes back with AD set (Secure), insecure and
//     indeterminate data without it;
//   - bogus data becomes a *resolver.ExtendedError wrapping ErrBogus, with
//     the RFC 8914 code saying why (status Bogus, nil message);
//   - upstream failures, also while fetching keys, are returned as they
//     are (status Indeterminate).
//
// Without q.DO, RRSIG, NSEC and NSEC3 records are removed unless q.Type
// asks for them. The answer section keeps only the RRsets that answer q
// (the CNAME and DNAME chain and the data at its end).
func (v *Validator) Validate(ctx context.Context, q resolver.Question) (*dns.Msg, Status, error) {
	q.Name = dns.CanonicalName(q.Name)
	if !q.CD {
		if m := v.answerLocally(ctx, q); m != nil {
			v.metrics.results.WithLabelValues(Secure.String()).Inc()
			m.AuthenticatedData = true
			m.CheckingDisabled = false
			scrub(m)
			finish(m, q)
			return m, Secure, nil
		}
	}
	uctx, b := ctx, new(budget)
	if !q.CD {
		// The answer will be validated: the keys it needs can be fetched
		// while the recursion works towards it, from this query's budget.
		uctx = resolver.WithReferralHook(ctx, &prefetcher{v: v, b: b})
	}
	m, err := v.cfg.Upstream.Resolve(uctx, resolver.Question{Name: q.Name, Type: q.Type, DO: true, CD: true})
	if err != nil {
		return nil, Indeterminate, err
	}
	if q.CD {
		m.AuthenticatedData = false
		m.CheckingDisabled = true
		finish(m, q)
		v.metrics.results.WithLabelValues(Unchecked.String()).Inc()
		return m, Unchecked, nil
	}
	r := v.newRun(ctx)
	r.b = b
	st, f, err := r.validateMsg(q, m)
	if errors.Is(err, errBudget) {
		st, f, err = Bogus, fail(dns.ExtendedErrorCodeDNSBogus, reasonBudget, "validation work limit reached"), nil
	}
	if err != nil {
		return nil, Indeterminate, err
	}
	v.metrics.results.WithLabelValues(st.String()).Inc()
	if st == Bogus && f == nil {
		f = fail(dns.ExtendedErrorCodeDNSBogus, reasonChain, "validation failed") // not expected: every bogus path says why
	}
	if st != Indeterminate {
		v.clock.record(r.now, st == Bogus && (f.code == dns.ExtendedErrorCodeSignatureExpired || f.code == dns.ExtendedErrorCodeSignatureNotYetValid))
	}
	if st == Bogus {
		v.metrics.bogus.WithLabelValues(f.reason).Inc()
		v.log.Debug("bogus answer", "question", q.String(), "reason", f.reason, "detail", f.text)
		return nil, Bogus, &resolver.ExtendedError{Code: f.code, Text: f.text, Err: ErrBogus}
	}
	m.AuthenticatedData = st == Secure
	m.CheckingDisabled = false
	if st == Secure {
		scrub(m)
	}
	finish(m, q)
	return m, st, nil
}

// answerLocally answers q without asking upstream when what the validator
// or its upstream already hold proves the answer secure: a DS question from
// the DS RRset the parent's referral carried (validated like an upstream
// answer), or a negative answer synthesized from validated NSEC records
// (RFC 8198). Anything less than secure returns nil, and q goes upstream.
func (v *Validator) answerLocally(ctx context.Context, q resolver.Question) *dns.Msg {
	r := v.newRun(ctx)
	if q.Type == dns.TypeDS {
		if up, ok := v.cfg.Upstream.(ReferralDS); ok {
			// Only a DS RRset: a proof of no DS from a referral has no SOA,
			// which a negative answer needs.
			if m := up.ReferralDS(q.Name); m != nil && len(m.Answer) > 0 {
				if st, _, err := r.validateMsg(q, m); err == nil && st == Secure {
					v.metrics.referralDS.Inc()
					return m
				}
			}
		}
	}
	if q.Type == dns.TypeDNSKEY {
		if m := r.cachedKeys(q); m != nil {
			return m
		}
	}
	if v.neg != nil {
		return r.synthesize(q)
	}
	return nil
}

// cachedKeys answers a DNSKEY question from the validated DNSKEY RRset the
// key cache holds for a secure zone, with TTLs counting down.
func (r *run) cachedKeys(q resolver.Question) *dns.Msg {
	e, ok := r.v.keys.Get(q.Name)
	if !ok || e.status != Secure || e.set == nil || !r.now.Before(e.expires) {
		return nil
	}
	left := uint32(e.expires.Sub(r.now) / time.Second)
	if left == 0 {
		return nil
	}
	m := new(dns.Msg)
	m.Response = true
	m.RecursionDesired = true
	m.RecursionAvailable = true
	m.Question = []dns.Question{{Name: q.Name, Qtype: dns.TypeDNSKEY, Qclass: dns.ClassINET}}
	add := func(rr dns.RR) {
		rr = dns.Copy(rr)
		rr.Header().Ttl = min(rr.Header().Ttl, left)
		m.Answer = append(m.Answer, rr)
	}
	for _, rr := range e.set.rrs {
		add(rr)
	}
	for _, sig := range e.set.sigs {
		add(sig)
	}
	m.SetEdns0(resolver.DefaultBufSize, true)
	return m
}

// scrub drops from a secure answer what validation did not cover: the
// authority section's NS records and the additional section (Unbound's
// val-clean-additional). Denial records stay, for clients with DO.
func scrub(m *dns.Msg) {
	m.Ns = slices.DeleteFunc(m.Ns, func(rr dns.RR) bool {
		switch rr.Header().Rrtype {
		case dns.TypeSOA, dns.TypeNSEC, dns.TypeNSEC3, dns.TypeRRSIG:
			return false
		}
		return true
	})
	m.Extra = slices.DeleteFunc(m.Extra, func(rr dns.RR) bool { return rr.Header().Rrtype != dns.TypeOPT })
}

// finish fits m to a client without DO: no DNSSEC records it did not ask
// for (RFC 4035 section 3.2.1).
func finish(m *dns.Msg, q resolver.Question) {
	if q.DO {
		return
	}
	strip := func(rrs []dns.RR, keep uint16) []dns.RR {
		return slices.DeleteFunc(rrs, func(rr dns.RR) bool {
			t := rr.Header().Rrtype
			return t != keep && (t == dns.TypeRRSIG || t == dns.TypeNSEC || t == dns.TypeNSEC3)
		})
	}
	m.Answer = strip(m.Answer, q.Type)
	m.Ns = strip(m.Ns, 0)
	m.Extra = strip(m.Extra, 0)
}

// run is the state of one validation: its clock reading and its work
// counters.
type run struct {
	v   *Validator
	ctx context.Context
	now time.Time
	b   *budget

	depth int

	prefetching string   // the zone whose keys this run prefetches, if any
	prefetched  *dns.Msg // and the DNSKEY reply it fetched first, until used
}

// budget is one query's work so far, against its limits. The key
// prefetches a validation starts (prefetch.go) spend from it too, from
// their own goroutines.
type budget struct {
	verifies, fetches, hashWork atomic.Int64
}

func (v *Validator) newRun(ctx context.Context) *run {
	return &run{v: v, ctx: ctx, now: v.cfg.Now(), b: new(budget)}
}

// spendVerify accounts for one signature verification.
func (r *run) spendVerify() error {
	if r.b.verifies.Add(1) > int64(r.v.cfg.MaxValidations) {
		return errBudget
	}
	r.v.metrics.verifications.Inc()
	return nil
}

// spendHash accounts for one NSEC3 hash of the given iterations.
func (r *run) spendHash(iterations uint16) error {
	if r.b.hashWork.Add(int64(iterations)+1) > maxHashWork {
		return errBudget
	}
	return nil
}

// enter and leave bound the nesting of chain-of-trust lookups.
func (r *run) enter() error {
	if r.depth >= maxDepth {
		return errBudget
	}
	r.depth++
	return nil
}

func (r *run) leave() { r.depth-- }

// fetch asks upstream for (name, qtype) with DO and CD, as chains of trust
// need. Upstream errors and rcodes other than NOERROR and NXDOMAIN are
// errors: nothing can be concluded from them.
func (r *run) fetch(name string, qtype uint16) (*dns.Msg, error) {
	if r.b.fetches.Add(1) > maxFetches {
		return nil, errBudget
	}
	r.v.metrics.fetches.WithLabelValues(dns.TypeToString[qtype]).Inc()
	q := resolver.Question{Name: name, Type: qtype, DO: true, CD: true}
	m, err := r.v.cfg.Upstream.Resolve(r.ctx, q)
	if err != nil {
		return nil, fmt.Errorf("fetching %s for validation: %w", q, err)
	}
	if m.Rcode != dns.RcodeSuccess && m.Rcode != dns.RcodeNameError {
		return nil, fmt.Errorf("fetching %s for validation: upstream answered %s: %w", q, dns.RcodeToString[m.Rcode], resolver.ErrNoUpstream)
	}
	return m, nil
}

// ResolveSecurity implements resolver.SecurityResolver, so the cache
// stores the status with the answer.
func (v *Validator) ResolveSecurity(ctx context.Context, q resolver.Question) (*dns.Msg, resolver.Security, error) {
	return v.Validate(ctx, q)
}

var _ resolver.SecurityResolver = (*Validator)(nil)
