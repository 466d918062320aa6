package dashboard

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"gatehouse/dashboard/store"
	"gatehouse/safeguarding"
)

type accountsView struct {
	Users   []store.User
	Roles   []store.Role
	Message string
	Error   string
	CSRF    string
	Self    string
	// Approvers hold the approver capability (safeguarding.go), shown
	// when safeguarding is on.
	ShowApprover bool
	Approvers    map[string]bool
	// Sessions are every account's live sessions, to end any of them.
	Sessions []store.Session
	Current  string // the ID of the admin's own session
}

func (d *Dashboard) accountsPage(w http.ResponseWriter, r *http.Request) {
	d.renderAccounts(w, r, http.StatusOK, "")
}

func (d *Dashboard) renderAccounts(w http.ResponseWriter, r *http.Request, code int, errText string) {
	sess := sessionFrom(r.Context())
	v := accountsView{Roles: store.Roles(), Message: flashText(r.URL.Query().Get("msg")), Error: errText, CSRF: sess.CSRF, Self: sess.User}
	var err error
	if v.Users, err = d.cfg.Store.Users(r.Context()); err != nil {
		v.Error = err.Error()
	}
	if v.Sessions, err = d.cfg.Store.Sessions(r.Context(), d.now()); err != nil {
		v.Error = err.Error()
	}
	v.Current = sess.ID
	if v.ShowApprover = d.cfg.Safeguarding != nil; v.ShowApprover {
		if v.Approvers, err = d.cfg.Store.Approvers(r.Context()); err != nil {
			v.Error = err.Error()
		}
	}
	d.render(w, r, sess, code, "accounts", v)
}

func (d *Dashboard) addAccount(w http.ResponseWriter, r *http.Request) {
	sess := sessionFrom(r.Context())
	name := strings.TrimSpace(r.PostFormValue("name"))
	role, err := store.ParseRole(r.PostFormValue("role"))
	if err == nil {
		err = d.cfg.Store.AddUser(r.Context(), name, role, r.PostFormValue("password"), d.now())
	}
	if err != nil {
		d.renderAccounts(w, r, http.StatusBadRequest, "The account was not added: "+err.Error())
		return
	}
	if !d.accountChanged(w, r, sess.User, name, "added (role "+string(role)+")") {
		return
	}
	http.Redirect(w, r, "/accounts?msg=added", http.StatusSeeOther)
}

func (d *Dashboard) setRole(w http.ResponseWriter, r *http.Request) {
	sess := sessionFrom(r.Context())
	name := r.PathValue("name")
	role, err := store.ParseRole(r.PostFormValue("role"))
	if err == nil && name == sess.User && role != store.Admin {
		err = errSelfDemote
	}
	if err == nil {
		err = d.cfg.Store.SetRole(r.Context(), name, role)
	}
	if err != nil {
		d.renderAccounts(w, r, http.StatusBadRequest, "The role was not changed: "+err.Error())
		return
	}
	if !d.accountChanged(w, r, sess.User, name, "role set to "+string(role)) {
		return
	}
	http.Redirect(w, r, "/accounts?msg=role", http.StatusSeeOther)
}

// accountChanged logs a change to an account and, with safeguarding on,
// appends it to the safeguarding audit log: two-person approval is only
// worth something if adding a second admin or approver leaves a trace in
// the same verifiable chain. It reports false (having answered) when the
// record could not be written.
func (d *Dashboard) accountChanged(w http.ResponseWriter, r *http.Request, by, account, change string) bool {
	d.log.Info("account changed from the dashboard", "by", by, "account", account, "change", change)
	if d.cfg.Safeguarding == nil {
		return true
	}
	err := d.cfg.Safeguarding.RecordAccountChange(r.Context(), safeguarding.AccountChange{By: by, Account: account, Change: change})
	if err != nil {
		d.log.Error("an account change is not in the safeguarding audit log", "by", by, "account", account, "change", change, "error", err)
		d.renderAccounts(w, r, http.StatusInternalServerError, "The change was made, but it could not be written to the safeguarding audit log: "+err.Error())
		return false
	}
	return true
}

