package config

import (
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"gatehouse/policy/schedule"
)

// Safeguarding names the config shares with package safeguarding (which
// imports config, so config keeps its own copy of these few words).
var (
	sgPriorities = []string{"none", "low", "medium", "high", "critical"}
	sgRoles      = []string{"safeguarding", "technician", "pastoral"}
	sgWhens      = []string{"always", "school-hours", "out-of-hours"}
	sgSpeeds     = []string{"immediate", "hourly", "daily"}
	sgFormats    = []string{"json", "teams", "slack"}
	// The policy's anti-bypass kinds and safe search, besides the list
	// categories.
	sgKinds = []string{"doh-canary", "private-relay", "ddr", "safesearch"}
)

const sgOnCall = "on-call"

func oneOf(s string, known []string) bool {
	for _, k := range known {
		if s == k {
			return true
		}
	}
	return false
}

func quoteAll(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = strconv.Quote(s)
	}
	return strings.Join(q, ", ")
}

// sgCategory checks a category a concern can be about.
func (v *validator) sgCategory(path, name string) (locked, ok bool) {
	if oneOf(name, sgKinds) {
		return false, true
	}
	c, ok := v.category(path, name, "")
	return ok && c.Locked(), ok
}

func (v *validator) sgPriority(path, p string, allowNone bool) bool {
	known := sgPriorities
	if !allowNone {
		known = sgPriorities[1:]
	}
	if !oneOf(p, known) {
		v.errorf(path, "expected one of %s, got %q", quoteAll(known), p)
		return false
	}
	return true
}

func checkHostPort(s string) error {
	host, port, err := net.SplitHostPort(s)
	if err != nil || host == "" {
		return fmt.Errorf("%q is not host:port, like \"smtp.school.example:587\"", s)
	}
	if _, err := parsePort(port); err != nil {
		return fmt.Errorf("%q: %w", s, err)
	}
	return nil
}

func checkMailbox(s string) error {
	at := strings.LastIndexByte(s, '@')
	if at < 1 || at == len(s)-1 || len(s) > 254 || strings.ContainsAny(s, " \t\r\n<>,;:\"()[]\\") {
		return fmt.Errorf("%q is not an email address like dsl@school.example", s)
	}
	return nil
}

// safeguarding checks the safeguarding section.
func (v *validator) safeguarding(c *Config) {
	sg := &c.Safeguarding
	if sg.Enabled && !c.QueryLog.Enabled {
		v.errorf("safeguarding.enabled", "safeguarding needs the query log (query_log.enabled: true): concerns cite and hold its entries")
	}
	if sg.SchoolHours != "" {
		found := false
		for _, p := range c.Periods {
			found = found || p.Name == sg.SchoolHours
		}
		if !found {
			v.errorf("safeguarding.school_hours", "%q is not one of the periods", sg.SchoolHours)
		}
	}
	if sg.Retention != 0 && (sg.Retention < 24*time.Hour || sg.Retention%(24*time.Hour) != 0) {
		v.errorf("safeguarding.retention", "must be whole days (at least 1d) or 0s to keep, got %s", FormatDuration(sg.Retention))
	}
	s := sg.SMTP
	if s.Address != "" {
		if err := checkHostPort(s.Address); err != nil {
			v.errorf("safeguarding.smtp.address", "%s", err)
		}
		if err := checkMailbox(s.From); err != nil {
			v.errorf("safeguarding.smtp.from", "the sender address: %s", err)
		}
	} else if s.From != "" || s.Username != "" {
		v.errorf("safeguarding.smtp.address", "give the mail server's host:port")
	}
	for _, f := range []struct{ path, val string }{{"password_file", s.PasswordFile}, {"ca_file", s.CAFile}} {
		if f.val != "" && !strings.HasPrefix(f.val, "/") {
			v.errorf("safeguarding.smtp."+f.path, "%q must be an absolute path", f.val)
		}
	}
	if s.PasswordFile != "" && s.Username == "" {
		v.errorf("safeguarding.smtp.username", "a password_file needs a username")
	}
	hooks := map[string]bool{}
	for i, w := range sg.Webhooks {
		path := fmt.Sprintf("safeguarding.webhooks[%d]", i)
		if !validListName(w.Name) {
			v.errorf(path+".name", "%q is not a valid name: use letters, digits, '-', '_' and '.'", w.Name)
		} else if hooks[w.Name] {
			v.errorf(path+".name", "webhook %q is defined twice", w.Name)
		}
		hooks[w.Name] = true
		switch {
		case (w.URL == "") == (w.URLFile == ""):
			v.errorf(path, "give exactly one of url or url_file (a file holding the URL, which is a secret for Teams and Slack)")
		case w.URL != "":
			if u, err := url.Parse(w.URL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
				v.errorf(path+".url", "not an http(s) URL")
			}
		case !strings.HasPrefix(w.URLFile, "/"):
			v.errorf(path+".url_file", "%q must be an absolute path", w.URLFile)
		}
		if !oneOf(w.Format, sgFormats) {
			v.errorf(path+".format", "expected one of %s, got %q", quoteAll(sgFormats), w.Format)
		}
	}
	if sy := sg.Syslog; sy.Address != "" || sy.Network != "udp" {
		if sy.Network != "udp" && sy.Network != "tcp" {
			v.errorf("safeguarding.syslog.network", `expected "udp" or "tcp", got %q`, sy.Network)
		}
		if err := checkHostPort(sy.Address); err != nil {
			v.errorf("safeguarding.syslog.address", "%s", err)
		}
	}
	v.safeguardingPolicy(c, hooks, sg.Syslog.Address != "", sg.SMTP.Address != "")
}

