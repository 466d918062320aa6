package main

import (
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/miekg/dns"

	"gatehouse/dashboard/store"
)

// The safeguarding pages in headless Chromium, with the helpers of the
// dashboard's browser test (browser_test.go).

func sgText(t *testing.T, ctx context.Context, sel string) string {
	t.Helper()
	return eval[string](t, ctx, fmt.Sprintf(`(document.querySelector(%q) || {innerText: ""}).innerText`, sel))
}

// sgLogin logs in and waits for the account's home page.
func sgLogin(t *testing.T, ctx context.Context, base, name, home string) {
	t.Helper()
	step(t, ctx, "open the login form as "+name,
		chromedp.Navigate(base+"/login"),
		chromedp.WaitVisible(`input[name=name]`),
		chromedp.SendKeys(`input[name=name]`, name),
		chromedp.SendKeys(`input[name=password]`, dashPassword),
	)
	submit(t, ctx, "log in as "+name, `form button`, base+home)
	if p := eval[string](t, ctx, `location.pathname`); p != home {
		t.Fatalf("login as %s ended at %s:\n%s", name, p, sgText(t, ctx, "main"))
	}
}

// TestBrowser_safeguarding is issue 7's dashboard "done when" in a real
// browser against a real site: a pupil device's blocked self-harm lookup
// becomes a concern in the DSL's queue; the DSL acknowledges it, makes it
// an incident, records the action and outcome and closes it; a priority
// change proposed by the DSL takes effect only when the head (an
// approver) approves it, and shows in the history with a verified audit
// log.
func TestBrowser_safeguarding(t *testing.T) {
	ctx := browser(t)
	up, _ := upstream(t)
	hook := httptest.NewServer(&teamsReceiver{})
	defer hook.Close()
	dir := t.TempDir()
	list := filepath.Join(dir, "selfharm.txt")
	urlFile := filepath.Join(dir, "teams-url")
	for f, data := range map[string]string{list: "selfharm.example.org\n", urlFile: hook.URL + "/workflows/secret\n"} {
		if err := os.WriteFile(f, []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	var stateDir string
	in := start(t, func(d, h int) string {
		stateDir = stateDirFor(d)
		return siteConfig(d, h, up, "127.0.0.0/8") + fmt.Sprintf(`    match: {subnets: [127.0.0.0/8]}
    block: [self-harm]
lists:
  - {name: selfharm-test, category: self-harm, path: %s}
safeguarding:
  enabled: true
  webhooks:
    - {name: dsl-teams, url_file: %s, format: teams}
  initial:
    recipients:
      - {name: dsl, role: safeguarding, webhooks: [dsl-teams]}
`, list, urlFile)
	})
	st, err := store.OpenWith(store.Path(stateDir), store.Options{HashMemoryKiB: 1024, HashPasses: 1})
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range []struct {
		name string
		role store.Role
	}{{"dsl", store.Safeguarding}, {"head", store.Viewer}} {
		if err := st.AddUser(context.Background(), a.name, a.role, dashPassword, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.SetApprover(context.Background(), "head", true); err != nil {
		t.Fatal(err)
	}
	st.Close()
	// As staff reach it: by a name on the school network, over plain HTTP.
	base := "http://gatehouse.school.test" + in.http[strings.LastIndexByte(in.http, ':'):]

	// A pupil's device looks up a self-harm site.
	if r := query(t, "udp", in.dns, "selfharm.example.org."); r.Rcode != dns.RcodeNameError {
		t.Fatalf("the self-harm name was not blocked: %s", dns.RcodeToString[r.Rcode])
	}

	// The DSL sees it in the queue.
	sgLogin(t, ctx, base, "dsl", "/log")
	step(t, ctx, "open the queue", chromedp.Navigate(base+"/concerns"))
	deadline := time.Now().Add(10 * time.Second)
	for !eval[bool](t, ctx, `document.querySelector("tr.concern") !== null`) {
		if time.Now().After(deadline) {
			t.Fatalf("no concern in the queue:\n%s", sgText(t, ctx, "main"))
		}
		time.Sleep(200 * time.Millisecond)
		step(t, ctx, "reload the queue", chromedp.Reload())
	}
	row := sgText(t, ctx, "tr.concern")
	for _, want := range []string{"critical", "self-harm", "127.0.0.1", "pupils", "Acknowledge"} {
		if !strings.Contains(row, want) {
			t.Errorf("queue row lacks %q: %s", want, row)
		}
	}
	if !strings.Contains(sgText(t, ctx, "main"), "indicator, not proof") {
		t.Error("the queue does not say a lookup is an indicator, not proof")
	}
	shot(t, ctx, "safeguarding-queue")

	// Its page: device, evidence, the reminder.
	submit(t, ctx, "open the concern", `tr.concern a`, "/concerns/1")
	page := sgText(t, ctx, "main")
	for _, want := range []string{"selfharm.example.org", "Address", "127.0.0.1", "pupils", "indicator, not proof", "blocked"} {
		if !strings.Contains(page, want) {
			t.Errorf("concern page lacks %q", want)
		}
	}
	shot(t, ctx, "safeguarding-concern")

	submit(t, ctx, "acknowledge", `form.ack button`, "msg=ack")
	step(t, ctx, "set the owner", chromedp.SetValue(`form.incident input[name=owner]`, "A. Jones"))
	submit(t, ctx, "make it an incident", `form.incident button`, "msg=incident")
	step(t, ctx, "write the action", chromedp.SendKeys(`form.action input[name=text]`, "Met pupil and parent"))
	submit(t, ctx, "record the action", `form.action button`, "msg=action")
	step(t, ctx, "write the outcome", chromedp.SendKeys(`form.close input[name=text]`, "Support plan agreed with the family"))
	submit(t, ctx, "close the incident", `form.close button`, "msg=close")
	for sel, want := range map[string]string{"dd.status": "closed (incident)", "dd.action-taken": "Met pupil and parent", "dd.outcome": "Support plan agreed with the family"} {
		if got := sgText(t, ctx, sel); got != want {
			t.Errorf("%s = %q, want %q", sel, got, want)
		}
	}
	history := sgText(t, ctx, "table.history")
	if strings.Count(history, "dsl") < 4 {
		t.Errorf("history does not name the DSL for each step:\n%s", history)
	}
	shot(t, ctx, "safeguarding-incident-closed")

	// Lowering a locked category is refused, and says so.
	step(t, ctx, "try to lower iwf",
		chromedp.Navigate(base+"/safeguarding/propose"),
		chromedp.WaitVisible(`form.priorities`),
		chromedp.SetValue(`select[name="p.iwf"]`, "low"),
		chromedp.SendKeys(`form.priorities input[name=reason]`, "Too many alerts"),
	)
	submit(t, ctx, "propose lowering iwf", `form.priorities button`, "/safeguarding/proposals")
	if got := sgText(t, ctx, "p.problem"); !strings.Contains(got, "Refused: IWF and CTIRU are locked") {
		t.Errorf("lowering iwf: %q", got)
	}
	shot(t, ctx, "safeguarding-locked-refused")

	// The DSL proposes gambling at medium.
	step(t, ctx, "open the proposal form",
		chromedp.Navigate(base+"/safeguarding/propose"),
		chromedp.WaitVisible(`form.priorities`),
		chromedp.SetValue(`select[name="p.gambling"]`, "medium"),
		chromedp.SendKeys(`form.priorities input[name=reason]`, "Gambling adverts aimed at pupils this term"),
	)
	submit(t, ctx, "propose", `form.priorities button`, "msg=proposed")
	if got := sgText(t, ctx, "section.pending"); !strings.Contains(got, "gambling") || !strings.Contains(got, "another account with the approver capability") {
		t.Errorf("pending proposal as the proposer sees it:\n%s", got)
	}
	if eval[bool](t, ctx, `document.querySelector("form.approve") !== null`) {
		t.Error("the proposer is offered an approve button")
	}
	shot(t, ctx, "safeguarding-proposal")
	submit(t, ctx, "log out", `header form button`, "/login")

	// The head (a governor with the approver capability) approves it.
	sgLogin(t, ctx, base, "head", "/reports")
	step(t, ctx, "open the settings", chromedp.Navigate(base+"/safeguarding/settings"), chromedp.WaitVisible(`form.approve`))
	step(t, ctx, "write a note", chromedp.SendKeys(`form.approve input[name=note]`, "Agreed with the DSL"))
	submit(t, ctx, "approve", `form.approve button`, "msg=approve")
	if got := sgText(t, ctx, `tr[data-category="gambling"]`); !strings.Contains(got, "medium") {
		t.Errorf("gambling in force: %q", got)
	}
	decided := sgText(t, ctx, "section.decided")
	for _, want := range []string{"dsl", "approved by head", "Agreed with the DSL", "gambling"} {
		if !strings.Contains(decided, want) {
			t.Errorf("decided proposals lack %q:\n%s", want, decided)
		}
	}
	if v := sgText(t, ctx, ".audit-verify"); !strings.HasPrefix(v, "Audit log verified:") {
		t.Errorf("audit verification: %q", v)
	}
	if a := sgText(t, ctx, "table.auditlog"); !strings.Contains(a, "head") || !strings.Contains(a, "dsl") {
		t.Errorf("audit log lacks the two accounts:\n%s", a)
	}
	shot(t, ctx, "safeguarding-settings")

	// On a phone the settings page fits without sideways scrolling (wide
	// tables scroll inside their cards).
	step(t, ctx, "phone width", chromedp.EmulateViewport(390, 844), chromedp.Reload(), chromedp.WaitVisible(`section.audit`))
	if w := eval[int](t, ctx, `document.documentElement.scrollWidth`); w > 390 {
		t.Errorf("the settings page is %d px wide on a 390 px phone", w)
	}
	shot(t, ctx, "safeguarding-settings-phone")
}
