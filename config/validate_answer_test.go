package config

import (
	"errors"
	"strings"
	"testing"
)

func TestParse_answerCheckErrors(t *testing.T) {
	const base = "version: 1\nresolver: {mode: forward, upstreams: [{address: 192.0.2.1}]}\ngroups: [{name: a}]\n"
	group := func(extra string) string { return strings.Replace(base, "{name: a}", "{name: a, "+extra+"}", 1) }
	const geo = "geoip: {country_database: /var/lib/geoip/c.mmdb, asn_database: /var/lib/geoip/a.mmdb}\n"
	for _, tc := range []struct {
		name, yaml, wantAt, path, wantMsg string
	}{
		{"country without database", group("block_countries: [KP]"), "3:37", "groups[0].block_countries", "needs geoip.country_database"},
		{"asn without database", group("block_asns: [64500]"), "3:32", "groups[0].block_asns", "needs geoip.asn_database"},
		{"bad country", group("block_countries: [KPX]") + geo, "3:38", "groups[0].block_countries[0]", `"KPX" is not a two-letter country code`},
		{"country twice", group("block_countries: [kp, KP]") + geo, "3:42", "groups[0].block_countries[1]", "KP is listed twice"},
		{"bad asn", group("block_asns: [0]") + geo, "3:33", "groups[0].block_asns[0]", "0 is not an AS number"},
		{"asn too big", group("block_asns: [4294967296]") + geo, "3:33", "groups[0].block_asns[0]", "is not an AS number"},
		{"relative database", base + "geoip: {country_database: c.mmdb}\n", "4:27", "geoip.country_database", "must be an absolute path"},
		{"internal domain", base + "blocking: {internal_domains: [\"a..b\"]}\n", "4:31", "blocking.internal_domains[0]", "is not a domain name"},
		{"address allow list", base + "lists: [{name: x, category: malware, path: /x, format: cidr, allow: true}]\n", "4:69", "lists[0].allow", "cannot be an allow list"},
		{"address directory", base + "lists: [{name: x, directory: /x, format: ip, categories: [{folder: a, category: malware}]}]\n", "4:42", "lists[0].format", "a category directory holds names"},
		{"bad format", base + "lists: [{name: x, category: malware, path: /x, format: ips}]\n", "4:56", "lists[0].format", "cidr for IP addresses"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("t.yaml", []byte(tc.yaml))
			var errs Errors
			if !errors.As(err, &errs) || len(errs) != 1 {
				t.Fatalf("want one error, got %v", err)
			}
			want := "t.yaml:" + tc.wantAt + ": " + tc.path + ": "
			if got := errs[0].Error(); !strings.HasPrefix(got, want) || !strings.Contains(errs[0].Msg, tc.wantMsg) {
				t.Errorf("error = %q\nwant prefix %q and message containing %q", got, want, tc.wantMsg)
			}
		})
	}
}

func TestParse_answerChecks(t *testing.T) {
	c, err := Parse("t.yaml", []byte(`version: 1
resolver: {mode: forward, upstreams: [{address: 192.0.2.1}]}
geoip: {country_database: /var/lib/geoip/c.mmdb, asn_database: /var/lib/geoip/a.mmdb}
blocking: {internal_domains: [School.Internal]}
lists: [{name: bad-ips, category: malware, path: /etc/gatehouse/bad.txt, format: cidr}]
groups:
  - {name: a, block_countries: [kp, ru], block_asns: [64500]}
  - {name: b, block_rebinding: false}
`))
	if err != nil {
		t.Fatal(err)
	}
	a, b := c.Groups[0], c.Groups[1]
	if strings.Join(a.BlockCountries, ",") != "KP,RU" || len(a.BlockASNs) != 1 || a.BlockASNs[0] != 64500 || !a.BlockRebinding || b.BlockRebinding {
		t.Errorf("groups = %+v", c.Groups)
	}
	if c.Blocking.InternalDomains[0] != "school.internal." {
		t.Errorf("internal domains = %q, want canonical", c.Blocking.InternalDomains)
	}
}