func (v *validator) safeguardingPolicy(c *Config, hooks map[string]bool, haveSyslog, haveSMTP bool) {
	in := &c.Safeguarding.Initial
	const base = "safeguarding.initial"
	seen := map[string]bool{}
	for i, cp := range in.Priorities {
		path := fmt.Sprintf("%s.priorities[%d]", base, i)
		locked, ok := v.sgCategory(path+".category", cp.Category)
		if ok && seen[cp.Category] {
			v.errorf(path+".category", "%s is given twice", cp.Category)
		}
		seen[cp.Category] = true
		if v.sgPriority(path+".priority", cp.Priority, true) && locked && cp.Priority != "critical" {
			v.errorf(path+".priority", "%s is a locked category: its priority is always critical", cp.Category)
		}
	}
	rules := map[string]bool{}
	for i, r := range in.Rules {
		path := fmt.Sprintf("%s.rules[%d]", base, i)
		pOK := v.sgPriority(path+".priority", r.Priority, false)
		locked := false
		if r.Category != "" {
			locked, _ = v.sgCategory(path+".category", r.Category)
		}
		if r.Threshold < 1 || r.Threshold > 1000 {
			v.errorf(path+".threshold", "must be from 1 to 1000, got %d", r.Threshold)
		} else if r.Threshold != 1 && (locked || (pOK && r.Priority == "critical")) {
			v.errorf(path+".threshold", "critical and locked categories raise a concern on a single hit: must be 1")
		}
		if r.Window < time.Minute || r.Window > 7*24*time.Hour {
			v.errorf(path+".window", "must be from 1m to 7d, got %s", FormatDuration(r.Window))
		}
		key := r.Priority + "/" + r.Category
		if rules[key] {
			v.errorf(path, "a second rule for %s", strings.TrimSuffix(key, "/"))
		}
		rules[key] = true
	}
	names := map[string]bool{}
	for i, r := range in.Recipients {
		path := fmt.Sprintf("%s.recipients[%d]", base, i)
		switch {
		case r.Name == sgOnCall || !validListName(r.Name):
			v.errorf(path+".name", "%q is not a valid recipient name", r.Name)
		case names[r.Name]:
			v.errorf(path+".name", "recipient %q is given twice", r.Name)
		}
		names[r.Name] = true
		if !oneOf(r.Role, sgRoles) {
			v.errorf(path+".role", "expected one of %s, got %q", quoteAll(sgRoles), r.Role)
		}
		for j, e := range r.Email {
			if err := checkMailbox(e); err != nil {
				v.errorf(fmt.Sprintf("%s.email[%d]", path, j), "%s", err)
			} else if !haveSMTP {
				v.errorf(fmt.Sprintf("%s.email[%d]", path, j), "email needs a mail server (safeguarding.smtp.address)")
			}
		}
		for j, w := range r.Webhooks {
			if !hooks[w] {
				v.errorf(fmt.Sprintf("%s.webhooks[%d]", path, j), "%q is not one of safeguarding.webhooks", w)
			}
		}
		if r.Syslog && !haveSyslog {
			v.errorf(path+".syslog", "syslog needs safeguarding.syslog.address")
		}
		if len(r.Email) == 0 && len(r.Webhooks) == 0 && !r.Syslog {
			v.errorf(path, "%s has no email, webhook or syslog", r.Name)
		}
	}
	recipient := func(path, n string, onCallOK bool) {
		if !names[n] && (!onCallOK || n != sgOnCall) {
			v.errorf(path, "%q is not one of the recipients", n)
		}
	}
	groups := map[string]bool{}
	for _, g := range c.Groups {
		groups[g.Name] = true
	}
	for i, rt := range in.Routes {
		path := fmt.Sprintf("%s.routes[%d]", base, i)
		for j, p := range rt.Priorities {
			v.sgPriority(fmt.Sprintf("%s.priorities[%d]", path, j), p, false)
		}
		for j, cat := range rt.Categories {
			v.sgCategory(fmt.Sprintf("%s.categories[%d]", path, j), cat)
		}
		for j, g := range rt.Groups {
			if !groups[g] {
				v.errorf(fmt.Sprintf("%s.groups[%d]", path, j), "%q is not one of the groups", g)
			}
		}
		if !oneOf(rt.When, sgWhens) {
			v.errorf(path+".when", "expected one of %s, got %q", quoteAll(sgWhens), rt.When)
		}
		if !oneOf(rt.Speed, sgSpeeds) {
			v.errorf(path+".speed", "expected one of %s, got %q", quoteAll(sgSpeeds), rt.Speed)
		}
		for j, n := range rt.To {
			recipient(fmt.Sprintf("%s.to[%d]", path, j), n, true)
		}
	}
	for i, oc := range in.OnCall {
		recipient(fmt.Sprintf("%s.on_call[%d].recipient", base, i), oc.Recipient, false)
	}
	ts := map[string]bool{}
	for i, t := range in.Timescales {
		path := fmt.Sprintf("%s.timescales[%d]", base, i)
		if v.sgPriority(path+".priority", t.Priority, false) && ts[t.Priority] {
			v.errorf(path+".priority", "%s is given twice", t.Priority)
		}
		ts[t.Priority] = true
		if t.Acknowledge <= 0 {
			v.errorf(path+".acknowledge", "must be positive")
		} else if t.Close < t.Acknowledge {
			v.errorf(path+".close", "must be no shorter than acknowledge")
		}
	}
	for i, n := range in.EscalateTo {
		recipient(fmt.Sprintf("%s.escalate_to[%d]", base, i), n, false)
	}
	wr := in.WeeklyReport
	for i, n := range wr.To {
		recipient(fmt.Sprintf("%s.weekly_report.to[%d]", base, i), n, false)
	}
	if wr.Weekday != "" {
		if _, err := schedule.ParseWeekdays(wr.Weekday); err != nil || strings.ContainsAny(wr.Weekday, "-,") {
			v.errorf(base+".weekly_report.weekday", "expected one day like Mon, got %q", wr.Weekday)
		}
	}
	if wr.At != "" {
		if _, err := schedule.ParseClock(wr.At); err != nil {
			v.errorf(base+".weekly_report.at", "%s", err)
		}
	}
}
