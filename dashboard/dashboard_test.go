package dashboard

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"gatehouse/config"
	"gatehouse/dashboard/store"
	"gatehouse/policy/override"
	"gatehouse/querylog"
)

// fakeSite is a Site with a fixed config and a status tests can change.
type fakeSite struct {
	cfg *config.Config
	mu  sync.Mutex
	st  SiteStatus
}

func (f *fakeSite) Config() *config.Config { return f.cfg }
func (f *fakeSite) Status() SiteStatus {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.st
}
func (f *fakeSite) Identify(addr netip.Addr, now time.Time) Device {
	return Device{Addr: addr, MAC: "aa:bb:cc:dd:ee:ff", Hostname: "Y9-IPAD-12", Group: "pupils", Rule: "subnet 10.0.0.0/8", LeaseSource: "/var/lib/dhcp/dhcpd.leases"}
}

// fakeControl records what the dashboard asked for.
type fakeControl struct {
	mu        sync.Mutex
	reloads   int
	overrides []override.Override
	err       error
	accepted  []string // "list by account"
}

func (c *fakeControl) AcceptList(_ context.Context, name, by string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return c.err
	}
	c.accepted = append(c.accepted, name+" by "+by)
	return nil
}

func (c *fakeControl) ReloadLists(context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.reloads++
	return c.err
}

func (c *fakeControl) ListOverrides(context.Context) ([]override.Override, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]override.Override(nil), c.overrides...), nil
}

func (c *fakeControl) CreateOverride(_ context.Context, r override.Request) (override.Override, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return override.Override{}, c.err
	}
	o := override.Override{ID: fmt.Sprintf("ov%d", len(c.overrides)+1), Group: r.Group, Action: r.Action, Category: r.Category,
		Domain: r.Domain, Until: r.Until, Reason: r.Reason, CreatedBy: r.By, Created: time.Now()}
	c.overrides = append(c.overrides, o)
	return o, nil
}

func (c *fakeControl) CancelOverride(_ context.Context, id, by string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i := range c.overrides {
		if c.overrides[i].ID == id && c.overrides[i].Cancelled.IsZero() {
			c.overrides[i].Cancelled, c.overrides[i].CancelledBy = time.Now(), by
			return nil
		}
	}
	return errors.New("no such override")
}

type env struct {
	t       *testing.T
	d       *Dashboard
	srv     *httptest.Server
	store   *store.Store
	qlog    *querylog.Log
	site    *fakeSite
	control *fakeControl
	reg     *prometheus.Registry
}

const testPassword = "a long test password"

func newEnv(t *testing.T) *env {
	t.Helper()
	e := newEnvTB(t)
	e.t = t
	return e
}

