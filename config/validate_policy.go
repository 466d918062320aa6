package config

import (
	"fmt"
	"net/netip"
	"strings"
	"time"

	"gatehouse/clientmap"
	"gatehouse/policy/schedule"
	"gatehouse/safesearch"
)

// LeaseFormats are the DHCP lease file formats Gatehouse reads.
var LeaseFormats = []string{"isc-dhcpd", "dnsmasq", "kea-csv", "windows-csv"}

func (v *validator) timeAndSchedules(c *Config) {
	loc, err := schedule.LoadTimeZone(c.TimeZone)
	if err != nil {
		v.errorf("timezone", "%q is not an IANA time zone like \"Europe/London\"", c.TimeZone)
		return
	}
	names := map[string]string{}
	var periods []schedule.Period
	for i, p := range c.Periods {
		path := fmt.Sprintf("periods[%d]", i)
		if !validGroupName(p.Name) {
			v.errorf(path+".name", "%q is not a valid period name: use lower-case letters, digits, '-' and '_'", p.Name)
		} else if first, dup := names[p.Name]; dup {
			v.errorf(path+".name", "period %q is already defined at %s", p.Name, first)
		} else {
			names[p.Name] = path
		}
		if len(p.Weekly) == 0 {
			v.errorf(path+".weekly", `needs at least one window like "Mon-Fri 08:40-15:20"`)
		}
		periods = append(periods, schedule.Period{Name: p.Name, Weekly: p.Weekly, TermTimeOnly: p.TermTimeOnly})
	}
	for i, r := range c.Calendar.Terms {
		if r.To < r.From {
			v.errorf(fmt.Sprintf("calendar.terms[%d]", i), "ends before it starts")
		}
	}
	for i, r := range c.Calendar.Closures {
		if r.To < r.From {
			v.errorf(fmt.Sprintf("calendar.closures[%d]", i), "ends before it starts")
		}
	}
	if v.anyBadUnder("periods") || v.anyBadUnder("calendar") || len(v.errs) > 0 {
		return
	}
	cal := &schedule.Calendar{Terms: c.Calendar.Terms, Closures: c.Calendar.Closures}
	if _, err := schedule.NewSchedule(loc, cal, periods); err != nil {
		v.errorf("periods", "%s", err)
	}
}

func (v *validator) queryLog(c *Config) {
	days := func(path string, d time.Duration) {
		if d < 0 || d%(24*time.Hour) != 0 {
			v.errorf(path, "must be whole days, like \"90d\", got %s", FormatDuration(d))
		}
	}
	days("query_log.retention", c.QueryLog.Retention)
	days("query_log.pseudonymise_after", c.QueryLog.PseudonymiseAfter)
	if c.QueryLog.Retention == 0 {
		v.errorf("query_log.retention", "must be at least 1d; set enabled: false to keep no log")
	}
	if d := c.QueryLog.MergeInterval; d < 10*time.Second || d > time.Hour {
		v.errorf("query_log.merge_interval", "must be between 10s and 1h, got %s", FormatDuration(d))
	}
	for i, g := range c.Groups {
		days(fmt.Sprintf("groups[%d].log_retention", i), g.LogRetention)
	}
	if c.StateDir != "" && !strings.HasPrefix(c.StateDir, "/") {
		v.errorf("state_dir", "%q must be an absolute path", c.StateDir)
	}
}

func (v *validator) clients(c *Clients) {
	for i, p := range c.TrustedForwarders {
		// A forwarder is a server or two; a wide prefix lets every device
		// in it claim any identity.
		if min := map[bool]int{true: 8, false: 32}[p.Addr().Is4()]; p.Bits() < min {
			v.errorf(fmt.Sprintf("clients.trusted_forwarders[%d]", i), "%s is too wide: list the forwarders' own addresses (any device in it could claim to be any client)", p)
		}
	}
	paths := map[string]string{}
	for i, l := range c.Leases {
		path := fmt.Sprintf("clients.leases[%d]", i)
		if !strings.HasPrefix(l.Path, "/") {
			v.errorf(path+".path", "%q must be an absolute path", l.Path)
		} else if first, dup := paths[l.Path]; dup {
			v.errorf(path+".path", "%s is already read at %s", l.Path, first)
		} else {
			paths[l.Path] = path
		}
		known := false
		for _, f := range LeaseFormats {
			known = known || l.Format == f
		}
		if !known {
			v.errorf(path+".format", "%q is not a lease format; use one of %s", l.Format, strings.Join(LeaseFormats, ", "))
		}
	}
}

