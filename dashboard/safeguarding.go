package dashboard

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"gatehouse/dashboard/store"
	"gatehouse/safeguarding"
	"gatehouse/safeguarding/audit"
)

// Safeguarding is what the dashboard uses of the safeguarding engine
// (*safeguarding.Engine). Mutations take the account as an Actor; the
// engine checks what the actor's roles allow, the dashboard decides who
// may read what.
type Safeguarding interface {
	RecordAccountChange(ctx context.Context, c safeguarding.AccountChange) error
	Queue(ctx context.Context, f safeguarding.QueueFilter) ([]safeguarding.Concern, error)
	Get(ctx context.Context, id int64) (safeguarding.Record, error)
	Acknowledge(ctx context.Context, a safeguarding.Actor, id int64) error
	OpenIncident(ctx context.Context, a safeguarding.Actor, id int64, owner string) error
	SetOwner(ctx context.Context, a safeguarding.Actor, id int64, owner string) error
	SetStatus(ctx context.Context, a safeguarding.Actor, id int64, s safeguarding.Status) error
	AddNote(ctx context.Context, a safeguarding.Actor, id int64, text string) error
	RecordAction(ctx context.Context, a safeguarding.Actor, id int64, action string) error
	CloseIncident(ctx context.Context, a safeguarding.Actor, id int64, outcome string) error
	ExportJSON(ctx context.Context, id int64, w io.Writer) error
	ExportHTML(ctx context.Context, id int64, w io.Writer) error
	BuildWeeklySummary(ctx context.Context, end time.Time) (safeguarding.WeeklySummary, error)

	Health(ctx context.Context) (safeguarding.DeliveryHealth, error)
	Deliveries(ctx context.Context, f safeguarding.DeliveryFilter) ([]safeguarding.Delivery, error)
	Retry(ctx context.Context, a safeguarding.Actor, id int64) error

	Settings() (safeguarding.Settings, int64)
	Propose(ctx context.Context, a safeguarding.Actor, s safeguarding.Settings, reason string) (safeguarding.Proposal, error)
	Approve(ctx context.Context, a safeguarding.Actor, id int64, note string) error
	Reject(ctx context.Context, a safeguarding.Actor, id int64, note string) error
	Proposals(ctx context.Context, state string) ([]safeguarding.Proposal, error)
	History(ctx context.Context) ([]safeguarding.SettingsVersion, error)
	AuditLog(ctx context.Context, after int64, limit int) ([]audit.Record, error)
	VerifyAudit(ctx context.Context) (int, string, error)
}

// The safeguarding permissions (can in auth.go): concerns are the
// safeguarding team's (admins see them too, but only the safeguarding role
// may act on them: the engine refuses anyone else); the settings in force
// and their history are for admins, the safeguarding team and governors
// (viewers); delivery failures are also for technicians, who fix mail
// servers and webhooks. Accounts with the approver capability see the
// settings page whatever their role, because that is where they approve.
const (
	permConcerns perm = permAccounts + 1 + iota
	permSGSettings
	permDeliveries
)

func safeguardingPerm(p perm) bool {
	return p == permConcerns || p == permSGSettings || p == permDeliveries
}

func (d *Dashboard) safeguardingRoutes(mux *http.ServeMux) {
	if d.cfg.Safeguarding == nil {
		return
	}
	mux.Handle("POST /accounts/{name}/approver", d.need(permAccounts, d.setApprover))
	mux.Handle("GET /concerns", d.need(permConcerns, d.concernsPage))
	mux.Handle("GET /concerns/week", d.need(permConcerns, d.weekPage))
	mux.Handle("GET /concerns/{id}", d.need(permConcerns, d.concernPage))
	mux.Handle("GET /concerns/{id}/export.html", d.need(permConcerns, d.exportConcern))
	mux.Handle("GET /concerns/{id}/export.json", d.need(permConcerns, d.exportConcern))
	mux.Handle("POST /concerns/{id}/{action}", d.need(permConcerns, d.concernAction))
	mux.Handle("GET /safeguarding/deliveries", d.need(permDeliveries, d.deliveriesPage))
	mux.Handle("POST /safeguarding/deliveries/{id}/retry", d.need(permDeliveries, d.retryDelivery))
	// The settings pages are open to any account here and checked inside:
	// an approver may hold any role.
	mux.Handle("GET /safeguarding/settings", d.need(permNone, d.sgSettingsPage))
	mux.Handle("GET /safeguarding/propose", d.need(permNone, d.proposePage))
	mux.Handle("POST /safeguarding/proposals", d.need(permNone, d.propose))
	mux.Handle("POST /safeguarding/proposals/{id}/{decision}", d.need(permNone, d.decide))
}

