package dashboard

import (
	"context"
	"encoding/json"
	"html"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"gatehouse/dashboard/store"
	"gatehouse/querylog"
	"gatehouse/safeguarding"
	"gatehouse/safeguarding/deliver"
)

// sgEnv is a dashboard with a real safeguarding engine whose only
// recipient's webhook always fails, and two more accounts: an approver
// with the safeguarding role and one with the viewer role (a governor).
type sgEnv struct {
	*env
	sg   *safeguarding.Engine
	skew atomic.Int64 // added to the engine's clock
}

func newSGEnv(t *testing.T) *sgEnv {
	t.Helper()
	e := newEnv(t)
	se := &sgEnv{env: e}
	broken := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "teams is down", http.StatusBadGateway)
	}))
	t.Cleanup(broken.Close)
	sg, err := safeguarding.Open(context.Background(), safeguarding.Config{
		Path: filepath.Join(t.TempDir(), "safeguarding.db"),
		Initial: safeguarding.Settings{Recipients: []safeguarding.Recipient{
			{Name: "dsl", Role: safeguarding.TeamSafeguarding, Webhooks: []string{"dsl-teams"}}}},
		Infra:      safeguarding.Infrastructure{Webhooks: []*deliver.Webhook{{Name: "dsl-teams", URL: broken.URL, Format: deliver.FormatTeams}}},
		Location:   time.UTC,
		Site:       "Test School",
		Tick:       50 * time.Millisecond,
		MinBackoff: 20 * time.Millisecond,
		MaxBackoff: 50 * time.Millisecond,
		Now:        func() time.Time { return time.Now().Add(time.Duration(se.skew.Load())) },
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); sg.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done; sg.Close() })

	e.d, err = New(Config{Store: e.store, Site: e.site, QueryLog: e.qlog, Control: e.control, Metrics: e.reg, Location: time.UTC, Safeguarding: sg})
	if err != nil {
		t.Fatal(err)
	}
	e.srv = httptest.NewServer(e.d.Handler())
	t.Cleanup(e.srv.Close)
	for _, a := range []struct {
		name string
		role store.Role
	}{{"head", store.Safeguarding}, {"governor", store.Viewer}} {
		if err := e.store.AddUser(context.Background(), a.name, a.role, testPassword, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.store.SetApprover(context.Background(), "head", true); err != nil {
		t.Fatal(err)
	}
	se.sg = sg
	return se
}

// loginAs logs in an account by name.
func (e *sgEnv) loginAs(name string) *http.Client {
	e.t.Helper()
	c := e.client()
	resp, err := c.PostForm(e.srv.URL+"/login", url.Values{"name": {name}, "password": {testPassword}})
	if err != nil {
		e.t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		e.t.Fatalf("login as %s: %s", name, resp.Status)
	}
	return c
}

// raise feeds a blocked lookup to the engine and waits for its concern.
func (e *sgEnv) raise(name, category, host string) safeguarding.Concern {
	e.t.Helper()
	before, _ := e.sg.Queue(context.Background(), safeguarding.QueueFilter{})
	e.sg.Observe(querylog.Entry{ID: uint64(len(before) + 1), Time: time.Now(), Client: netip.MustParseAddr("10.20.3.4"), MAC: "aa:bb:cc:00:00:04",
		Hostname: host, Group: "pupils", ClientRule: "subnet 10.20.0.0/16", QName: name, QType: 1,
		Decision: querylog.Blocked, Category: category, List: "test-" + category, Matched: name})
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		cs, err := e.sg.Queue(context.Background(), safeguarding.QueueFilter{})
		if err != nil {
			e.t.Fatal(err)
		}
		if len(cs) > len(before) {
			for _, c := range cs {
				if c.Name == name {
					return c
				}
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	e.t.Fatalf("no concern raised for %s", name)
	return safeguarding.Concern{}
}

func TestSafeguarding_rolesEnforced(t *testing.T) {
	e := newSGEnv(t)
	c := e.raise("self-harm.example.", "self-harm", "Y9-IPAD-12")
	concern := "/concerns/" + itoa(int(c.ID))
	for _, tc := range []struct {
		account string
		path    string
		want    int
	}{
		{"safeguarding", "/concerns", 200},
		{"safeguarding", concern, 200},
		{"safeguarding", concern + "/export.json", 200},
		{"safeguarding", "/concerns/week", 200},
		{"technician", "/concerns/week", 403},
		{"viewer", "/concerns/week", 403},
		{"admin", "/concerns", 200},
		{"admin", concern, 200},
		{"technician", "/concerns", 403},
		{"technician", concern, 403},
		{"technician", concern + "/export.html", 403},
		{"viewer", "/concerns", 403},
		{"viewer", concern + "/export.json", 403},
		{"technician", "/safeguarding/deliveries", 200},
		{"viewer", "/safeguarding/deliveries", 403},
		{"viewer", "/safeguarding/settings", 200},
		{"admin", "/safeguarding/settings", 200},
		{"technician", "/safeguarding/settings", 403},
		{"viewer", "/safeguarding/propose", 403},
		{"technician", "/safeguarding/propose", 403},
		{"admin", "/safeguarding/propose", 200},
		{"safeguarding", "/safeguarding/propose", 200},
	} {
		cl := e.loginAs(tc.account)
		if code, _ := e.get(cl, tc.path); code != tc.want {
			t.Errorf("%s GET %s: %d, want %d", tc.account, tc.path, code, tc.want)
		}
	}

	// Only the safeguarding role acts on a concern: the admin's
	// acknowledgement is refused by the engine, the technician's by the
	// dashboard.
	for _, acct := range []string{"admin", "technician"} {
		cl := e.loginAs(acct)
		if code, _ := e.post(cl, concern+"/ack", url.Values{"csrf": {e.csrf(cl)}}); code != http.StatusForbidden {
			t.Errorf("%s acknowledged: %d", acct, code)
		}
	}
	// No state change without the session's form token.
	dsl := e.loginAs("safeguarding")
	if code, _ := e.post(dsl, concern+"/ack", url.Values{"csrf": {"wrong"}}); code != http.StatusForbidden {
		t.Errorf("acknowledged without the form token: %d", code)
	}
	got, _ := e.sg.Get(context.Background(), c.ID)
	if got.Concern.Status != safeguarding.StatusNew {
		t.Fatalf("status after refused changes: %s", got.Concern.Status)
	}
	// Looking at a concern is recorded in the access log.
	recs, _ := e.store.AccessLog(context.Background(), 0, 100)
	seen := false
	for _, r := range recs {
		seen = seen || (r.User == "safeguarding" && r.Action == "concern" && r.Detail == "concern="+itoa(int(c.ID)))
	}
	if !seen {
		t.Error("opening a concern is not in the access log")
	}
}

func TestSafeguarding_incidentLifeRecordsTheAccount(t *testing.T) {
	e := newSGEnv(t)
	c := e.raise("self-harm.example.", "self-harm", "Y9-IPAD-12")
	concern := "/concerns/" + itoa(int(c.ID))
	dsl := e.loginAs("safeguarding")
	tok := e.csrf(dsl)
	_, queue := e.get(dsl, "/concerns")
	if !strings.Contains(queue, `href="`+concern+`"`) || !strings.Contains(queue, "indicator, not proof") {
		t.Fatalf("queue lacks the concern or the notice:\n%s", queue)
	}
	for _, step := range []struct {
		action string
		form   url.Values
	}{
		{"ack", nil},
		{"incident", url.Values{"owner": {"A. Jones"}}},
		{"note", url.Values{"text": {"Spoke to form tutor"}}},
		{"action", url.Values{"text": {"Met pupil and parent"}}},
		{"close", url.Values{"text": {"Support plan agreed"}}},
	} {
		f := url.Values{"csrf": {tok}}
		for k, v := range step.form {
			f[k] = v
		}
		if code, body := e.post(dsl, concern+"/"+step.action, f); code != http.StatusSeeOther {
			t.Fatalf("%s: %d\n%s", step.action, code, body)
		}
	}
	rec, err := e.sg.Get(context.Background(), c.ID)
	if err != nil {
		t.Fatal(err)
	}
	k := rec.Concern
	if k.Status != safeguarding.StatusClosed || !k.Incident || k.Owner != "A. Jones" || k.ActionTaken != "Met pupil and parent" || k.Outcome != "Support plan agreed" || k.AcknowledgedBy != "safeguarding" {
		t.Errorf("after the incident's life: %+v", k)
	}
	actors := map[string]bool{}
	for _, ev := range rec.Events {
		actors[ev.Actor] = true
	}
	if !actors["safeguarding"] {
		t.Errorf("events not recorded with the account name: %+v", rec.Events)
	}
	// The weekly report on screen lists it with its outcome.
	if code, week := e.get(dsl, "/concerns/week"); code != 200 || !strings.Contains(week, "self-harm") || !strings.Contains(week, "Support plan agreed") {
		t.Errorf("weekly report %d:\n%s", code, week)
	}
	// Exports: JSON for the record system, HTML to print.
	code, js := e.get(dsl, concern+"/export.json")
	var exp map[string]any
	if code != 200 || json.Unmarshal([]byte(js), &exp) != nil || !strings.Contains(js, "Support plan agreed") {
		t.Errorf("JSON export %d: %s", code, js)
	}
	if code, page := e.get(dsl, concern+"/export.html"); code != 200 || !strings.Contains(page, "Support plan agreed") {
		t.Errorf("HTML export %d", code)
	}
	// Closing again is a conflict, shown on the page.
	if code, body := e.post(dsl, concern+"/close", url.Values{"csrf": {tok}, "text": {"again"}}); code != http.StatusConflict && code != http.StatusBadRequest {
		t.Errorf("closing twice: %d\n%s", code, body)
	}
}

func TestSafeguarding_hostileEvidenceRendersAsText(t *testing.T) {
	e := newSGEnv(t)
	hostile := `<script>alert(1)</script>"><img src=x onerror=alert(2)>.evil.example.`
	host := "\u202eMOOR-SSALC<b>"
	c := e.raise(hostile, "self-harm", host)
	dsl := e.loginAs("safeguarding")
	for _, path := range []string{"/concerns", "/concerns/" + itoa(int(c.ID)), "/concerns/" + itoa(int(c.ID)) + "/export.html"} {
		_, body := e.get(dsl, path)
		if strings.Contains(body, "<script>alert") || strings.Contains(body, "<img src=x") || strings.Contains(body, "MOOR-SSALC<b>") {
			t.Errorf("%s: hostile text reached the page as markup", path)
		}
		// The dashboard's own pages show bidi controls as markers (the
		// export is the engine's, which escapes but keeps them).
		if !strings.Contains(path, "export") && strings.Contains(body, "\u202e") {
			t.Errorf("%s: a bidi override reached the page", path)
		}
	}
	_, body := e.get(dsl, "/concerns/"+itoa(int(c.ID)))
	if !strings.Contains(html.UnescapeString(body), `<script>alert(1)</script>"><img src=x onerror=alert(2)>.evil.example.`) {
		t.Error("the hostile name is not shown as text")
	}
	if !strings.Contains(html.UnescapeString(body), "[U+202E]MOOR-SSALC<b>") {
		t.Error("the bidi override in the host name is not shown as a marker")
	}
}

// proposePriority proposes self-harm at the given priority as account.
func (e *sgEnv) proposePriority(cl *http.Client, category, priority string) (int, string) {
	e.t.Helper()
	_, ver := e.sg.Settings()
	f := url.Values{"csrf": {e.csrf(cl)}, "kind": {"priorities"}, "version": {itoa(int(ver))}, "reason": {"Review of categories"}}
	s, _ := e.sg.Settings()
	for _, cp := range s.Priorities {
		f.Set("p."+cp.Category, cp.Priority.String())
	}
	f.Set("p."+category, priority)
	return e.post(cl, "/safeguarding/proposals", f)
}

func TestSafeguarding_twoPersonApproval(t *testing.T) {
	e := newSGEnv(t)
	ctx := context.Background()
	// The head is an approver but proposes: they cannot approve it.
	head := e.loginAs("head")
	if code, body := e.proposePriority(head, "gambling", "medium"); code != http.StatusSeeOther {
		t.Fatalf("propose: %d\n%s", code, body)
	}
	ps, _ := e.sg.Proposals(ctx, "pending")
	if len(ps) != 1 || ps[0].Proposer != "head" {
		t.Fatalf("pending proposals: %+v", ps)
	}
	id := itoa(int(ps[0].ID))
	_, page := e.get(head, "/safeguarding/settings")
	if strings.Contains(page, `/proposals/`+id+`/approve"`) {
		t.Error("the proposer is offered an approve button")
	}
	if code, _ := e.post(head, "/safeguarding/proposals/"+id+"/approve", url.Values{"csrf": {e.csrf(head)}}); code != http.StatusForbidden {
		t.Errorf("proposer approved own change: %d", code)
	}
	// An account without the approver capability cannot approve.
	dsl := e.loginAs("safeguarding")
	if code, _ := e.post(dsl, "/safeguarding/proposals/"+id+"/approve", url.Values{"csrf": {e.csrf(dsl)}}); code != http.StatusForbidden {
		t.Errorf("non-approver approved: %d", code)
	}
	// A viewer (governor) given the capability by an admin approves.
	admin := e.loginAs("admin")
	if code, _ := e.post(admin, "/accounts/governor/approver", url.Values{"csrf": {e.csrf(admin)}, "on": {"1"}}); code != http.StatusSeeOther {
		t.Fatalf("giving approver: %d", code)
	}
	gov := e.loginAs("governor")
	_, page = e.get(gov, "/safeguarding/settings")
	if !strings.Contains(page, `/proposals/`+id+`/approve"`) {
		t.Error("the approver is not offered an approve button")
	}
	if code, body := e.post(gov, "/safeguarding/proposals/"+id+"/approve", url.Values{"csrf": {e.csrf(gov)}, "note": {"Agreed at governors"}}); code != http.StatusSeeOther {
		t.Fatalf("approve: %d\n%s", code, body)
	}
	s, _ := e.sg.Settings()
	for _, cp := range s.Priorities {
		if cp.Category == "gambling" && cp.Priority != safeguarding.Medium {
			t.Errorf("gambling is %s after approval", cp.Priority)
		}
	}
	// The history shows who did what, and the chain verifies.
	_, page = e.get(gov, "/safeguarding/settings")
	for _, want := range []string{"Audit log verified", "approved by <bdi>governor</bdi>", "proposal " + id} {
		if !strings.Contains(page, want) {
			t.Errorf("settings page lacks %q", want)
		}
	}
	// Taking the capability away takes effect at once.
	e.post(admin, "/accounts/governor/approver", url.Values{"csrf": {e.csrf(admin)}, "on": {"0"}})
	if code, _ := e.proposePriority(head, "gaming", "medium"); code != http.StatusSeeOther {
		t.Fatal("second proposal")
	}
	ps, _ = e.sg.Proposals(ctx, "pending")
	if code, _ := e.post(gov, "/safeguarding/proposals/"+itoa(int(ps[0].ID))+"/approve", url.Values{"csrf": {e.csrf(gov)}}); code != http.StatusForbidden {
		t.Errorf("approved after the capability was taken away: %d", code)
	}
	// Giving and taking the capability are in the chained audit log, so
	// an admin cannot quietly make a second approver.
	recs, _ := e.sg.AuditLog(ctx, 0, 0)
	var changes []string
	for _, r := range recs {
		if r.Kind == "account" {
			changes = append(changes, r.Actor+": "+r.Subject+" "+string(r.Payload))
		}
	}
	want := []string{
		`admin: account governor {"change":"approver capability given"}`,
		`admin: account governor {"change":"approver capability taken away"}`,
	}
	if strings.Join(changes, "\n") != strings.Join(want, "\n") {
		t.Errorf("account changes in the audit log\n got %q\nwant %q", changes, want)
	}
}

func TestSafeguarding_lockedCategoryRefused(t *testing.T) {
	e := newSGEnv(t)
	dsl := e.loginAs("safeguarding")
	code, body := e.proposePriority(dsl, "iwf", "low")
	if code != http.StatusBadRequest || !strings.Contains(body, "Refused: IWF and CTIRU are locked") {
		t.Errorf("lowering iwf: %d\n%s", code, body)
	}
	if ps, _ := e.sg.Proposals(context.Background(), ""); len(ps) != 0 {
		t.Errorf("a proposal was stored: %+v", ps)
	}
	// The refusal is in the audit log the governors see.
	_, page := e.get(e.loginAs("viewer"), "/safeguarding/settings")
	if !strings.Contains(page, "proposal refused: locked category") {
		t.Error("the refused attempt is not in the audit log on the settings page")
	}
	// A form made against older settings is refused, not applied over them.
	_, ver := e.sg.Settings()
	f := url.Values{"csrf": {e.csrf(dsl)}, "kind": {"priorities"}, "version": {itoa(int(ver) - 1)}, "reason": {"x"}, "p.gambling": {"high"}}
	if code, _ := e.post(dsl, "/safeguarding/proposals", f); code != http.StatusConflict {
		t.Errorf("stale form: %d", code)
	}
}

func TestSafeguarding_deliveryFailuresVisible(t *testing.T) {
	e := newSGEnv(t)
	e.raise("self-harm.example.", "self-harm", "Y9-IPAD-12")
	deadline := time.Now().Add(10 * time.Second)
	for {
		h, _ := e.sg.Health(context.Background())
		if h.Failing > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the webhook's failure never showed in the outbox")
		}
		time.Sleep(20 * time.Millisecond)
	}
	tech := e.loginAs("technician")
	_, status := e.get(tech, "/status")
	if !strings.Contains(status, "Safeguarding alerts failing") || !strings.Contains(status, `href="/safeguarding/deliveries"`) {
		t.Error("the status page does not list the delivery failure")
	}
	_, page := e.get(tech, "/safeguarding/deliveries")
	if !strings.Contains(page, "502") || !strings.Contains(page, "dsl-teams") {
		t.Errorf("deliveries page lacks the failure:\n%s", page)
	}
	if strings.Contains(page, "Y9-IPAD-12") {
		t.Error("technicians see the subject naming the device")
	}
	_, queue := e.get(e.loginAs("safeguarding"), "/concerns")
	if !strings.Contains(queue, "Alerts are not getting through") {
		t.Error("the queue does not warn of failing deliveries")
	}
	// Without the engine there are no safeguarding pages or links.
	plain := newEnv(t)
	cl := plain.login(store.Admin)
	if code, _ := plain.get(cl, "/concerns"); code != http.StatusNotFound {
		t.Errorf("/concerns without safeguarding: %d", code)
	}
	if _, body := plain.get(cl, "/status"); strings.Contains(body, `href="/concerns"`) {
		t.Error("nav links to concerns without safeguarding")
	}
}

func TestSafeguarding_overdueHighlighted(t *testing.T) {
	e := newSGEnv(t)
	c := e.raise("self-harm.example.", "self-harm", "Y9-IPAD-12")
	dsl := e.loginAs("safeguarding")
	row := func() string {
		_, q := e.get(dsl, "/concerns")
		i := strings.Index(q, `id="concern-`+itoa(int(c.ID))+`"`)
		if i < 0 {
			t.Fatalf("concern not in the queue:\n%s", q)
		}
		return q[strings.LastIndex(q[:i], "<tr"):i]
	}
	if strings.Contains(row(), "overdue") {
		t.Error("a fresh concern is overdue")
	}
	// Critical concerns must be acknowledged within 15 minutes.
	e.skew.Store(int64(20 * time.Minute))
	if !strings.Contains(row(), "bad overdue") {
		t.Errorf("an unacknowledged critical concern 20 minutes old is not highlighted: %s", row())
	}
	_, q := e.get(dsl, "/concerns")
	if !strings.Contains(q, "1 overdue") {
		t.Error("the queue does not count the overdue concern")
	}
}

// Every safeguarding page needs a login, and every change the session's
// form token.
func TestSafeguarding_loginAndFormTokenRequired(t *testing.T) {
	e := newSGEnv(t)
	c := e.raise("self-harm.example.", "self-harm", "Y9-IPAD-12")
	id := itoa(int(c.ID))
	anon := e.client()
	for _, p := range []string{"/concerns", "/concerns/" + id, "/concerns/" + id + "/export.html", "/concerns/" + id + "/export.json",
		"/safeguarding/deliveries", "/safeguarding/settings", "/safeguarding/propose"} {
		resp, err := anon.Get(e.srv.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/login?next=") {
			t.Errorf("GET %s without a session: %s", p, resp.Status)
		}
	}
	posts := []string{"/concerns/" + id + "/ack", "/concerns/" + id + "/incident", "/concerns/" + id + "/owner", "/concerns/" + id + "/status",
		"/concerns/" + id + "/note", "/concerns/" + id + "/action", "/concerns/" + id + "/close", "/safeguarding/deliveries/1/retry",
		"/safeguarding/proposals", "/safeguarding/proposals/1/approve", "/safeguarding/proposals/1/reject", "/accounts/head/approver"}
	for _, p := range posts {
		if code, _ := e.post(anon, p, url.Values{"csrf": {"x"}}); code != http.StatusUnauthorized {
			t.Errorf("POST %s without a session: %d", p, code)
		}
	}
	for _, acct := range []string{"safeguarding", "admin"} {
		cl := e.loginAs(acct)
		for _, p := range posts {
			if code, _ := e.post(cl, p, url.Values{"csrf": {"not the token"}, "on": {"0"}}); code != http.StatusForbidden {
				t.Errorf("%s POST %s with a wrong form token: %d", acct, p, code)
			}
		}
	}
	if on, _ := e.store.IsApprover(context.Background(), "head"); !on {
		t.Error("the approver capability changed without the form token")
	}
	// Only admins give the capability.
	dsl := e.loginAs("safeguarding")
	if code, _ := e.post(dsl, "/accounts/safeguarding/approver", url.Values{"csrf": {e.csrf(dsl)}, "on": {"1"}}); code != http.StatusForbidden {
		t.Errorf("the DSL gave themselves the approver capability: %d", code)
	}
}

func TestSafeguarding_acknowledgeFromTheQueue(t *testing.T) {
	e := newSGEnv(t)
	c := e.raise("self-harm.example.", "self-harm", "Y9-IPAD-12")
	dsl := e.loginAs("safeguarding")
	_, q := e.get(dsl, "/concerns")
	if !strings.Contains(q, `action="/concerns/`+itoa(int(c.ID))+`/ack"`) {
		t.Fatal("no acknowledge button in the queue")
	}
	code, _ := e.post(dsl, "/concerns/"+itoa(int(c.ID))+"/ack", url.Values{"csrf": {e.csrf(dsl)}, "from": {"queue"}})
	if code != http.StatusSeeOther {
		t.Fatalf("acknowledge: %d", code)
	}
	rec, _ := e.sg.Get(context.Background(), c.ID)
	if rec.Concern.Status != safeguarding.StatusAcknowledged || rec.Concern.AcknowledgedBy != "safeguarding" {
		t.Errorf("after acknowledging: %s by %q", rec.Concern.Status, rec.Concern.AcknowledgedBy)
	}
	// Admins read the queue but get no buttons (the engine would refuse).
	if _, q := e.get(e.loginAs("admin"), "/concerns"); strings.Contains(q, "/ack\"") {
		t.Error("an admin is offered an acknowledge button")
	}
}

// Rules and routing are proposed as the settings' JSON.
func TestSafeguarding_proposeRulesAsJSON(t *testing.T) {
	e := newSGEnv(t)
	dsl := e.loginAs("safeguarding")
	s, ver := e.sg.Settings()
	for i := range s.Rules {
		if s.Rules[i].Priority == safeguarding.High && s.Rules[i].Category == "" {
			s.Rules[i].Threshold = 2
		}
	}
	js, err := s.Canonical()
	if err != nil {
		t.Fatal(err)
	}
	form := url.Values{"csrf": {e.csrf(dsl)}, "kind": {"json"}, "version": {itoa(int(ver))}, "reason": {"Catch single pages sooner"}}
	form.Set("settings", `{"priorities": [`)
	if code, body := e.post(dsl, "/safeguarding/proposals", form); code != http.StatusBadRequest || !strings.Contains(body, "The settings are not valid") {
		t.Errorf("broken JSON: %d", code)
	}
	form.Set("settings", string(js))
	if code, body := e.post(dsl, "/safeguarding/proposals", form); code != http.StatusSeeOther {
		t.Fatalf("propose: %d\n%s", code, body)
	}
	ps, _ := e.sg.Proposals(context.Background(), "pending")
	if len(ps) != 1 || len(ps[0].Changes) != 1 || !strings.Contains(ps[0].Changes[0], "high") {
		t.Fatalf("pending: %+v", ps)
	}
	head := e.loginAs("head")
	if code, _ := e.post(head, "/safeguarding/proposals/"+itoa(int(ps[0].ID))+"/approve", url.Values{"csrf": {e.csrf(head)}}); code != http.StatusSeeOther {
		t.Fatalf("approve: %d", code)
	}
	_, page := e.get(head, "/safeguarding/settings")
	if !strings.Contains(page, "<td>high</td><td>all</td><td>2</td><td>10 min</td>") {
		t.Error("the approved rule is not in force on the settings page")
	}
}
