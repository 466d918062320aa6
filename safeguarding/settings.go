package safeguarding

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"gatehouse/blocklists"
	"gatehouse/policy/schedule"
)

// Bypass kinds: the categories the policy gives its built-in anti-bypass
// decisions (policy/decide.go). Lists in the bypass category (DoH/DoT
// resolvers, VPNs, proxies) keep the category "bypass".
const (
	KindDoHCanary    = "doh-canary"
	KindPrivateRelay = "private-relay"
	KindDDR          = "ddr"
	KindSafeSearch   = "safesearch" // a search engine without a safe mode, blocked
)

// Signals returns every category a concern can be about: the list
// categories in report order, then the bypass kinds and safe search.
func Signals() []string {
	var out []string
	for _, c := range blocklists.Categories() {
		out = append(out, c.String())
	}
	return append(out, KindDoHCanary, KindPrivateRelay, KindDDR, KindSafeSearch)
}

// Locked reports whether category is one of the locked illegal-content
// categories (iwf, ctiru), whose priority is always critical.
func Locked(category string) bool {
	c, err := blocklists.ParseCategory(category)
	return err == nil && c.Locked()
}

// Title is the category's name for people.
func Title(category string) string {
	if c, err := blocklists.ParseCategory(category); err == nil {
		return c.Title()
	}
	switch category {
	case KindDoHCanary:
		return "Encrypted DNS (Firefox DoH canary)"
	case KindPrivateRelay:
		return "iCloud Private Relay"
	case KindDDR:
		return "Encrypted DNS discovery (DDR)"
	case KindSafeSearch:
		return "Search engine without safe search"
	}
	return category
}

// Settings are the effective safeguarding settings: what each category's
// priority is, when hits become concerns, who hears about them and how
// soon. They change only through approved proposals (see Engine.Propose);
// the stored form is the canonical JSON of this struct.
type Settings struct {
	Priorities []CategoryPriority `json:"priorities"`
	Rules      []Rule             `json:"rules"`
	Recipients []Recipient        `json:"recipients"`
	Routes     []Route            `json:"routes"`
	OnCall     []OnCall           `json:"on_call"`
	Timescales []Timescale        `json:"timescales"`
	// EscalateTo are told, besides the original recipients, when a
	// concern is overdue.
	EscalateTo   []string     `json:"escalate_to"`
	WeeklyReport WeeklyReport `json:"weekly_report"`
}

// CategoryPriority sets one category's priority.
type CategoryPriority struct {
	Category string   `json:"category"`
	Priority Priority `json:"priority"`
}

// Rule turns hits into a concern: Threshold hits by one device within
// Window raise one; further hits in the same category by that device
// within Window of the concern join it as evidence instead of raising
// another. A rule with a Category applies to it alone and overrides the
// rule for its priority.
type Rule struct {
	Priority  Priority `json:"priority"`
	Category  string   `json:"category,omitempty"`
	Threshold int      `json:"threshold"`
	Window    Duration `json:"window"`
}

// Recipient is a person or team that receives concerns.
type Recipient struct {
	Name string `json:"name"`
	Role Team   `json:"role"`
	// Email addresses; Webhooks names webhooks from the config (their URLs
	// are infrastructure); Syslog also sends to the configured syslog.
	Email    []string `json:"email,omitempty"`
	Webhooks []string `json:"webhooks,omitempty"`
	Syslog   bool     `json:"syslog,omitempty"`
}

// Route sends concerns of some priorities (optionally only some categories
// and groups) to recipients at a speed, in some hours. Every matching
// route applies.
type Route struct {
	Priorities []Priority `json:"priorities"`
	Categories []string   `json:"categories,omitempty"` // empty: all
	Groups     []string   `json:"groups,omitempty"`     // empty: all
	When       When       `json:"when"`
	To         []string   `json:"to"` // recipient names, or "on-call"
	Speed      Speed      `json:"speed"`
}

// OnCall is one line of the on-call rota: Recipient is on call during
// Weekly windows ("Sat-Sun 00:00-00:00", "Mon-Fri 15:30-08:30"). The first
// line in force wins.
type OnCall struct {
	Recipient string            `json:"recipient"`
	Weekly    []schedule.Weekly `json:"weekly"`
}

// Timescale is how long a concern of Priority may wait for acknowledgement
// and for closing before it is overdue and escalated.
type Timescale struct {
	Priority    Priority `json:"priority"`
	Acknowledge Duration `json:"acknowledge"`
	Close       Duration `json:"close"`
}