// actor is the session's account as the engine sees it: its role, and
// approver when the account holds that capability (read now, so taking it
// away takes effect at once).
func (d *Dashboard) actor(r *http.Request) (safeguarding.Actor, error) {
	sess := sessionFrom(r.Context())
	a := safeguarding.Actor{Name: sess.User, Roles: []string{string(sess.Role)}}
	ok, err := d.cfg.Store.IsApprover(r.Context(), sess.User)
	if err != nil {
		return a, err
	}
	if ok {
		a.Roles = append(a.Roles, safeguarding.RoleApprover)
	}
	return a, nil
}

// errorCode maps the engine's errors to HTTP statuses.
func errorCode(err error) int {
	switch {
	case errors.Is(err, safeguarding.ErrForbidden):
		return http.StatusForbidden
	case errors.Is(err, safeguarding.ErrNotFound):
		return http.StatusNotFound
	case errors.Is(err, safeguarding.ErrConflict):
		return http.StatusConflict
	case errors.Is(err, safeguarding.ErrInvalid), errors.Is(err, safeguarding.ErrLocked):
		return http.StatusBadRequest
	}
	return http.StatusInternalServerError
}

func sgFlash(key string) string {
	return map[string]string{
		"ack":      "Concern acknowledged.",
		"incident": "The concern is now an incident.",
		"owner":    "Owner changed.",
		"status":   "Status changed.",
		"note":     "Note added.",
		"action":   "Action recorded.",
		"close":    "Incident closed.",
		"retry":    "The message will be sent again at once.",
		"proposed": "Change proposed. It takes effect when another account with the approver capability approves it.",
		"approve":  "Change approved and in force.",
		"reject":   "Proposal turned down (withdrawn, when it was yours).",
	}[key]
}

// timescaleView is one priority's timescales.
type timescaleView struct {
	Priority           string
	Acknowledge, Close string
}

type concernsView struct {
	Concerns   []safeguarding.Concern
	All        bool
	Overdue    int
	Health     safeguarding.DeliveryHealth
	HealthErr  string
	Timescales []timescaleView
	CanHandle  bool // the safeguarding role: acknowledge from the queue
	CSRF       string
	Message    string
	Error      string
}

func (d *Dashboard) concernsPage(w http.ResponseWriter, r *http.Request) {
	sess := sessionFrom(r.Context())
	v := concernsView{All: r.URL.Query().Get("all") == "1", Message: sgFlash(r.URL.Query().Get("msg")),
		CanHandle: sess.Role == store.Safeguarding, CSRF: sess.CSRF}
	f := safeguarding.QueueFilter{Limit: 500}
	if v.All {
		f.Statuses = []safeguarding.Status{safeguarding.StatusNew, safeguarding.StatusAcknowledged, safeguarding.StatusInProgress, safeguarding.StatusClosed}
	}
	// The queue shows devices (identity): looking at it is recorded.
	if err := d.recordAccess(r, "concerns", "queue"); err != nil {
		d.renderStatus(w, r, sess, http.StatusInternalServerError, "The access log cannot be written, so the concerns are not shown.")
		return
	}
	var err error
	if v.Concerns, err = d.cfg.Safeguarding.Queue(r.Context(), f); err != nil {
		v.Error = err.Error()
	}
	for _, c := range v.Concerns {
		if c.Overdue {
			v.Overdue++
		}
	}
	if v.Health, err = d.cfg.Safeguarding.Health(r.Context()); err != nil {
		v.HealthErr = err.Error()
	}
	s, _ := d.cfg.Safeguarding.Settings()
	v.Timescales = timescales(s)
	d.render(w, r, sess, http.StatusOK, "concerns", v)
}

func timescales(s safeguarding.Settings) []timescaleView {
	var out []timescaleView
	for _, p := range safeguarding.Priorities() {
		for _, t := range s.Timescales {
			if t.Priority == p {
				out = append(out, timescaleView{Priority: p.String(), Acknowledge: durationText(time.Duration(t.Acknowledge)), Close: durationText(time.Duration(t.Close))})
			}
		}
	}
	return out
}

