package dashboard

import (
	"net/http"
	"slices"
	"strings"
	"time"

	"gatehouse/config"
	"gatehouse/dashboard/store"
	"gatehouse/policy/override"
)

type policyView struct {
	Cfg       *config.Config
	Lists     []ListStatus
	Locked    []string            // locked categories in use
	Overrides []override.Override // in force
	Ended     []override.Override // recently cancelled or expired, newest first
	Control   bool                // the buttons work
	CanChange bool                // this account may use them
	Message   string
	Error     string
	CSRF      string
	Durations []durationChoice
	Now       time.Time
	// Categories are those the configuration uses, offered in the
	// override form.
	Categories []string
	// Prefill fills the override form, from a review request's link.
	Prefill struct{ Group, Category, Domain string }
}

type durationChoice struct {
	Value, Label string
}

// overrideDurations are the lengths the form offers: a lesson, a morning,
// the rest of the day, a week.
var overrideDurations = []durationChoice{
	{"30m", "30 minutes"}, {"1h", "1 hour"}, {"2h", "2 hours"}, {"4h", "4 hours"}, {"eod", "until the end of today"}, {"7d", "7 days"},
}

func (d *Dashboard) policyPage(w http.ResponseWriter, r *http.Request) {
	d.renderPolicy(w, r, http.StatusOK, r.URL.Query().Get("msg"), "")
}

func (d *Dashboard) renderPolicy(w http.ResponseWriter, r *http.Request, code int, msg, errText string) {
	sess := sessionFrom(r.Context())
	st := d.cfg.Site.Status()
	v := policyView{Cfg: d.cfg.Site.Config(), Lists: st.Lists, Control: d.cfg.Control != nil,
		CanChange: can(sess.Role, permOverride), Message: flashText(msg), Error: errText, CSRF: sess.CSRF,
		Durations: overrideDurations, Now: d.now()}
	for _, l := range st.Lists {
		if l.Locked && !slices.Contains(v.Locked, l.Category) {
			v.Locked = append(v.Locked, l.Category)
		}
		if !l.Locked && !l.Allow && l.Category != "" && !slices.Contains(v.Categories, l.Category) {
			v.Categories = append(v.Categories, l.Category)
		}
	}
	slices.Sort(v.Categories)
	// A review request's link, or a rejected form sent back for mending.
	val := r.URL.Query().Get
	if r.Method == http.MethodPost {
		val = r.PostFormValue
	}
	v.Prefill.Group, v.Prefill.Category, v.Prefill.Domain = val("group"), val("category"), val("domain")
	if d.cfg.Control != nil {
		os, err := d.cfg.Control.ListOverrides(r.Context())
		if err != nil {
			v.Error = strings.TrimSpace(v.Error + " Reading overrides: " + err.Error())
		}
		for _, o := range os {
			if o.Active(v.Now) {
				v.Overrides = append(v.Overrides, o)
			} else if v.Now.Sub(o.Ended()) < 7*24*time.Hour {
				v.Ended = append([]override.Override{o}, v.Ended...)
			}
		}
		if len(v.Ended) > 20 {
			v.Ended = v.Ended[:20]
		}
	}
	d.render(w, r, sess, code, "policy", v)
}

// flashText maps the fixed message keys a redirect carries to text, so a
// crafted link cannot put words on the page.
func flashText(key string) string {
	return map[string]string{
		"reloaded":  "Lists reloaded.",
		"created":   "Override created.",
		"cancelled": "Override cancelled.",
		"closed":    "Review request closed.",
		"added":     "Account added.",
		"removed":   "Account removed.",
		"role":      "Role changed; the account's sessions were ended.",
		"password":  "Password changed; the account's sessions were ended.",
		"approver":  "Approver capability changed.",
		"session":   "Session ended.",
	}[key]
}

func (d *Dashboard) reloadLists(w http.ResponseWriter, r *http.Request) {
	if d.cfg.Control == nil {
		d.renderPolicy(w, r, http.StatusNotImplemented, "", "Reloading lists from the dashboard is not available.")
		return
	}
	sess := sessionFrom(r.Context())
	if err := d.cfg.Control.ReloadLists(r.Context()); err != nil {
		d.renderPolicy(w, r, http.StatusInternalServerError, "", "Reloading lists failed: "+err.Error())
		return
	}
	d.log.Info("lists reloaded from the dashboard", "account", sess.User)
	http.Redirect(w, r, "/policy?msg=reloaded", http.StatusSeeOther)
}

