package validator_test

import (
	"crypto/rand"
	"encoding/base64"
	"testing"

	"github.com/miekg/dns"

	"gatehouse/internal/dnstest"
	"gatehouse/resolver"
	"gatehouse/resolver/validator"
)

// collidingKeys returns n DNSKEYs for zone with algorithm alg whose key
// tag is tag: random public keys whose last two bytes are chosen to hit
// the tag (RFC 4034 Appendix B is a 16-bit sum). They are not valid curve
// points, so every verification with them fails, after doing the work.
func collidingKeys(t testing.TB, zone string, alg uint8, tag uint16, n int) []*dnstest.Key {
	t.Helper()
	var out []*dnstest.Key
	for range n {
		pub := make([]byte, 64)
		if _, err := rand.Read(pub); err != nil {
			t.Fatal(err)
		}
		pub[62], pub[63] = 0, 0
		rdata := append([]byte{1, 1, 3, alg}, pub...) // flags 257, protocol 3
		sum := 0
		for i, b := range rdata {
			if i&1 == 0 {
				sum += int(b) << 8
			} else {
				sum += int(b)
			}
		}
		found := false
		for v := range 1 << 16 {
			ac := sum + v
			if uint16(ac+(ac>>16)) == tag {
				pub[62], pub[63] = byte(v>>8), byte(v)
				found = true
				break
			}
		}
		if !found {
			t.Fatal("no key tag collision found")
		}
		k := &dns.DNSKEY{
			Hdr:   dns.RR_Header{Name: zone, Rrtype: dns.TypeDNSKEY, Class: dns.ClassINET, Ttl: 3600},
			Flags: 257, Protocol: 3, Algorithm: alg,
			PublicKey: base64.StdEncoding.EncodeToString(pub),
		}
		if k.KeyTag() != tag {
			t.Fatalf("colliding key has tag %d, want %d", k.KeyTag(), tag)
		}
		out = append(out, &dnstest.Key{DNSKEY: k})
	}
	return out
}

// junkSigs returns n copies of sig with random signatures.
func junkSigs(t testing.TB, sig *dns.RRSIG, n int) []dns.RR {
	var out []dns.RR
	for range n {
		s := dns.Copy(sig).(*dns.RRSIG)
		b := make([]byte, 64)
		if _, err := rand.Read(b); err != nil {
			t.Fatal(err)
		}
		s.Signature = base64.StdEncoding.EncodeToString(b)
		out = append(out, s)
	}
	return out
}

// prependJunk puts n junk RRSIGs in front of the first RRSIG of section.
func prependJunk(t testing.TB, section []dns.RR, n int) []dns.RR {
	for i, rr := range section {
		if sig, ok := rr.(*dns.RRSIG); ok {
			out := append([]dns.RR(nil), section[:i]...)
			out = append(out, junkSigs(t, sig, n)...)
			return append(out, section[i:]...)
		}
	}
	return section
}

func TestValidator_keyTrap(t *testing.T) {
	real := dnstest.NewKey(t, "example.org.", dns.ECDSAP256SHA256, true)
	colliding := collidingKeys(t, "example.org.", dns.ECDSAP256SHA256, real.DNSKEY.KeyTag(), 50)
	opts := worldOpts{example: dnstest.SignOptions{Keys: []*dnstest.Key{real}, ExtraKeys: colliding}}
	tamper := func(q resolver.Question, m *dns.Msg) {
		if q.Name == "www.example.org." && q.Type == dns.TypeA {
			m.Answer = prependJunk(t, m.Answer, 50)
		}
	}

	t.Run("sane zone first", func(t *testing.T) {
		// The same zone without junk signatures validates: the colliding
		// keys alone cost little.
		w := newWorld(t, opts)
		v, reg := newValidator(t, w, validator.Config{})
		if _, st, err := v.Validate(t.Context(), q("www.example.org.", dns.TypeA)); st != validator.Secure || err != nil {
			t.Fatalf("status %s, %v; want secure", st, err)
		}
		if n := metric(t, reg, "signature_verifications_total", ""); n > 8 {
			t.Errorf("%v verifications for a clean chain, want at most 8", n)
		}
	})

	t.Run("junk signatures", func(t *testing.T) {
		// 50 signatures times 51 keys would be 2550 verifications of one
		// RRset; the per-RRset limits stop at 8 signatures of 4 keys each.
		w := newWorld(t, opts)
		w.up.tamper = tamper
		v, reg := newValidator(t, w, validator.Config{})
		_, st, err := v.Validate(t.Context(), q("www.example.org.", dns.TypeA))
		if st != validator.Bogus || ede(t, err) != dns.ExtendedErrorCodeDNSBogus {
			t.Fatalf("status %s, %v; want bogus", st, err)
		}
		n := metric(t, reg, "signature_verifications_total", "")
		if n < 32 || n > 32+8 {
			t.Errorf("%v verifications, want the answer's 32 plus the chain's few", n)
		}
	})

	t.Run("query budget", func(t *testing.T) {
		w := newWorld(t, opts)
		w.up.tamper = tamper
		v, reg := newValidator(t, w, validator.Config{MaxValidations: 10})
		_, st, err := v.Validate(t.Context(), q("www.example.org.", dns.TypeA))
		if st != validator.Bogus || ede(t, err) != dns.ExtendedErrorCodeDNSBogus {
			t.Fatalf("status %s, %v; want bogus", st, err)
		}
		if n := metric(t, reg, "signature_verifications_total", ""); n != 10 {
			t.Errorf("%v verifications, want exactly the budget of 10", n)
		}
		if n := metric(t, reg, "bogus_total", "work_limit"); n != 1 {
			t.Errorf("bogus_total{reason=work_limit} = %v, want 1", n)
		}
		// A budget failure is about this query, not the zone: nothing
		// bogus was cached, and the clean answer validates.
		w.up.tamper = nil
		if _, st, err := v.Validate(t.Context(), q("www.example.org.", dns.TypeA)); st != validator.Secure || err != nil {
			t.Errorf("after the attack: status %s, %v; want secure", st, err)
		}
	})
}

func TestValidator_nsec3HashBudget(t *testing.T) {
	// A 60-label name under an NSEC3 zone at 150 iterations: the closest
	// encloser proof would hash every ancestor, 61 hashes of 151 SHA-1
	// rounds, more than the budget of 8192 (CVE-2023-50868).
	w := newWorld(t, worldOpts{example: dnstest.SignOptions{NSEC3: &dnstest.NSEC3Options{Iterations: 150}}})
	v, reg := newValidator(t, w, validator.Config{NSEC3MaxIterations: 150})
	name := ""
	for range 60 {
		name += "a."
	}
	name += "example.org."
	_, st, err := v.Validate(t.Context(), q(name, dns.TypeA))
	if st != validator.Bogus || ede(t, err) != dns.ExtendedErrorCodeDNSBogus {
		t.Fatalf("60 labels at 150 iterations: status %s, %v; want bogus (work limit)", st, err)
	}
	if n := metric(t, reg, "bogus_total", "work_limit"); n != 1 {
		t.Errorf("bogus_total{reason=work_limit} = %v, want 1", n)
	}
	m, st, err := v.Validate(t.Context(), q("a.b.nope.example.org.", dns.TypeA))
	if st != validator.Secure || err != nil || m.Rcode != dns.RcodeNameError {
		t.Fatalf("short name: status %s, %v; want secure NXDOMAIN", st, err)
	}
}