func newEnvTB(t testing.TB) *env {
	t.Helper()
	dir := t.TempDir()
	st, err := store.OpenWith(filepath.Join(dir, "dashboard.db"), store.Options{HashMemoryKiB: 64, HashPasses: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	ql, err := querylog.Open(querylog.Config{Path: filepath.Join(dir, "querylog.db"), Location: time.UTC})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ql.Close() })
	cfg, err := config.Parse("test.yaml", []byte("version: 1\nresolver:\n  mode: forward\n  upstreams: [{address: 127.0.0.1}]\ngroups:\n  - name: pupils\n    block: [pornography]\n  - name: staff\n"))
	if err != nil {
		t.Fatal(err)
	}
	site := &fakeSite{cfg: cfg, st: SiteStatus{Started: time.Now().Add(-time.Hour), Generation: 3, StateDir: dir,
		Lists: []ListStatus{{Name: "adult", Category: "adult", Entries: 2}, {Name: "iwf", Category: "iwf", Locked: true, Entries: 10}}}}
	reg := prometheus.NewRegistry()
	e := &env{store: st, qlog: ql, site: site, control: &fakeControl{}, reg: reg}
	e.d, err = New(Config{Store: st, Site: site, QueryLog: ql, Control: e.control, Metrics: reg, Location: time.UTC})
	if err != nil {
		t.Fatal(err)
	}
	e.srv = httptest.NewServer(e.d.Handler())
	t.Cleanup(e.srv.Close)
	ctx := context.Background()
	for _, r := range store.Roles() {
		if err := st.AddUser(ctx, string(r), r, testPassword, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	return e
}

// client is a browser without redirects followed, so tests see them.
func (e *env) client() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// login returns a client logged in as the account named like the role.
func (e *env) login(role store.Role) *http.Client {
	e.t.Helper()
	c := e.client()
	resp, err := c.PostForm(e.srv.URL+"/login", url.Values{"name": {string(role)}, "password": {testPassword}})
	if err != nil {
		e.t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		e.t.Fatalf("login as %s: %s", role, resp.Status)
	}
	return c
}

func (e *env) get(c *http.Client, path string) (int, string) {
	e.t.Helper()
	resp, err := c.Get(e.srv.URL + path)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func (e *env) post(c *http.Client, path string, form url.Values) (int, string) {
	e.t.Helper()
	resp, err := c.PostForm(e.srv.URL+path, form)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// csrf reads the session's form token from a page.
func (e *env) csrf(c *http.Client) string {
	e.t.Helper()
	_, body := e.get(c, "/account")
	m := csrfRE.FindStringSubmatch(body)
	if m == nil {
		e.t.Fatal("no csrf token on /account")
	}
	return m[1]
}

func (e *env) enqueue(es ...querylog.Entry) {
	e.t.Helper()
	for _, x := range es {
		if !e.qlog.Enqueue(x) {
			e.t.Fatal("enqueue refused")
		}
	}
	if err := e.qlog.Flush(context.Background()); err != nil {
		e.t.Fatal(err)
	}
}

var pagesGET = []string{"/", "/status", "/log", "/log.csv", "/log/live", "/device?client=10.0.0.1", "/reports", "/policy",
	"/reviews", "/accounts", "/access-log", "/account", "/nonexistent"}

func TestAuthRequired(t *testing.T) {
	e := newEnv(t)
	c := e.client()
	for _, p := range pagesGET {
		resp, err := c.Get(e.srv.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/login?next=") {
			t.Errorf("GET %s without a session: %s to %q", p, resp.Status, resp.Header.Get("Location"))
		}
	}
	if code, _ := e.get(c, "/log/stream"); code != http.StatusUnauthorized {
		t.Errorf("stream without a session: %d", code)
	}
	for _, p := range []string{"/logout", "/policy/reload-lists", "/overrides", "/overrides/x/cancel", "/reviews/1/close",
		"/accounts", "/accounts/admin/role", "/accounts/admin/password", "/accounts/admin/remove", "/account/password"} {
		if code, _ := e.post(c, p, url.Values{"csrf": {"x"}}); code != http.StatusUnauthorized {
			t.Errorf("POST %s without a session: %d", p, code)
		}
	}
	// A made-up cookie is no session either.
	u, _ := url.Parse(e.srv.URL)
	c.Jar.SetCookies(u, []*http.Cookie{{Name: "gatehouse_session", Value: "forged"}})
	if code, _ := e.get(c, "/status"); code != http.StatusSeeOther {
		t.Errorf("forged cookie: %d", code)
	}
	if e.control.reloads != 0 {
		t.Error("an unauthenticated POST reloaded lists")
	}
}

func TestLoginCookie(t *testing.T) {
	e := newEnv(t)
	resp, err := e.client().PostForm(e.srv.URL+"/login", url.Values{"name": {"admin"}, "password": {testPassword}, "next": {"//evil.example/x"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if loc := resp.Header.Get("Location"); loc != "/status" {
		t.Errorf("login redirected to %q, want /status (an off-site next is dropped)", loc)
	}
	ck := resp.Cookies()
	if len(ck) != 1 || !ck[0].HttpOnly || ck[0].SameSite != http.SameSiteStrictMode || ck[0].Path != "/" {
		t.Errorf("session cookie %+v", ck)
	}
	// Logging out ends the session on the server, not only in the browser.
	c := e.login(store.Admin)
	u, _ := url.Parse(e.srv.URL)
	saved := c.Jar.Cookies(u)
	if code, _ := e.post(c, "/logout", url.Values{"csrf": {e.csrf(c)}}); code != http.StatusSeeOther {
		t.Fatalf("logout: %d", code)
	}
	c2 := e.client()
	c2.Jar.SetCookies(u, saved)
	if code, _ := e.get(c2, "/status"); code != http.StatusSeeOther {
		t.Errorf("old cookie after logout: %d", code)
	}
}

func TestRoles(t *testing.T) {
	e := newEnv(t)
	allowed := map[store.Role][]string{
		store.Admin:        {"/status", "/log", "/log.csv", "/log/live", "/device?client=10.0.0.1", "/reports", "/policy", "/reviews", "/accounts", "/access-log", "/account"},
		store.Technician:   {"/status", "/log", "/log.csv", "/log/live", "/device?client=10.0.0.1", "/policy", "/reviews", "/account"},
		store.Safeguarding: {"/log", "/log.csv", "/log/live", "/device?client=10.0.0.1", "/reports", "/account"},
		store.Viewer:       {"/reports", "/account"},
	}
	for role, ok := range allowed {
		c := e.login(role)
		for _, p := range pagesGET {
			if p == "/" || p == "/nonexistent" {
				continue
			}
			code, _ := e.get(c, p)
			want := http.StatusForbidden
			for _, a := range ok {
				if a == p {
					want = http.StatusOK
				}
			}
			if code != want {
				t.Errorf("%s GET %s: %d, want %d", role, p, code, want)
			}
		}
		// Forbidden state changes do nothing even with a valid token.
		tok := e.csrf(c)
		code, _ := e.post(c, "/accounts", url.Values{"csrf": {tok}, "name": {"mallory-" + string(role)}, "role": {"admin"}, "password": {testPassword}})
		if role != store.Admin && code != http.StatusForbidden {
			t.Errorf("%s POST /accounts: %d", role, code)
		}
		if code, _ := e.post(c, "/policy/reload-lists", url.Values{"csrf": {tok}}); (code == http.StatusForbidden) == can(role, permPolicy) {
			t.Errorf("%s reload lists: %d", role, code)
		}
	}
	us, _ := e.store.Users(context.Background())
	if len(us) != 5 { // the four, plus the one the admin added
		t.Errorf("accounts after the role test: %d", len(us))
	}
}

func TestCSRF(t *testing.T) {
	e := newEnv(t)
	c := e.login(store.Technician)
	tok := e.csrf(c)
	if code, _ := e.post(c, "/policy/reload-lists", url.Values{}); code != http.StatusForbidden {
		t.Errorf("no token: %d", code)
	}
	if code, _ := e.post(c, "/policy/reload-lists", url.Values{"csrf": {tok + "x"}}); code != http.StatusForbidden {
		t.Errorf("wrong token: %d", code)
	}
	// Another session's token is no good either.
	other := e.csrf(e.login(store.Technician))
	if code, _ := e.post(c, "/policy/reload-lists", url.Values{"csrf": {other}}); code != http.StatusForbidden {
		t.Errorf("another session's token: %d", code)
	}
	// A cross-site request is refused even with the right token.
	req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/policy/reload-lists", strings.NewReader(url.Values{"csrf": {tok}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("cross-site POST: %s", resp.Status)
	}
	if e.control.reloads != 0 {
		t.Fatalf("lists reloaded %d times by rejected requests", e.control.reloads)
	}
	if code, _ := e.post(c, "/policy/reload-lists", url.Values{"csrf": {tok}}); code != http.StatusSeeOther || e.control.reloads != 1 {
		t.Errorf("good token: %d, reloads %d", code, e.control.reloads)
	}
}

func TestLoginRateLimit(t *testing.T) {
	e := newEnv(t)
	now := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	e.d.now = func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	c := e.client()
	for i := range maxFailures {
		if code, _ := e.post(c, "/login", url.Values{"name": {"technician"}, "password": {"wrong " + fmt.Sprint(i)}}); code != http.StatusUnauthorized {
			t.Fatalf("attempt %d: %d", i, code)
		}
	}
	// Now even the right password is refused, for this account...
	code, body := e.post(c, "/login", url.Values{"name": {"technician"}, "password": {testPassword}})
	if code != http.StatusTooManyRequests || !strings.Contains(body, "Too many failed logins") {
		t.Errorf("after %d failures: %d", maxFailures, code)
	}
	// ...and for any account from this address.
	if code, _ := e.post(c, "/login", url.Values{"name": {"admin"}, "password": {testPassword}}); code != http.StatusTooManyRequests {
		t.Errorf("another account from the same address: %d", code)
	}
	// The per-account count holds from other addresses too.
	l := e.d.limiter
	if l.blocked("192.0.2.7", "Technician", now) == 0 {
		t.Error("account not limited from another address (names are case-insensitive)")
	}
	if l.blocked("192.0.2.7", "viewer", now) != 0 {
		t.Error("an unrelated account and address are limited")
	}
	mu.Lock()
	now = now.Add(failureWindow + time.Second)
	mu.Unlock()
	if code, _ := e.post(c, "/login", url.Values{"name": {"technician"}, "password": {testPassword}}); code != http.StatusSeeOther {
		t.Errorf("after the window: %d", code)
	}
}

func TestLoginLimiterBounded(t *testing.T) {
	l := newLoginLimiter()
	now := time.Now()
	for i := range maxTracked * 2 {
		l.failed(fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255), fmt.Sprint("user", i), now)
	}
	if len(l.keys) > maxTracked {
		t.Errorf("limiter holds %d keys", len(l.keys))
	}
}

// hostile are names a client can put in the log: they must come out as
// text, never markup, with bidi tricks made visible.
var hostile = []string{
	`<script>alert(1)</script>.example.`,
	`"onmouseover="alert(1)".example.`,
	"evil\u202egpj.exe.example.",
	strings.Repeat("a", 63) + "." + strings.Repeat("b", 63) + ".example.",
	`'><img src=x onerror=alert(1)>.example.`,
}

func TestHostileNames(t *testing.T) {
	e := newEnv(t)
	now := time.Now()
	for i, n := range hostile {
		e.enqueue(querylog.Entry{Time: now.Add(time.Duration(i) * time.Millisecond), Client: netip.MustParseAddr("10.0.0.66"),
			Hostname: `<b>PUPIL</b>` + "\u202e", Group: "pupils", QName: n, QType: 1, Decision: querylog.Blocked,
			Category: "adult", List: `<i>list</i>`, Matched: n, Answer: querylog.Text(`"><svg onload=alert(1)>`)})
	}
	id, _ := e.qlog.EnqueueID(querylog.Entry{Client: netip.MustParseAddr("10.0.0.66"), QName: hostile[0], Decision: querylog.Blocked})
	_ = id
	e.qlog.Flush(context.Background())
	c := e.login(store.Admin)
	for _, p := range []string{"/log", "/device?client=10.0.0.66", "/reports"} {
		code, body := e.get(c, p)
		if code != http.StatusOK {
			t.Fatalf("%s: %d", p, code)
		}
		for _, bad := range []string{"<script>alert", "<img src=x", "<svg onload", "<b>PUPIL", "<i>list", "\u202e", `"onmouseover="`} {
			if strings.Contains(body, bad) {
				t.Errorf("%s contains %q unescaped", p, bad)
			}
		}
		if p == "/log" {
			for _, want := range []string{"&lt;script&gt;alert(1)&lt;/script&gt;.example.", "evil[U&#43;202E]gpj.exe.example.",
				strings.Repeat("a", 63) + "." + strings.Repeat("b", 63), "&lt;b&gt;PUPIL&lt;/b&gt;[U&#43;202E]", "&lt;i&gt;list&lt;/i&gt;"} {
				if !strings.Contains(body, want) {
					t.Errorf("/log lacks %q", want)
				}
			}
		}
	}
}

func TestTechnicianSeesNoIdentity(t *testing.T) {
	e := newEnv(t)
	e.enqueue(querylog.Entry{Client: netip.MustParseAddr("10.0.0.7"), MAC: "aa:bb:cc:dd:ee:01", Hostname: "Y7-SMITH-J",
		Group: "pupils", QName: "games.example.", QType: 1, Decision: querylog.Blocked, Category: "games"})
	tech := e.login(store.Technician)
	for _, p := range []string{"/log", "/log.csv", "/device?client=10.0.0.7"} {
		_, body := e.get(tech, p)
		if strings.Contains(body, "Y7-SMITH-J") || strings.Contains(body, "aa:bb:cc:dd:ee:01") || strings.Contains(body, "Y9-IPAD-12") {
			t.Errorf("technician sees identity on %s", p)
		}
		if !strings.Contains(body, "10.0.0.7") {
			t.Errorf("technician does not see the address on %s", p)
		}
	}
	if code, body := e.get(tech, "/log?client=Y7-SMITH-J"); code != http.StatusBadRequest || !strings.Contains(body, "IP address only") {
		t.Errorf("technician searching by name: %d", code)
	}
	dsl := e.login(store.Safeguarding)
	for _, p := range []string{"/log", "/log.csv", "/log?client=Y7-SMITH-J"} {
		if _, body := e.get(dsl, p); !strings.Contains(body, "Y7-SMITH-J") {
			t.Errorf("safeguarding lead does not see the name on %s", p)
		}
	}
}

func TestLogSearchAndAccessLog(t *testing.T) {
	e := newEnv(t)
	base := time.Now().Add(-time.Minute)
	for i := range 60 {
		e.enqueue(querylog.Entry{Time: base.Add(time.Duration(i) * time.Millisecond), Client: netip.MustParseAddr("10.0.0.8"),
			Group: "pupils", QName: fmt.Sprintf("n%02d.example.", i), QType: 1, Decision: querylog.Allowed})
	}
	e.enqueue(querylog.Entry{Time: base.Add(time.Second), Client: netip.MustParseAddr("10.0.0.9"), Group: "staff",
		QName: "bad.example.", QType: 28, Decision: querylog.Blocked, Category: "adult", List: "adult", Matched: "bad.example"})
	c := e.login(store.Safeguarding)
	_, body := e.get(c, "/log?decision=blocked")
	if !strings.Contains(body, "bad.example.") || strings.Contains(body, "n01.example.") {
		t.Error("decision filter")
	}
	for _, want := range []string{"Reference", "adult", "AAAA", "staff"} {
		if !strings.Contains(body, want) {
			t.Errorf("explanation lacks %q", want)
		}
	}
	_, body = e.get(c, "/log?client=10.0.0.8")
	if n := strings.Count(body, `<details class="entry`); n != logPageSize {
		t.Errorf("first page has %d entries", n)
	}
	m := regexp.MustCompile(`href="/log\?([^"]*cursor=[^"]*)"`).FindStringSubmatch(body)
	if m == nil {
		t.Fatal("no next-page link")
	}
	_, body = e.get(c, "/log?"+strings.ReplaceAll(m[1], "&amp;", "&"))
	if n := strings.Count(body, `<details class="entry`); n != 10 {
		t.Errorf("second page has %d entries", n)
	}
	if code, body := e.get(c, "/log?from=yesterday"); code != http.StatusBadRequest || !strings.Contains(body, "not a date") {
		t.Errorf("bad from: %d", code)
	}
	_, csv := e.get(c, "/log.csv?domain=bad.example")
	if lines := strings.Split(strings.TrimSpace(csv), "\n"); len(lines) != 2 || !strings.HasPrefix(lines[0], "id,") {
		t.Errorf("csv: %q", csv)
	}

	recs, err := e.store.AccessLog(context.Background(), 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range recs {
		got = append(got, r.User+" "+r.Action+" "+r.Detail)
	}
	want := []string{"safeguarding export domain=bad.example", "safeguarding search client=10.0.0.8 (next page)",
		"safeguarding search client=10.0.0.8", "safeguarding search decision=blocked"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("access log:\n got %q\nwant %q", got, want)
	}
	// Admins read it; nobody else.
	if code, body := e.get(e.login(store.Admin), "/access-log"); code != http.StatusOK || !strings.Contains(body, "client=10.0.0.8") {
		t.Errorf("admin access log page: %d", code)
	}
}

func TestLiveStream(t *testing.T) {
	e := newEnv(t)
	c := e.login(store.Safeguarding)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, e.srv.URL+"/log/stream?decision=blocked", nil)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("stream: %s %s", resp.Status, resp.Header.Get("Content-Type"))
	}
	buf := make([]byte, 4096)
	n, _ := resp.Body.Read(buf) // the opening comment: subscribed
	if !strings.Contains(string(buf[:n]), ": live") {
		t.Fatalf("stream start %q", buf[:n])
	}
	e.enqueue(querylog.Entry{Client: netip.MustParseAddr("10.0.0.3"), QName: "ok.example.", Decision: querylog.Allowed},
		querylog.Entry{Client: netip.MustParseAddr("10.0.0.3"), Hostname: "<i>x</i>", QName: "<b>live</b>.example.", Decision: querylog.Blocked})
	var got strings.Builder
	for !strings.Contains(got.String(), "\n\n") {
		n, err := resp.Body.Read(buf)
		if err != nil {
			t.Fatalf("reading stream: %v (have %q)", err, got.String())
		}
		got.Write(buf[:n])
	}
	s := got.String()
	if strings.Contains(s, "ok.example") || !strings.Contains(s, `"qname":"\u003cb\u003elive\u003c/b\u003e.example."`) || !strings.Contains(s, `"decision":"blocked"`) {
		t.Errorf("stream event %q", s)
	}
}

func TestMetricsAccess(t *testing.T) {
	h := MetricsAccess(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "metrics") }),
		[]netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}, "s3cret-token")
	for _, tc := range []struct {
		remote, auth string
		want         int
	}{
		{"127.0.0.1:5000", "", 200},
		{"[::ffff:127.0.0.1]:5000", "", 200},
		{"10.1.2.3:5000", "", 401},
		{"10.1.2.3:5000", "Bearer s3cret-token", 200},
		{"10.1.2.3:5000", "Bearer s3cret-tokenX", 401},
		{"10.1.2.3:5000", "Basic s3cret-token", 401},
	} {
		r := httptest.NewRequest("GET", "/metrics", nil)
		r.RemoteAddr = tc.remote
		if tc.auth != "" {
			r.Header.Set("Authorization", tc.auth)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != tc.want {
			t.Errorf("%s %q: %d, want %d", tc.remote, tc.auth, w.Code, tc.want)
		}
	}
	noToken := MetricsAccess(http.NotFoundHandler(), nil, "")
	r := httptest.NewRequest("GET", "/metrics", nil)
	r.RemoteAddr = "127.0.0.1:1"
	r.Header.Set("Authorization", "Bearer ")
	w := httptest.NewRecorder()
	noToken.ServeHTTP(w, r)
	if w.Code != http.StatusForbidden {
		t.Errorf("no networks, no token: %d", w.Code)
	}
}

func TestOverrides(t *testing.T) {
	e := newEnv(t)
	c := e.login(store.Technician)
	tok := e.csrf(c)
	form := func(kv ...string) url.Values {
		v := url.Values{"csrf": {tok}, "group": {"pupils"}, "action": {"allow"}, "category": {"gaming"}, "duration": {"1h"}, "reason": {"Year 9 <b>lesson</b>"}}
		for i := 0; i+1 < len(kv); i += 2 {
			v.Set(kv[i], kv[i+1])
		}
		return v
	}
	// A review request's link fills the form in.
	if _, body := e.get(c, "/policy?group=staff&domain=games.example.org"); !strings.Contains(body, `<option selected>staff</option>`) ||
		!strings.Contains(body, `name="domain" value="games.example.org"`) {
		t.Error("the override form is not filled in from the link")
	}
	for _, bad := range []struct {
		form url.Values
		want string
	}{
		{form("reason", "  "), "A reason is required"},
		{form("domain", "example.com"), "either a category or a domain"},
		{form("category", ""), "either a category or a domain"},
		{form("action", "pause"), "Choose allow or block"},
		{form("duration", "30d"), "how long"},
		{form("reason", strings.Repeat("x", 501)), "too long"},
	} {
		code, body := e.post(c, "/overrides", bad.form)
		if code != http.StatusBadRequest || !strings.Contains(body, bad.want) {
			t.Errorf("%v: %d, want 400 with %q", bad.form, code, bad.want)
		}
		if bad.form.Get("category") != "" && !strings.Contains(body, `name="category" value="`+bad.form.Get("category")+`"`) {
			t.Errorf("%v: the rejected form is not sent back filled in", bad.form)
		}
	}
	if n := len(e.control.overrides); n != 0 {
		t.Fatalf("%d overrides created by bad forms", n)
	}
	start := time.Now()
	if code, _ := e.post(c, "/overrides", form()); code != http.StatusSeeOther {
		t.Fatalf("create: %d", code)
	}
	o := e.control.overrides[0]
	if o.CreatedBy != "technician" || o.Group != "pupils" || o.Action != override.Allow || o.Category != "gaming" ||
		o.Until.Sub(start) < 59*time.Minute || o.Until.Sub(start) > 61*time.Minute {
		t.Errorf("override %+v", o)
	}
	_, body := e.get(c, "/policy")
	if !strings.Contains(body, `<option value="adult">`) || strings.Contains(body, `<option value="iwf">`) {
		t.Error("the override form should offer the configured categories, never a locked one")
	}
	if !strings.Contains(body, "Year 9 &lt;b&gt;lesson&lt;/b&gt;") || !strings.Contains(body, "/overrides/ov1/cancel") {
		t.Errorf("policy page does not list the override")
	}
	// Safeguarding leads may not change overrides; viewers not even see the page.
	if code, _ := e.post(e.login(store.Safeguarding), "/overrides/ov1/cancel", url.Values{"csrf": {tok}}); code != http.StatusForbidden {
		t.Errorf("safeguarding cancel: %d", code)
	}
	if code, _ := e.post(c, "/overrides/ov1/cancel", url.Values{"csrf": {tok}}); code != http.StatusSeeOther {
		t.Fatalf("cancel: %d", code)
	}
	if e.control.overrides[0].CancelledBy != "technician" {
		t.Errorf("cancelled by %q", e.control.overrides[0].CancelledBy)
	}
	_, body = e.get(c, "/policy")
	if strings.Contains(body, "/overrides/ov1/cancel") || !strings.Contains(body, "Ended in the last 7 days (1)") {
		t.Error("cancelled override still offered, or not in the history")
	}
	if code, body := e.post(c, "/overrides/nope/cancel", url.Values{"csrf": {tok}}); code != http.StatusBadRequest || !strings.Contains(body, "no such override") {
		t.Errorf("cancel unknown: %d", code)
	}
}

// TestLiveStreamEndsOnShutdown: a live view must not hold the server's
// shutdown; stopping the dashboard ends it.
func TestLiveStreamEndsOnShutdown(t *testing.T) {
	e := newEnv(t)
	ctx, stop := context.WithCancel(context.Background())
	ran := make(chan struct{})
	go func() { e.d.Run(ctx); close(ran) }()
	c := e.login(store.Technician)
	resp, err := c.Get(e.srv.URL + "/log/stream")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	stop()
	<-ran
	done := make(chan error, 1)
	go func() { _, err := io.ReadAll(resp.Body); done <- err }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("the live stream outlived the dashboard")
	}
}