// durationText says a timescale as people do: "1 h", "3 days", "90 min".
func durationText(d time.Duration) string {
	switch {
	case d <= 0:
		return "–"
	case d%(24*time.Hour) == 0:
		n := int(d / (24 * time.Hour))
		if n == 1 {
			return "1 day"
		}
		return itoa(n) + " days"
	case d%time.Hour == 0:
		return itoa(int(d/time.Hour)) + " h"
	case d%time.Minute == 0:
		return itoa(int(d/time.Minute)) + " min"
	}
	return d.String()
}

type concernView struct {
	Record    safeguarding.Record
	Notice    string
	CanHandle bool // the safeguarding role: the engine lets it act
	Statuses  []safeguarding.Status
	Self      string
	CSRF      string
	Message   string
	Error     string
}

func pathID(r *http.Request) (int64, bool) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	return id, err == nil && id > 0
}

func (d *Dashboard) concernPage(w http.ResponseWriter, r *http.Request) {
	d.renderConcern(w, r, http.StatusOK, sgFlash(r.URL.Query().Get("msg")), "")
}

func (d *Dashboard) renderConcern(w http.ResponseWriter, r *http.Request, code int, msg, errText string) {
	sess := sessionFrom(r.Context())
	id, ok := pathID(r)
	if !ok {
		d.renderStatus(w, r, sess, http.StatusNotFound, "There is no such concern.")
		return
	}
	if err := d.recordAccess(r, "concern", "concern="+itoa(int(id))); err != nil {
		d.renderStatus(w, r, sess, http.StatusInternalServerError, "The access log cannot be written, so the concern is not shown.")
		return
	}
	rec, err := d.cfg.Safeguarding.Get(r.Context(), id)
	if err != nil {
		d.renderStatus(w, r, sess, errorCode(err), "Concern "+itoa(int(id))+": "+err.Error())
		return
	}
	v := concernView{Record: rec, Notice: rec.Notice, CanHandle: sess.Role == store.Safeguarding, Self: sess.User, CSRF: sess.CSRF,
		Statuses: []safeguarding.Status{safeguarding.StatusNew, safeguarding.StatusAcknowledged, safeguarding.StatusInProgress, safeguarding.StatusClosed},
		Message:  msg, Error: errText}
	if v.Notice == "" {
		v.Notice = safeguarding.IndicatorNotice
	}
	d.render(w, r, sess, code, "concern", v)
}

// concernAction is every state change of a concern: the form's action is
// the last path element.
func (d *Dashboard) concernAction(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(r)
	if !ok {
		d.renderStatus(w, r, sessionFrom(r.Context()), http.StatusNotFound, "There is no such concern.")
		return
	}
	a, err := d.actor(r)
	if err != nil {
		d.renderStatus(w, r, sessionFrom(r.Context()), http.StatusInternalServerError, err.Error())
		return
	}
	e, ctx := d.cfg.Safeguarding, r.Context()
	text := strings.TrimSpace(r.PostFormValue("text"))
	action := r.PathValue("action")
	switch action {
	case "ack":
		err = e.Acknowledge(ctx, a, id)
	case "incident":
		owner := strings.TrimSpace(r.PostFormValue("owner"))
		if owner == "" {
			owner = a.Name
		}
		err = e.OpenIncident(ctx, a, id, owner)
	case "owner":
		err = e.SetOwner(ctx, a, id, strings.TrimSpace(r.PostFormValue("owner")))
	case "status":
		var s safeguarding.Status
		if s, err = safeguarding.ParseStatus(r.PostFormValue("status")); err == nil {
			err = e.SetStatus(ctx, a, id, s)
		}
	case "note":
		err = e.AddNote(ctx, a, id, text)
	case "action":
		err = e.RecordAction(ctx, a, id, text)
	case "close":
		// The form asks for the action taken and the outcome together, as
		// the record must have both; an action already recorded stays.
		if act := strings.TrimSpace(r.PostFormValue("action_taken")); act != "" {
			err = e.RecordAction(ctx, a, id, act)
		}
		if err == nil {
			err = e.CloseIncident(ctx, a, id, text)
		}
	default:
		d.renderStatus(w, r, sessionFrom(r.Context()), http.StatusNotFound, "There is no such page.")
		return
	}
	if err != nil {
		d.renderConcern(w, r, errorCode(err), "", "Not done: "+err.Error())
		return
	}
	d.log.Info("safeguarding concern changed from the dashboard", "by", a.Name, "concern", id, "action", action)
	if r.PostFormValue("from") == "queue" {
		http.Redirect(w, r, "/concerns?msg="+action+"#concern-"+itoa(int(id)), http.StatusSeeOther)
		return
	}
	http.Redirect(w, r, "/concerns/"+itoa(int(id))+"?msg="+action, http.StatusSeeOther)
}

