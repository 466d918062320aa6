package dashboard

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"time"

	"gatehouse/config"
	"gatehouse/dashboard/store"
	"gatehouse/querylog"
)

// logPageSize is how many entries one page of the log shows.
const logPageSize = 50

// logForm is the query-log filter as the form sends it.
type logForm struct {
	From, To, Client, Domain, Decision, Category, Group, Cursor string
	Ref                                                         string // an entry's reference, as a pupil reads it out
}

func readLogForm(q url.Values) logForm {
	g := func(k string) string { return strings.TrimSpace(q.Get(k)) }
	return logForm{From: g("from"), To: g("to"), Client: g("client"), Domain: g("domain"), Decision: g("decision"),
		Category: g("category"), Group: g("group"), Cursor: g("cursor"), Ref: g("ref")}
}

// values is the form as a query string, without the cursor.
func (f logForm) values() url.Values {
	v := url.Values{}
	for k, s := range map[string]string{"from": f.From, "to": f.To, "client": f.Client, "domain": f.Domain,
		"decision": f.Decision, "category": f.Category, "group": f.Group, "ref": f.Ref} {
		if s != "" {
			v.Set(k, s)
		}
	}
	return v
}

// describe is the filter as the access log records it.
func (f logForm) describe() string {
	s := f.values().Encode()
	if s == "" {
		s = "(no filter)"
	}
	if f.Cursor != "" {
		s += " (next page)"
	}
	return s
}

const formTime = "2006-01-02T15:04"

// filter turns the form into a querylog.Filter; identity says whether the
// account may look clients up by MAC address or host name.
func (f logForm) filter(loc *time.Location, identity bool) (querylog.Filter, error) {
	var qf querylog.Filter
	var err error
	if f.From != "" {
		if qf.From, err = time.ParseInLocation(formTime, f.From, loc); err != nil {
			return qf, fmt.Errorf("from: %q is not a date and time", f.From)
		}
	}
	if f.To != "" {
		if qf.To, err = time.ParseInLocation(formTime, f.To, loc); err != nil {
			return qf, fmt.Errorf("to: %q is not a date and time", f.To)
		}
	}
	if len(f.Client) > 256 || len(f.Domain) > 256 || len(f.Category) > 64 || len(f.Group) > 64 || len(f.Ref) > 64 {
		return qf, errors.New("a filter is too long")
	}
	if f.Client != "" && !identity {
		if _, err := netip.ParseAddr(f.Client); err != nil {
			return qf, errors.New("your account may search clients by IP address only")
		}
	}
	qf.Client, qf.Domain, qf.Category, qf.Group = f.Client, f.Domain, f.Category, f.Group
	if f.Ref != "" {
		if qf.ID, err = querylog.ParseRef(f.Ref); err != nil {
			return qf, errors.New("reference: " + f.Ref + " is not a reference from a block page (13 letters and digits, like 1V4G-8ZK2-QM3XA)")
		}
	}
	if f.Decision != "" {
		if qf.Decision, err = querylog.ParseDecision(f.Decision); err != nil {
			return qf, err
		}
	}
	qf.Cursor = f.Cursor
	qf.Limit = logPageSize
	return qf, nil
}

type logView struct {
	Form      logForm
	Error     string
	Entries   []entryView
	Next      template.URL // query string of the next page, "" on the last
	Groups    []string
	Decisions []string
	Identity  bool
	Disabled  bool         // the query log is off
	Query     template.URL // the filter as a query string (url.Values.Encode)
}

// entryView is one entry with identity removed for roles without it.
type entryView struct {
	querylog.Entry
	Answer string
	// Schedule says when the entry's category is blocked for its group,
	// by the configuration in force now ("during lessons"); "" when the
	// category is not schedule-gated for that group.
	Schedule string
}

func decisionNames() []string {
	return []string{"allowed", "blocked", "rewritten", "refused", "bypass-attempt", "local", "failed"}
}

func (d *Dashboard) groups() []string {
	var out []string
	for _, g := range d.cfg.Site.Config().Groups {
		out = append(out, g.Name)
	}
	return out
}

// recordAccess writes the access log before personal data is shown; if it
// cannot be written, nothing is shown.
func (d *Dashboard) recordAccess(r *http.Request, action, detail string) error {
	sess := sessionFrom(r.Context())
	err := d.cfg.Store.LogAccess(r.Context(), store.Access{At: d.now(), User: sess.User, Addr: clientAddr(r), Action: action, Detail: detail})
	if err != nil {
		d.log.Error("recording query-log access", "error", err)
	}
	return err
}

func (d *Dashboard) toView(es []querylog.Entry, identity bool) []entryView {
	cfg := d.cfg.Site.Config()
	out := make([]entryView, len(es))
	for i, e := range es {
		if !identity {
			e.MAC, e.Hostname = "", ""
		}
		out[i] = entryView{Entry: e, Schedule: scheduleFor(cfg, e.Group, e.Category)}
		if e.Answer != nil {
			out[i].Answer = e.Answer.Summary()
		}
	}
	return out
}

