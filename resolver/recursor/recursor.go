package recursor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math/rand/v2"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"

	"gatehouse/resolver"
)

// Errors wrapped by Resolve, inside a *resolver.ExtendedError that gives the
// client's SERVFAIL its Extended DNS Error (RFC 8914).
var (
	// ErrBudget means the resolution needed more work than its Budget.
	ErrBudget = errors.New("budget exceeded")
	// ErrLoop means a CNAME or DNAME chain came back on itself.
	ErrLoop = errors.New("alias loop")
)

// Budget kinds: the limit that was hit, in errors and metrics.
const (
	budgetQueries   = "queries"
	budgetReferrals = "referrals"
	budgetGlueless  = "glueless"
	budgetCNAMEs    = "cnames"
	budgetTime      = "time"
)

// errTimeBudget is the cause of a resolution's context ending at MaxTime.
var errTimeBudget = errors.New("resolution time budget exceeded")

// Recursor is an iterative resolver: a resolver.Resolver that finds answers
// by asking authoritative servers, starting from the root. It is safe for
// concurrent use; each Resolve call has its own budget, and all share the
// infrastructure caches.
type Recursor struct {
	ex      resolver.Exchanger
	tcp     tcpExchanger // ex, if it can also exchange over TCP
	log     *slog.Logger
	m       *Metrics
	now     func() time.Time
	budget  Budget
	qmin    bool
	use0x20 bool
	ipv6    bool
	loopOK  bool // Config.AllowLoopback
	hints   *deleg
	infra   *infra
	sel     *selector
	asks    *flights[askKey, *reply]   // steps under way, shared
	lookups *flights[string, struct{}] // name server address lookups under way, shared
	// randIntN returns a random int in [0, n): server choice and the order
	// of glueless lookups. Tests replace it to make exchanges predictable.
	randIntN func(n int) int

	primeMu    sync.Mutex
	priming    chan struct{} // closed when the priming under way ends
	primeAfter time.Time     // after a failed priming, use the hints until then
}

// tcpExchanger is implemented by resolver.Transport.
type tcpExchanger interface {
	ExchangeTCP(ctx context.Context, m *dns.Msg, server netip.AddrPort) (*dns.Msg, error)
}

var _ resolver.Resolver = (*Recursor)(nil) // type check

// New validates cfg and returns a Recursor.
func New(cfg Config) (*Recursor, error) {
	if err := cfg.Budget.validate(); err != nil {
		return nil, fmt.Errorf("configuring recursor: %w", err)
	}
	if cfg.InfraCacheSize < 0 {
		return nil, errors.New("configuring recursor: negative infra cache size")
	}
	r := &Recursor{
		ex:       cfg.Exchanger,
		log:      cfg.Logger,
		m:        cfg.Metrics,
		now:      cfg.Now,
		budget:   cfg.Budget.withDefaults(),
		qmin:     cfg.QNameMinimisation,
		use0x20:  cfg.Use0x20,
		ipv6:     cfg.IPv6,
		loopOK:   cfg.AllowLoopback,
		randIntN: rand.IntN, // not security-sensitive: spreads load, and randomly seeded
		asks:     newFlights[askKey](func(rep *reply) *reply { return rep.clone() }),
		lookups:  newFlights[string](func(v struct{}) struct{} { return v }),
	}
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	if r.m == nil {
		r.m, _ = NewMetrics(nil) // unregistered: cannot fail
	}
	if r.now == nil {
		r.now = time.Now
	}
	if r.ex == nil {
		r.ex = resolver.NewTransport(resolver.TransportConfig{Timeout: maxRTO, Logger: r.log})
	}
	r.tcp, _ = r.ex.(tcpExchanger)
	hints := cfg.RootHints
	if hints == nil {
		hints = BuiltinHints()
	}
	var err error
	if r.hints, err = hintsDeleg(hints, r.ipv6); err != nil {
		return nil, fmt.Errorf("configuring recursor: %w", err)
	}
	size := cfg.InfraCacheSize
	if size == 0 {
		size = DefaultInfraCacheSize
	}
	if r.infra, err = newInfra(size); err != nil {
		return nil, fmt.Errorf("configuring recursor: %w", err)
	}
	if r.sel, err = newSelector(size, r.m); err != nil {
		return nil, fmt.Errorf("configuring recursor: %w", err)
	}
	return r, nil
}