// exportConcern writes the record for the school's safeguarding record
// system: printable HTML (print to PDF from the browser) or JSON.
func (d *Dashboard) exportConcern(w http.ResponseWriter, r *http.Request) {
	sess := sessionFrom(r.Context())
	id, ok := pathID(r)
	if !ok {
		d.renderStatus(w, r, sess, http.StatusNotFound, "There is no such concern.")
		return
	}
	asJSON := strings.HasSuffix(r.URL.Path, ".json")
	format := "html"
	if asJSON {
		format = "json"
	}
	if err := d.recordAccess(r, "export", "concern="+itoa(int(id))+" format="+format); err != nil {
		d.renderStatus(w, r, sess, http.StatusInternalServerError, "The access log cannot be written, so the export is not given.")
		return
	}
	var buf bytes.Buffer
	var err error
	if asJSON {
		err = d.cfg.Safeguarding.ExportJSON(r.Context(), id, &buf)
	} else {
		err = d.cfg.Safeguarding.ExportHTML(r.Context(), id, &buf)
	}
	if err != nil {
		d.renderStatus(w, r, sess, errorCode(err), "Concern "+itoa(int(id))+": "+err.Error())
		return
	}
	securityHeaders(w)
	name := "concern-" + itoa(int(id)) + "." + format
	if asJSON {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Disposition", `attachment; filename="`+name+`"`)
	} else {
		// The export carries its own inline stylesheet for printing.
		w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'")
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
	}
	w.Write(buf.Bytes())
}

type deliveriesView struct {
	Health     safeguarding.DeliveryHealth
	Deliveries []safeguarding.Delivery
	Concerns   bool // may open concerns (and see subjects, which name devices)
	All        bool
	CSRF       string
	Message    string
	Error      string
}

func (d *Dashboard) deliveriesPage(w http.ResponseWriter, r *http.Request) {
	d.renderDeliveries(w, r, http.StatusOK, sgFlash(r.URL.Query().Get("msg")), "")
}

func (d *Dashboard) renderDeliveries(w http.ResponseWriter, r *http.Request, code int, msg, errText string) {
	sess := sessionFrom(r.Context())
	v := deliveriesView{Concerns: can(sess.Role, permConcerns), All: r.URL.Query().Get("all") == "1", CSRF: sess.CSRF, Message: msg, Error: errText}
	var err error
	if v.Health, err = d.cfg.Safeguarding.Health(r.Context()); err != nil {
		v.Error = err.Error()
	}
	if v.All {
		v.Deliveries, err = d.cfg.Safeguarding.Deliveries(r.Context(), safeguarding.DeliveryFilter{Limit: 200})
	} else {
		var failing, dead []safeguarding.Delivery
		failing, err = d.cfg.Safeguarding.Deliveries(r.Context(), safeguarding.DeliveryFilter{State: "failing", Limit: 200})
		if err == nil {
			dead, err = d.cfg.Safeguarding.Deliveries(r.Context(), safeguarding.DeliveryFilter{State: "dead", Limit: 200})
		}
		v.Deliveries = append(failing, dead...)
	}
	if err != nil {
		v.Error = err.Error()
	}
	d.render(w, r, sess, code, "deliveries", v)
}

func (d *Dashboard) retryDelivery(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(r)
	if !ok {
		d.renderStatus(w, r, sessionFrom(r.Context()), http.StatusNotFound, "There is no such message.")
		return
	}
	a, err := d.actor(r)
	if err == nil {
		err = d.cfg.Safeguarding.Retry(r.Context(), a, id)
	}
	if err != nil {
		d.renderDeliveries(w, r, errorCode(err), "", "Not retried: "+err.Error())
		return
	}
	http.Redirect(w, r, "/safeguarding/deliveries?msg=retry", http.StatusSeeOther)
}

