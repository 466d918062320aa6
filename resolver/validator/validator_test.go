package validator_test

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"

	"gatehouse/internal/dnstest"
	"gatehouse/resolver"
	"gatehouse/resolver/validator"
)

func q(name string, qtype uint16) resolver.Question {
	return resolver.Question{Name: name, Type: qtype, DO: true}
}

// tamperFunc changes an upstream reply to q in a world.
type tamperFunc func(w *world, q resolver.Question, m *dns.Msg)

// onReply returns a tamper function that applies f to replies for (name,
// qtype) only.
func onReply(name string, qtype uint16, f func(m *dns.Msg)) tamperFunc {
	return func(_ *world, q resolver.Question, m *dns.Msg) {
		if q.Name == name && q.Type == qtype {
			f(m)
		}
	}
}

func TestValidator_Validate(t *testing.T) {
	now := time.Now()
	nsec3 := &dnstest.NSEC3Options{Iterations: 5, Salt: "c0ffee"}
	realKey := dnstest.NewKey(t, "example.org.", dns.ECDSAP256SHA256, true)
	rogueKey := dnstest.NewKey(t, "example.org.", dns.ECDSAP256SHA256, true)
	tamperA := func(m *dns.Msg) {
		for _, rr := range m.Answer {
			if a, ok := rr.(*dns.A); ok {
				a.A = a.A.To4()
				a.A[3]++
			}
		}
	}

	tests := []struct {
		name       string
		opts       worldOpts
		cfg        validator.Config
		q          resolver.Question
		tamper     tamperFunc
		wantStatus validator.Status
		wantRcode  int
		wantEDE    uint16
		wantAnswer int // records in the answer section, RRSIGs included
	}{
		// Positive answers, every supported algorithm.
		{name: "secure A", q: q("www.example.org.", dns.TypeA), wantStatus: validator.Secure, wantAnswer: 3},
		{name: "secure RSASHA256", opts: worldOpts{example: dnstest.SignOptions{Algorithm: dns.RSASHA256}},
			q: q("www.example.org.", dns.TypeA), wantStatus: validator.Secure, wantAnswer: 3},
		{name: "secure RSASHA512", opts: worldOpts{example: dnstest.SignOptions{Algorithm: dns.RSASHA512}},
			q: q("www.example.org.", dns.TypeA), wantStatus: validator.Secure, wantAnswer: 3},
		{name: "secure ECDSAP384SHA384", opts: worldOpts{example: dnstest.SignOptions{Algorithm: dns.ECDSAP384SHA384}},
			q: q("www.example.org.", dns.TypeA), wantStatus: validator.Secure, wantAnswer: 3},
		{name: "secure ED25519", opts: worldOpts{example: dnstest.SignOptions{Algorithm: dns.ED25519}},
			q: q("www.example.org.", dns.TypeA), wantStatus: validator.Secure, wantAnswer: 3},
		{name: "secure CNAME in zone", q: q("alias.example.org.", dns.TypeA), wantStatus: validator.Secure, wantAnswer: 5},
		{name: "secure DNAME", q: q("www.dn.example.org.", dns.TypeA), wantStatus: validator.Secure, wantAnswer: 6},
		{name: "secure DS", q: q("example.org.", dns.TypeDS), wantStatus: validator.Secure, wantAnswer: 2},
		{name: "secure DNSKEY", q: q("example.org.", dns.TypeDNSKEY), wantStatus: validator.Secure, wantAnswer: 2},

		// Denial with NSEC.
		{name: "NSEC NXDOMAIN", q: q("nope.example.org.", dns.TypeA), wantStatus: validator.Secure, wantRcode: dns.RcodeNameError},
		{name: "NSEC NODATA", q: q("www.example.org.", dns.TypeAAAA), wantStatus: validator.Secure},
		{name: "NSEC empty non-terminal", q: q("deep.example.org.", dns.TypeA), wantStatus: validator.Secure},
		{name: "NSEC no DS at insecure delegation", q: q("plain.org.", dns.TypeDS), wantStatus: validator.Secure},
		{name: "NSEC wildcard", q: q("x.wild.example.org.", dns.TypeTXT), wantStatus: validator.Secure, wantAnswer: 2},
		{name: "NSEC wildcard two labels deep", q: q("a.b.wild.example.org.", dns.TypeTXT), wantStatus: validator.Secure, wantAnswer: 2},
		{name: "NSEC wildcard NODATA", q: q("x.wild.example.org.", dns.TypeA), wantStatus: validator.Secure},
		{name: "forged wildcard answer", q: q("x.wild.example.org.", dns.TypeTXT),
			tamper:     onReply("x.wild.example.org.", dns.TypeTXT, func(m *dns.Msg) { m.Ns = nil }),
			wantStatus: validator.Bogus, wantEDE: dns.ExtendedErrorCodeNSECMissing},
		{name: "NXDOMAIN without proof", q: q("nope.example.org.", dns.TypeA),
			tamper:     onReply("nope.example.org.", dns.TypeA, func(m *dns.Msg) { m.Ns = strip(m.Ns, "", dns.TypeNSEC) }),
			wantStatus: validator.Bogus, wantEDE: dns.ExtendedErrorCodeNSECMissing},
		{name: "NXDOMAIN without the wildcard proof", q: q("nope.example.org.", dns.TypeA),
			tamper: onReply("nope.example.org.", dns.TypeA, func(m *dns.Msg) {
				m.Ns = strip(m.Ns, "example.org.", dns.TypeNSEC, dns.TypeRRSIG)
			}),
			wantStatus: validator.Bogus, wantEDE: dns.ExtendedErrorCodeNSECMissing},
		{name: "NXDOMAIN for an empty non-terminal", q: q("deep.example.org.", dns.TypeA),
			tamper: func(w *world, q resolver.Question, m *dns.Msg) {
				if q.Name == "deep.example.org." && q.Type == dns.TypeA {
					// The NODATA proof plus a valid "no wildcard" NSEC, sold
					// as NXDOMAIN: the covering NSEC's next name is below
					// deep.example.org., so the name exists.
					nx := w.up.rec.Reply(msg("nope.example.org.", dns.TypeA))
					for _, rr := range nx.Ns {
						if rr.Header().Name == "example.org." && rr.Header().Rrtype != dns.TypeSOA &&
							!(rr.Header().Rrtype == dns.TypeRRSIG && rr.(*dns.RRSIG).TypeCovered == dns.TypeSOA) {
							m.Ns = append(m.Ns, rr)
						}
					}
					m.Rcode = dns.RcodeNameError
				}
			},
			wantStatus: validator.Bogus, wantEDE: dns.ExtendedErrorCodeNSECMissing},
		{name: "NSEC NXDOMAIN past the last name", q: q("zzz.example.org.", dns.TypeA), wantStatus: validator.Secure, wantRcode: dns.RcodeNameError},
		{name: "NODATA for a type that exists", q: q("www.example.org.", dns.TypeA),
			tamper: func(w *world, q resolver.Question, m *dns.Msg) {
				if q.Name == "www.example.org." && q.Type == dns.TypeA {
					m.Answer, m.Ns = nil, w.up.rec.Reply(msg("www.example.org.", dns.TypeAAAA)).Ns
				}
			},
			wantStatus: validator.Bogus, wantEDE: dns.ExtendedErrorCodeNSECMissing},
		{name: "synthesized CNAME contradicting its DNAME", q: q("www.dn.example.org.", dns.TypeA),
			tamper: onReply("www.dn.example.org.", dns.TypeA, func(m *dns.Msg) {
				for _, rr := range m.Answer {
					if cn, ok := rr.(*dns.CNAME); ok {
						cn.Target = "www.plain.org."
					}
				}
			}),
			wantStatus: validator.Bogus, wantEDE: dns.ExtendedErrorCodeDNSBogus},
		{name: "NXDOMAIN for a name that exists", q: q("www.example.org.", dns.TypeA),
			tamper: onReply("www.example.org.", dns.TypeA, func(m *dns.Msg) {
				m.Answer, m.Rcode = nil, dns.RcodeNameError
			}),
			wantStatus: validator.Bogus, wantEDE: dns.ExtendedErrorCodeNSECMissing},

		// Denial with NSEC3.
		{name: "NSEC3 NXDOMAIN", opts: worldOpts{example: dnstest.SignOptions{NSEC3: nsec3}},
			q: q("x.y.nope.example.org.", dns.TypeA), wantStatus: validator.Secure, wantRcode: dns.RcodeNameError},
		{name: "NSEC3 NODATA", opts: worldOpts{example: dnstest.SignOptions{NSEC3: nsec3}},
			q: q("www.example.org.", dns.TypeAAAA), wantStatus: validator.Secure},
		{name: "NSEC3 empty non-terminal", opts: worldOpts{example: dnstest.SignOptions{NSEC3: nsec3}},
			q: q("deep.example.org.", dns.TypeA), wantStatus: validator.Secure},
		{name: "NSEC3 wildcard", opts: worldOpts{example: dnstest.SignOptions{NSEC3: nsec3}},
			q: q("x.wild.example.org.", dns.TypeTXT), wantStatus: validator.Secure, wantAnswer: 2},
		{name: "NSEC3 wildcard NODATA", opts: worldOpts{example: dnstest.SignOptions{NSEC3: nsec3}},
			q: q("x.wild.example.org.", dns.TypeA), wantStatus: validator.Secure},
		{name: "NSEC3 forged wildcard", opts: worldOpts{example: dnstest.SignOptions{NSEC3: nsec3}},
			q:          q("x.wild.example.org.", dns.TypeTXT),
			tamper:     onReply("x.wild.example.org.", dns.TypeTXT, func(m *dns.Msg) { m.Ns = nil }),
			wantStatus: validator.Bogus, wantEDE: dns.ExtendedErrorCodeNSECMissing},
		{name: "NSEC3 NXDOMAIN missing wildcard proof", opts: worldOpts{example: dnstest.SignOptions{NSEC3: nsec3}},
			q: q("nope.example.org.", dns.TypeA),
			tamper: onReply("nope.example.org.", dns.TypeA, func(m *dns.Msg) {
				// Keep the SOA and only the first NSEC3 (the closest encloser).
				var out []dns.RR
				seen := ""
				for _, rr := range m.Ns {
					switch rr := rr.(type) {
					case *dns.NSEC3:
						if seen == "" {
							seen = rr.Hdr.Name
						}
						if rr.Hdr.Name != seen {
							continue
						}
					case *dns.RRSIG:
						if rr.TypeCovered == dns.TypeNSEC3 && seen != "" && rr.Hdr.Name != seen {
							continue
						}
					}
					out = append(out, rr)
				}
				m.Ns = out
			}),
			wantStatus: validator.Bogus, wantEDE: dns.ExtendedErrorCodeNSECMissing, wantRcode: dns.RcodeNameError},
		{name: "NSEC3 iterations above limit", opts: worldOpts{example: dnstest.SignOptions{NSEC3: &dnstest.NSEC3Options{Iterations: 51}}},
			q: q("nope.example.org.", dns.TypeA), wantStatus: validator.Insecure, wantRcode: dns.RcodeNameError},
		{name: "NSEC3 iterations above limit, positive still secure", opts: worldOpts{example: dnstest.SignOptions{NSEC3: &dnstest.NSEC3Options{Iterations: 51}}},
			q: q("www.example.org.", dns.TypeA), wantStatus: validator.Secure, wantAnswer: 3},
		{name: "NSEC3 iterations within a raised limit", opts: worldOpts{example: dnstest.SignOptions{NSEC3: &dnstest.NSEC3Options{Iterations: 51}}},
			cfg: validator.Config{NSEC3MaxIterations: 150},
			q:   q("nope.example.org.", dns.TypeA), wantStatus: validator.Secure, wantRcode: dns.RcodeNameError},

		// Insecure delegations and chains.
		{name: "insecure delegation", q: q("www.plain.org.", dns.TypeA), wantStatus: validator.Insecure, wantAnswer: 1},
		{name: "insecure NXDOMAIN", q: q("nope.plain.org.", dns.TypeA), wantStatus: validator.Insecure, wantRcode: dns.RcodeNameError},
		{name: "insecure NODATA", q: q("www.plain.org.", dns.TypeAAAA), wantStatus: validator.Insecure},
		{name: "NSEC3 opt-out insecure delegation", opts: worldOpts{org: dnstest.SignOptions{NSEC3: &dnstest.NSEC3Options{OptOut: true}}},
			q: q("www.plain.org.", dns.TypeA), wantStatus: validator.Insecure, wantAnswer: 1},
		{name: "NSEC3 insecure delegation without opt-out", opts: worldOpts{org: dnstest.SignOptions{NSEC3: &dnstest.NSEC3Options{}}},
			q: q("www.plain.org.", dns.TypeA), wantStatus: validator.Insecure, wantAnswer: 1},
		{name: "CNAME from signed to unsigned", q: q("away.example.org.", dns.TypeA), wantStatus: validator.Insecure, wantAnswer: 3},
		{name: "CNAME from unsigned to signed", q: q("back.plain.org.", dns.TypeA), wantStatus: validator.Insecure, wantAnswer: 4},
		{name: "signed zone without DS is insecure", opts: worldOpts{exampleDS: "\n"},
			q: q("www.example.org.", dns.TypeA), wantStatus: validator.Insecure, wantAnswer: 3},
		{name: "missing DS without proof", q: q("www.plain.org.", dns.TypeA),
			tamper: onReply("plain.org.", dns.TypeDS, func(m *dns.Msg) {
				m.Ns = strip(m.Ns, "", dns.TypeNSEC, dns.TypeNSEC3, dns.TypeRRSIG)
			}),
			wantStatus: validator.Bogus, wantEDE: dns.ExtendedErrorCodeNSECMissing},
		{name: "missing DS with unsigned proof", q: q("www.plain.org.", dns.TypeA),
			tamper:     onReply("plain.org.", dns.TypeDS, func(m *dns.Msg) { m.Ns = strip(m.Ns, "", dns.TypeRRSIG) }),
			wantStatus: validator.Bogus, wantEDE: dns.ExtendedErrorCodeRRSIGsMissing},
		{name: "NSEC of a delegation cannot deny data below it", q: q("www.plain.org.", dns.TypeA),
			tamper: func(w *world, q resolver.Question, m *dns.Msg) {
				if q.Name == "www.plain.org." && q.Type == dns.TypeA {
					// Replace the unsigned answer with org.'s NSEC at the
					// delegation, which says nothing about names below it.
					ds := w.up.rec.Reply(msg("plain.org.", dns.TypeDS))
					m.Answer, m.Ns, m.Rcode = nil, ds.Ns, dns.RcodeNameError
				}
			},
			wantStatus: validator.Bogus, wantEDE: dns.ExtendedErrorCodeNSECMissing},

		// Bogus answers and their EDE codes.
		{name: "expired signatures", opts: worldOpts{example: dnstest.SignOptions{Inception: now.Add(-48 * time.Hour), Expiration: now.Add(-24 * time.Hour)}},
			q: q("www.example.org.", dns.TypeA), wantStatus: validator.Bogus, wantEDE: dns.ExtendedErrorCodeSignatureExpired},
		{name: "signatures not yet valid", opts: worldOpts{example: dnstest.SignOptions{Inception: now.Add(3 * time.Hour), Expiration: now.Add(48 * time.Hour)}},
			q: q("www.example.org.", dns.TypeA), wantStatus: validator.Bogus, wantEDE: dns.ExtendedErrorCodeSignatureNotYetValid},
		{name: "signatures valid within clock skew", opts: worldOpts{example: dnstest.SignOptions{Inception: now.Add(30 * time.Minute), Expiration: now.Add(48 * time.Hour)}},
			q: q("www.example.org.", dns.TypeA), wantStatus: validator.Secure, wantAnswer: 3},
		{name: "signatures beyond a smaller clock skew", opts: worldOpts{example: dnstest.SignOptions{Inception: now.Add(30 * time.Minute), Expiration: now.Add(48 * time.Hour)}},
			cfg: validator.Config{ClockSkew: time.Minute},
			q:   q("www.example.org.", dns.TypeA), wantStatus: validator.Bogus, wantEDE: dns.ExtendedErrorCodeSignatureNotYetValid},
		{name: "tampered data", q: q("www.example.org.", dns.TypeA),
			tamper:     onReply("www.example.org.", dns.TypeA, tamperA),
			wantStatus: validator.Bogus, wantEDE: dns.ExtendedErrorCodeDNSBogus},
		{name: "signed by an unpublished key", opts: worldOpts{example: dnstest.SignOptions{Keys: []*dnstest.Key{realKey}, ExtraSigners: []*dnstest.Key{rogueKey}}},
			q: q("www.example.org.", dns.TypeA),
			tamper: onReply("www.example.org.", dns.TypeA, func(m *dns.Msg) {
				m.Answer = slices.DeleteFunc(m.Answer, func(rr dns.RR) bool {
					sig, ok := rr.(*dns.RRSIG)
					return ok && sig.KeyTag == realKey.DNSKEY.KeyTag()
				})
			}),
			wantStatus: validator.Bogus, wantEDE: dns.ExtendedErrorCodeDNSBogus},
		{name: "DS for a key the zone does not publish", opts: worldOpts{exampleDS: rogueKey.DS().String() + "\n"},
			q: q("www.example.org.", dns.TypeA), wantStatus: validator.Bogus, wantEDE: dns.ExtendedErrorCodeDNSKEYMissing},
		{name: "DNSKEY RRset missing", q: q("www.example.org.", dns.TypeA),
			tamper:     onReply("example.org.", dns.TypeDNSKEY, func(m *dns.Msg) { m.Answer = nil }),
			wantStatus: validator.Bogus, wantEDE: dns.ExtendedErrorCodeDNSKEYMissing},
		{name: "RRSIGs missing", q: q("www.example.org.", dns.TypeA),
			tamper:     onReply("www.example.org.", dns.TypeA, func(m *dns.Msg) { m.Answer = strip(m.Answer, "", dns.TypeRRSIG) }),
			wantStatus: validator.Bogus, wantEDE: dns.ExtendedErrorCodeRRSIGsMissing},
		{name: "RRSIGs missing on a signed zone's denial", q: q("nope.example.org.", dns.TypeA),
			tamper:     onReply("nope.example.org.", dns.TypeA, func(m *dns.Msg) { m.Ns = strip(m.Ns, "", dns.TypeRRSIG) }),
			wantStatus: validator.Bogus, wantEDE: dns.ExtendedErrorCodeRRSIGsMissing},
		{name: "signer is not a zone", q: q("www.example.org.", dns.TypeA),
			tamper: onReply("www.example.org.", dns.TypeA, func(m *dns.Msg) {
				for _, rr := range m.Answer {
					if sig, ok := rr.(*dns.RRSIG); ok {
						sig.SignerName = "www.example.org."
					}
				}
			}),
			wantStatus: validator.Bogus, wantEDE: dns.ExtendedErrorCodeDNSBogus},

		// Algorithms and digests we do not implement make a zone insecure.
		{name: "unsupported DS digest type", opts: worldOpts{exampleDS: "example.org. 3600 IN DS 12345 13 200 00112233445566778899aabbccddeeff\n"},
			q: q("www.example.org.", dns.TypeA), wantStatus: validator.Insecure, wantAnswer: 3},
		{name: "unsupported DS algorithm", opts: worldOpts{exampleDS: "example.org. 3600 IN DS 12345 253 2 00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\n"},
			q: q("www.example.org.", dns.TypeA), wantStatus: validator.Insecure, wantAnswer: 3},

		// CD: the data, unvalidated, even when bogus.
		{name: "CD returns bogus data", q: resolver.Question{Name: "www.example.org.", Type: dns.TypeA, DO: true, CD: true},
			tamper:     onReply("www.example.org.", dns.TypeA, tamperA),
			wantStatus: validator.Unchecked, wantAnswer: 3},
		{name: "upstream SERVFAIL passes through", q: q("www.example.org.", dns.TypeA),
			tamper:     onReply("www.example.org.", dns.TypeA, func(m *dns.Msg) { m.Answer, m.Rcode = nil, dns.RcodeServerFailure }),
			wantStatus: validator.Indeterminate, wantRcode: dns.RcodeServerFailure},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t, tt.opts)
			if tt.tamper != nil {
				w.up.tamper = func(q resolver.Question, m *dns.Msg) { tt.tamper(w, q, m) }
			}
			v, _ := newValidator(t, w, tt.cfg)
			m, st, err := v.Validate(t.Context(), tt.q)
			if st != tt.wantStatus {
				t.Fatalf("Validate(%s) status = %s (err %v), want %s\n%v", tt.q, st, err, tt.wantStatus, m)
			}
			if got := ede(t, err); got != tt.wantEDE {
				t.Fatalf("Validate(%s) EDE = %d (%v), want %d", tt.q, got, err, tt.wantEDE)
			}
			if tt.wantStatus == validator.Bogus {
				if m != nil {
					t.Errorf("bogus answer returned a message")
				}
				return
			}
			if err != nil {
				t.Fatalf("Validate(%s) error %v", tt.q, err)
			}
			if m.Rcode != tt.wantRcode {
				t.Errorf("rcode %s, want %s", dns.RcodeToString[m.Rcode], dns.RcodeToString[tt.wantRcode])
			}
			if m.AuthenticatedData != (tt.wantStatus == validator.Secure) {
				t.Errorf("AD = %v with status %s", m.AuthenticatedData, st)
			}
			if len(m.Answer) != tt.wantAnswer {
				t.Errorf("%d answer records, want %d\n%v", len(m.Answer), tt.wantAnswer, m)
			}
		})
	}
}

