package validator_test

import (
	"testing"
	"time"

	"github.com/miekg/dns"

	"gatehouse/internal/dnstest"
	"gatehouse/resolver"
	"gatehouse/resolver/validator"
)

// example.org.'s NSEC chain (canonical order): example.org., alias, away,
// a.deep, dn, ns, *.wild, www. Its SOA minimum, and so its NSEC TTL, is
// 300 s.

// step is one client question in an aggressive-NSEC scenario and what must
// come of it.
type step struct {
	name      string
	qtype     uint16
	rcode     int
	status    validator.Status
	upstream  bool          // the question must reach upstream
	advance   time.Duration // move the clock on before asking
	withProof bool          // the synthesized answer must carry SOA and NSEC with RRSIGs
}

func runSteps(t *testing.T, o worldOpts, cfg validator.Config, steps []step) {
	t.Helper()
	w := newWorld(t, o)
	clock := time.Now()
	cfg.Now = func() time.Time { return clock }
	v, _ := newValidator(t, w, cfg)
	for _, s := range steps {
		clock = clock.Add(s.advance)
		before := len(w.up.questions())
		m, st, err := v.Validate(t.Context(), resolver.Question{Name: s.name, Type: s.qtype, DO: true})
		if err != nil {
			t.Fatalf("%s %s: %v", s.name, dns.Type(s.qtype), err)
		}
		asked := len(w.up.questions()) > before
		if asked != s.upstream {
			t.Errorf("%s %s: upstream asked = %v, want %v (%v)", s.name, dns.Type(s.qtype), asked, s.upstream, w.up.questions()[before:])
		}
		if m.Rcode != s.rcode || st != s.status || m.AuthenticatedData != (s.status == validator.Secure) {
			t.Errorf("%s %s: rcode %s, status %v, AD %v; want %s, %v", s.name, dns.Type(s.qtype),
				dns.RcodeToString[m.Rcode], st, m.AuthenticatedData, dns.RcodeToString[s.rcode], s.status)
		}
		if len(m.Answer) != 0 && !asked {
			t.Errorf("%s %s: synthesized answer has records: %v", s.name, dns.Type(s.qtype), m.Answer)
		}
		if s.withProof {
			if countRR(m.Ns, dns.TypeSOA) != 1 || countRR(m.Ns, dns.TypeNSEC)+countRR(m.Ns, dns.TypeNSEC3) == 0 || countRR(m.Ns, dns.TypeRRSIG) < 2 {
				t.Errorf("%s %s: authority %v, want the SOA and NSEC records with RRSIGs", s.name, dns.Type(s.qtype), m.Ns)
			}
			var negTTL uint32
			for _, rr := range m.Ns {
				if soa, ok := rr.(*dns.SOA); ok {
					negTTL = soa.Minttl
				}
			}
			for _, rr := range m.Ns {
				if ttl := rr.Header().Ttl; ttl == 0 || ttl > negTTL {
					t.Errorf("%s %s: %v has TTL %d, want 1..%d (the negative TTL)", s.name, dns.Type(s.qtype), rr, ttl, negTTL)
				}
			}
		}
	}
}

