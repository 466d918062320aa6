package validator_test

import (
	"testing"

	"github.com/miekg/dns"

	"gatehouse/resolver"
	"gatehouse/resolver/validator"
)

// FuzzValidate feeds mutated upstream replies (answers, denials, and the
// DNSKEY and DS replies the chain of trust rests on) to the validator: it
// must never panic, never call a bogus answer anything but an error, and
// never mark an answer secure without AD.
func FuzzValidate(f *testing.F) {
	w := newWorld(f, worldOpts{})
	for _, s := range []struct {
		name  string
		qtype uint16
	}{
		{"www.example.org.", dns.TypeA},
		{"alias.example.org.", dns.TypeA},
		{"nope.example.org.", dns.TypeA},
		{"www.example.org.", dns.TypeAAAA},
		{"x.wild.example.org.", dns.TypeTXT},
		{"www.dn.example.org.", dns.TypeA},
		{"www.plain.org.", dns.TypeA},
		{"example.org.", dns.TypeDNSKEY},
		{"example.org.", dns.TypeDS},
		{"plain.org.", dns.TypeDS},
	} {
		b, err := w.up.rec.Reply(msg(s.name, s.qtype)).Pack()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, s.name, s.qtype)
	}
	f.Fuzz(func(t *testing.T, reply []byte, name string, qtype uint16) {
		m := new(dns.Msg)
		if m.Unpack(reply) != nil || len(m.Question) != 1 {
			return
		}
		if _, ok := dns.IsDomainName(name); !ok {
			return
		}
		name = dns.CanonicalName(name)
		fq := m.Question[0]
		fname := dns.CanonicalName(fq.Name)
		up := &upstream{rec: w.up.rec, tamper: func(q resolver.Question, r *dns.Msg) {
			if q.Name == fname && q.Type == fq.Qtype {
				*r = *m.Copy()
			}
		}}
		v, err := validator.New(validator.Config{Upstream: up, TrustAnchors: w.anchors, KeyCacheSize: 16})
		if err != nil {
			t.Fatal(err)
		}
		for _, cq := range []resolver.Question{{Name: fname, Type: fq.Qtype, DO: true}, {Name: name, Type: qtype}} {
			res, st, err := v.Validate(t.Context(), cq)
			switch {
			case st == validator.Bogus && (err == nil || res != nil):
				t.Fatalf("bogus %s returned %v, %v", cq, res, err)
			case st == validator.Secure && (res == nil || !res.AuthenticatedData):
				t.Fatalf("secure %s without AD", cq)
			case err == nil && res == nil:
				t.Fatalf("%s: no answer and no error", cq)
			}
		}
	})
}