func msg(name string, qtype uint16) *dns.Msg {
	m := new(dns.Msg)
	m.SetQuestion(name, qtype)
	m.SetEdns0(1232, true)
	return m
}

func TestValidator_Resolve_noDO(t *testing.T) {
	w := newWorld(t, worldOpts{})
	v, _ := newValidator(t, w, validator.Config{})
	for _, tc := range []struct {
		name  string
		qtype uint16
	}{
		{"www.example.org.", dns.TypeA},
		{"nope.example.org.", dns.TypeA},
		{"x.wild.example.org.", dns.TypeTXT},
		{"www.dn.example.org.", dns.TypeA},
	} {
		for _, do := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s do=%v", tc.name, do), func(t *testing.T) {
				m, err := v.Resolve(t.Context(), resolver.Question{Name: tc.name, Type: tc.qtype, DO: do})
				if err != nil {
					t.Fatal(err)
				}
				if !m.AuthenticatedData {
					t.Errorf("AD not set on a secure answer")
				}
				n := 0
				for _, rr := range append(slices.Clone(m.Answer), append(m.Ns, m.Extra...)...) {
					switch rr.Header().Rrtype {
					case dns.TypeRRSIG, dns.TypeNSEC, dns.TypeNSEC3:
						n++
					}
				}
				if do && n == 0 {
					t.Errorf("no DNSSEC records for a DO client:\n%v", m)
				}
				if !do && n != 0 {
					t.Errorf("%d DNSSEC records for a client without DO:\n%v", n, m)
				}
			})
		}
	}
	// Asking for the DNSSEC type itself keeps it.
	m, err := v.Resolve(t.Context(), resolver.Question{Name: "example.org.", Type: dns.TypeNSEC})
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Answer) != 1 || m.Answer[0].Header().Rrtype != dns.TypeNSEC {
		t.Errorf("NSEC query without DO lost its answer:\n%v", m)
	}
}