// safeguardingProblems are the delivery failures the status page lists
// with the other problems.
func (d *Dashboard) safeguardingProblems(ctx context.Context) []problem {
	if d.cfg.Safeguarding == nil {
		return nil
	}
	h, err := d.cfg.Safeguarding.Health(ctx)
	if err != nil {
		return []problem{{Severe: true, Text: "The safeguarding outbox cannot be read: " + err.Error() + "."}}
	}
	var out []problem
	last := ""
	if h.LastError != "" {
		last = " (last error: " + h.LastError + ")"
	}
	if h.Dead > 0 {
		out = append(out, problem{Severe: true, Text: "Safeguarding alerts not delivered: " + itoa(h.Dead) +
			" message(s) gave up after retrying for days" + last + ". Nobody was told by them.", Link: "/safeguarding/deliveries"})
	}
	if h.Failing > 0 {
		out = append(out, problem{Severe: true, Text: "Safeguarding alerts failing: " + itoa(h.Failing) +
			" message(s) could not be sent and are being retried" + last + ". Check the mail server and webhooks.", Link: "/safeguarding/deliveries"})
	}
	return out
}

// settingsAccess says what the account may do with the settings.
type settingsAccess struct {
	See, Propose, Approve bool
}

func (d *Dashboard) settingsAccess(r *http.Request) (safeguarding.Actor, settingsAccess, error) {
	a, err := d.actor(r)
	if err != nil {
		return a, settingsAccess{}, err
	}
	sess := sessionFrom(r.Context())
	acc := settingsAccess{Propose: safeguarding.CanPropose(a), Approve: safeguarding.CanApprove(a)}
	acc.See = can(sess.Role, permSGSettings) || acc.Approve
	return a, acc, nil
}

type sgSettingsView struct {
	Access     settingsAccess
	Self       string
	CSRF       string
	Settings   safeguarding.Settings
	Version    int64
	Timescales []timescaleView
	Rules      []ruleView
	Pending    []safeguarding.Proposal
	Decided    []safeguarding.Proposal
	History    []safeguarding.SettingsVersion
	Audit      []audit.Record
	AuditAll   bool
	Verified   int
	Head       string
	VerifyErr  string
	Message    string
	Error      string
}

// ruleView is an alert rule as people read it.
type ruleView struct {
	Priority, Category string
	Threshold          int
	Window             string
}

// auditShown bounds the audit records the page shows (the newest).
const auditShown = 200

func (d *Dashboard) sgSettingsPage(w http.ResponseWriter, r *http.Request) {
	d.renderSGSettings(w, r, http.StatusOK, sgFlash(r.URL.Query().Get("msg")), "")
}

func (d *Dashboard) renderSGSettings(w http.ResponseWriter, r *http.Request, code int, msg, errText string) {
	sess := sessionFrom(r.Context())
	_, acc, err := d.settingsAccess(r)
	if err != nil {
		d.renderStatus(w, r, sess, http.StatusInternalServerError, err.Error())
		return
	}
	if !acc.See {
		d.renderStatus(w, r, sess, http.StatusForbidden, "Your account ("+string(sess.Role)+") may not open this page.")
		return
	}
	e, ctx := d.cfg.Safeguarding, r.Context()
	v := sgSettingsView{Access: acc, Self: sess.User, CSRF: sess.CSRF, Message: msg, Error: errText}
	v.Settings, v.Version = e.Settings()
	v.Timescales = timescales(v.Settings)
	for _, r := range v.Settings.Rules {
		v.Rules = append(v.Rules, ruleView{Priority: r.Priority.String(), Category: r.Category, Threshold: r.Threshold, Window: durationText(time.Duration(r.Window))})
	}
	var errs []string
	ps, err := e.Proposals(ctx, "")
	if err != nil {
		errs = append(errs, err.Error())
	}
	for _, p := range ps {
		if p.State == "pending" {
			v.Pending = append(v.Pending, p)
		} else {
			v.Decided = append(v.Decided, p)
		}
	}
	if v.History, err = e.History(ctx); err != nil {
		errs = append(errs, err.Error())
	}
	// The chain is verified in full every time the page is shown: it is
	// small (changes are rare) and a governor should see the result now,
	// not from a cache.
	v.Verified, v.Head, err = e.VerifyAudit(ctx)
	if err != nil {
		v.VerifyErr = err.Error()
	}
	all, err := e.AuditLog(ctx, 0, 1<<30)
	if err != nil {
		errs = append(errs, err.Error())
	}
	v.AuditAll = r.URL.Query().Get("audit") == "all"
	if !v.AuditAll && len(all) > auditShown {
		all = all[len(all)-auditShown:]
	}
	slices.Reverse(all) // newest first
	v.Audit = all
	if len(errs) > 0 && v.Error == "" {
		v.Error = strings.Join(errs, "; ")
	}
	d.render(w, r, sess, code, "sg-settings", v)
}

