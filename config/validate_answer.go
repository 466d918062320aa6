package config

import (
	"fmt"
	"strings"

	"gatehouse/blocklists"
)

// normaliseAnswerChecks spells internal domains canonically and country
// codes in upper case.
func normaliseAnswerChecks(c *Config) {
	for i, name := range c.Blocking.InternalDomains {
		c.Blocking.InternalDomains[i] = canonicalName(name)
	}
	for i := range c.Groups {
		for j, cc := range c.Groups[i].BlockCountries {
			c.Groups[i].BlockCountries[j] = strings.ToUpper(cc)
		}
	}
}

// maxASN is the largest 4-byte AS number (RFC 6793).
const maxASN = 1<<32 - 1

// answerChecks checks the settings of answer-side blocking: address lists,
// the GeoIP databases and what groups block by country and ASN, and the
// internal domains exempt from rebinding protection.
func (v *validator) answerChecks(c *Config) {
	for _, db := range []struct{ key, path string }{
		{"geoip.country_database", c.GeoIP.CountryDatabase},
		{"geoip.asn_database", c.GeoIP.ASNDatabase},
	} {
		if db.path != "" && !strings.HasPrefix(db.path, "/") {
			v.errorf(db.key, "%q must be an absolute path", db.path)
		}
	}
	for i, name := range c.Blocking.InternalDomains {
		if err := checkDomain(name); err != nil {
			v.errorf(fmt.Sprintf("blocking.internal_domains[%d]", i), "%q is not a domain name: %s", name, err)
		}
	}
	for i, l := range c.Lists {
		f, err := blocklists.ParseFormat(l.Format)
		if err != nil || f != blocklists.Addresses {
			continue
		}
		path := fmt.Sprintf("lists[%d]", i)
		switch {
		case l.Directory != "":
			v.errorf(path+".format", "a category directory holds names, not addresses: format %s is for a file or url", l.Format)
		case l.Allow:
			v.errorf(path+".allow", "an address list blocks answers; it cannot be an allow list")
		}
	}
	for i, g := range c.Groups {
		path := fmt.Sprintf("groups[%d]", i)
		if len(g.BlockCountries) > 0 && c.GeoIP.CountryDatabase == "" {
			v.errorf(path+".block_countries", "blocking by country needs geoip.country_database")
		}
		seen := map[string]bool{}
		for j, cc := range g.BlockCountries {
			p := fmt.Sprintf("%s.block_countries[%d]", path, j)
			switch {
			case !isCountryCode(cc):
				v.errorf(p, "%q is not a two-letter country code (ISO 3166-1 alpha-2, like KP)", cc)
			case seen[cc]:
				v.errorf(p, "%s is listed twice", cc)
			}
			seen[cc] = true
		}
		if len(g.BlockASNs) > 0 && c.GeoIP.ASNDatabase == "" {
			v.errorf(path+".block_asns", "blocking by network needs geoip.asn_database")
		}
		for j, asn := range g.BlockASNs {
			if asn < 1 || int64(asn) > maxASN {
				v.errorf(fmt.Sprintf("%s.block_asns[%d]", path, j), "%d is not an AS number (1 to %d)", asn, int64(maxASN))
			}
		}
	}
}

func isCountryCode(s string) bool {
	return len(s) == 2 && 'A' <= s[0] && s[0] <= 'Z' && 'A' <= s[1] && s[1] <= 'Z'
}