func TestValidator_upstreamError(t *testing.T) {
	w := newWorld(t, worldOpts{})
	v, _ := newValidator(t, w, validator.Config{})
	// An error fetching keys is the upstream's, not a bogus verdict.
	w.up.tamper = nil
	w.up.err = resolver.ErrNoUpstream
	_, st, err := v.Validate(t.Context(), q("www.example.org.", dns.TypeA))
	if !errors.Is(err, resolver.ErrNoUpstream) || errors.Is(err, validator.ErrBogus) || st != validator.Indeterminate {
		t.Fatalf("Validate with a failing upstream = %s, %v; want indeterminate, ErrNoUpstream", st, err)
	}
	w.up.err = nil
	w.up.tamper = func(q resolver.Question, m *dns.Msg) {
		if q.Type == dns.TypeDNSKEY {
			m.Rcode = dns.RcodeServerFailure
		}
	}
	_, st, err = v.Validate(t.Context(), q("www.example.org.", dns.TypeA))
	if !errors.Is(err, resolver.ErrNoUpstream) || st != validator.Indeterminate {
		t.Fatalf("Validate with SERVFAIL for the DNSKEY = %s, %v; want indeterminate, ErrNoUpstream", st, err)
	}
	// Nothing about the failure was cached: the next query validates.
	w.up.tamper = nil
	if _, st, err = v.Validate(t.Context(), q("www.example.org.", dns.TypeA)); st != validator.Secure || err != nil {
		t.Fatalf("Validate after upstream recovered = %s, %v; want secure", st, err)
	}
}