// scheduleFor describes the timed blocks of category in group's policy.
func scheduleFor(cfg *config.Config, group, category string) string {
	if category == "" {
		return ""
	}
	var parts []string
	for _, g := range cfg.Groups {
		if g.Name != group {
			continue
		}
		for _, tb := range g.BlockDuring {
			if !slices.Contains(tb.Categories, category) {
				continue
			}
			when := "during "
			if tb.Outside {
				when = "outside "
			}
			parts = append(parts, when+strings.Join(tb.During, ", "))
		}
	}
	return strings.Join(parts, "; ")
}

func (d *Dashboard) logPage(w http.ResponseWriter, r *http.Request) {
	sess := sessionFrom(r.Context())
	form := readLogForm(r.URL.Query())
	v := logView{Form: form, Groups: d.groups(), Decisions: decisionNames(), Identity: can(sess.Role, permIdentity),
		Query: template.URL(form.values().Encode())}
	if d.cfg.QueryLog == nil {
		v.Disabled = true
		d.render(w, r, sess, http.StatusOK, "log", v)
		return
	}
	qf, err := form.filter(d.cfg.Location, v.Identity)
	if err != nil {
		v.Error = err.Error()
		d.render(w, r, sess, http.StatusBadRequest, "log", v)
		return
	}
	if err := d.recordAccess(r, "search", form.describe()); err != nil {
		d.renderStatus(w, r, sess, http.StatusInternalServerError, "The access log cannot be written, so the query log is not shown.")
		return
	}
	page, err := d.cfg.QueryLog.Search(r.Context(), qf)
	if err != nil {
		v.Error = "Search failed: " + err.Error()
		d.render(w, r, sess, http.StatusBadRequest, "log", v)
		return
	}
	v.Entries = d.toView(page.Entries, v.Identity)
	if page.Next != "" {
		q := form.values()
		q.Set("cursor", page.Next)
		v.Next = template.URL(q.Encode())
	}
	d.render(w, r, sess, http.StatusOK, "log", v)
}

// exportTimeout bounds one CSV export.
const exportTimeout = 10 * time.Minute

// csvIdentityColumns are blanked in exports for roles without identity.
var csvIdentityColumns = []string{"mac", "hostname"}

