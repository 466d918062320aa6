package trust

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"gatehouse/querylog"
)

// Report is every site's summary and the trust's totals.
type Report struct {
	Week      string       `json:"week,omitempty"` // as asked; "" is the current week
	Generated time.Time    `json:"generated"`
	Sites     []SiteResult `json:"sites"` // in configured order, reached or not
	Total     Total        `json:"total"`
}

// Total adds up the sites that answered.
type Total struct {
	Sites       int `json:"sites"`
	Reached     int `json:"reached"`
	AuditBroken int `json:"audit_broken"` // reached sites whose audit chain fails to verify
	// Safeguarding and Filtering sum the reached sites' counts (the audit
	// fields are per site only).
	Safeguarding Safeguarding `json:"safeguarding"`
	Filtering    Filtering    `json:"filtering"`
}

func newReport(week string, now time.Time, sites []SiteResult) Report {
	r := Report{Week: week, Generated: now, Sites: sites}
	t := &r.Total
	t.Sites = len(sites)
	sg := &t.Safeguarding
	sg.ByPriority, sg.ByCategory, sg.ByStatus, sg.OverdueByPriority = map[string]int{}, map[string]int{}, map[string]int{}, map[string]int{}
	f := &t.Filtering
	f.BlockedByCategory, f.BypassByKind = map[string]int64{}, map[string]int64{}
	for _, s := range sites {
		if s.Summary == nil {
			continue
		}
		t.Reached++
		if g := s.Summary.Safeguarding; g != nil {
			sg.Concerns += g.Concerns
			sg.Open += g.Open
			sg.Overdue += g.Overdue
			sg.Deliveries.Pending += g.Deliveries.Pending
			sg.Deliveries.Failing += g.Deliveries.Failing
			sg.Deliveries.Dead += g.Deliveries.Dead
			addAll(sg.ByPriority, g.ByPriority)
			addAll(sg.ByCategory, g.ByCategory)
			addAll(sg.ByStatus, g.ByStatus)
			addAll(sg.OverdueByPriority, g.OverdueByPriority)
			if !g.AuditVerified {
				t.AuditBroken++
			}
		}
		if q := s.Summary.Filtering; q != nil {
			f.Queries += q.Queries
			f.Blocked += q.Blocked
			f.Bypass += q.Bypass
			addAll(f.BlockedByCategory, q.BlockedByCategory)
			addAll(f.BypassByKind, q.BypassByKind)
		}
	}
	return r
}

func addAll[V int | int64](dst, src map[string]V) {
	for k, v := range src {
		dst[k] += v
	}
}

// WriteJSON writes the report as indented JSON.
func (r Report) WriteJSON(w io.Writer) error {
	e := json.NewEncoder(w)
	e.SetIndent("", "  ")
	return e.Encode(r)
}

// priorities in the order people read them.
var priorities = []string{"critical", "high", "medium", "low"}

