package recursor_test

import (
	"strings"
	"testing"

	"github.com/miekg/dns"

	"gatehouse/resolver/recursor"
)

func TestBuiltinHints(t *testing.T) {
	rrs := recursor.BuiltinHints()
	count := map[uint16]int{}
	addrs := map[string][]string{}
	for _, rr := range rrs {
		count[rr.Header().Rrtype]++
		switch rr := rr.(type) {
		case *dns.A:
			addrs[rr.Hdr.Name] = append(addrs[rr.Hdr.Name], rr.A.String())
		case *dns.AAAA:
			addrs[rr.Hdr.Name] = append(addrs[rr.Hdr.Name], rr.AAAA.String())
		}
	}
	if count[dns.TypeNS] != 13 || count[dns.TypeA] != 13 || count[dns.TypeAAAA] != 13 {
		t.Errorf("built-in hints have %d NS, %d A, %d AAAA records, want 13 of each", count[dns.TypeNS], count[dns.TypeA], count[dns.TypeAAAA])
	}
	for name, want := range map[string]string{
		"a.root-servers.net.": "198.41.0.4 2001:503:ba3e::2:30",
		"b.root-servers.net.": "170.247.170.2 2801:1b8:10::b",
		"m.root-servers.net.": "202.12.27.33 2001:dc3::35",
	} {
		if got := strings.Join(addrs[name], " "); got != want {
			t.Errorf("%s addresses = %q, want %q", name, got, want)
		}
	}
}

func TestParseHints(t *testing.T) {
	parsed, err := recursor.ParseHints("x", []byte(`
; comment
.   3600000  NS  NS1.Private.Test.
ns1.private.test.  3600000 A 192.0.2.53
NS1.PRIVATE.TEST.  3600000 AAAA 2001:db8::53
`))
	if err != nil {
		t.Fatal(err)
	}
	got := rrStrings(parsed)
	want := rrs(t, ". 3600000 IN NS ns1.private.test.", "ns1.private.test. 3600000 IN A 192.0.2.53", "ns1.private.test. 3600000 IN AAAA 2001:db8::53")
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("ParseHints = %q, want %q (names lower-cased)", got, want)
	}
}

func TestParseHints_errors(t *testing.T) {
	const ok = ". NS a.root.test.\na.root.test. A 192.0.2.1\n"
	tests := []struct {
		name string
		text string
		want string
	}{
		{name: "syntax", text: ok + "a.root.test. A 192.0.2\n", want: "h.txt:3: "},
		{name: "ns below the root", text: ok + "test. NS a.root.test.\n", want: `h.txt:3: NS record for "test.", want only the root`},
		{name: "other type", text: ok + "a.root.test. TXT \"hi\"\n", want: "h.txt:3: unexpected TXT record"},
		{name: "address of a stranger", text: ok + "\nb.root.test. A 192.0.2.2\n", want: "h.txt:4: address for b.root.test., which is not a root name server"},
		{name: "name server without address", text: ok + ". NS b.root.test.\n", want: "h.txt:3: root name server b.root.test. has no address"},
		{name: "no ns", text: "; nothing\n", want: "h.txt: no NS records for the root"},
		{name: "directive", text: "$ORIGIN test.\n" + ok, want: "h.txt:1: directives are not supported"},
		{name: "class", text: ok + ". CH NS a.root.test.\n", want: "h.txt:3: class CH, want IN"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := recursor.ParseHints("h.txt", []byte(tt.text))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("ParseHints error = %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func TestNew_errors(t *testing.T) {
	tests := []struct {
		name string
		cfg  recursor.Config
		want string
	}{
		{name: "negative budget", cfg: recursor.Config{Budget: recursor.Budget{MaxQueries: -1}}, want: "max queries is negative"},
		{name: "negative cache", cfg: recursor.Config{InfraCacheSize: -1}, want: "negative infra cache size"},
		{name: "hints without ns", cfg: recursor.Config{RootHints: []dns.RR{}}, want: "no NS records"},
		{
			name: "only ipv6 hints without ipv6",
			cfg:  recursor.Config{RootHints: rrsOf(t, ". NS a.root.test.", "a.root.test. AAAA 2001:db8::1")},
			want: "no usable root server address",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := recursor.New(tt.cfg); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("New error = %v, want one containing %q", err, tt.want)
			}
		})
	}
	if _, err := recursor.New(recursor.Config{}); err != nil {
		t.Errorf("New(zero Config) = %v, want the built-in defaults to work", err)
	}
}

func rrsOf(t *testing.T, lines ...string) []dns.RR {
	var out []dns.RR
	for _, l := range lines {
		rr, err := dns.NewRR(l)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, rr)
	}
	return out
}