func TestValidator_cachesKeys(t *testing.T) {
	w := newWorld(t, worldOpts{})
	clock := time.Now()
	v, reg := newValidator(t, w, validator.Config{Now: func() time.Time { return clock }})
	ctx := t.Context()
	for _, name := range []string{"www.example.org.", "alias.example.org.", "www.plain.org."} {
		if _, _, err := v.Validate(ctx, q(name, dns.TypeA)); err != nil {
			t.Fatal(err)
		}
	}
	fetched := metric(t, reg, "upstream_queries_total", "DNSKEY") + metric(t, reg, "upstream_queries_total", "DS")
	// Root, org. and example.org. keys; DS for org., example.org. and
	// plain.org.
	if fetched != 6 {
		t.Errorf("%v key fetches for a cold chain, want 6", fetched)
	}
	before := len(w.up.questions())
	if _, _, err := v.Validate(ctx, q("www.example.org.", dns.TypeTXT)); err != nil {
		t.Fatal(err)
	}
	if _, _, err := v.Validate(ctx, q("www.plain.org.", dns.TypeAAAA)); err != nil {
		t.Fatal(err)
	}
	if got := len(w.up.questions()) - before; got != 2 {
		t.Errorf("warm cache: %d upstream questions for 2 client questions, want 2: %v", got, w.up.questions()[before:])
	}
	// Once the keys' TTLs run out they are fetched again.
	clock = clock.Add(2 * time.Hour)
	before = len(w.up.questions())
	if _, st, err := v.Validate(ctx, q("www.example.org.", dns.TypeA)); err != nil || st != validator.Secure {
		t.Fatal(st, err)
	}
	if got := len(w.up.questions()) - before; got == 1 {
		t.Errorf("expired keys were not refetched")
	}
}