// endSession ends another account's session (a lost phone, a shared
// computer left signed in): its next request goes to the login page.
func (d *Dashboard) endSession(w http.ResponseWriter, r *http.Request) {
	sess := sessionFrom(r.Context())
	id := r.PathValue("id")
	user, err := d.cfg.Store.EndSession(r.Context(), id)
	if err != nil {
		d.renderAccounts(w, r, http.StatusBadRequest, "The session was not ended: "+err.Error())
		return
	}
	if !d.accountChanged(w, r, sess.User, user, "session "+shortID(id)+" ended") {
		return
	}
	if id == sess.ID {
		http.Redirect(w, r, "/login", http.StatusSeeOther)
		return
	}
	http.Redirect(w, r, "/accounts?msg=session", http.StatusSeeOther)
}

// shortID is a session ID cut for the log and the page: enough to tell
// sessions apart, useless as a credential (it is a hash anyway).
func shortID(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

type dashError string

func (e dashError) Error() string { return string(e) }

const errSelfDemote = dashError("you cannot take admin away from your own account; ask another admin")

func (d *Dashboard) resetPassword(w http.ResponseWriter, r *http.Request) {
	sess := sessionFrom(r.Context())
	name := r.PathValue("name")
	if err := d.cfg.Store.SetPassword(r.Context(), name, r.PostFormValue("password")); err != nil {
		d.renderAccounts(w, r, http.StatusBadRequest, "The password was not changed: "+err.Error())
		return
	}
	if !d.accountChanged(w, r, sess.User, name, "password reset") {
		return
	}
	if name == sess.User {
		http.Redirect(w, r, "/login", http.StatusSeeOther)
		return
	}
	http.Redirect(w, r, "/accounts?msg=password", http.StatusSeeOther)
}

func (d *Dashboard) removeAccount(w http.ResponseWriter, r *http.Request) {
	sess := sessionFrom(r.Context())
	name := r.PathValue("name")
	err := error(nil)
	if name == sess.User {
		err = dashError("you cannot remove your own account")
	} else {
		err = d.cfg.Store.RemoveUser(r.Context(), name)
	}
	if err != nil {
		d.renderAccounts(w, r, http.StatusBadRequest, "The account was not removed: "+err.Error())
		return
	}
	if !d.accountChanged(w, r, sess.User, name, "removed") {
		return
	}
	http.Redirect(w, r, "/accounts?msg=removed", http.StatusSeeOther)
}

type ownAccountView struct {
	Error, Message, CSRF string
}

func (d *Dashboard) ownAccountPage(w http.ResponseWriter, r *http.Request) {
	sess := sessionFrom(r.Context())
	d.render(w, r, sess, http.StatusOK, "account", ownAccountView{CSRF: sess.CSRF})
}

func (d *Dashboard) changeOwnPassword(w http.ResponseWriter, r *http.Request) {
	sess := sessionFrom(r.Context())
	v := ownAccountView{CSRF: sess.CSRF}
	if _, err := d.authenticate(r.Context(), sess.User, r.PostFormValue("current"), d.now()); err != nil {
		v.Error = "The current password is wrong."
		d.render(w, r, sess, http.StatusBadRequest, "account", v)
		return
	}
	if r.PostFormValue("password") != r.PostFormValue("confirm") {
		v.Error = "The new passwords differ."
		d.render(w, r, sess, http.StatusBadRequest, "account", v)
		return
	}
	if err := d.cfg.Store.SetPassword(r.Context(), sess.User, r.PostFormValue("password")); err != nil {
		v.Error = err.Error()
		d.render(w, r, sess, http.StatusBadRequest, "account", v)
		return
	}
	http.Redirect(w, r, "/login?next="+url.QueryEscape("/account"), http.StatusSeeOther)
}

type accessLogView struct {
	Records []store.Access
	Older   string
}

func (d *Dashboard) accessLogPage(w http.ResponseWriter, r *http.Request) {
	sess := sessionFrom(r.Context())
	before, _ := strconv.ParseInt(r.URL.Query().Get("before"), 10, 64)
	recs, err := d.cfg.Store.AccessLog(r.Context(), before, 100)
	if err != nil {
		d.renderStatus(w, r, sess, http.StatusInternalServerError, err.Error())
		return
	}
	v := accessLogView{Records: recs}
	if len(recs) == 100 {
		v.Older = strconv.FormatInt(recs[len(recs)-1].ID, 10)
	}
	d.render(w, r, sess, http.StatusOK, "access-log", v)
}
