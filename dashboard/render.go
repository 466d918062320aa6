package dashboard

import (
	"bytes"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/miekg/dns"

	"gatehouse/dashboard/store"
	"gatehouse/querylog"
)

// pages holds one parsed template set per page: the layout, the shared
// partials and the page's own file.
type pages struct {
	byName map[string]*template.Template
}

func parsePages() (*pages, error) {
	base, err := template.New("").Funcs(funcs).ParseFS(templateFS, "templates/_*.html")
	if err != nil {
		return nil, fmt.Errorf("dashboard templates: %w", err)
	}
	files, err := fs.Glob(templateFS, "templates/[a-z]*.html")
	if err != nil {
		return nil, err
	}
	p := &pages{byName: map[string]*template.Template{}}
	for _, f := range files {
		t, err := template.Must(base.Clone()).ParseFS(templateFS, f)
		if err != nil {
			return nil, fmt.Errorf("dashboard template %s: %w", f, err)
		}
		p.byName[strings.TrimSuffix(path.Base(f), ".html")] = t
	}
	return p, nil
}

// view is what every page template gets.
type view struct {
	Title   string
	Page    string
	Session store.Session
	Nav     []navItem
	Now     time.Time
	Loc     *time.Location
	Data    any
}

type navItem struct {
	Path, Label string
	Active      bool
}

var navPages = []struct {
	path, label, page string
	perm              perm
}{
	{"/status", "Status", "status", permStatus},
	{"/log", "Query log", "log", permLogs},
	{"/reports", "Reports", "reports", permReports},
	{"/concerns", "Concerns", "concerns", permConcerns},
	{"/safeguarding/settings", "Safeguarding settings", "sg-settings", permSGSettings},
	{"/trust", "Trust", "trust", permTrust},
	{"/policy", "Lists & policy", "policy", permPolicy},
	{"/reviews", "Review requests", "reviews", permReviews},
	{"/accounts", "Accounts", "accounts", permAccounts},
	{"/access-log", "Access log", "access-log", permAccounts},
}

func (d *Dashboard) render(w http.ResponseWriter, r *http.Request, sess store.Session, code int, page string, data any) {
	t, ok := d.pages.byName[page]
	if !ok {
		http.Error(w, "no such page", http.StatusInternalServerError)
		return
	}
	v := view{Page: page, Session: sess, Now: d.now(), Loc: d.cfg.Location, Data: data}
	if sess.User != "" {
		for _, n := range navPages {
			if can(sess.Role, n.perm) && (d.cfg.Safeguarding != nil || !safeguardingPerm(n.perm)) &&
				(n.perm != permTrust || d.cfg.Trust.Collector != nil) {
				v.Nav = append(v.Nav, navItem{Path: n.path, Label: n.label, Active: n.page == page || (page == "device" && n.page == "log")})
			}
		}
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", v); err != nil {
		d.log.Error("rendering a dashboard page", "page", page, "error", err)
		http.Error(w, "could not render the page", http.StatusInternalServerError)
		return
	}
	securityHeaders(w)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(code)
	w.Write(buf.Bytes())
}

// renderStatus shows a message page (forbidden, not found, an error).
func (d *Dashboard) renderStatus(w http.ResponseWriter, r *http.Request, sess store.Session, code int, msg string) {
	d.render(w, r, sess, code, "message", messageView{Code: code, Title: http.StatusText(code), Message: msg})
}

type messageView struct {
	Code           int
	Title, Message string
}

// securityHeaders: no framing, no inline script, no referrer leaking
// filters.
func securityHeaders(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	// same-origin, not no-referrer: with no-referrer browsers send
	// "Origin: null" on form posts, and over plain HTTP on a LAN address
	// (no Sec-Fetch-Site either) cross-origin protection refuses them.
	h.Set("Referrer-Policy", "same-origin")
	h.Set("X-Frame-Options", "DENY")
}

// bidiControls are the characters that reorder text on screen: in a name
// they can make "evil.example" read as something else, so they are shown
// as visible markers instead.
func isBidiControl(r rune) bool {
	switch {
	case r == '\u061c', r == '\u200e', r == '\u200f':
		return true
	case r >= '\u202a' && r <= '\u202e':
		return true
	case r >= '\u2066' && r <= '\u2069':
		return true
	}
	return false
}