// WriteText writes the report for a terminal or an email. Names from the
// sites are shown with control characters escaped.
func (r Report) WriteText(w io.Writer, loc *time.Location) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	p := func(format string, a ...any) { fmt.Fprintf(tw, format, a...) }
	week := r.Week
	if week == "" {
		week = "this week"
	} else {
		week = "week of " + week
	}
	p("Trust safeguarding and filtering report, %s\n", week)
	p("Generated %s; %d of %d sites reached\n\n", r.Generated.In(loc).Format("Mon 2 Jan 2006 15:04"), r.Total.Reached, r.Total.Sites)
	p("SITE\tSTATE\tCONCERNS\tCRIT/HIGH/MED/LOW\tOPEN\tOVERDUE\tDELIVERY\tBLOCKED\tBYPASS\tAUDIT\n")
	for _, s := range r.Sites {
		if s.Summary == nil {
			p("%s\t%s\t-\t-\t-\t-\t-\t-\t-\t-\n", querylog.TerminalSafe(s.Name), strings.ToUpper(s.State))
			continue
		}
		p("%s\tok\t%s\t%s\n", querylog.TerminalSafe(s.Name), siteCells(s.Summary.Safeguarding, s.Summary.Filtering), auditCell(s.Summary.Safeguarding))
	}
	t := r.Total
	p("TOTAL\t%d/%d\t%s\t%d broken\n", t.Reached, t.Sites, siteCells(&t.Safeguarding, &t.Filtering), t.AuditBroken)
	if t.Reached < t.Sites {
		p("\nNot reached\n")
		for _, s := range r.Sites {
			if s.Summary != nil {
				continue
			}
			last := "never reached"
			if !s.LastReached.IsZero() {
				last = "last reached " + s.LastReached.In(loc).Format("Mon 2 Jan 15:04")
			}
			p("  %s\t%s\t%s\n", querylog.TerminalSafe(s.Name), last, querylog.TerminalSafe(s.Error))
		}
	}
	section := func(title string, keys []string, n func(string) int64) {
		if len(keys) == 0 {
			return
		}
		p("\n%s\tTOTAL", title)
		for _, s := range r.Sites {
			if s.Summary != nil {
				p("\t%s", querylog.TerminalSafe(s.Name))
			}
		}
		p("\n")
		for _, k := range keys {
			p("  %s\t%d", querylog.TerminalSafe(k), n(k))
			for _, s := range r.Sites {
				if s.Summary != nil {
					p("\t%d", siteCount(s.Summary, title, k))
				}
			}
			p("\n")
		}
	}
	section(titleCategory, sortedKeys(t.Safeguarding.ByCategory), func(k string) int64 { return int64(t.Safeguarding.ByCategory[k]) })
	section(titleStatus, sortedKeys(t.Safeguarding.ByStatus), func(k string) int64 { return int64(t.Safeguarding.ByStatus[k]) })
	section(titleBlocked, sortedKeys(t.Filtering.BlockedByCategory), func(k string) int64 { return t.Filtering.BlockedByCategory[k] })
	section(titleBypass, sortedKeys(t.Filtering.BypassByKind), func(k string) int64 { return t.Filtering.BypassByKind[k] })
	p("\nAudit chains\n")
	for _, s := range r.Sites {
		if s.Summary != nil && s.Summary.Safeguarding != nil {
			p("  %s\t%s\thead %s\n", querylog.TerminalSafe(s.Name), querylog.TerminalSafe(s.Summary.Safeguarding.AuditStatus), querylog.TerminalSafe(s.Summary.Safeguarding.AuditHead))
		}
	}
	for _, s := range r.Sites {
		if s.Summary == nil || s.Summary.Identities == nil {
			continue
		}
		p("\n%s: concerns with devices (shared by the site)\n", querylog.TerminalSafe(s.Name))
		for _, c := range s.Summary.Identities.Concerns {
			p("  #%d\t%s\t%s\t%s\t%s\t%s\n", c.ID, c.Priority, querylog.TerminalSafe(c.Category), querylog.TerminalSafe(c.Device), querylog.TerminalSafe(c.Group), c.Status)
		}
		if len(s.Summary.Identities.Bypass) > 0 {
			p("\n%s: bypass attempts per device\n", querylog.TerminalSafe(s.Name))
		}
		for _, b := range s.Summary.Identities.Bypass {
			p("  bypass\t%s\t%s\t%d\n", querylog.TerminalSafe(b.Device), querylog.TerminalSafe(b.Kind), b.N)
		}
	}
	p("\nA DNS lookup is an indicator, not proof.\n")
	return tw.Flush()
}

const (
	titleCategory = "Concerns by category"
	titleStatus   = "Concerns by status"
	titleBlocked  = "Blocked lookups by category"
	titleBypass   = "Bypass attempts by kind"
)

// siteCount is one site's count in a section of the text report.
func siteCount(s *Summary, section, key string) int64 {
	sg, f := s.Safeguarding, s.Filtering
	switch {
	case section == titleCategory && sg != nil:
		return int64(sg.ByCategory[key])
	case section == titleStatus && sg != nil:
		return int64(sg.ByStatus[key])
	case section == titleBlocked && f != nil:
		return f.BlockedByCategory[key]
	case section == titleBypass && f != nil:
		return f.BypassByKind[key]
	}
	return 0
}

