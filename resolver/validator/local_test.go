package validator_test

import (
	"testing"

	"github.com/miekg/dns"

	"gatehouse/resolver"
	"gatehouse/resolver/validator"
)

// A DNSKEY question for a zone whose keys the validator holds, validated,
// is answered from them; with CD it goes upstream (unchecked data).
func TestValidator_DNSKEYFromKeyCache(t *testing.T) {
	w := newWorld(t, worldOpts{})
	v, _ := newValidator(t, w, validator.Config{})
	if _, st, err := v.Validate(t.Context(), q("www.example.org.", dns.TypeA)); err != nil || st != validator.Secure {
		t.Fatal(st, err)
	}
	for _, tt := range []struct {
		q        resolver.Question
		upstream bool
	}{
		{resolver.Question{Name: "example.org.", Type: dns.TypeDNSKEY, DO: true}, false},
		{resolver.Question{Name: "org.", Type: dns.TypeDNSKEY}, false},
		{resolver.Question{Name: "example.org.", Type: dns.TypeDNSKEY, DO: true, CD: true}, true},
		{resolver.Question{Name: "plain.org.", Type: dns.TypeDNSKEY, DO: true}, true}, // insecure: no keys held
	} {
		before := len(w.up.questions())
		m, _, err := v.Validate(t.Context(), tt.q)
		if err != nil {
			t.Fatalf("%v: %v", tt.q, err)
		}
		if asked := len(w.up.questions()) > before; asked != tt.upstream {
			t.Errorf("%v: upstream asked = %v, want %v", tt.q, asked, tt.upstream)
		}
		if tt.upstream {
			continue
		}
		keys, sigs := countRR(m.Answer, dns.TypeDNSKEY), countRR(m.Answer, dns.TypeRRSIG)
		wantSigs := 0
		if tt.q.DO {
			wantSigs = 1
		}
		if !m.AuthenticatedData || keys == 0 || sigs != wantSigs {
			t.Errorf("%v: AD %v, %d DNSKEY and %d RRSIG; want AD, the keys and %d RRSIG", tt.q, m.AuthenticatedData, keys, sigs, wantSigs)
		}
	}
}
