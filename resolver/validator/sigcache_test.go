package validator_test

import (
	"net"
	"testing"
	"time"

	"github.com/miekg/dns"

	"gatehouse/resolver"
	"gatehouse/resolver/validator"
)

// TestSignatureCache: a signature that verified is not verified again, but
// the cache never stands in for a check it did not make: changed records
// under the same signature are bogus, and a remembered signature that has
// since expired fails its time check.
func TestSignatureCache(t *testing.T) {
	w := newWorld(t, worldOpts{})
	now := time.Now()
	v, reg := newValidator(t, w, validator.Config{Now: func() time.Time { return now }})
	www := q("www.example.org.", dns.TypeA)

	m, st, err := v.Validate(t.Context(), www)
	if st != validator.Secure || err != nil {
		t.Fatalf("first: status %s, %v; want secure", st, err)
	}
	first := metric(t, reg, "signature_verifications_total", "")
	if hits := metric(t, reg, "signature_cache_hits_total", ""); hits != 0 {
		t.Fatalf("%v cache hits on a fresh validator", hits)
	}

	// The same answer again, and its plain (no DO) form: the answer's
	// signature is taken from the cache, the keys from the key cache.
	for _, again := range []resolver.Question{www, {Name: www.Name, Type: www.Type}} {
		if _, st, err := v.Validate(t.Context(), again); st != validator.Secure || err != nil {
			t.Fatalf("%v again: status %s, %v; want secure", again, st, err)
		}
	}
	if n := metric(t, reg, "signature_verifications_total", ""); n != first {
		t.Errorf("%v verifications after asking twice more, want still %v", n, first)
	}
	if hits := metric(t, reg, "signature_cache_hits_total", ""); hits != 2 {
		t.Errorf("%v cache hits, want 2", hits)
	}

	// Same signature, other data.
	w.up.tamper = func(q resolver.Question, m *dns.Msg) {
		for _, rr := range m.Answer {
			if a, ok := rr.(*dns.A); ok && a.A.Equal(net.ParseIP("192.0.2.2")) {
				a.A = net.ParseIP("203.0.113.66")
			}
		}
	}
	if _, st, err := v.Validate(t.Context(), www); st != validator.Bogus || ede(t, err) != dns.ExtendedErrorCodeDNSBogus {
		t.Fatalf("tampered: status %s, %v; want bogus", st, err)
	}
	w.up.tamper = nil

	// Past the signature's expiry the remembered verification is no use.
	var exp uint32
	for _, rr := range m.Answer {
		if sig, ok := rr.(*dns.RRSIG); ok {
			exp = sig.Expiration
		}
	}
	if exp == 0 {
		t.Fatal("no RRSIG in the secure answer")
	}
	now = time.Unix(int64(exp), 0).Add(48 * time.Hour)
	if _, st, err := v.Validate(t.Context(), www); st != validator.Bogus || ede(t, err) != dns.ExtendedErrorCodeSignatureExpired {
		t.Fatalf("expired: status %s, %v; want bogus, signature expired", st, err)
	}
}
