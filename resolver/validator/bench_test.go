package validator_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/miekg/dns"

	"gatehouse/internal/dnstest"
	"gatehouse/resolver"
	"gatehouse/resolver/validator"
)

// fixedUpstream answers each question with a copy of a reply prepared
// once, so benchmarks measure validation, not the fake zones.
type fixedUpstream struct {
	replies map[resolver.Question]*dns.Msg
}

func (u *fixedUpstream) Resolve(_ context.Context, q resolver.Question) (*dns.Msg, error) {
	return u.replies[q].Copy(), nil
}

func benchWorld(b *testing.B, o worldOpts, qs ...resolver.Question) *validator.Validator {
	w := newWorld(b, o)
	up := &fixedUpstream{replies: make(map[resolver.Question]*dns.Msg)}
	record := &upstream{rec: w.up.rec, tamper: func(q resolver.Question, m *dns.Msg) { up.replies[q] = m.Copy() }}
	v, err := validator.New(validator.Config{Upstream: record, TrustAnchors: w.anchors})
	if err != nil {
		b.Fatal(err)
	}
	for _, q := range qs {
		if _, _, err := v.Validate(b.Context(), q); err != nil {
			b.Fatal(err)
		}
	}
	// A fresh validator over the recorded replies, warmed the same way.
	v, err = validator.New(validator.Config{Upstream: up, TrustAnchors: w.anchors})
	if err != nil {
		b.Fatal(err)
	}
	for _, q := range qs {
		if _, _, err := v.Validate(b.Context(), q); err != nil {
			b.Fatal(err)
		}
	}
	return v
}

// BenchmarkValidateSecureWarm validates a signed answer with every key
// already cached: one signature verification per query.
func BenchmarkValidateSecureWarm(b *testing.B) {
	for _, alg := range []uint8{dns.ECDSAP256SHA256, dns.RSASHA256, dns.ED25519} {
		b.Run(dns.AlgorithmToString[alg], func(b *testing.B) {
			q := resolver.Question{Name: "www.example.org.", Type: dns.TypeA, DO: true}
			v := benchWorld(b, worldOpts{example: dnstest.SignOptions{Algorithm: alg}}, q)
			b.ReportAllocs()
			for b.Loop() {
				if _, st, err := v.Validate(b.Context(), q); st != validator.Secure || err != nil {
					b.Fatal(st, err)
				}
			}
		})
	}
}

// BenchmarkValidateNXDOMAINWarm validates an NSEC3 denial: three NSEC3
// RRsets verified and a closest encloser proof hashed per query.
func BenchmarkValidateNXDOMAINWarm(b *testing.B) {
	q := resolver.Question{Name: "nope.example.org.", Type: dns.TypeA, DO: true}
	v := benchWorld(b, worldOpts{example: dnstest.SignOptions{NSEC3: &dnstest.NSEC3Options{Iterations: 10, Salt: "ab"}}}, q)
	b.ReportAllocs()
	for b.Loop() {
		if _, st, err := v.Validate(b.Context(), q); st != validator.Secure || err != nil {
			b.Fatal(st, err)
		}
	}
}

// BenchmarkValidateInsecureWarm validates an unsigned answer whose
// insecure delegation proof is cached: no cryptography at all.
func BenchmarkValidateInsecureWarm(b *testing.B) {
	q := resolver.Question{Name: "www.plain.org.", Type: dns.TypeA, DO: true}
	v := benchWorld(b, worldOpts{}, q)
	b.ReportAllocs()
	for b.Loop() {
		if _, st, err := v.Validate(b.Context(), q); st != validator.Insecure || err != nil {
			b.Fatal(st, err)
		}
	}
}

// BenchmarkValidateNXDOMAINAggressive answers NXDOMAIN for ever new names
// in one NSEC span (a random-subdomain flood) from the validated NSEC
// records of the first answer (RFC 8198): no upstream query and no
// signature verification per name.
func BenchmarkValidateNXDOMAINAggressive(b *testing.B) {
	q := resolver.Question{Name: "nope.example.org.", Type: dns.TypeA, DO: true}
	v := benchWorld(b, worldOpts{}, q)
	names := make([]string, 1000)
	for i := range names {
		names[i] = fmt.Sprintf("nope%d.example.org.", i) // between dn. and ns.example.org.
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		q.Name = names[i%len(names)]
		i++
		if m, st, err := v.Validate(b.Context(), q); st != validator.Secure || err != nil || m.Rcode != dns.RcodeNameError {
			b.Fatal(st, err)
		}
	}
}