func TestScheduleExplained(t *testing.T) {
	cfg, err := config.Parse("t.yaml", []byte(`version: 1
resolver: {mode: forward, upstreams: [{address: 127.0.0.1}]}
periods: [{name: lessons, weekly: ["Mon-Fri 09:00-15:00"], term_time_only: false}, {name: lunch, weekly: ["Mon-Fri 12:00-13:00"], term_time_only: false}]
groups:
  - name: pupils
    block_during: [{categories: [social-media, gaming], during: [lessons]}, {categories: [gaming], during: [lunch], outside: true}]
  - name: staff
`))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ group, cat, want string }{
		{"pupils", "social-media", "during lessons"},
		{"pupils", "gaming", "during lessons; outside lunch"},
		{"pupils", "pornography", ""},
		{"staff", "gaming", ""},
		{"pupils", "", ""},
	} {
		if got := scheduleFor(cfg, tc.group, tc.cat); got != tc.want {
			t.Errorf("scheduleFor(%s, %s) = %q, want %q", tc.group, tc.cat, got, tc.want)
		}
	}
}

// TestLoginHashingBounded: password checks beyond maxHashing wait, and a
// login whose browser gives up meanwhile neither logs in nor counts as a
// failure.
func TestLoginHashingBounded(t *testing.T) {
	e := newEnv(t)
	for range maxHashing {
		e.d.hashing <- struct{}{}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	req := httptest.NewRequestWithContext(ctx, "POST", "/login", strings.NewReader(url.Values{"name": {"admin"}, "password": {testPassword}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	w := httptest.NewRecorder()
	e.d.Handler().ServeHTTP(w, req)
	if len(w.Result().Cookies()) != 0 || w.Code == http.StatusSeeOther {
		t.Errorf("login went ahead with every hashing slot taken: %d", w.Code)
	}
	if e.d.limiter.blocked("192.0.2.1", "admin", time.Now()) != 0 || len(e.d.limiter.keys) != 0 {
		t.Error("an abandoned login counted as a failure")
	}
	for range maxHashing {
		<-e.d.hashing
	}
	e.login(store.Admin) // and with the slots free it works
}
