package validator_test

import (
	"net"
	"runtime"
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

// TestDenialVerifiedInParallel: the SOA and NSEC RRsets of a negative
// answer are checked side by side ahead of the sequential pass, which then
// finds them in the signature cache; the verifications counted against the
// budget, and the outcome, are the same as checking them one by one, and a
// bad signature among them is still caught.
func TestDenialVerifiedInParallel(t *testing.T) {
	nope := q("nope.example.org.", dns.TypeA)
	run := func(procs int, tamper func(resolver.Question, *dns.Msg)) (verifies, hits float64, st validator.Status, err error) {
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(procs))
		w := newWorld(t, worldOpts{})
		w.up.tamper = tamper
		v, reg := newValidator(t, w, validator.Config{})
		_, st, err = v.Validate(t.Context(), nope)
		return metric(t, reg, "signature_verifications_total", ""), metric(t, reg, "signature_cache_hits_total", ""), st, err
	}
	oneByOne, hits1, st, err := run(1, nil)
	if st != validator.Secure || err != nil || hits1 != 0 {
		t.Fatalf("one core: status %s, %v, %v cache hits; want secure, none", st, err, hits1)
	}
	side, hits2, st, err := run(2, nil)
	if st != validator.Secure || err != nil {
		t.Fatalf("two cores: status %s, %v; want secure", st, err)
	}
	if side != oneByOne {
		t.Errorf("%v verifications on two cores, %v on one; want the same", side, oneByOne)
	}
	if hits2 < 2 {
		t.Errorf("%v cache hits on two cores, want the SOA and NSEC RRsets checked ahead", hits2)
	}

	// One NSEC's next name changed under its signature.
	_, _, st, err = run(2, func(q resolver.Question, m *dns.Msg) {
		if q.Name != nope.Name || q.Type != nope.Type {
			return
		}
		for _, rr := range m.Ns {
			if n, ok := rr.(*dns.NSEC); ok {
				n.NextDomain = "zzzz." + n.NextDomain
				return
			}
		}
	})
	if st != validator.Bogus || ede(t, err) != dns.ExtendedErrorCodeDNSBogus {
		t.Fatalf("tampered NSEC: status %s, %v; want bogus", st, err)
	}
}