// Resolve answers q by iterating from the closest known zone cut.
//
// The reply has q's question (canonical name), the rcode of the final
// authoritative response, the whole CNAME/DNAME chain and the answer in the
// answer section (each part scrubbed, owner names in lower case), and in the
// authority section what a cache and a validator need: the SOA of a
// negative answer and, with q.DO, the NSEC/NSEC3 records and RRSIGs of the
// final reply and of every reply along the chain (wildcard proofs). Without
// q.DO, DNSSEC records are left out unless asked for; with it, the reply has
// an OPT record with DO. RA is set and AA is not; AD is never set (the
// validator above sets it). CD is copied from q and sent upstream.
//
// Failures wrap resolver.ErrNoUpstream when no server of a zone gave a
// usable reply, or are a *resolver.ExtendedError wrapping ErrBudget or
// ErrLoop; the caller's context ending is reported as its error.
func (r *Recursor) Resolve(ctx context.Context, q resolver.Question) (*dns.Msg, error) {
	name := dns.CanonicalName(q.Name)
	if _, ok := dns.IsDomainName(name); !ok || q.Name == "" {
		return nil, fmt.Errorf("resolving %q: invalid name", q.Name)
	}
	switch q.Type {
	case dns.TypeNone, dns.TypeOPT, dns.TypeAXFR, dns.TypeIXFR, dns.TypeMAILA, dns.TypeMAILB, dns.TypeTKEY, dns.TypeTSIG:
		return nil, fmt.Errorf("resolving %s: type %s cannot be resolved", name, dns.Type(q.Type))
	}
	st := &state{do: q.DO, cd: q.CD, budget: r.budget, m: r.m}
	ctx, cancel := context.WithTimeoutCause(ctx, st.budget.MaxTime, errTimeBudget)
	defer cancel()

	res, err := r.resolve(ctx, st, name, q.Type, nil)
	r.observeInfra()
	if err != nil {
		if context.Cause(ctx) == errTimeBudget && !errors.Is(err, ErrBudget) {
			err = st.exceeded(budgetTime)
		}
		return nil, fmt.Errorf("resolving %s: %w", q, err)
	}
	return r.message(q, name, res), nil
}

// state is one Resolve call's budget, shared by the lookups it starts.
type state struct {
	do, cd bool
	budget Budget
	m      *Metrics

	queries, referrals, glueless, cnames atomic.Int64
	blown                                atomic.Bool
}

// spend takes n from counter c, limited to limit, or fails with the budget
// error of kind.
func (st *state) spend(c *atomic.Int64, n, limit int, kind string) error {
	if c.Add(int64(n)) > int64(limit) {
		return st.exceeded(kind)
	}
	return nil
}

// exceeded returns the error for a blown budget, counting it once per
// resolution.
func (st *state) exceeded(kind string) error {
	if st.blown.CompareAndSwap(false, true) {
		st.m.budget.WithLabelValues(kind).Inc()
	}
	return &resolver.ExtendedError{
		Code: dns.ExtendedErrorCodeOther, // RFC 8914 has no code for this
		Text: "resolution budget exceeded: " + kind,
		Err:  ErrBudget,
	}
}

// terminal reports whether err ends the whole resolution, rather than only
// the use of one server or zone.
func terminal(err error) bool {
	return errors.Is(err, ErrBudget) || errors.Is(err, ErrLoop) ||
		errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}

// result is a finished resolution.
type result struct {
	rcode  int
	answer []dns.RR // the chain and the answer
	ns     []dns.RR // authority records of each reply along the chain (see reply.ns)
	final  string   // the name the chain ends at
	hasSOA bool
	negTTL uint32
}

func loopError() error {
	return &resolver.ExtendedError{Code: dns.ExtendedErrorCodeOther, Text: "cname loop", Err: ErrLoop}
}