// visible returns s with bidi and other invisible controls written as
// [U+XXXX]; html/template then escapes the result.
func visible(s string) string {
	clean := true
	for _, r := range s {
		if isBidiControl(r) || r < 0x20 || r == 0x7f || r == '\ufeff' || r == '\u200b' {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		if isBidiControl(r) || r < 0x20 || r == 0x7f || r == '\ufeff' || r == '\u200b' {
			fmt.Fprintf(&b, "[U+%04X]", r)
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

func itoa(n int) string { return strconv.Itoa(n) }

var funcs = template.FuncMap{
	"visible": visible,
	"localTime": func(loc *time.Location, t time.Time) string {
		if t.IsZero() {
			return "never"
		}
		return t.In(loc).Format("Mon 2 Jan 15:04:05")
	},
	"localDate": func(loc *time.Location, t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.In(loc).Format("Mon 2 Jan 2006")
	},
	"ago": func(now, t time.Time) string {
		if t.IsZero() {
			return "never"
		}
		return ago(now.Sub(t))
	},
	"bytes": humanBytes,
	"pct": func(f float64) string {
		if f != f { // NaN: nothing to divide
			return "–"
		}
		return strconv.FormatFloat(f*100, 'f', 1, 64) + "%"
	},
	"num": func(f float64) string {
		if f >= 100 || f == float64(int64(f)) {
			return strconv.FormatInt(int64(f+0.5), 10)
		}
		return strconv.FormatFloat(f, 'f', 1, 64)
	},
	"can": func(r store.Role, p string) bool {
		if pp, ok := permNames[p]; ok {
			return can(r, pp)
		}
		return false
	},
	"decisionClass": func(d querylog.Decision) string {
		switch d {
		case querylog.Blocked, querylog.BypassAttempt:
			return "bad"
		case querylog.Rewritten, querylog.Refused, querylog.Failed:
			return "warn"
		}
		return "ok"
	},
	"qtype":  qtypeString,
	"ref":    querylog.Ref,
	"ms":     func(d time.Duration) string { return strconv.FormatFloat(float64(d)/1e6, 'f', 1, 64) + " ms" },
	"int64":  func(f float64) int64 { return int64(f) },
	"int64u": func(n uint64) int64 { return int64(min(n, 1<<62)) },
	"rcodeText": func(r uint16) string {
		if s, ok := dns.RcodeToString[int(r)]; ok {
			return s
		}
		return "RCODE" + itoa(int(r))
	},
	"row": func(loc *time.Location, e entryView, links, device bool) rowArgs {
		return rowArgs{E: e.Entry, Answer: e.Answer, Schedule: e.Schedule, Loc: loc, Links: links, Device: device}
	},
	"filterArgs": func(v logView, action, button string) filterArgs {
		return filterArgs{logView: v, Action: action, Button: button}
	},
}

// rowArgs is what the "entry" template gets.
type rowArgs struct {
	E             querylog.Entry
	Answer        string
	Schedule      string
	Loc           *time.Location
	Links, Device bool
}

// filterArgs is what the "filters" template gets.
type filterArgs struct {
	logView
	Action, Button string
}

var permNames = map[string]perm{
	"status": permStatus, "logs": permLogs, "identity": permIdentity, "devices": permDevices,
	"reports": permReports, "policy": permPolicy, "override": permOverride, "reviews": permReviews,
	"accounts": permAccounts, "concerns": permConcerns, "sg-settings": permSGSettings, "deliveries": permDeliveries, "trust": permTrust,
}

func ago(d time.Duration) string {
	switch {
	case d < 0:
		return "in " + ago(-d)[:len(ago(-d))-4]
	case d < 90*time.Second:
		return itoa(int(d/time.Second)) + " s ago"
	case d < 90*time.Minute:
		return itoa(int(d/time.Minute)) + " min ago"
	case d < 48*time.Hour:
		return itoa(int(d/time.Hour)) + " h ago"
	}
	return itoa(int(d/(24*time.Hour))) + " days ago"
}

func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return itoa(int(n)) + " B"
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return strconv.FormatFloat(float64(n)/float64(div), 'f', 1, 64) + " " + string("KMGTPE"[exp]) + "iB"
}
