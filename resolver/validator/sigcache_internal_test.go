package validator

import (
	"testing"

	"github.com/miekg/dns"
)

// TestSigCacheKey: the digest ignores only the records' TTLs; any other
// difference in the records, the signature or the key is a different key.
func TestSigCacheKey(t *testing.T) {
	mustRR := func(s string) dns.RR {
		t.Helper()
		rr, err := dns.NewRR(s)
		if err != nil {
			t.Fatal(err)
		}
		return rr
	}
	const (
		a1   = "www.example.org. 300 IN A 192.0.2.1"
		a2   = "www.example.org. 300 IN A 192.0.2.2"
		sig  = "www.example.org. 300 IN RRSIG A 13 3 300 20300101000000 20200101000000 12345 example.org. c2lnbmF0dXJlIGJ5dGVz"
		sig2 = "www.example.org. 300 IN RRSIG A 13 3 300 20300101000000 20200101000000 12345 example.org. c2lnbmF0dXJlIGJ5dGVa"
		key  = "example.org. 3600 IN DNSKEY 257 3 13 a2V5IGJ5dGVz"
		key2 = "example.org. 3600 IN DNSKEY 256 3 13 a2V5IGJ5dGVz"
	)
	c := newSigCache()
	digest := func(sigText, keyText string, rrs ...string) [32]byte {
		t.Helper()
		var set []dns.RR
		for _, s := range rrs {
			set = append(set, mustRR(s))
		}
		k, ok := c.key(mustRR(sigText).(*dns.RRSIG), mustRR(keyText).(*dns.DNSKEY), set)
		if !ok {
			t.Fatalf("no digest for %s", rrs)
		}
		return k
	}
	base := digest(sig, key, a1, a2)
	if got := digest(sig, key, "www.example.org. 17 IN A 192.0.2.1", "www.example.org. 5 IN A 192.0.2.2"); got != base {
		t.Error("aged TTLs changed the digest")
	}
	for name, d := range map[string][32]byte{
		"other rdata":     digest(sig, key, a1, "www.example.org. 300 IN A 192.0.2.3"),
		"record missing":  digest(sig, key, a1),
		"record added":    digest(sig, key, a1, a2, "www.example.org. 300 IN A 192.0.2.3"),
		"other order":     digest(sig, key, a2, a1),
		"other owner":     digest(sig, key, "wwx.example.org. 300 IN A 192.0.2.1", "wwx.example.org. 300 IN A 192.0.2.2"),
		"other case":      digest(sig, key, "WWW.example.org. 300 IN A 192.0.2.1", a2),
		"other signature": digest(sig2, key, a1, a2),
		"other key flags": digest(sig, key2, a1, a2),
		"other sig times": digest("www.example.org. 300 IN RRSIG A 13 3 300 20300101000001 20200101000000 12345 example.org. c2lnbmF0dXJlIGJ5dGVz", key, a1, a2),
		"other signer":    digest("www.example.org. 300 IN RRSIG A 13 3 300 20300101000000 20200101000000 12345 org. c2lnbmF0dXJlIGJ5dGVz", key, a1, a2),
	} {
		if d == base {
			t.Errorf("%s: same digest", name)
		}
	}
	if c.verified(base) {
		t.Fatal("verified before add")
	}
	c.add(base)
	if !c.verified(base) {
		t.Fatal("not verified after add")
	}
}