// resolve resolves name and qtype, following CNAME and DNAME chains from
// zone to zone. p holds the name server names being looked up on the way
// here, to stop lookups that depend on themselves.
func (r *Recursor) resolve(ctx context.Context, st *state, name string, qtype uint16, p *path) (*result, error) {
	res := &result{}
	seen := map[string]bool{name: true}
	first := name
	for {
		var rep *reply
		if name != first {
			// A CNAME or DNAME target: perhaps resolved a moment ago.
			rep = r.infra.reply(name, qtype, st.do, r.now())
		}
		if rep == nil {
			var err error
			if rep, err = r.iterate(ctx, st, name, qtype, p); err != nil {
				return nil, err
			}
			if !rep.loop {
				r.infra.putReply(name, qtype, st.do, rep, r.now())
			}
		}
		if rep.loop {
			return nil, loopError()
		}
		if err := st.spend(&st.cnames, rep.hops, st.budget.MaxCNAMEs, budgetCNAMEs); err != nil {
			return nil, err
		}
		res.answer = append(res.answer, rep.chain...)
		res.ns = append(res.ns, rep.ns...) // along the chain: wildcard proofs
		if !rep.chase {
			res.rcode, res.final, res.hasSOA, res.negTTL = rep.rcode, rep.final, rep.hasSOA, rep.negTTL
			if rep.kind == kindNXDomain {
				res.rcode = dns.RcodeNameError
			}
			return res, nil
		}
		if seen[rep.final] {
			return nil, loopError()
		}
		seen[rep.final] = true
		name = rep.final
	}
}

// RFC 9156 section 2.3 limits on QNAME minimisation: the first
// minimiseOneLab queries add one label each; later ones add more, so that
// one name never takes more than maxMinimiseCount minimised queries.
const (
	maxMinimiseCount = 10
	minimiseOneLab   = 4
)

// iterate follows referrals from the closest known zone cut until a server
// authoritative for name answers for it: an answer, a CNAME/DNAME chain, or
// a negative answer.
func (r *Recursor) iterate(ctx context.Context, st *state, name string, qtype uint16, p *path) (*reply, error) {
	dp, err := r.closestCut(ctx, st, name, qtype)
	if err != nil {
		return nil, err
	}
	minimise := r.qmin
	known, steps := dp.zone, 0 // known: the deepest name known to be in dp's zone
	if minimise {
		known = r.infra.knownBelow(name, dp.zone, r.now())
	}
	for {
		sendName, sendType := name, qtype
		if minimise && known != name {
			sendName = minimised(name, known, steps)
			if sendName != name {
				// RFC 9156 section 2.1: A is the type servers are least
				// likely to mishandle.
				sendType = dns.TypeA
				steps++
			}
		}
		rep, err := r.askZone(ctx, st, dp, sendName, sendType, p)
		if err != nil {
			if sendName != name && !terminal(err) {
				minimise = false // relaxed: servers that fail minimised queries get the full name
				continue
			}
			return nil, err
		}
		if rep.kind == kindReferral {
			if err := st.spend(&st.referrals, 1, st.budget.MaxReferrals, budgetReferrals); err != nil {
				return nil, err
			}
			dp = r.learn(st, rep)
			if p == nil && st.do && hasType(rep.dsProof, dns.TypeDS) {
				// A signed zone on the way to the answer: whoever validates
				// the answer will need its keys, and may fetch them now,
				// while the next step goes on.
				if h := resolver.ReferralHookFrom(ctx); h != nil {
					h.SignedReferral(dp.zone)
				}
			}
			known = dp.zone
			continue
		}
		if minimise && sendType != dns.TypeDS && sendType != dns.TypeNS && rep.chain == nil && rep.kind == kindNoData {
			// sendName exists in dp's zone and is not a cut: remember it,
			// so the next resolution below it need not ask again.
			ttl := minInfraTTL
			if rep.hasSOA {
				ttl = max(infraTTL(rep.negTTL), minInfraTTL)
			}
			r.infra.putName(sendName, dp.zone, r.now().Add(ttl))
		}
		if sendName != name {
			if rep.kind == kindNoData || (rep.kind == kindAnswer && rep.answered && rep.final == sendName) {
				known = sendName // not a zone cut: go one step further down
				continue
			}
			// NXDOMAIN for a name above the one asked, which broken servers
			// say for empty non-terminals, or an alias above it: ask for
			// the full name instead (relaxed mode, RFC 9156 section 2.3).
			minimise = false
			continue
		}
		return rep, nil
	}
}