// WeeklyReport is when the weekly report goes out, and to whom.
type WeeklyReport struct {
	To      []string `json:"to"`
	Weekday string   `json:"weekday"` // "Mon"
	At      string   `json:"at"`      // "08:00", site time
}

// Canonical returns the settings as canonical JSON: fixed field order,
// lists as given, no insignificant space. Stored settings, proposals and
// audit records all use it.
func (s Settings) Canonical() ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(s); err != nil {
		return nil, err
	}
	return bytes.TrimRight(b.Bytes(), "\n"), nil
}

// ParseSettings decodes canonical JSON, rejecting unknown fields.
func ParseSettings(data []byte) (Settings, error) {
	var s Settings
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		return Settings{}, fmt.Errorf("decoding safeguarding settings: %w", err)
	}
	return s, nil
}

// ErrLocked is returned for settings that would lower a locked category
// (iwf, ctiru) below critical or stop it raising concerns.
var ErrLocked = errors.New("locked category: iwf and ctiru are always critical and raise a concern on a single hit")

// Validate checks the settings and returns every problem, joined.
// Locked-category problems wrap ErrLocked.
func (s Settings) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	known := map[string]bool{}
	for _, c := range Signals() {
		known[c] = true
	}
	prio := map[string]Priority{}
	for i, cp := range s.Priorities {
		switch {
		case !known[cp.Category]:
			bad("priorities[%d]: unknown category %q", i, cp.Category)
		case cp.Priority >= numPriorities:
			bad("priorities[%d]: invalid priority", i)
		default:
			if _, dup := prio[cp.Category]; dup {
				bad("priorities[%d]: category %s is given twice", i, cp.Category)
			}
			prio[cp.Category] = cp.Priority
		}
	}
	for _, c := range []string{"iwf", "ctiru"} {
		if p, ok := prio[c]; !ok || p != Critical {
			errs = append(errs, fmt.Errorf("priorities: %s must be critical: %w", c, ErrLocked))
		}
	}
	ruleFor := map[string]bool{}
	for i, r := range s.Rules {
		key := r.Priority.String() + "/" + r.Category
		switch {
		case r.Priority == None || r.Priority >= numPriorities:
			bad("rules[%d]: priority must be low, medium, high or critical", i)
		case r.Category != "" && !known[r.Category]:
			bad("rules[%d]: unknown category %q", i, r.Category)
		case r.Threshold < 1 || r.Threshold > 1000:
			bad("rules[%d]: threshold must be from 1 to 1000, got %d", i, r.Threshold)
		case r.Window < Duration(time.Minute) || r.Window > Duration(7*24*time.Hour):
			bad("rules[%d]: window must be from 1m to 7d", i)
		case ruleFor[key]:
			bad("rules[%d]: a second rule for %s", i, strings.TrimSuffix(key, "/"))
		}
		ruleFor[key] = true
		if r.Threshold != 1 && (r.Priority == Critical || Locked(r.Category)) {
			what := "critical concerns"
			if r.Category != "" {
				what = r.Category
			}
			errs = append(errs, fmt.Errorf("rules[%d]: %s must raise a concern on a single hit (threshold 1): %w", i, what, ErrLocked))
		}
	}
	for _, p := range Priorities() {
		if !ruleFor[p.String()+"/"] {
			bad("rules: no rule for priority %s", p)
		}
	}
	names := map[string]bool{OnCallRecipient: true}
	for i, r := range s.Recipients {
		switch {
		case r.Name == "" || r.Name == OnCallRecipient || len(r.Name) > 64:
			bad("recipients[%d]: name %q is not allowed", i, r.Name)
		case names[r.Name]:
			bad("recipients[%d]: %s is given twice", i, r.Name)
		}
		names[r.Name] = true
		if r.Role != TeamSafeguarding && r.Role != TeamTechnician && r.Role != TeamPastoral {
			bad("recipients[%d]: role must be safeguarding, technician or pastoral, got %q", i, r.Role)
		}
		for _, e := range r.Email {
			if err := CheckEmail(e); err != nil {
				bad("recipients[%d].email: %v", i, err)
			}
		}
		if len(r.Email) == 0 && len(r.Webhooks) == 0 && !r.Syslog {
			bad("recipients[%d]: %s has no email, webhook or syslog", i, r.Name)
		}
	}
	criticalRouted := false
	for i, rt := range s.Routes {
		if len(rt.Priorities) == 0 {
			bad("routes[%d]: no priorities", i)
		}
		for _, p := range rt.Priorities {
			if p == None || p >= numPriorities {
				bad("routes[%d]: priority must be low, medium, high or critical", i)
			}
		}
		for _, c := range rt.Categories {
			if !known[c] {
				bad("routes[%d]: unknown category %q", i, c)
			}
		}
		if rt.When != Always && rt.When != SchoolHours && rt.When != OutOfHours {
			bad("routes[%d]: when must be always, school-hours or out-of-hours, got %q", i, rt.When)
		}
		if rt.Speed != Immediate && rt.Speed != Hourly && rt.Speed != Daily {
			bad("routes[%d]: speed must be immediate, hourly or daily, got %q", i, rt.Speed)
		}
		if len(rt.To) == 0 {
			bad("routes[%d]: no recipients", i)
		}
		for _, n := range rt.To {
			if !names[n] {
				bad("routes[%d]: unknown recipient %q", i, n)
			}
		}
		if slices.Contains(rt.Priorities, Critical) && rt.When == Always && rt.Speed == Immediate && len(rt.Categories) == 0 && len(rt.Groups) == 0 {
			criticalRouted = true
		}
	}
	if len(s.Recipients) > 0 && !criticalRouted {
		errs = append(errs, fmt.Errorf("routes: critical concerns of every category and group must go to someone immediately at all times: %w", ErrLocked))
	}
	for i, oc := range s.OnCall {
		if !names[oc.Recipient] || oc.Recipient == OnCallRecipient {
			bad("on_call[%d]: unknown recipient %q", i, oc.Recipient)
		}
		if len(oc.Weekly) == 0 {
			bad("on_call[%d]: no weekly windows", i)
		}
	}
	seenTS := map[Priority]bool{}
	for i, ts := range s.Timescales {
		if ts.Priority == None || ts.Priority >= numPriorities || seenTS[ts.Priority] {
			bad("timescales[%d]: priority must be low, medium, high or critical, once each", i)
		}
		seenTS[ts.Priority] = true
		if ts.Acknowledge <= 0 || ts.Close < ts.Acknowledge {
			bad("timescales[%d]: acknowledge must be positive and close no shorter", i)
		}
	}
	for _, n := range s.EscalateTo {
		if !names[n] {
			bad("escalate_to: unknown recipient %q", n)
		}
	}
	for _, n := range s.WeeklyReport.To {
		if !names[n] || n == OnCallRecipient {
			bad("weekly_report.to: unknown recipient %q", n)
		}
	}
	if s.WeeklyReport.Weekday != "" {
		if _, err := schedule.ParseWeekdays(s.WeeklyReport.Weekday); err != nil || strings.ContainsAny(s.WeeklyReport.Weekday, "-,") {
			bad("weekly_report.weekday: want one day like Mon, got %q", s.WeeklyReport.Weekday)
		}
	}
	if s.WeeklyReport.At != "" {
		if _, err := schedule.ParseClock(s.WeeklyReport.At); err != nil {
			bad("weekly_report.at: %v", err)
		}
	}
	return errors.Join(errs...)
}