// groupPolicies checks what each group matches and enforces. Two groups
// claiming the same device, hostname pattern or subnet would make the
// client's group depend on file order, so that is an error.
func (v *validator) groupPolicies(groups []Group) {
	addrs := map[netip.Addr]string{}
	macs := map[clientmap.MAC]string{}
	hosts := map[string]string{}
	subnets := map[netip.Prefix]string{}
	for i, g := range groups {
		path := fmt.Sprintf("groups[%d].match", i)
		for j, a := range g.Match.Addresses {
			claim(v, addrs, a.Unmap(), fmt.Sprintf("%s.addresses[%d]", path, j))
		}
		for j, m := range g.Match.MACs {
			claim(v, macs, m, fmt.Sprintf("%s.macs[%d]", path, j))
		}
		for j, h := range g.Match.Hostnames {
			hp := fmt.Sprintf("%s.hostnames[%d]", path, j)
			if err := checkHostPattern(h); err != nil {
				v.errorf(hp, "%q is not a hostname pattern: %s", h, err)
				continue
			}
			claim(v, hosts, strings.ToLower(h), hp)
		}
		for j, p := range g.Match.Subnets {
			claim(v, subnets, p, fmt.Sprintf("%s.subnets[%d]", path, j))
		}
		v.safeSearch(fmt.Sprintf("groups[%d].safe_search", i), g.SafeSearch)
		switch g.BlockAnswer {
		case "nxdomain", "null":
		case "blockpage":
			if len(v.pageAddrs) == 0 {
				v.errorf(fmt.Sprintf("groups[%d].block_answer", i), "blockpage needs blocking.page_addresses: Gatehouse's own address on the school network")
			}
		default:
			v.errorf(fmt.Sprintf("groups[%d].block_answer", i), "%q is not a block answer; use nxdomain, null or blockpage", g.BlockAnswer)
		}
	}
}

func (v *validator) blocking(b *Blocking) {
	if b.TTL < time.Second || b.TTL > time.Hour || b.TTL%time.Second != 0 {
		v.errorf("blocking.ttl", "must be whole seconds from 1s to 1h, got %s", FormatDuration(b.TTL))
	}
	var v4, v6 int
	for i, a := range b.PageAddresses {
		if a.Is4() || a.Is4In6() {
			v4++
		} else {
			v6++
		}
		if a.IsUnspecified() || a.IsMulticast() {
			v.errorf(fmt.Sprintf("blocking.page_addresses[%d]", i), "%s cannot serve a block page", a)
		}
	}
	if v4 > 1 || v6 > 1 {
		v.errorf("blocking.page_addresses", "give at most one IPv4 and one IPv6 address")
	}
	v.pageAddrs = b.PageAddresses
}

func claim[K comparable](v *validator, seen map[K]string, k K, path string) {
	if first, dup := seen[k]; dup {
		v.errorf(path, "%v is already matched at %s; a client can belong to one group only", k, first)
		return
	}
	seen[k] = path
}

// checkHostPattern accepts DHCP hostnames with * wildcards.
func checkHostPattern(h string) error {
	if h == "" || len(h) > 253 {
		return fmt.Errorf("must be 1 to 253 characters")
	}
	for _, c := range h {
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '-', c == '_', c == '.', c == '*':
		default:
			return fmt.Errorf("%q is not allowed (letters, digits, '-', '_', '.' and '*')", c)
		}
	}
	return nil
}

// Apply returns base with the modes this section sets; providers it leaves
// empty keep base's mode (policy passes the table's recommended defaults).
func (s SafeSearch) Apply(base safesearch.Settings) (safesearch.Settings, error) {
	for _, f := range s.fields() {
		if *f.value == "" {
			continue
		}
		m, err := safesearch.ParseMode(*f.value)
		if err == nil {
			err = base.Set(f.provider, m)
		}
		if err != nil {
			return base, fmt.Errorf("%s: %w", f.key, err)
		}
	}
	return base, nil
}

type safeSearchField struct {
	key      string
	provider safesearch.Provider
	value    *string
}

func (s *SafeSearch) fields() []safeSearchField {
	return []safeSearchField{
		{"google", safesearch.Google, &s.Google},
		{"youtube", safesearch.YouTube, &s.YouTube},
		{"bing", safesearch.Bing, &s.Bing},
		{"duckduckgo", safesearch.DuckDuckGo, &s.DuckDuckGo},
		{"pixabay", safesearch.Pixabay, &s.Pixabay},
		{"ecosia", safesearch.Ecosia, &s.Ecosia},
		{"brave", safesearch.Brave, &s.Brave},
		{"yandex", safesearch.Yandex, &s.Yandex},
		{"unsupported", safesearch.Unsupported, &s.Unsupported},
	}
}

// fillDefaults writes the recommended mode into every provider the file
// left out, so the normalised config shows what will run.
func (s *SafeSearch) fillDefaults(defaults safesearch.Settings) {
	for _, f := range s.fields() {
		if *f.value == "" {
			*f.value = defaults.Mode(f.provider).String()
		}
	}
}

func (v *validator) safeSearch(path string, s SafeSearch) {
	if _, err := s.Apply(safesearch.Settings{}); err != nil {
		key, msg, _ := strings.Cut(err.Error(), ": ")
		v.errorf(path+"."+key, "%s", msg)
	}
}
