package forward

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/netip"
	"slices"
	"time"

	"github.com/miekg/dns"

	"gatehouse/resolver"
)

// Forwarder answers questions by asking upstream resolvers. It is safe for
// concurrent use.
type Forwarder struct {
	log       *slog.Logger
	ex        Exchanger
	upstreams []*upstream            // each distinct upstream once, in config order
	defaults  []*upstream            // for names no rule covers
	fallback  resolver.Resolver      // instead of defaults, when set
	rules     map[string][]*upstream // rule domain → its upstreams

	// explore decides whether this query tries a random healthy upstream
	// first; tests replace it to make the order deterministic.
	explore func() bool
}

var _ resolver.SecurityResolver = (*Forwarder)(nil)

// ResolveSecurity implements resolver.SecurityResolver: the Fallback's
// status when it answered and can tell one; forwarded answers are
// unchecked (the upstream's AD bit is passed on, not verified here).
func (f *Forwarder) ResolveSecurity(ctx context.Context, q resolver.Question) (*dns.Msg, resolver.Security, error) {
	if f.fallback != nil && f.route(q.Name) == nil {
		if sr, ok := f.fallback.(resolver.SecurityResolver); ok {
			return sr.ResolveSecurity(ctx, q)
		}
	}
	m, err := f.Resolve(ctx, q)
	return m, resolver.SecurityUnchecked, err
} // type check

// New validates cfg and returns a Forwarder.
func New(cfg Config) (*Forwarder, error) {
	f := &Forwarder{
		log:   cfg.Logger,
		ex:    cfg.Exchanger,
		rules: make(map[string][]*upstream),
		// Not security-sensitive: math/rand/v2's top-level functions are
		// randomly seeded and safe for concurrent use.
		explore: func() bool { return rand.IntN(exploreOneIn) == 0 },
	}
	if f.log == nil {
		f.log = slog.New(slog.DiscardHandler)
	}
	if f.ex == nil {
		f.ex = resolver.NewTransport(resolver.TransportConfig{Logger: f.log})
	}
	metrics := cfg.Metrics
	if metrics == nil {
		metrics, _ = NewMetrics(nil) // unregistered: cannot fail
	}

	seen := make(map[Upstream]*upstream)
	var errs []error
	build := func(path string, ups []Upstream) []*upstream {
		if len(ups) == 0 {
			errs = append(errs, fmt.Errorf("%s: no upstreams", path))
		}
		var out []*upstream
		for i, u := range ups {
			u, err := normalize(u)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s[%d]: %w", path, i, err))
				continue
			}
			if s, ok := seen[u]; ok {
				if !slices.Contains(out, s) {
					out = append(out, s)
				}
				continue
			}
			s := &upstream{cfg: u, label: u.String(), m: metrics.forUpstream(u.String())}
			if u.Protocol == ProtoTLS {
				s.tls = &tls.Config{ServerName: u.TLSServerName, RootCAs: cfg.TLSRoots, MinVersion: tls.VersionTLS12}
			}
			seen[u] = s
			f.upstreams = append(f.upstreams, s)
			out = append(out, s)
		}
		return out
	}
	f.fallback = cfg.Fallback
	if f.fallback == nil || len(cfg.Upstreams) > 0 {
		f.defaults = build("Upstreams", cfg.Upstreams)
	}
	for i, r := range cfg.Conditional {
		path := fmt.Sprintf("Conditional[%d]", i)
		ups := build(path+".Upstreams", r.Upstreams)
		if len(r.Domains) == 0 {
			errs = append(errs, fmt.Errorf("%s.Domains: no domains", path))
		}
		for j, d := range r.Domains {
			if _, ok := dns.IsDomainName(d); !ok || d == "" {
				errs = append(errs, fmt.Errorf("%s.Domains[%d]: invalid domain %q", path, j, d))
				continue
			}
			d = dns.CanonicalName(d)
			if _, dup := f.rules[d]; dup {
				errs = append(errs, fmt.Errorf("%s.Domains[%d]: %q is in more than one rule", path, j, d))
				continue
			}
			f.rules[d] = ups
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("configuring forwarder: %w", err)
	}
	for _, u := range f.upstreams {
		u.m.healthy.Set(1)
	}
	return f, nil
}

// normalize checks u and fills in its defaults.
func normalize(u Upstream) (Upstream, error) {
	if !u.Addr.IsValid() || u.Addr.Port() == 0 {
		return u, fmt.Errorf("invalid address %q", u.Addr)
	}
	u.Addr = netip.AddrPortFrom(u.Addr.Addr().Unmap(), u.Addr.Port())
	switch u.Protocol {
	case "":
		u.Protocol = ProtoUDP
	case ProtoUDP, ProtoTCP, ProtoTLS:
	default:
		return u, fmt.Errorf("unknown protocol %q (want %s, %s or %s)", u.Protocol, ProtoUDP, ProtoTCP, ProtoTLS)
	}
	if u.Protocol == ProtoTLS {
		if u.TLSServerName == "" {
			u.TLSServerName = u.Addr.Addr().String()
		}
	} else if u.TLSServerName != "" {
		return u, fmt.Errorf("TLS server name %q given for protocol %s", u.TLSServerName, u.Protocol)
	}
	return u, nil
}