// CheckEmail accepts a plain address "name@domain" with no display name,
// spaces or header-breaking characters.
func CheckEmail(s string) error {
	at := strings.LastIndexByte(s, '@')
	if at < 1 || at == len(s)-1 || len(s) > 254 || strings.ContainsAny(s, " \t\r\n<>,;:\"()[]\\") {
		return fmt.Errorf("%q is not an email address like dsl@school.example", s)
	}
	return nil
}

// priorityOf is the priority of category (None when it has none).
func (s *Settings) priorityOf(category string) Priority {
	for _, cp := range s.Priorities {
		if cp.Category == category {
			return cp.Priority
		}
	}
	return None
}

// ruleFor is the rule for a category at priority p.
func (s *Settings) ruleFor(category string, p Priority) (Rule, bool) {
	var byPrio Rule
	found := false
	for _, r := range s.Rules {
		if r.Category == category && r.Category != "" {
			return r, true
		}
		if r.Category == "" && r.Priority == p {
			byPrio, found = r, true
		}
	}
	return byPrio, found
}

func (s *Settings) recipient(name string) (Recipient, bool) {
	for _, r := range s.Recipients {
		if r.Name == name {
			return r, true
		}
	}
	return Recipient{}, false
}

func (s *Settings) timescale(p Priority) (Timescale, bool) {
	for _, t := range s.Timescales {
		if t.Priority == p {
			return t, true
		}
	}
	return Timescale{}, false
}

