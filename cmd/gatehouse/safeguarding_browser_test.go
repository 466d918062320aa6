package main

import (
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/miekg/dns"

	"gatehouse/dashboard/store"
)

// The safeguarding pages in headless Chromium. The helpers are prefixed
// sg so they stand beside the dashboard's own browser test helpers.

// sgChromium finds the browser: Debian's chromium or $GATEHOUSE_CHROMIUM.
// Without one the test skips, except on CI (CI=true).
func sgChromium(t *testing.T) string {
	t.Helper()
	p := os.Getenv("GATEHOUSE_CHROMIUM")
	if p == "" {
		p = "/usr/bin/chromium"
	}
	if _, err := exec.LookPath(p); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("chromium not found at %s (CI installs the chromium package)", p)
		}
		t.Skipf("chromium not found at %s; install the chromium package to run the browser tests", p)
	}
	return p
}

// sgBrowser starts a headless Chromium with a fresh profile that resolves
// every name to 127.0.0.1, so nothing can leave the machine.
func sgBrowser(t *testing.T) context.Context {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(sgChromium(t)),
		chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("host-resolver-rules", "MAP * 127.0.0.1"),
		chromedp.Flag("no-proxy-server", true),
	}
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelC := chromedp.NewContext(actx)
	t.Cleanup(func() { cancelC(); cancelA() })
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("starting chromium: %v", err)
	}
	return ctx
}

// sgArtifacts is where screenshots go: $GATEHOUSE_TEST_ARTIFACTS, or a
// temporary directory.
func sgArtifacts(t *testing.T) string {
	t.Helper()
	if d := os.Getenv("GATEHOUSE_TEST_ARTIFACTS"); d != "" {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		return d
	}
	return t.TempDir()
}

func sgShot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	png, err := chromedp.Run(sctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Errorf("screenshot %s: %v", name, err)
		return
	}
	path := filepath.Join(sgArtifacts(t), name+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Error(err)
	}
	t.Logf("screenshot %s", path)
}

func sgStep(t *testing.T, ctx context.Context, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if err := chromedp.Do(sctx, actions...); err != nil {
		sgShot(t, ctx, "failed-"+strings.ReplaceAll(what, " ", "-"))
		t.Fatalf("%s: %v", what, err)
	}
}

func sgEval[T any](t *testing.T, ctx context.Context, js string) T {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	v, err := chromedp.Run(sctx, chromedp.Evaluate[T](js))
	if err != nil {
		t.Fatalf("evaluating %s: %v", js, err)
	}
	return v
}