// Resolve forwards q to the upstreams for its name, trying them in order of
// health and speed until one answers or ctx ends. NXDOMAIN and NODATA are
// answers. When every upstream fails, the last SERVFAIL reply is returned if
// there was one (so its Extended DNS Error reaches the client); otherwise the
// error wraps resolver.ErrNoUpstream. The reply's question name is q.Name.
func (f *Forwarder) Resolve(ctx context.Context, q resolver.Question) (*dns.Msg, error) {
	ups := f.route(q.Name)
	if ups == nil && f.fallback != nil {
		return f.fallback.Resolve(ctx, q)
	}
	var buf [8]candidate
	cands := order(buf[:0], ups, time.Now(), f.explore())
	m := q.Msg(resolver.DefaultBufSize)

	var servfail *dns.Msg
	var lastErr error
	for i, c := range cands {
		if ctx.Err() != nil {
			releaseProbes(cands[i:])
			break
		}
		r, res, rtt, err := f.try(ctx, c.u, m, q, len(cands)-i-1)
		if res != resSuccess && errors.Is(ctx.Err(), context.Canceled) {
			// The caller gave up: that says nothing about the upstream.
			releaseProbes(cands[i:])
			break
		}
		f.report(c.u, rtt, res, err)
		switch res {
		case resSuccess:
			r.Question[0].Name = q.Name
			return r, nil
		case resServfail:
			servfail = r
		}
		lastErr = err
	}
	if servfail != nil {
		servfail.Question[0].Name = q.Name
		return servfail, nil
	}
	if cerr := ctx.Err(); cerr != nil {
		return nil, fmt.Errorf("forwarding %s: %w: %w", q, resolver.ErrNoUpstream, cerr)
	}
	return nil, fmt.Errorf("forwarding %s: %w (last error: %v)", q, resolver.ErrNoUpstream, lastErr)
}

// try sends m to u and classifies the outcome; err describes any failure.
// When other upstreams remain to fail over to, the exchange gets at most
// half the time left before ctx's deadline, so that one dead upstream cannot
// use up the whole budget.
func (f *Forwarder) try(ctx context.Context, u *upstream, m *dns.Msg, q resolver.Question, remaining int) (*dns.Msg, result, time.Duration, error) {
	if dl, ok := ctx.Deadline(); ok && remaining > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, time.Until(dl)/2)
		defer cancel()
	}
	start := time.Now()
	var r *dns.Msg
	var err error
	switch u.cfg.Protocol {
	case ProtoTCP:
		r, err = f.ex.ExchangeTCP(ctx, m, u.cfg.Addr)
	case ProtoTLS:
		r, err = f.ex.ExchangeTLS(ctx, m, u.cfg.Addr, u.tls)
	default:
		r, err = f.ex.Exchange(ctx, m, u.cfg.Addr)
	}
	rtt := time.Since(start)
	res := classify(r, err, q.Name, q.Type)
	u.m.duration.Observe(rtt.Seconds())
	u.m.requests[res].Inc()
	switch {
	case err != nil:
	case r == nil:
		err = fmt.Errorf("%s: no reply", u.label)
	case res == resError:
		err = fmt.Errorf("%s: unusable %s reply for %v", u.label, dns.RcodeToString[r.Rcode], r.Question)
	case res != resSuccess:
		err = fmt.Errorf("%s: %s reply", u.label, dns.RcodeToString[r.Rcode])
	}
	return r, res, rtt, err
}

// report updates u's health after an exchange and logs changes.
func (f *Forwarder) report(u *upstream, rtt time.Duration, res result, err error) {
	var text string
	if err != nil {
		text = err.Error()
	}
	switch u.report(time.Now(), rtt, res, text) {
	case +1:
		u.m.healthy.Set(1)
		f.log.Info("upstream recovered", "upstream", u.label)
	case -1:
		u.m.healthy.Set(0)
		f.log.Warn("upstream unhealthy", "upstream", u.label, "failures", failThreshold, "err", text)
	}
}

func releaseProbes(cands []candidate) {
	for _, c := range cands {
		if c.class == classProbe {
			c.u.release()
		}
	}
}

// route returns the upstreams for name (canonical): those of the rule with
// the longest domain that is name or one of its ancestors, else the
// defaults. Walking label by label matches on label boundaries only.
func (f *Forwarder) route(name string) []*upstream {
	if len(f.rules) == 0 {
		return f.defaults // nil with a Fallback
	}
	for off, end := 0, false; !end; off, end = dns.NextLabel(name, off) {
		if ups, ok := f.rules[name[off:]]; ok {
			return ups
		}
	}
	if ups, ok := f.rules["."]; ok {
		return ups
	}
	return f.defaults
}

// Health returns the state of every distinct upstream, in config order.
func (f *Forwarder) Health() []UpstreamHealth {
	out := make([]UpstreamHealth, len(f.upstreams))
	for i, u := range f.upstreams {
		out[i] = u.health()
	}
	return out
}
