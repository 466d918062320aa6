package dashboard

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"gatehouse/dashboard/store"
	"gatehouse/trust"
)

// trustEnv is a dashboard serving its own summary to a token and showing
// a Trust page collected from a hostile site that shares identities, and
// a site that is down.
func trustEnv(t *testing.T) *env {
	t.Helper()
	e := newEnv(t)
	const evil = `<img src=x onerror=alert(1)>`
	site := httptest.NewServer(trust.Handler{Token: "remote-token-0123456789", Location: time.UTC,
		Source: func(ctx context.Context, from, to time.Time) (trust.Summary, error) {
			return trust.Summary{Version: trust.Version, Site: evil, From: from, To: to,
				Safeguarding: &trust.Safeguarding{Concerns: 1, ByPriority: map[string]int{"critical": 1}, ByCategory: map[string]int{evil: 1},
					ByStatus: map[string]int{"new": 1}, Open: 1, AuditVerified: true, AuditStatus: "verified, 2 records", AuditHead: strings.Repeat("0f", 32)},
				Filtering:  &trust.Filtering{Queries: 10, Blocked: 4, BlockedByCategory: map[string]int64{evil: 4}, BypassByKind: map[string]int64{}},
				Identities: &trust.Identities{Concerns: []trust.ConcernDetail{{ID: 1, Priority: "critical", Category: "self-harm", Device: "10.20.3.4 Y9-IPAD-12", Group: "year9", Status: "new"}}},
			}, nil
		}})
	t.Cleanup(site.Close)
	down := httptest.NewServer(http.NotFoundHandler())
	down.Close()
	col := trust.NewCollector([]trust.SiteConfig{{Name: "North " + evil, URL: site.URL, Token: "remote-token-0123456789"}, {Name: "East", URL: down.URL, Token: "x"}},
		&http.Client{Timeout: 5 * time.Second}, "", nil)
	var err error
	e.d, err = New(Config{Store: e.store, Site: e.site, QueryLog: e.qlog, Metrics: e.reg, Location: time.UTC,
		Trust: Trust{Token: "own-token-0123456789", Collector: col,
			Summary: func(ctx context.Context, from, to time.Time) (trust.Summary, error) {
				return trust.Summary{Version: trust.Version, Site: "here", From: from, To: to}, nil
			}}})
	if err != nil {
		t.Fatal(err)
	}
	e.srv.Config.Handler = e.d.Handler()
	return e
}

func TestTrustPage(t *testing.T) {
	e := trustEnv(t)
	code, page := e.get(e.login(store.Viewer), "/trust")
	if code != 200 || !strings.Contains(page, `href="/trust"`) || !strings.Contains(page, "unreachable") || !strings.Contains(page, "never reached") {
		t.Fatalf("viewer's Trust page: %d\n%s", code, page)
	}
	if strings.Contains(page, "<img src=x") || !strings.Contains(page, "&lt;img src=x onerror=alert(1)&gt;") {
		t.Errorf("a site's hostile name is not escaped")
	}
	if strings.Contains(page, "Y9-IPAD-12") {
		t.Errorf("a viewer sees a shared device")
	}
	if os.Getenv("TRUST_PAGE_DUMP") != "" {
		os.WriteFile(os.Getenv("TRUST_PAGE_DUMP"), []byte(page), 0o644)
	}
	admin := e.login(store.Admin)
	if code, page = e.get(admin, "/trust?week=2026-11-16"); code != 200 || !strings.Contains(page, "Y9-IPAD-12") {
		t.Errorf("admin's Trust page lacks the shared device: %d", code)
	}
	acc, _ := e.store.AccessLog(context.Background(), 0, 10)
	if len(acc) == 0 || acc[0].Action != "trust-report" || acc[0].User != "admin" || acc[0].Detail != "week=2026-11-16" {
		t.Errorf("access log = %+v, want the admin's look at shared identities", acc)
	}
	if code, _ = e.get(e.login(store.Safeguarding), "/trust"); code != 200 {
		t.Errorf("safeguarding: %d", code)
	}
	if code, _ = e.get(e.login(store.Technician), "/trust"); code != http.StatusForbidden {
		t.Errorf("technician: %d, want 403", code)
	}
	if code, _ = e.get(admin, "/trust?week=soon"); code != http.StatusBadRequest {
		t.Errorf("bad week: %d", code)
	}
	if code, page = e.get(e.login(store.Viewer), "/trust/report.json"); code != 200 || !strings.Contains(page, `"state": "unreachable"`) || strings.Contains(page, "Y9-IPAD-12") {
		t.Errorf("viewer's JSON: %d %s", code, page)
	}
	resp, err := e.login(store.Viewer).Get(e.srv.URL + "/trust/report.html")
	if err != nil || resp.StatusCode != 200 || !strings.Contains(resp.Header.Get("Content-Security-Policy"), "default-src 'none'") {
		t.Errorf("printable page: %v %v", err, resp)
	}
}

func TestTrustSummaryEndpoint(t *testing.T) {
	e := trustEnv(t)
	get := func(auth string) int {
		req, _ := http.NewRequest("GET", e.srv.URL+trust.Path, nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if c := get(""); c != 401 {
		t.Errorf("no token: %d", c)
	}
	if c := get("Bearer remote-token-0123456789"); c != 403 {
		t.Errorf("another site's token: %d", c)
	}
	if c := get("Bearer own-token-0123456789"); c != 200 {
		t.Errorf("own token: %d", c)
	}
	acc, _ := e.store.AccessLog(context.Background(), 0, 10)
	if len(acc) != 1 || acc[0].Action != "trust-summary" || acc[0].Addr != "127.0.0.1" {
		t.Errorf("access log = %+v", acc)
	}

	// Off without the config: no page, no nav entry, no summary.
	plain := newEnv(t)
	if code, page := plain.get(plain.login(store.Admin), "/trust"); code != http.StatusNotFound || strings.Contains(page, `href="/trust"`) {
		t.Errorf("Trust page without trust.sites: %d", code)
	}
	req, _ := http.NewRequest("GET", plain.srv.URL+trust.Path, nil)
	req.Header.Set("Authorization", "Bearer own-token-0123456789")
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("summary without trust.serve: %v %v", err, resp.Status)
	}
}