func TestValidator_trustAnchorForms(t *testing.T) {
	w := newWorld(t, worldOpts{})
	var keys []dns.RR
	for _, k := range w.root.Keys() {
		keys = append(keys, k.DNSKEY)
	}
	for name, anchors := range map[string][]dns.RR{"DS": w.anchors, "DNSKEY": keys} {
		t.Run(name, func(t *testing.T) {
			v, _ := newValidator(t, w, validator.Config{TrustAnchors: anchors})
			if _, st, err := v.Validate(t.Context(), q("www.example.org.", dns.TypeA)); st != validator.Secure || err != nil {
				t.Errorf("status %s, %v; want secure", st, err)
			}
		})
	}
	t.Run("wrong anchor", func(t *testing.T) {
		other := dnstest.NewKey(t, ".", dns.ECDSAP256SHA256, true)
		v, _ := newValidator(t, w, validator.Config{TrustAnchors: []dns.RR{other.DS()}})
		_, st, err := v.Validate(t.Context(), q("www.example.org.", dns.TypeA))
		if st != validator.Bogus || ede(t, err) != dns.ExtendedErrorCodeDNSKEYMissing {
			t.Errorf("status %s, %v; want bogus, DNSKEY missing", st, err)
		}
	})
	t.Run("anchor for another tree", func(t *testing.T) {
		v, _ := newValidator(t, w, validator.Config{TrustAnchors: []dns.RR{w.example.DS()[0]}})
		// The anchor covers example.org. only; plain.org. is indeterminate.
		if _, st, err := v.Validate(t.Context(), q("www.example.org.", dns.TypeA)); st != validator.Secure || err != nil {
			t.Errorf("under the anchor: status %s, %v; want secure", st, err)
		}
		m, st, err := v.Validate(t.Context(), q("www.plain.org.", dns.TypeA))
		if st != validator.Indeterminate || err != nil || m.AuthenticatedData {
			t.Errorf("outside the anchor: status %s, %v; want indeterminate without AD", st, err)
		}
	})
}