func siteCells(sg *Safeguarding, f *Filtering) string {
	var b strings.Builder
	if sg == nil {
		b.WriteString("off\t-\t-\t-\t-")
	} else {
		var ps []string
		for _, p := range priorities {
			ps = append(ps, strconv.Itoa(sg.ByPriority[p]))
		}
		fmt.Fprintf(&b, "%d\t%s\t%d\t%d\t%d waiting, %d failing, %d dead", sg.Concerns, strings.Join(ps, "/"), sg.Open, sg.Overdue,
			sg.Deliveries.Pending, sg.Deliveries.Failing, sg.Deliveries.Dead)
	}
	if f == nil {
		b.WriteString("\t-\t-")
	} else {
		fmt.Fprintf(&b, "\t%d\t%d", f.Blocked, f.Bypass)
	}
	return b.String()
}

func auditCell(sg *Safeguarding) string {
	switch {
	case sg == nil:
		return "-"
	case sg.AuditVerified:
		return "verified"
	}
	return "BROKEN"
}

//go:embed report.html
var reportHTML string

// HTML is the report's printable page template; it defines "trust-report"
// (the body, which the dashboard embeds) and "page" (a whole document).
var HTML = template.Must(template.New("trust").Funcs(Funcs).Parse(reportHTML))

// Funcs are the template functions the "trust-report" template uses.
var Funcs = template.FuncMap{
	"trustPriorities": func() []string { return priorities },
	"trustTime": func(loc *time.Location, t time.Time) string {
		if t.IsZero() {
			return "never"
		}
		return t.In(loc).Format("Mon 2 Jan 2006 15:04")
	},
	"trustText": querylog.TerminalSafe,
	"trustCount": func(s *Summary, section, key string) int64 {
		return siteCount(s, section, key)
	},
}

// HTMLView is what the "trust-report" template gets.
type HTMLView struct {
	Report
	Loc *time.Location
}

// Sections for the templates, by title.
func (HTMLView) Titles() []string {
	return []string{titleCategory, titleStatus, titleBlocked, titleBypass}
}

// SectionKeys are the keys of a section across the trust.
func (v HTMLView) SectionKeys(title string) []string {
	t := v.Total
	switch title {
	case titleCategory:
		return sortedKeys(t.Safeguarding.ByCategory)
	case titleStatus:
		return sortedKeys(t.Safeguarding.ByStatus)
	case titleBlocked:
		return sortedKeys(t.Filtering.BlockedByCategory)
	case titleBypass:
		return sortedKeys(t.Filtering.BypassByKind)
	}
	return nil
}

// TotalCount is the trust's count in a section.
func (v HTMLView) TotalCount(title, key string) int64 {
	t := v.Total
	switch title {
	case titleCategory:
		return int64(t.Safeguarding.ByCategory[key])
	case titleStatus:
		return int64(t.Safeguarding.ByStatus[key])
	case titleBlocked:
		return t.Filtering.BlockedByCategory[key]
	case titleBypass:
		return t.Filtering.BypassByKind[key]
	}
	return 0
}

// WriteHTML writes the report as a standalone printable page.
func (r Report) WriteHTML(w io.Writer, loc *time.Location) error {
	var buf bytes.Buffer
	if err := HTML.ExecuteTemplate(&buf, "page", HTMLView{Report: r, Loc: loc}); err != nil {
		return err
	}
	_, err := w.Write(buf.Bytes())
	return err
}

// HTMLBody is the report without the page around it, for the dashboard.
func (r Report) HTMLBody(loc *time.Location) (template.HTML, error) {
	var buf bytes.Buffer
	if err := HTML.ExecuteTemplate(&buf, "trust-report", HTMLView{Report: r, Loc: loc}); err != nil {
		return "", err
	}
	return template.HTML(buf.String()), nil
}

// WithoutIdentities is r with every site's shared identities left out,
// for readers not entitled to them (the counts stay).
func (r Report) WithoutIdentities() Report {
	sites := make([]SiteResult, len(r.Sites))
	for i, s := range r.Sites {
		if s.Summary != nil && s.Summary.Identities != nil {
			sum := *s.Summary
			sum.Identities = nil
			s.Summary = &sum
		}
		sites[i] = s
	}
	r.Sites = sites
	return r
}

// HasIdentities says whether any site shared identities.
func (r Report) HasIdentities() bool {
	for _, s := range r.Sites {
		if s.Summary != nil && s.Summary.Identities != nil {
			return true
		}
	}
	return false
}
