package validator_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/miekg/dns"

	"gatehouse/resolver/validator"
)

func TestBuiltinTrustAnchors(t *testing.T) {
	rrs := validator.BuiltinTrustAnchors()
	var tags []uint16
	for _, rr := range rrs {
		ds, ok := rr.(*dns.DS)
		if !ok || ds.Hdr.Name != "." || ds.Algorithm != dns.RSASHA256 || ds.DigestType != dns.SHA256 {
			t.Fatalf("built-in anchor %v, want a root DS, RSASHA256, SHA-256", rr)
		}
		tags = append(tags, ds.KeyTag)
	}
	if !slices.Equal(tags, []uint16{20326, 38696}) {
		t.Errorf("built-in anchor tags %v, want [20326 38696]", tags)
	}
}

// TestBuiltinTrustAnchors_digests checks the built-in DS digests against
// the root KSKs' public keys as IANA publishes them in root-anchors.xml.
// A typo in either would show here.
func TestBuiltinTrustAnchors_digests(t *testing.T) {
	keys := map[uint16]string{
		20326: "AwEAAaz/tAm8yTn4Mfeh5eyI96WSVexTBAvkMgJzkKTOiW1vkIbzxeF3+/4RgWOq7HrxRixHlFlExOLAJr5emLvN7SWXgnLh4+B5xQlNVz8Og8kvArMtNROxVQuCaSnIDdD5LKyWbRd2n9WGe2R8PzgCmr3EgVLrjyBxWezF0jLHwVN8efS3rCj/EWgvIWgb9tarpVUDK/b58Da+sqqls3eNbuv7pr+eoZG+SrDK6nWeL3c6H5Apxz7LjVc1uTIdsIXxuOLYA4/ilBmSVIzuDWfdRUfhHdY6+cn8HFRm+2hM8AnXGXws9555KrUB5qihylGa8subX2Nn6UwNR1AkUTV74bU=",
		38696: "AwEAAa96jeuknZlaeSrvyAJj6ZHv28hhOKkx3rLGXVaC6rXTsDc449/cidltpkyGwCJNnOAlFNKF2jBosZBU5eeHspaQWOmOElZsjICMQMC3aeHbGiShvZsx4wMYSjH8e7Vrhbu6irwCzVBApESjbUdpWWmEnhathWu1jo+siFUiRAAxm9qyJNg/wOZqqzL/dL/q8PkcRU5oUKEpUge71M3ej2/7CPqpdVwuMoTvoB+ZOT4YeGyxMvHmbrxlFzGOHOijtzN+u1TQNatX2XBuzZNQ1K+s2CXkPIZo7s6JgZyvaBevYtxPvYLw4z9mR7K2vaF18UYH9Z9GNUUeayffKC73PYc=",
	}
	for _, rr := range validator.BuiltinTrustAnchors() {
		ds := rr.(*dns.DS)
		k := &dns.DNSKEY{
			Hdr:   dns.RR_Header{Name: ".", Rrtype: dns.TypeDNSKEY, Class: dns.ClassINET},
			Flags: 257, Protocol: 3, Algorithm: dns.RSASHA256, PublicKey: keys[ds.KeyTag],
		}
		got := k.ToDS(dns.SHA256)
		if got == nil || got.KeyTag != ds.KeyTag || !strings.EqualFold(got.Digest, ds.Digest) {
			t.Errorf("anchor %d: digest of the published key is %v, built-in says %s", ds.KeyTag, got, ds.Digest)
		}
	}
}

func TestParseTrustAnchors(t *testing.T) {
	const ds = "12345 13 2 0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF"
	const key = "mdsswUyr3DPW132mOi8V9xESWE8jTo0dxCjjnopKl+GqJxpVXckHAeF+KkxLbxILfDLUT0rAK9iUzy1L53eKGQ=="
	tests := []struct {
		name    string
		text    string
		want    []string // "owner type" of each record
		wantErr []string // substrings, each "file:line: ..."
	}{
		{name: "DS", text: ". IN DS " + ds + "\n", want: []string{". DS"}},
		{name: "DS with TTL, comments and blank lines", text: "; root\n\n.  172800 IN DS " + ds + " ; KSK\n", want: []string{". DS"}},
		{name: "DNSKEY across lines", text: "example. 3600 IN DNSKEY 257 3 13 (\n  " + key + " ; a comment (with parens)\n )\n",
			want: []string{"example. DNSKEY"}},
		{name: "origin", text: "$ORIGIN example.\n$TTL 3600\n@ IN DS " + ds + "\nsub IN DS " + ds + "\n",
			want: []string{"example. DS", "sub.example. DS"}},
		{name: "unbound autotrust file", text: "; autotrust trust anchor file\n;;id: . 1\n. 172800 IN DNSKEY 257 3 13 " + key + " ;{id = 1 (ksk), size = 256b} ;;state=2 [  VALID  ]\n",
			want: []string{". DNSKEY"}},
		{name: "other types", text: ". IN DS " + ds + "\nexample. IN A 192.0.2.1\n", wantErr: []string{"anchors.txt:2: A record, want DS or DNSKEY"}},
		{name: "syntax", text: "\n. IN DS 12345 13 x\n", wantErr: []string{"anchors.txt:2: bad DS"}},
		{name: "bad digest", text: ". IN DS 12345 13 2 ABCD\n", wantErr: []string{"anchors.txt:1: DS for . has a bad digest"}},
		{name: "not a zone key", text: ". IN DNSKEY 256 3 13 " + key + "\n. IN DNSKEY 1 3 13 " + key + "\n",
			wantErr: []string{"anchors.txt:2: DNSKEY for . is not a zone key"}},
		{name: "class", text: ". CH DS " + ds + "\n", wantErr: []string{"anchors.txt:1: class CH"}},
		{name: "unclosed", text: ". IN DS " + ds + "\n. IN DNSKEY 257 3 13 (\n" + key + "\n", wantErr: []string{"anchors.txt:2: unclosed '('"}},
		{name: "every error", text: "x. IN A 192.0.2.1\n. IN DS 1\n", wantErr: []string{"anchors.txt:1: A record", "anchors.txt:2: bad DS"}},
		{name: "empty", text: "; nothing\n", wantErr: []string{"anchors.txt: no DS or DNSKEY records"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rrs, err := validator.ParseTrustAnchors("anchors.txt", []byte(tt.text))
			if len(tt.wantErr) > 0 {
				if err == nil {
					t.Fatalf("ParseTrustAnchors = %v, want an error", rrs)
				}
				for _, w := range tt.wantErr {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error %q does not contain %q", err, w)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, rr := range rrs {
				got = append(got, rr.Header().Name+" "+dns.TypeToString[rr.Header().Rrtype])
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("ParseTrustAnchors = %v, want %v", got, tt.want)
			}
		})
	}
}