// minimised returns the name to send a server of a zone in which known is
// known to exist, on the way to name (RFC 9156 section 3).
func minimised(name, known string, steps int) string {
	idx := dns.Split(name)
	total, have := len(idx), dns.CountLabel(known)
	remaining := total - have
	add := 1
	if steps >= minimiseOneLab {
		left := maxMinimiseCount - steps
		if left <= 1 {
			return name
		}
		add = max(1, remaining/left)
	}
	if have+add >= total {
		return name
	}
	return name[idx[total-have-add]:]
}

// learn caches the delegation a referral gave, and with DO what it said
// about the DS RRset at the cut, and returns the delegation.
func (r *Recursor) learn(st *state, rep *reply) *deleg {
	d := *rep.cut // rep may be shared by other resolutions: copy before changing
	now := r.now()
	d.expires = now.Add(max(infraTTL(rep.cutTTL), minInfraTTL))
	r.infra.putDeleg(&d)
	// The glue also serves other delegations naming the same servers, for
	// its own TTL (within the delegation's).
	for _, ns := range d.ns {
		glueExp := d.expires
		if ttl, ok := d.glueTTL[ns]; ok {
			glueExp = minTime(glueExp, now.Add(max(infraTTL(ttl), minInfraTTL)))
		}
		var v4, v6 []netip.Addr
		for _, a := range d.glue[ns] {
			if a.Is4() {
				v4 = append(v4, a)
			} else {
				v6 = append(v6, a)
			}
		}
		if len(v4) > 0 {
			r.infra.putGlue(ns, false, v4, now, glueExp)
		}
		if len(v6) > 0 {
			r.infra.putGlue(ns, true, v6, now, glueExp)
		}
	}
	if st.do {
		r.infra.putDS(d.zone, rep.dsProof, now)
	}
	return &d
}

// ReferralDS returns what the referral to the zone cut at name said about
// name's DS RRset, if a referral with DNSSEC records was followed and its
// TTLs have not run out: a reply with the DS records and their RRSIGs in
// the answer section, or with the NSEC/NSEC3 records proving there is no
// DS (and their RRSIGs) in the authority section; else nil. The records
// come from the parent zone's servers, scrubbed, but are not validated:
// the validator checks them as it checks a DS reply it asked for, and so
// need not ask (resolver/validator's ReferralDS interface).
func (r *Recursor) ReferralDS(name string) *dns.Msg {
	name = dns.CanonicalName(name)
	rrs := r.infra.lookupDS(name, r.now())
	if rrs == nil {
		return nil
	}
	m := new(dns.Msg)
	m.Response = true
	m.RecursionAvailable = true
	m.Question = []dns.Question{{Name: name, Qtype: dns.TypeDS, Qclass: dns.ClassINET}}
	if hasType(rrs, dns.TypeDS) {
		m.Answer = rrs
	} else {
		m.Ns = rrs
	}
	m.SetEdns0(resolver.DefaultBufSize, true)
	return m
}

// closestCut returns the deepest cached delegation above name (for DS, above
// its parent: the parent's servers answer DS), else the root's.
func (r *Recursor) closestCut(ctx context.Context, st *state, name string, qtype uint16) (*deleg, error) {
	n := name
	if qtype == dns.TypeDS && n != "." {
		n = parent(n)
	}
	now := r.now()
	for ; n != "."; n = parent(n) {
		if d := r.infra.deleg(n, now); d != nil {
			return d, nil
		}
	}
	return r.root(ctx, st)
}

// parent returns name without its first label ("." for a TLD).
func parent(name string) string {
	off, end := dns.NextLabel(name, 0)
	if end {
		return "."
	}
	return name[off:]
}