func TestValidator_metrics(t *testing.T) {
	w := newWorld(t, worldOpts{})
	v, reg := newValidator(t, w, validator.Config{})
	ctx := t.Context()
	_, _, _ = v.Validate(ctx, q("www.example.org.", dns.TypeA))
	_, _, _ = v.Validate(ctx, q("www.plain.org.", dns.TypeA))
	w.up.tamper = func(q resolver.Question, m *dns.Msg) {
		onReply("alias.example.org.", dns.TypeA, func(m *dns.Msg) { m.Answer = strip(m.Answer, "", dns.TypeRRSIG) })(w, q, m)
	}
	_, _, _ = v.Validate(ctx, q("alias.example.org.", dns.TypeA))
	for _, c := range []struct {
		name, label string
		want        float64
	}{
		{"results_total", "secure", 1},
		{"results_total", "insecure", 1},
		{"results_total", "bogus", 1},
		{"bogus_total", "rrsigs_missing", 1},
	} {
		if got := metric(t, reg, c.name, c.label); got != c.want {
			t.Errorf("%s{%s} = %v, want %v", c.name, c.label, got, c.want)
		}
	}
	if metric(t, reg, "signature_verifications_total", "") == 0 {
		t.Errorf("no signature verifications counted")
	}
}

func TestNew_errors(t *testing.T) {
	up := &upstream{}
	for _, cfg := range []validator.Config{
		{},
		{Upstream: up, ClockSkew: -time.Second},
		{Upstream: up, MaxValidations: -1},
		{Upstream: up, TrustAnchors: []dns.RR{dnstest.RR(t, "example. 300 IN A 192.0.2.1")}},
	} {
		if _, err := validator.New(cfg); err == nil {
			t.Errorf("New(%+v) succeeded", cfg)
		}
	}
	if _, err := validator.New(validator.Config{Upstream: up}); err != nil {
		t.Errorf("New with built-in anchors: %v", err)
	}
}

var _ resolver.Resolver = (*validator.Validator)(nil)

func TestValidator_concurrent(t *testing.T) {
	w := newWorld(t, worldOpts{})
	v, _ := newValidator(t, w, validator.Config{})
	want := map[string]validator.Status{
		"www.example.org.":   validator.Secure,
		"alias.example.org.": validator.Secure,
		"nope.example.org.":  validator.Secure,
		"www.plain.org.":     validator.Insecure,
		"away.example.org.":  validator.Insecure,
	}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 10 {
				for name, st := range want {
					if _, got, err := v.Validate(t.Context(), q(name, dns.TypeA)); got != st || err != nil {
						t.Errorf("%s: status %s, %v; want %s", name, got, err, st)
					}
				}
			}
		})
	}
	wg.Wait()
}