type priorityRow struct {
	Category, Title string
	Priority        string
	Locked          bool
}

type proposeView struct {
	Version    int64
	Priorities []priorityRow
	Levels     []string
	JSON       string
	Reason     string
	CSRF       string
	Error      string
}

func (d *Dashboard) proposeForm(s safeguarding.Settings, version int64, csrf string) proposeView {
	v := proposeView{Version: version, CSRF: csrf, Levels: []string{"critical", "high", "medium", "low", "none"}}
	cur := map[string]string{}
	for _, cp := range s.Priorities {
		cur[cp.Category] = cp.Priority.String()
	}
	for _, c := range safeguarding.Signals() {
		p, ok := cur[c]
		if !ok {
			p = "none"
		}
		v.Priorities = append(v.Priorities, priorityRow{Category: c, Title: safeguarding.Title(c), Priority: p, Locked: safeguarding.Locked(c)})
	}
	js, _ := s.Canonical()
	var pretty bytes.Buffer
	if err := json.Indent(&pretty, js, "", "  "); err == nil {
		v.JSON = pretty.String()
	} else {
		v.JSON = string(js)
	}
	return v
}

func (d *Dashboard) proposePage(w http.ResponseWriter, r *http.Request) {
	sess := sessionFrom(r.Context())
	_, acc, err := d.settingsAccess(r)
	if err != nil {
		d.renderStatus(w, r, sess, http.StatusInternalServerError, err.Error())
		return
	}
	if !acc.Propose {
		d.renderStatus(w, r, sess, http.StatusForbidden, "Only admins and the safeguarding team propose safeguarding changes.")
		return
	}
	s, ver := d.cfg.Safeguarding.Settings()
	d.render(w, r, sess, http.StatusOK, "sg-propose", d.proposeForm(s, ver, sess.CSRF))
}

// propose takes either form of the propose page: the priorities table
// (kind=priorities) or the full settings as JSON (kind=json, for rules,
// recipients, routing, timescales).
func (d *Dashboard) propose(w http.ResponseWriter, r *http.Request) {
	sess := sessionFrom(r.Context())
	a, acc, err := d.settingsAccess(r)
	if err != nil {
		d.renderStatus(w, r, sess, http.StatusInternalServerError, err.Error())
		return
	}
	if !acc.Propose {
		d.renderStatus(w, r, sess, http.StatusForbidden, "Only admins and the safeguarding team propose safeguarding changes.")
		return
	}
	e := d.cfg.Safeguarding
	cur, ver := e.Settings()
	reason := strings.TrimSpace(r.PostFormValue("reason"))
	fail := func(code int, s safeguarding.Settings, msg string) {
		v := d.proposeForm(s, ver, sess.CSRF)
		v.Reason, v.Error = reason, msg
		if r.PostFormValue("kind") == "json" {
			v.JSON = r.PostFormValue("settings")
		}
		d.render(w, r, sess, code, "sg-propose", v)
	}
	// A form made against settings that have changed since would silently
	// undo the other change: refuse and show the new settings.
	if r.PostFormValue("version") != strconv.FormatInt(ver, 10) {
		fail(http.StatusConflict, cur, "The settings changed while you were editing (now version "+strconv.FormatInt(ver, 10)+"). Make your change again on the settings below.")
		return
	}
	next := cur
	switch r.PostFormValue("kind") {
	case "priorities":
		next.Priorities = nil
		for _, c := range safeguarding.Signals() {
			val := r.PostFormValue("p." + c)
			if val == "" {
				continue
			}
			p, err := safeguarding.ParsePriority(val)
			if err != nil {
				fail(http.StatusBadRequest, cur, c+": "+err.Error())
				return
			}
			next.Priorities = append(next.Priorities, safeguarding.CategoryPriority{Category: c, Priority: p})
		}
	case "json":
		raw := r.PostFormValue("settings")
		if len(raw) > 1<<20 {
			fail(http.StatusRequestEntityTooLarge, cur, "The settings are too large.")
			return
		}
		if next, err = safeguarding.ParseSettings([]byte(raw)); err != nil {
			fail(http.StatusBadRequest, cur, "The settings are not valid: "+err.Error())
			return
		}
	default:
		fail(http.StatusBadRequest, cur, "Unknown kind of change.")
		return
	}
	p, err := e.Propose(r.Context(), a, next, reason)
	if err != nil {
		msg := "The change was not proposed: " + err.Error()
		if errors.Is(err, safeguarding.ErrLocked) {
			msg = "Refused: IWF and CTIRU are locked. They are always critical and raise a concern on a single lookup; no proposal can lower them. The attempt has been written to the audit log. (" + err.Error() + ")"
		}
		fail(errorCode(err), next, msg)
		return
	}
	d.log.Info("safeguarding change proposed from the dashboard", "by", a.Name, "proposal", p.ID)
	http.Redirect(w, r, "/safeguarding/settings?msg=proposed#proposal-"+strconv.FormatInt(p.ID, 10), http.StatusSeeOther)
}