// sgSubmit clicks sel and waits for a new, fully loaded page whose address
// contains urlPart.
func sgSubmit(t *testing.T, ctx context.Context, what, sel, urlPart string) {
	t.Helper()
	before := sgEval[string](t, ctx, `String(performance.timeOrigin)`)
	sgStep(t, ctx, what, chromedp.Click(sel))
	deadline := time.Now().Add(15 * time.Second)
	for !sgEval[bool](t, ctx, fmt.Sprintf(`String(performance.timeOrigin) !== %q && location.href.includes(%q) && document.readyState === "complete"`, before, urlPart)) {
		if time.Now().After(deadline) {
			sgShot(t, ctx, "failed-"+strings.ReplaceAll(what, " ", "-"))
			t.Fatalf("%s: still at %s:\n%s", what, sgEval[string](t, ctx, `location.href`), sgEval[string](t, ctx, `document.body.innerText`))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func sgText(t *testing.T, ctx context.Context, sel string) string {
	t.Helper()
	return sgEval[string](t, ctx, fmt.Sprintf(`(document.querySelector(%q) || {innerText: ""}).innerText`, sel))
}

// sgLogin logs in and waits for the account's home page.
func sgLogin(t *testing.T, ctx context.Context, base, name, home string) {
	t.Helper()
	sgStep(t, ctx, "open the login form as "+name,
		chromedp.Navigate(base+"/login"),
		chromedp.WaitVisible(`input[name=name]`),
		chromedp.SendKeys(`input[name=name]`, name),
		chromedp.SendKeys(`input[name=password]`, dashPassword),
	)
	sgSubmit(t, ctx, "log in as "+name, `form button`, base+home)
	if p := sgEval[string](t, ctx, `location.pathname`); p != home {
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
	ctx := sgBrowser(t)
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
	base := in.http

	// A pupil's device looks up a self-harm site.
	if r := query(t, "udp", in.dns, "selfharm.example.org."); r.Rcode != dns.RcodeNameError {
		t.Fatalf("the self-harm name was not blocked: %s", dns.RcodeToString[r.Rcode])
	}

	// The DSL sees it in the queue.
	sgLogin(t, ctx, base, "dsl", "/log")
	sgStep(t, ctx, "open the queue", chromedp.Navigate(base+"/concerns"))
	deadline := time.Now().Add(10 * time.Second)
	for !sgEval[bool](t, ctx, `document.querySelector("tr.concern") !== null`) {
		if time.Now().After(deadline) {
			t.Fatalf("no concern in the queue:\n%s", sgText(t, ctx, "main"))
		}
		time.Sleep(200 * time.Millisecond)
		sgStep(t, ctx, "reload the queue", chromedp.Reload())
	}
	row := sgText(t, ctx, "tr.concern")
	for _, want := range []string{"critical", "self-harm", "127.0.0.1", "pupils", "new"} {
		if !strings.Contains(row, want) {
			t.Errorf("queue row lacks %q: %s", want, row)
		}
	}
	if !strings.Contains(sgText(t, ctx, "main"), "indicator, not proof") {
		t.Error("the queue does not say a lookup is an indicator, not proof")
	}
	sgShot(t, ctx, "safeguarding-queue")

	// Its page: device, evidence, the reminder.
	sgSubmit(t, ctx, "open the concern", `tr.concern a`, "/concerns/1")
	page := sgText(t, ctx, "main")
	for _, want := range []string{"selfharm.example.org", "Address", "127.0.0.1", "pupils", "indicator, not proof", "blocked"} {
		if !strings.Contains(page, want) {
			t.Errorf("concern page lacks %q", want)
		}
	}
	sgShot(t, ctx, "safeguarding-concern")

	sgSubmit(t, ctx, "acknowledge", `form.ack button`, "msg=ack")
	sgStep(t, ctx, "set the owner", chromedp.SetValue(`form.incident input[name=owner]`, "A. Jones"))
	sgSubmit(t, ctx, "make it an incident", `form.incident button`, "msg=incident")
	sgStep(t, ctx, "write the action", chromedp.SendKeys(`form.action input[name=text]`, "Met pupil and parent"))
	sgSubmit(t, ctx, "record the action", `form.action button`, "msg=action")
	sgStep(t, ctx, "write the outcome", chromedp.SendKeys(`form.close input[name=text]`, "Support plan agreed with the family"))
	sgSubmit(t, ctx, "close the incident", `form.close button`, "msg=close")
	for sel, want := range map[string]string{"dd.status": "closed (incident)", "dd.action-taken": "Met pupil and parent", "dd.outcome": "Support plan agreed with the family"} {
		if got := sgText(t, ctx, sel); got != want {
			t.Errorf("%s = %q, want %q", sel, got, want)
		}
	}
	history := sgText(t, ctx, "table.history")
	if strings.Count(history, "dsl") < 4 {
		t.Errorf("history does not name the DSL for each step:\n%s", history)
	}
	sgShot(t, ctx, "safeguarding-incident-closed")

	// Lowering a locked category is refused, and says so.
	sgStep(t, ctx, "try to lower iwf",
		chromedp.Navigate(base+"/safeguarding/propose"),
		chromedp.WaitVisible(`form.priorities`),
		chromedp.SetValue(`select[name="p.iwf"]`, "low"),
		chromedp.SendKeys(`form.priorities input[name=reason]`, "Too many alerts"),
	)
	sgSubmit(t, ctx, "propose lowering iwf", `form.priorities button`, "/safeguarding/proposals")
	if got := sgText(t, ctx, "p.problem"); !strings.Contains(got, "Refused: IWF and CTIRU are locked") {
		t.Errorf("lowering iwf: %q", got)
	}
	sgShot(t, ctx, "safeguarding-locked-refused")

	// The DSL proposes gambling at medium.
	sgStep(t, ctx, "open the proposal form",
		chromedp.Navigate(base+"/safeguarding/propose"),
		chromedp.WaitVisible(`form.priorities`),
		chromedp.SetValue(`select[name="p.gambling"]`, "medium"),
		chromedp.SendKeys(`form.priorities input[name=reason]`, "Gambling adverts aimed at pupils this term"),
	)
	sgSubmit(t, ctx, "propose", `form.priorities button`, "msg=proposed")
	if got := sgText(t, ctx, "section.pending"); !strings.Contains(got, "gambling") || !strings.Contains(got, "another account with the approver capability") {
		t.Errorf("pending proposal as the proposer sees it:\n%s", got)
	}
	if sgEval[bool](t, ctx, `document.querySelector("form.approve") !== null`) {
		t.Error("the proposer is offered an approve button")
	}
	sgShot(t, ctx, "safeguarding-proposal")
	sgSubmit(t, ctx, "log out", `header form button`, "/login")

	// The head (a governor with the approver capability) approves it.
	sgLogin(t, ctx, base, "head", "/reports")
	sgStep(t, ctx, "open the settings", chromedp.Navigate(base+"/safeguarding/settings"), chromedp.WaitVisible(`form.approve`))
	sgStep(t, ctx, "write a note", chromedp.SendKeys(`form.approve input[name=note]`, "Agreed with the DSL"))
	sgSubmit(t, ctx, "approve", `form.approve button`, "msg=approve")
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
	sgShot(t, ctx, "safeguarding-settings")

	// On a phone the settings page fits without sideways scrolling (wide
	// tables scroll inside their cards).
	sgStep(t, ctx, "phone width", chromedp.EmulateViewport(390, 844), chromedp.Reload(), chromedp.WaitVisible(`section.audit`))
	if w := sgEval[int](t, ctx, `document.documentElement.scrollWidth`); w > 390 {
		t.Errorf("the settings page is %d px wide on a 390 px phone", w)
	}
	sgShot(t, ctx, "safeguarding-settings-phone")
}