// acceptList puts a downloaded list's held download in force (the status
// page's "Accept" button), recording the account in the log.
func (d *Dashboard) acceptList(w http.ResponseWriter, r *http.Request) {
	sess := sessionFrom(r.Context())
	acc, ok := d.cfg.Control.(ListAccepter)
	if !ok {
		d.renderStatus(w, r, sess, http.StatusNotImplemented, "Accepting lists from the dashboard is not available.")
		return
	}
	name := r.PathValue("name")
	// A smaller IWF or CTIRU list means less illegal content blocked: only
	// an admin may accept one.
	for _, l := range d.cfg.Site.Status().Lists {
		if l.Name == name && l.Locked && sess.Role != store.Admin {
			d.renderStatus(w, r, sess, http.StatusForbidden, "List "+name+" is in a locked category ("+l.Category+"): only an admin can accept a smaller download of it.")
			return
		}
	}
	if err := acc.AcceptList(r.Context(), name, sess.User); err != nil {
		d.renderStatus(w, r, sess, http.StatusBadRequest, "Accepting list "+name+" failed: "+err.Error())
		return
	}
	d.log.Info("held list download accepted from the dashboard", "list", name, "account", sess.User)
	http.Redirect(w, r, "/status", http.StatusSeeOther)
}

func (d *Dashboard) createOverride(w http.ResponseWriter, r *http.Request) {
	if d.cfg.Control == nil {
		d.renderPolicy(w, r, http.StatusNotImplemented, "", "Overrides are not available.")
		return
	}
	sess := sessionFrom(r.Context())
	req := override.Request{
		Group:    strings.TrimSpace(r.PostFormValue("group")),
		Action:   override.Action(r.PostFormValue("action")),
		Category: strings.TrimSpace(r.PostFormValue("category")),
		Domain:   strings.TrimSpace(r.PostFormValue("domain")),
		Reason:   strings.TrimSpace(r.PostFormValue("reason")),
		By:       sess.User,
	}
	now := d.now()
	switch dur := r.PostFormValue("duration"); dur {
	case "eod":
		t := now.In(d.cfg.Location)
		req.Until = time.Date(t.Year(), t.Month(), t.Day()+1, 0, 0, 0, 0, d.cfg.Location)
	default:
		pd, err := config.ParseDuration(dur)
		if err != nil || pd <= 0 || pd > override.MaxDuration {
			d.renderPolicy(w, r, http.StatusBadRequest, "", "Choose how long the override lasts.")
			return
		}
		req.Until = now.Add(pd)
	}
	switch {
	case req.Reason == "":
		d.renderPolicy(w, r, http.StatusBadRequest, "", "A reason is required: it is kept with the override.")
		return
	case len(req.Reason) > override.MaxReason:
		d.renderPolicy(w, r, http.StatusBadRequest, "", "The reason is too long (at most 500 characters).")
		return
	case req.Action != override.Allow && req.Action != override.Block:
		d.renderPolicy(w, r, http.StatusBadRequest, "", "Choose allow or block.")
		return
	case (req.Category == "") == (req.Domain == ""):
		d.renderPolicy(w, r, http.StatusBadRequest, "", "Give either a category or a domain.")
		return
	}
	o, err := d.cfg.Control.CreateOverride(r.Context(), req)
	if err != nil {
		d.renderPolicy(w, r, http.StatusBadRequest, "", "The override was not created: "+err.Error())
		return
	}
	d.log.Info("override created from the dashboard", "account", sess.User, "id", o.ID, "group", o.Group, "action", o.Action)
	http.Redirect(w, r, "/policy?msg=created", http.StatusSeeOther)
}

func (d *Dashboard) cancelOverride(w http.ResponseWriter, r *http.Request) {
	if d.cfg.Control == nil {
		d.renderPolicy(w, r, http.StatusNotImplemented, "", "Overrides are not available.")
		return
	}
	sess := sessionFrom(r.Context())
	id := r.PathValue("id")
	if err := d.cfg.Control.CancelOverride(r.Context(), id, sess.User); err != nil {
		d.renderPolicy(w, r, http.StatusBadRequest, "", "The override was not cancelled: "+err.Error())
		return
	}
	d.log.Info("override cancelled from the dashboard", "account", sess.User, "id", id)
	http.Redirect(w, r, "/policy?msg=cancelled", http.StatusSeeOther)
}