func (d *Dashboard) logCSV(w http.ResponseWriter, r *http.Request) {
	sess := sessionFrom(r.Context())
	if d.cfg.QueryLog == nil {
		http.Error(w, "the query log is off", http.StatusNotFound)
		return
	}
	form := readLogForm(r.URL.Query())
	form.Cursor = ""
	identity := can(sess.Role, permIdentity)
	qf, err := form.filter(d.cfg.Location, identity)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if err := d.recordAccess(r, "export", form.describe()); err != nil {
		http.Error(w, "the access log cannot be written", http.StatusInternalServerError)
		return
	}
	// A big export outlasts the server's write timeout.
	http.NewResponseController(w).SetWriteDeadline(d.now().Add(exportTimeout))
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="gatehouse-log-`+d.now().In(d.cfg.Location).Format("20060102-1504")+`.csv"`)
	var out io.Writer = w
	var done chan error
	if !identity {
		pr, pw := io.Pipe()
		done = make(chan error, 1)
		go func() { done <- blankColumns(pr, w, csvIdentityColumns) }()
		out = pw
		err = d.cfg.QueryLog.ExportCSV(r.Context(), qf, pw)
		pw.CloseWithError(err)
		if e := <-done; err == nil {
			err = e
		}
	} else {
		err = d.cfg.QueryLog.ExportCSV(r.Context(), qf, out)
	}
	if err != nil {
		d.log.Warn("query log export failed", "error", err)
	}
}

// blankColumns copies CSV from r to w, emptying the named columns.
func blankColumns(r io.Reader, w io.Writer, names []string) error {
	cr := csv.NewReader(r)
	cw := csv.NewWriter(w)
	header, err := cr.Read()
	if err != nil {
		io.Copy(io.Discard, r)
		return err
	}
	var idx []int
	for i, h := range header {
		for _, n := range names {
			if h == n {
				idx = append(idx, i)
			}
		}
	}
	cw.Write(header)
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			io.Copy(io.Discard, r)
			return err
		}
		for _, i := range idx {
			if i < len(rec) {
				rec[i] = ""
			}
		}
		cw.Write(rec)
	}
	cw.Flush()
	return cw.Error()
}

func (d *Dashboard) livePage(w http.ResponseWriter, r *http.Request) {
	sess := sessionFrom(r.Context())
	form := readLogForm(r.URL.Query())
	v := logView{Form: form, Groups: d.groups(), Decisions: decisionNames(), Identity: can(sess.Role, permIdentity),
		Query: template.URL(form.values().Encode()), Disabled: d.cfg.QueryLog == nil}
	if _, err := form.filter(d.cfg.Location, v.Identity); err != nil {
		v.Error = err.Error()
	}
	d.render(w, r, sess, http.StatusOK, "live", v)
}

// liveEntry is one entry as the live view's script receives it; the
// script puts every field in with textContent, never as HTML.
type liveEntry struct {
	ID       string `json:"id"`
	Time     string `json:"time"`
	Client   string `json:"client"`
	Hostname string `json:"hostname,omitempty"`
	Group    string `json:"group"`
	QName    string `json:"qname"`
	QType    string `json:"qtype"`
	Decision string `json:"decision"`
	Class    string `json:"class"`
	Category string `json:"category,omitempty"`
}

// liveRecheck is how often a live stream re-checks its session, so a
// logout or an expired session ends it.
const liveRecheck = 15 * time.Second

func (d *Dashboard) liveStream(w http.ResponseWriter, r *http.Request) {
	sess := sessionFrom(r.Context())
	if d.cfg.QueryLog == nil {
		http.Error(w, "the query log is off", http.StatusNotFound)
		return
	}
	form := readLogForm(r.URL.Query())
	identity := can(sess.Role, permIdentity)
	qf, err := form.filter(d.cfg.Location, identity)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if err := d.recordAccess(r, "live", form.describe()); err != nil {
		http.Error(w, "the access log cannot be written", http.StatusInternalServerError)
		return
	}
	// Subscribed before the stream opens, so nothing written after the
	// browser sees it open is missed.
	entries, cancel := d.cfg.QueryLog.Subscribe(256)
	defer cancel()
	rc := http.NewResponseController(w)
	rc.SetWriteDeadline(time.Time{}) // a stream outlives the server's write timeout
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	fmt.Fprint(w, ": live\n\n")
	rc.Flush()

	tick := time.NewTicker(liveRecheck)
	defer tick.Stop()
	cookie, _ := r.Cookie(d.cookieName())
	enc := json.NewEncoder(w)
	for {
		select {
		case <-r.Context().Done():
			return
		case <-d.stopping:
			return // shutting down: let the server close the connection
		case <-tick.C:
			if _, err := d.cfg.Store.Session(context.WithoutCancel(r.Context()), cookie.Value, d.now()); err != nil {
				fmt.Fprint(w, "event: end\ndata: session ended\n\n")
				rc.Flush()
				return
			}
			fmt.Fprint(w, ": keep-alive\n\n")
			rc.Flush()
		case e, ok := <-entries:
			if !ok {
				return
			}
			if !matches(qf, e) {
				continue
			}
			le := liveEntry{ID: fmt.Sprint(e.ID), Time: e.Time.In(d.cfg.Location).Format("15:04:05"), Group: e.Group,
				QName: visible(e.QName), QType: qtypeString(e.QType), Decision: e.Decision.String(),
				Class: funcs["decisionClass"].(func(querylog.Decision) string)(e.Decision), Category: e.Category}
			if e.Client.IsValid() {
				le.Client = e.Client.String()
			} else {
				le.Client = e.Pseudonym
			}
			if identity {
				le.Hostname = visible(e.Hostname)
			}
			fmt.Fprint(w, "data: ")
			enc.Encode(le) // ends with the newline that closes the data line
			fmt.Fprint(w, "\n")
			rc.Flush()
		}
	}
}

// matches applies a filter to a live entry, as Search would.
func matches(f querylog.Filter, e querylog.Entry) bool {
	if f.ID != 0 && e.ID != f.ID {
		return false
	}
	if f.Decision != querylog.DecisionUnknown && e.Decision != f.Decision {
		return false
	}
	if f.Group != "" && e.Group != f.Group {
		return false
	}
	if f.Category != "" && e.Category != f.Category {
		return false
	}
	if !f.From.IsZero() && e.Time.Before(f.From) || !f.To.IsZero() && !e.Time.Before(f.To) {
		return false
	}
	if f.Client != "" {
		c := f.Client
		switch {
		case e.Client.IsValid() && e.Client.String() == c, strings.EqualFold(e.MAC, c), strings.EqualFold(e.Hostname, c):
		case strings.HasSuffix(c, "*") && len(c) > 1 && strings.HasPrefix(strings.ToLower(e.Hostname), strings.ToLower(c[:len(c)-1])):
		default:
			return false
		}
	}
	if f.Domain != "" {
		name := strings.TrimSuffix(strings.ToLower(e.QName), ".")
		dom := strings.TrimSuffix(strings.ToLower(f.Domain), ".")
		if rest, ok := strings.CutPrefix(dom, "*."); ok {
			return name == rest || strings.HasSuffix(name, "."+rest)
		}
		if rest, ok := strings.CutPrefix(dom, "."); ok {
			return name == rest || strings.HasSuffix(name, "."+rest)
		}
		return name == dom
	}
	return true
}