// DefaultPriorities are the built-in category priorities (issue 7): the
// illegal-content lists and self-harm critical; extremism, pornography and
// hate high; other harmful content and bypass attempts medium; gambling,
// social media, gaming and the like low. DDR is low: Windows and Apple
// devices ask for it by themselves, so it says little about the pupil.
func DefaultPriorities() []CategoryPriority {
	m := map[string]Priority{
		"iwf": Critical, "ctiru": Critical, "self-harm": Critical,
		"extremism": High, "pornography": High, "hate": High,
		"violence": Medium, "drugs": Medium, "discrimination": Medium, "dating": Medium,
		"bypass": Medium, KindDoHCanary: Medium, KindPrivateRelay: Medium,
		"gambling": Low, "social-media": Low, "gaming": Low, "chat": Low, "misinformation": Low,
		"malware": Low, "generative-ai": Low, "piracy": Low, KindDDR: Low,
		"streaming": None, "custom": None, KindSafeSearch: None,
	}
	out := make([]CategoryPriority, 0, len(m))
	for _, c := range Signals() {
		out = append(out, CategoryPriority{Category: c, Priority: m[c]})
	}
	return out
}

// DefaultRules: a single hit for critical; 3 in 10 minutes for high (3
// blocked pornography lookups by one device in 10 minutes); 5 in 10
// minutes for medium; 10 in an hour for low.
func DefaultRules() []Rule {
	return []Rule{
		{Priority: Critical, Threshold: 1, Window: Duration(10 * time.Minute)},
		{Priority: High, Threshold: 3, Window: Duration(10 * time.Minute)},
		{Priority: Medium, Threshold: 5, Window: Duration(10 * time.Minute)},
		{Priority: Low, Threshold: 10, Window: Duration(time.Hour)},
	}
}

// DefaultTimescales: critical acknowledged within 15 minutes and closed
// within a day; high within an hour and 3 days; medium within a school day
// and a week; low within 3 days and 2 weeks.
func DefaultTimescales() []Timescale {
	h := func(n int) Duration { return Duration(time.Duration(n) * time.Hour) }
	return []Timescale{
		{Priority: Critical, Acknowledge: Duration(15 * time.Minute), Close: h(24)},
		{Priority: High, Acknowledge: h(1), Close: h(72)},
		{Priority: Medium, Acknowledge: h(8), Close: h(7 * 24)},
		{Priority: Low, Acknowledge: h(72), Close: h(14 * 24)},
	}
}

// DefaultRoutes sends critical and high concerns to every recipient with
// the safeguarding role at once (critical out of hours to the on-call rota
// too, when there is one), medium to safeguarding and pastoral staff as an
// hourly digest and bypass attempts to technicians hourly, and low as a
// daily digest to pastoral staff and technicians.
func DefaultRoutes(rs []Recipient, haveRota bool) []Route {
	byRole := func(roles ...Team) []string {
		var out []string
		for _, r := range rs {
			if slices.Contains(roles, r.Role) {
				out = append(out, r.Name)
			}
		}
		return out
	}
	var routes []Route
	add := func(r Route) {
		if len(r.To) > 0 {
			routes = append(routes, r)
		}
	}
	dsl := byRole(TeamSafeguarding)
	if len(dsl) == 0 {
		dsl = byRole(TeamSafeguarding, TeamPastoral, TeamTechnician)
	}
	add(Route{Priorities: []Priority{Critical, High}, When: Always, To: dsl, Speed: Immediate})
	if haveRota {
		add(Route{Priorities: []Priority{Critical}, When: OutOfHours, To: []string{OnCallRecipient}, Speed: Immediate})
	}
	add(Route{Priorities: []Priority{Medium}, When: Always, To: byRole(TeamSafeguarding, TeamPastoral), Speed: Hourly})
	add(Route{Priorities: []Priority{Medium}, Categories: []string{"bypass", KindDoHCanary, KindPrivateRelay}, When: Always, To: byRole(TeamTechnician), Speed: Hourly})
	add(Route{Priorities: []Priority{Low}, When: Always, To: byRole(TeamPastoral, TeamTechnician), Speed: Daily})
	return routes
}