// root returns the root delegation: the primed one if cached, else the
// result of priming now (one priming at a time; others wait for it), else
// the root hints.
func (r *Recursor) root(ctx context.Context, st *state) (*deleg, error) {
	for {
		if d := r.infra.deleg(".", r.now()); d != nil {
			return d, nil
		}
		r.primeMu.Lock()
		if r.now().Before(r.primeAfter) {
			r.primeMu.Unlock()
			return r.hints, nil
		}
		if ch := r.priming; ch != nil {
			r.primeMu.Unlock()
			select {
			case <-ch:
				continue
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
		ch := make(chan struct{})
		r.priming = ch
		r.primeMu.Unlock()

		d, err := r.prime(ctx, st)
		r.primeMu.Lock()
		r.priming = nil
		if err != nil && !terminal(err) {
			r.primeAfter = r.now().Add(primeRetry)
		}
		r.primeMu.Unlock()
		close(ch)
		switch {
		case err == nil:
			r.m.primings.WithLabelValues("success").Inc()
			return d, nil
		case terminal(err):
			return nil, err
		default:
			r.m.primings.WithLabelValues("failure").Inc()
			r.log.Debug("priming the root failed; using the root hints", "err", err)
			return r.hints, nil
		}
	}
}

// prime asks a root server from the hints for the root's NS set (RFC 8109)
// and caches it as the root delegation.
func (r *Recursor) prime(ctx context.Context, st *state) (*deleg, error) {
	rep, err := r.askZone(ctx, st, r.hints, ".", dns.TypeNS, nil)
	if err != nil {
		return nil, fmt.Errorf("priming: %w", err)
	}
	if rep.kind != kindAnswer || rep.cut == nil {
		return nil, errors.New("priming: no root NS set in the reply")
	}
	d := &deleg{zone: rep.cut.zone, ns: rep.cut.ns, glue: maps.Clone(rep.cut.glue), glueTTL: rep.cut.glueTTL} // rep may be shared
	// Name servers the reply gave no address for keep their hint addresses.
	usable := false
	for _, ns := range d.ns {
		if len(d.glue[ns]) == 0 && len(r.hints.glue[ns]) > 0 {
			d.glue[ns] = slices.Clone(r.hints.glue[ns])
		}
		for _, a := range d.glue[ns] {
			usable = usable || r.ipv6 || a.Is4()
		}
	}
	if !usable {
		return nil, errors.New("priming: no usable root server address")
	}
	d.expires = r.now().Add(max(infraTTL(rep.cutTTL), minInfraTTL))
	r.infra.putDeleg(d)
	return d, nil
}

// message builds Resolve's reply.
func (r *Recursor) message(q resolver.Question, name string, res *result) *dns.Msg {
	m := new(dns.Msg)
	m.Response = true
	m.Opcode = dns.OpcodeQuery
	m.RecursionDesired = true
	m.RecursionAvailable = true
	m.CheckingDisabled = q.CD
	m.Rcode = res.rcode
	m.Question = []dns.Question{{Name: name, Qtype: q.Type, Qclass: dns.ClassINET}}
	m.Answer, m.Ns = res.answer, res.ns
	if q.DO {
		m.SetEdns0(resolver.DefaultBufSize, true)
	} else {
		m.Answer = stripDNSSEC(m.Answer, q.Type)
		m.Ns = stripDNSSEC(m.Ns, q.Type)
	}
	return m
}

// stripDNSSEC drops RRSIG, NSEC and NSEC3 records, except of type qtype.
func stripDNSSEC(rrs []dns.RR, qtype uint16) []dns.RR {
	return slices.DeleteFunc(rrs, func(rr dns.RR) bool {
		switch t := rr.Header().Rrtype; t {
		case dns.TypeRRSIG, dns.TypeNSEC, dns.TypeNSEC3:
			return t != qtype
		}
		return false
	})
}

// observeInfra updates the infrastructure cache gauges.
func (r *Recursor) observeInfra() {
	servers, lame := r.sel.sizes()
	r.m.infraDelegs.Set(float64(r.infra.delegs.Len()))
	r.m.infraAddrs.Set(float64(r.infra.addrs.Len()))
	r.m.infraServers.Set(float64(servers))
	r.m.infraLame.Set(float64(lame))
}

// path is the chain of name server names being looked up, innermost first.
type path struct {
	name  string
	up    *path
	depth int
}

func (p *path) push(name string) *path {
	return &path{name: name, up: p, depth: p.len() + 1}
}

func (p *path) len() int {
	if p == nil {
		return 0
	}
	return p.depth
}

func (p *path) has(name string) bool {
	for ; p != nil; p = p.up {
		if p.name == name {
			return true
		}
	}
	return false
}