// decide approves or rejects a proposal; the engine makes the proposer's
// own reject a withdrawal.
func (d *Dashboard) decide(w http.ResponseWriter, r *http.Request) {
	sess := sessionFrom(r.Context())
	a, acc, err := d.settingsAccess(r)
	if err != nil {
		d.renderStatus(w, r, sess, http.StatusInternalServerError, err.Error())
		return
	}
	id, ok := pathID(r)
	if !ok || !acc.See {
		d.renderStatus(w, r, sess, http.StatusNotFound, "There is no such proposal.")
		return
	}
	note := strings.TrimSpace(r.PostFormValue("note"))
	msg := r.PathValue("decision")
	switch msg {
	case "approve":
		err = d.cfg.Safeguarding.Approve(r.Context(), a, id, note)
	case "reject":
		err = d.cfg.Safeguarding.Reject(r.Context(), a, id, note)
	default:
		d.renderStatus(w, r, sess, http.StatusNotFound, "There is no such page.")
		return
	}
	if err != nil {
		d.renderSGSettings(w, r, errorCode(err), "", "Proposal "+strconv.FormatInt(id, 10)+": "+err.Error())
		return
	}
	d.log.Info("safeguarding proposal decided from the dashboard", "by", a.Name, "proposal", id, "decision", msg)
	http.Redirect(w, r, "/safeguarding/settings?msg="+msg, http.StatusSeeOther)
}

// setApprover gives or takes away an account's approver capability
// (admins only). An admin may give it to themselves: approval still needs
// a second account, because nobody approves their own proposal.
func (d *Dashboard) setApprover(w http.ResponseWriter, r *http.Request) {
	sess := sessionFrom(r.Context())
	name := r.PathValue("name")
	on := r.PostFormValue("on") == "1"
	if err := d.cfg.Store.SetApprover(r.Context(), name, on); err != nil {
		d.renderAccounts(w, r, http.StatusBadRequest, "Approver not changed: "+err.Error())
		return
	}
	change := "approver capability taken away"
	if on {
		change = "approver capability given"
	}
	if !d.accountChanged(w, r, sess.User, name, change) {
		return
	}
	http.Redirect(w, r, "/accounts?msg=approver", http.StatusSeeOther)
}

// weekPage is the weekly report the DSL gets by email, on screen: the
// seven days before now, as text (it prints as it is mailed).
func (d *Dashboard) weekPage(w http.ResponseWriter, r *http.Request) {
	sess := sessionFrom(r.Context())
	if err := d.recordAccess(r, "report", "safeguarding weekly"); err != nil {
		d.renderStatus(w, r, sess, http.StatusInternalServerError, "The access log cannot be written, so the report is not shown.")
		return
	}
	ws, err := d.cfg.Safeguarding.BuildWeeklySummary(r.Context(), d.now())
	if err != nil {
		d.renderStatus(w, r, sess, http.StatusInternalServerError, err.Error())
		return
	}
	d.render(w, r, sess, http.StatusOK, "concerns-week", weekView{Text: visibleLines(ws.Text(d.cfg.Location))})
}

type weekView struct{ Text string }

// visibleLines is visible for text with line breaks: only the other controls
// are marked.
func visibleLines(s string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = visible(strings.TrimSuffix(l, "\r"))
	}
	return strings.Join(lines, "\n")
}