func TestValidator_aggressiveNSEC(t *testing.T) {
	secure, insecure := validator.Secure, validator.Insecure
	t.Run("NXDOMAIN", func(t *testing.T) {
		runSteps(t, worldOpts{}, validator.Config{}, []step{
			{name: "nope.example.org.", qtype: dns.TypeA, rcode: dns.RcodeNameError, status: secure, upstream: true},
			// dn -> ns covers nope1 and noz; example.org. -> alias covers
			// the wildcard.
			{name: "nope1.example.org.", qtype: dns.TypeA, rcode: dns.RcodeNameError, status: secure, withProof: true},
			{name: "noz.example.org.", qtype: dns.TypeMX, rcode: dns.RcodeNameError, status: secure, withProof: true},
			{name: "x.nope.example.org.", qtype: dns.TypeA, rcode: dns.RcodeNameError, status: secure, withProof: true},
			// away -> a.deep: not cached.
			{name: "b.example.org.", qtype: dns.TypeA, rcode: dns.RcodeNameError, status: secure, upstream: true},
			// Names that exist are not denied.
			{name: "ns.example.org.", qtype: dns.TypeA, rcode: dns.RcodeSuccess, status: secure, upstream: true},
			// After the negative TTL the records are not used.
			{name: "nope2.example.org.", qtype: dns.TypeA, rcode: dns.RcodeNameError, status: secure, upstream: true, advance: 301 * time.Second},
		})
	})
	t.Run("NODATA", func(t *testing.T) {
		runSteps(t, worldOpts{}, validator.Config{}, []step{
			{name: "www.example.org.", qtype: dns.TypeAAAA, rcode: dns.RcodeSuccess, status: secure, upstream: true},
			{name: "www.example.org.", qtype: dns.TypeMX, rcode: dns.RcodeSuccess, status: secure, withProof: true},
			// The NSEC at www says it has A records: asked.
			{name: "www.example.org.", qtype: dns.TypeA, rcode: dns.RcodeSuccess, status: secure, upstream: true},
			// An empty non-terminal (a.deep exists below deep): asked once,
			// then the NSEC away -> a.deep proves it for any type.
			{name: "deep.example.org.", qtype: dns.TypeA, rcode: dns.RcodeSuccess, status: secure, upstream: true},
			{name: "deep.example.org.", qtype: dns.TypeTXT, rcode: dns.RcodeSuccess, status: secure, withProof: true},
		})
	})
	t.Run("wildcard NODATA", func(t *testing.T) {
		runSteps(t, worldOpts{}, validator.Config{}, []step{
			{name: "nope.example.org.", qtype: dns.TypeA, rcode: dns.RcodeNameError, status: secure, upstream: true}, // the SOA
			{name: "x.wild.example.org.", qtype: dns.TypeTXT, rcode: dns.RcodeSuccess, status: secure, upstream: true},
			// *.wild -> www covers y.wild and is the wildcard's own NSEC:
			// no MX there.
			{name: "y.wild.example.org.", qtype: dns.TypeMX, rcode: dns.RcodeSuccess, status: secure, withProof: true},
			// ...but TXT there: a positive answer, asked.
			{name: "y.wild.example.org.", qtype: dns.TypeTXT, rcode: dns.RcodeSuccess, status: secure, upstream: true},
		})
	})
	t.Run("no DS at an insecure delegation", func(t *testing.T) {
		runSteps(t, worldOpts{}, validator.Config{}, []step{
			// Validating it fetches plain.org. DS: NODATA, org.'s NSEC and SOA.
			{name: "www.plain.org.", qtype: dns.TypeA, rcode: dns.RcodeSuccess, status: insecure, upstream: true},
			{name: "plain.org.", qtype: dns.TypeDS, rcode: dns.RcodeSuccess, status: secure, withProof: true},
			// The delegation's NSEC says nothing about the child's data.
			{name: "plain.org.", qtype: dns.TypeMX, rcode: dns.RcodeSuccess, status: insecure, upstream: true},
			{name: "nope.plain.org.", qtype: dns.TypeA, rcode: dns.RcodeNameError, status: insecure, upstream: true},
		})
	})
	t.Run("signed zone under an insecure delegation", func(t *testing.T) {
		// example.org. is signed, but org. publishes no DS for it: its
		// NSEC records are never validated, so never used.
		runSteps(t, worldOpts{exampleDS: "\n"}, validator.Config{}, []step{
			{name: "nope.example.org.", qtype: dns.TypeA, rcode: dns.RcodeNameError, status: insecure, upstream: true},
			{name: "nope1.example.org.", qtype: dns.TypeA, rcode: dns.RcodeNameError, status: insecure, upstream: true},
		})
	})
	t.Run("NSEC3", func(t *testing.T) {
		runSteps(t, worldOpts{example: nsec3Opts(false, 0)}, validator.Config{}, []step{
			{name: "nope.example.org.", qtype: dns.TypeA, rcode: dns.RcodeNameError, status: secure, upstream: true},
			{name: "nope.example.org.", qtype: dns.TypeMX, rcode: dns.RcodeNameError, status: secure, withProof: true},
			{name: "x.nope.example.org.", qtype: dns.TypeMX, rcode: dns.RcodeNameError, status: secure, withProof: true},
		})
		runSteps(t, worldOpts{example: nsec3Opts(false, 0)}, validator.Config{}, []step{
			{name: "www.example.org.", qtype: dns.TypeAAAA, rcode: dns.RcodeSuccess, status: secure, upstream: true},
			{name: "www.example.org.", qtype: dns.TypeMX, rcode: dns.RcodeSuccess, status: secure, withProof: true},
			{name: "www.example.org.", qtype: dns.TypeA, rcode: dns.RcodeSuccess, status: secure, upstream: true},
			{name: "y.wild.example.org.", qtype: dns.TypeA, rcode: dns.RcodeSuccess, status: secure, upstream: true},
		})
	})
	t.Run("NSEC3 opt-out is not used", func(t *testing.T) {
		runSteps(t, worldOpts{example: nsec3Opts(true, 0)}, validator.Config{}, []step{
			{name: "nope.example.org.", qtype: dns.TypeA, rcode: dns.RcodeNameError, status: insecure, upstream: true},
			{name: "nope.example.org.", qtype: dns.TypeMX, rcode: dns.RcodeNameError, status: insecure, upstream: true},
			// The match at www. is signed and not itself a span, but its
			// opt-out flag keeps it out.
			{name: "www.example.org.", qtype: dns.TypeAAAA, rcode: dns.RcodeSuccess, status: secure, upstream: true},
			{name: "www.example.org.", qtype: dns.TypeMX, rcode: dns.RcodeSuccess, status: secure, upstream: true},
		})
	})
	t.Run("NSEC3 with too many iterations is not used", func(t *testing.T) {
		runSteps(t, worldOpts{example: nsec3Opts(false, 100)}, validator.Config{}, []step{
			{name: "www.example.org.", qtype: dns.TypeAAAA, rcode: dns.RcodeSuccess, status: insecure, upstream: true},
			{name: "www.example.org.", qtype: dns.TypeMX, rcode: dns.RcodeSuccess, status: insecure, upstream: true},
		})
	})
	t.Run("off", func(t *testing.T) {
		runSteps(t, worldOpts{}, validator.Config{DisableAggressiveNSEC: true}, []step{
			{name: "nope.example.org.", qtype: dns.TypeA, rcode: dns.RcodeNameError, status: secure, upstream: true},
			{name: "nope1.example.org.", qtype: dns.TypeA, rcode: dns.RcodeNameError, status: secure, upstream: true},
		})
	})
}

func nsec3Opts(optOut bool, iterations uint16) dnstest.SignOptions {
	return dnstest.SignOptions{NSEC3: &dnstest.NSEC3Options{OptOut: optOut, Iterations: iterations, Salt: "beef"}}
}
