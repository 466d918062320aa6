package main

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"

	"gatehouse/config"
	"gatehouse/dashboard/store"
	"gatehouse/trust"
)

// trustSite is a real site with safeguarding on, a self-harm list, and
// its summary served to token.
func trustSite(t *testing.T, up netip.AddrPort, token, share, extra string) (*instance, string) {
	t.Helper()
	dir := t.TempDir()
	list := filepath.Join(dir, "selfharm.txt")
	tokFile := filepath.Join(dir, "trust.token")
	for f, data := range map[string]string{list: "www.example.org\n", tokFile: token + "\n"} {
		if err := os.WriteFile(f, []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	var state string
	in := start(t, func(d, h int) string {
		state = stateDirFor(d)
		return siteConfig(d, h, up, "127.0.0.0/8") + fmt.Sprintf(`    match: {subnets: [127.0.0.0/8]}
    block: [self-harm]
lists:
  - {name: selfharm-test, category: self-harm, path: %s}
safeguarding:
  enabled: true
trust:
  serve: {token_file: %s, share: %s}
%s`, list, tokFile, share, extra)
	})
	return in, state
}

// pupilLookup looks name up from 127.0.0.9, a pupil's device.
func pupilLookup(t *testing.T, addr, name string) {
	t.Helper()
	m := new(dns.Msg)
	m.SetQuestion(name, dns.TypeA)
	c := &dns.Client{Net: "udp", Timeout: 3 * time.Second, Dialer: &net.Dialer{LocalAddr: &net.UDPAddr{IP: net.IPv4(127, 0, 0, 9)}}}
	r, _, err := c.Exchange(m, addr)
	if err != nil {
		t.Fatalf("lookup %s: %v", name, err)
	}
	if r.Rcode != dns.RcodeNameError {
		t.Fatalf("%s was not blocked: %s", name, dns.RcodeToString[r.Rcode])
	}
}

func writeFile(t *testing.T, path, data string) string {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestTrust_reportAcrossSites runs two real sites and reports on them with
// "gatehouse trust report", beside a site that is down and one whose token
// is wrong; then a third Gatehouse shows the same on its Trust page.
func TestTrust_reportAcrossSites(t *testing.T) {
	up, _ := upstream(t)
	const northTok, southTok = "north-token-0123456789", "south-token-0123456789"
	north, northState := trustSite(t, up, northTok, "aggregate", "")
	south, _ := trustSite(t, up, southTok, "identities", "")
	pupilLookup(t, north.dns, "www.example.org.")
	pupilLookup(t, north.dns, "www.example.org.") // one concern, de-duplicated
	pupilLookup(t, south.dns, "www.example.org.")

	dir := t.TempDir()
	sites := writeFile(t, filepath.Join(dir, "sites.yaml"), fmt.Sprintf(`sites:
  - {name: North Academy, url: "%s", token_file: %s}
  - {name: South Academy, url: "%s", token_file: %s}
  - {name: East Academy, url: "http://127.0.0.1:%d", token_file: %s}
  - {name: West Academy, url: "%s", token_file: %s}
timeout: 3s
`, north.http, writeFile(t, filepath.Join(dir, "n"), northTok), south.http, writeFile(t, filepath.Join(dir, "s"), southTok),
		freePort(t), writeFile(t, filepath.Join(dir, "e"), northTok), north.http, writeFile(t, filepath.Join(dir, "w"), "not-the-right-token-at-all")))
	report := func(format string) (string, error) {
		var out, errb bytes.Buffer
		err := run(context.Background(), []string{"gatehouse", "trust", "report", "--sites", sites, "--format", format, "--state", filepath.Join(dir, "state.json")}, &out, &errb)
		return out.String() + errb.String(), err
	}
	var rep trust.Report
	// Wait for everything asserted below: the concern comes with North's
	// first lookup, and its second may reach the log a flush later.
	waitFor(t, "both sites' concerns and all three blocked lookups", func() bool {
		out, err := report("json")
		if err != nil {
			t.Fatalf("trust report: %v\n%s", err, out)
		}
		rep = trust.Report{}
		if err := json.Unmarshal([]byte(out), &rep); err != nil {
			t.Fatalf("trust report JSON: %v\n%s", err, out)
		}
		return rep.Total.Safeguarding.Concerns == 2 && rep.Total.Filtering.Blocked == 3
	})
	if len(rep.Sites) != 4 || rep.Total.Reached != 2 {
		t.Fatalf("sites %d, reached %d, want 4 and 2: %+v", len(rep.Sites), rep.Total.Reached, rep)
	}
	for i, want := range []string{trust.StateOK, trust.StateOK, trust.StateUnreachable, trust.StateForbidden} {
		if rep.Sites[i].State != want {
			t.Errorf("site %s: state %q (%s), want %q", rep.Sites[i].Name, rep.Sites[i].State, rep.Sites[i].Error, want)
		}
	}
	n := rep.Sites[0].Summary
	if sg := n.Safeguarding; sg.Concerns != 1 || sg.ByPriority["critical"] != 1 || sg.ByCategory["self-harm"] != 1 || sg.ByStatus["new"] != 1 ||
		sg.Open != 1 || !sg.AuditVerified || len(sg.AuditHead) != 64 {
		t.Errorf("North's safeguarding = %+v", sg)
	}
	if f := n.Filtering; f == nil || f.Blocked != 2 || f.BlockedByCategory["self-harm"] != 2 {
		t.Errorf("North's filtering = %+v", f)
	}
	if rep.Total.Safeguarding.ByCategory["self-harm"] != 2 || rep.Total.Filtering.Blocked != 3 {
		t.Errorf("totals = %+v", rep.Total)
	}
	// North shares counts only; South shares identities with the trust DSL.
	northJSON, _ := json.Marshal(n)
	for _, personal := range []string{"127.0.0.9", "www.example.org"} {
		if strings.Contains(string(northJSON), personal) {
			t.Errorf("North's aggregate summary carries %q: %s", personal, northJSON)
		}
	}
	if id := rep.Sites[1].Summary.Identities; id == nil || len(id.Concerns) != 1 || !strings.Contains(id.Concerns[0].Device, "127.0.0.9") {
		t.Errorf("South's identities = %+v", id)
	}

	text, err := report("text")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"2 of 4 sites reached", "East Academy", "UNREACHABLE", "West Academy", "FORBIDDEN", "refused the token", "verified", "self-harm"} {
		if !strings.Contains(text, want) {
			t.Errorf("text report lacks %q:\n%s", want, text)
		}
	}
	// The last run reached North, so it has a last-reached time; East never.
	if !strings.Contains(text, "never reached") {
		t.Errorf("East should be never reached:\n%s", text)
	}

	// "trust summary" shows North's technician what leaves the site.
	var out, errb bytes.Buffer
	if err := run(context.Background(), []string{"gatehouse", "trust", "summary", "--config", north.path}, &out, &errb); err != nil {
		t.Fatalf("trust summary: %v\n%s", err, errb.String())
	}
	var local trust.Summary
	if err := json.Unmarshal(out.Bytes(), &local); err != nil || local.Safeguarding == nil || local.Safeguarding.Concerns != 1 ||
		local.Safeguarding.AuditHead != n.Safeguarding.AuditHead || local.Filtering.Blocked != 2 || local.Share != trust.ShareAggregate {
		t.Errorf("trust summary: %v\n%s", err, out.String())
	}
	if strings.Contains(out.String(), "127.0.0.9") || strings.Contains(out.String(), "www.example.org") {
		t.Errorf("trust summary carries personal data:\n%s", out.String())
	}

	// North recorded each request in its dashboard access log.
	st, err := store.Open(store.Path(northState))
	if err != nil {
		t.Fatal(err)
	}
	acc, err := st.AccessLog(context.Background(), 0, 100)
	st.Close()
	found := false
	for _, a := range acc {
		found = found || (a.Action == "trust-summary" && a.User == "trust collector" && strings.HasPrefix(a.Detail, "week="))
	}
	if err != nil || !found {
		t.Errorf("North's access log has no trust-summary record: %v %+v", err, acc)
	}

	// A third Gatehouse, the trust's, shows the same on its Trust page.
	hq := start(t, func(d, h int) string {
		return siteConfig(d, h, up, "127.0.0.0/8") + fmt.Sprintf(`trust:
  sites:
    - {name: North Academy, url: "%s", token_file: %s}
    - {name: South Academy, url: "%s", token_file: %s}
    - {name: East Academy, url: "http://127.0.0.1:%d", token_file: %s}
  timeout: 3s
`, north.http, filepath.Join(dir, "n"), south.http, filepath.Join(dir, "s"), freePort(t), filepath.Join(dir, "e"))
	})
	hqState := ""
	{
		// The dashboard database lives in the instance's state dir.
		_, port, _ := net.SplitHostPort(hq.dns)
		hqState = filepath.Join(os.Getenv("STATE_DIRECTORY"), port)
	}
	di := &dashInstance{instance: hq, state: hqState}
	st, err = store.OpenWith(store.Path(hqState), store.Options{HashMemoryKiB: 1024, HashPasses: 1})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range []store.Role{store.Viewer, store.Admin, store.Technician} {
		if err := st.AddUser(context.Background(), string(r), r, dashPassword, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	st.Close()
	get := func(c *http.Client, path string) (int, string) {
		req, _ := http.NewRequest("GET", hq.http+path, nil)
		return getBody(t, c, req)
	}
	viewer := di.login(t, store.Viewer)
	code, page := get(viewer, "/trust")
	for _, want := range []string{`href="/trust"`, "North Academy", "South Academy", "East Academy", "unreachable", "never reached", "2 of 3 sites reached"} {
		if code != 200 || !strings.Contains(page, want) {
			t.Errorf("viewer's Trust page (%d) lacks %q", code, want)
		}
	}
	if strings.Contains(page, "127.0.0.9") {
		t.Errorf("a viewer sees a pupil's device on the Trust page")
	}
	code, page = get(di.login(t, store.Admin), "/trust")
	if code != 200 || !strings.Contains(page, "127.0.0.9") || !strings.Contains(page, "access log") {
		t.Errorf("admin's Trust page (%d) lacks South's shared identities", code)
	}
	if code, _ = get(di.login(t, store.Technician), "/trust"); code != http.StatusForbidden {
		t.Errorf("technician's Trust page: %d, want 403", code)
	}
	code, page = get(viewer, "/trust/report.json")
	if code != 200 || !strings.Contains(page, `"audit_head"`) || strings.Contains(page, "127.0.0.9") {
		t.Errorf("viewer's report.json (%d): %s", code, page)
	}
	if code, page = get(viewer, "/trust/report.html"); code != 200 || !strings.Contains(page, "<title>Trust report</title>") {
		t.Errorf("viewer's printable report (%d)", code)
	}
}

// The trust settings are read at start: a reload that changes them says
// a restart is needed instead of silently keeping the old ones.
func TestTrust_reloadSaysRestart(t *testing.T) {
	old := config.Default()
	cfg := config.Default()
	cfg.Trust.Sites = []config.TrustSite{{Name: "North", URL: "http://127.0.0.1:1", TokenFile: "/t"}}
	if got := restartOnly(old, cfg); len(got) != 1 || got[0] != "trust" {
		t.Errorf("restartOnly = %v, want [trust]", got)
	}
}

// The collector reaches sites over HTTPS with the trust's own CA from
// trust.ca_file, refuses a certificate it does not trust, and never
// follows a redirect (which would carry the token elsewhere).
func TestTrust_collectorTLS(t *testing.T) {
	const tok = "tls-token-0123456789"
	h := trust.Handler{Token: tok, Source: func(ctx context.Context, from, to time.Time) (trust.Summary, error) {
		return trust.Summary{Version: trust.Version, Site: "tls", From: from, To: to}, nil
	}}
	site := httptest.NewTLSServer(h)
	defer site.Close()
	var leaked atomic.Bool
	elsewhere := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { leaked.Store(true) }))
	defer elsewhere.Close()
	redirect := httptest.NewServer(http.RedirectHandler(elsewhere.URL+trust.Path, http.StatusFound))
	defer redirect.Close()

	dir := t.TempDir()
	ca := writeFile(t, filepath.Join(dir, "ca.pem"), string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: site.Certificate().Raw})))
	tokFile := writeFile(t, filepath.Join(dir, "tok"), tok)
	sites := []config.TrustSite{{Name: "TLS", URL: site.URL, TokenFile: tokFile}, {Name: "Redirect", URL: redirect.URL, TokenFile: tokFile}}
	col, err := newCollector(&config.Trust{Sites: sites, CAFile: ca, Timeout: 5 * time.Second}, "")
	if err != nil {
		t.Fatal(err)
	}
	rep := col.Collect(context.Background(), "")
	if s := rep.Sites[0]; s.State != trust.StateOK {
		t.Errorf("TLS site with the trust's CA: %s %s", s.State, s.Error)
	}
	if s := rep.Sites[1]; s.State != trust.StateError || !strings.Contains(s.Error, "302") || leaked.Load() {
		t.Errorf("redirecting site: %s %s, followed: %v", s.State, s.Error, leaked.Load())
	}
	col, _ = newCollector(&config.Trust{Sites: sites[:1], Timeout: 5 * time.Second}, "")
	if s := col.Collect(context.Background(), "").Sites[0]; s.State != trust.StateUnreachable || !strings.Contains(s.Error, "certificate") {
		t.Errorf("TLS site without the CA: %s %s", s.State, s.Error)
	}
	if _, err := newCollector(&config.Trust{Sites: sites[:1], CAFile: tokFile, Timeout: time.Second}, ""); err == nil || !strings.Contains(err.Error(), "no PEM certificate") {
		t.Errorf("a CA file without certificates: %v", err)
	}
	short := writeFile(t, filepath.Join(dir, "short"), "short")
	if _, err := newCollector(&config.Trust{Sites: []config.TrustSite{{Name: "x", URL: site.URL, TokenFile: short}}, Timeout: time.Second}, ""); err == nil || !strings.Contains(err.Error(), "16 characters") {
		t.Errorf("a short token: %v", err)
	}
}
