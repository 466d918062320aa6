package trust

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"gatehouse/querylog"
	"gatehouse/safeguarding"
)

var (
	london, _ = time.LoadLocation("Europe/London")
	weekStart = time.Date(2026, 11, 16, 0, 0, 0, 0, london)
)

// week is a site's week with personal data everywhere it can be.
func week(site string) (*safeguarding.WeeklySummary, *querylog.Report) {
	dev := safeguarding.Device{Addr: "10.20.3.4", MAC: "aa:bb:cc:dd:ee:ff", Hostname: "Y9-IPAD-12", Group: "year9"}
	c1 := safeguarding.Concern{ID: 1, Category: "self-harm", Priority: safeguarding.Critical, Device: dev, Name: "selfharm.example", Status: safeguarding.StatusNew, Overdue: true}
	c2 := safeguarding.Concern{ID: 2, Category: "pornography", Priority: safeguarding.High, Device: dev, Name: "porn.example", Status: safeguarding.StatusClosed}
	ref := querylog.ClientRef{Client: "10.20.3.4", MAC: "aa:bb:cc:dd:ee:ff", Hostname: "Y9-IPAD-12"}
	q := &querylog.Report{Site: site, Total: 1000,
		ByGroup:           []querylog.GroupTotals{{Group: "year9", Totals: querylog.Totals{Queries: 1000, Blocked: 40, Bypass: 3}}},
		BlockedByCategory: []querylog.Count{{Key: "self-harm", N: 10}, {Key: "pornography", N: 30}},
		TopBlockedNames:   []querylog.Count{{Key: "porn.example", N: 30}},
		TopClients:        []querylog.ClientCount{{Client: ref, Blocked: 40, Bypass: 3}},
		Bypass:            []querylog.BypassCount{{Client: ref, Category: "doh", N: 3}},
	}
	w := &safeguarding.WeeklySummary{Site: site, Concerns: []safeguarding.Concern{c1, c2}, Open: 1, Overdue: []safeguarding.Concern{c1},
		ByStatus:   map[safeguarding.Status]int{safeguarding.StatusNew: 1, safeguarding.StatusClosed: 1},
		Deliveries: safeguarding.DeliveryHealth{Pending: 1, Failing: 1, LastError: "smtp: 550 dsl@school.example unknown"},
		AuditHead:  strings.Repeat("ab", 32), AuditStatus: "verified, 3 records", QueryLog: q}
	return w, q
}

var personal = []string{"10.20.3.4", "aa:bb:cc:dd:ee:ff", "Y9-IPAD-12", "selfharm.example", "porn.example", "dsl@school.example"}

func TestBuild_aggregateCarriesNoPersonalData(t *testing.T) {
	w, q := week("north")
	s := Build("north", weekStart, weekStart.AddDate(0, 0, 7), weekStart, w, q, ShareAggregate)
	data, _ := json.Marshal(s)
	for _, p := range personal {
		if bytes.Contains(data, []byte(p)) {
			t.Errorf("aggregate summary carries %q: %s", p, data)
		}
	}
	sg := s.Safeguarding
	if sg.Concerns != 2 || sg.ByPriority["critical"] != 1 || sg.ByPriority["high"] != 1 || sg.ByCategory["pornography"] != 1 ||
		sg.ByStatus["closed"] != 1 || sg.Open != 1 || sg.Overdue != 1 || sg.OverdueByPriority["critical"] != 1 ||
		sg.Deliveries != (Deliveries{Pending: 1, Failing: 1}) || !sg.AuditVerified {
		t.Errorf("safeguarding = %+v", sg)
	}
	if f := s.Filtering; f.Queries != 1000 || f.Blocked != 40 || f.Bypass != 3 || f.BlockedByCategory["pornography"] != 30 || f.BypassByKind["doh"] != 3 {
		t.Errorf("filtering = %+v", f)
	}

	// Shared identities carry devices, never the delivery error.
	s = Build("north", weekStart, weekStart.AddDate(0, 0, 7), weekStart, w, q, ShareIdentities)
	data, _ = json.Marshal(s)
	for _, p := range []string{"10.20.3.4", "Y9-IPAD-12"} {
		if !bytes.Contains(data, []byte(p)) {
			t.Errorf("identities summary lacks %q", p)
		}
	}
	if bytes.Contains(data, []byte("dsl@school.example")) {
		t.Errorf("summary carries the delivery error")
	}

	// A broken chain is reported as such; safeguarding off leaves it out.
	w.AuditStatus = "BROKEN: record 2: hash mismatch"
	if s := Build("n", weekStart, weekStart, weekStart, w, q, ShareAggregate); s.Safeguarding.AuditVerified {
		t.Error("a broken audit chain reads as verified")
	}
	if s := Build("n", weekStart, weekStart, weekStart, nil, q, ShareAggregate); s.Safeguarding != nil || s.Filtering == nil {
		t.Errorf("safeguarding off: %+v", s)
	}
}

func TestWeek(t *testing.T) {
	for _, tc := range []struct{ day, from string }{
		{"2026-11-16", "2026-11-16"}, // Monday
		{"2026-11-22", "2026-11-16"}, // Sunday
		{"2026-11-19", "2026-11-16"},
		{"2026-03-29", "2026-03-23"}, // the clocks go forward that Sunday
	} {
		d, _ := time.ParseInLocation(time.DateOnly, tc.day, london)
		from, to := Week(d.Add(22*time.Hour), london)
		if got := from.Format(time.DateOnly); got != tc.from || from.Hour() != 0 || to.Sub(from) < 167*time.Hour || to.Weekday() != time.Monday {
			t.Errorf("Week(%s) = %s..%s, want from %s", tc.day, from, to, tc.from)
		}
	}
}

const token = "a-good-long-token-123"

// siteServer serves a real summary built from week() as a site does.
func siteServer(t *testing.T, name string, share Share, recorded *[]string) *httptest.Server {
	t.Helper()
	w, q := week(name)
	h := Handler{Token: token, Location: london, Now: func() time.Time { return weekStart.AddDate(0, 0, 10) },
		Source: func(ctx context.Context, from, to time.Time) (Summary, error) {
			return Build(name, from, to, to, w, q, share), nil
		},
		Record: func(r *http.Request, detail string) error {
			if recorded != nil {
				*recorded = append(*recorded, detail)
			}
			return nil
		}}
	s := httptest.NewServer(h)
	t.Cleanup(s.Close)
	return s
}

func TestHandler(t *testing.T) {
	var recorded []string
	s := siteServer(t, "north", ShareAggregate, &recorded)
	get := func(auth, query string) (*http.Response, string) {
		req, _ := http.NewRequest("GET", s.URL+Path+query, nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var b bytes.Buffer
		b.ReadFrom(resp.Body)
		return resp, b.String()
	}
	if resp, _ := get("", ""); resp.StatusCode != 401 || resp.Header.Get("WWW-Authenticate") == "" {
		t.Errorf("no token: %d", resp.StatusCode)
	}
	for _, bad := range []string{"Bearer wrong", "Bearer " + token + "x", "Basic " + token, "Bearer "} {
		if resp, body := get(bad, ""); resp.StatusCode == 200 {
			t.Errorf("%q let in: %s", bad, body)
		}
	}
	if resp, _ := get("Bearer "+token, "?week=16/11/2026"); resp.StatusCode != 400 {
		t.Errorf("bad week: %d", resp.StatusCode)
	}
	if len(recorded) != 0 {
		t.Errorf("refused requests were served and recorded: %v", recorded)
	}
	resp, body := get("Bearer "+token, "?week=2026-11-18")
	var sum Summary
	if resp.StatusCode != 200 || json.Unmarshal([]byte(body), &sum) != nil || !sum.From.Equal(weekStart) || sum.Safeguarding.Concerns != 2 {
		t.Fatalf("good request: %d %s", resp.StatusCode, body)
	}
	if resp.Header.Get("Cache-Control") != "no-store" || len(recorded) != 1 || recorded[0] != "week=2026-11-16" {
		t.Errorf("headers %v, recorded %v", resp.Header, recorded)
	}
	// The current week is the seven days up to now.
	_, body = get("Bearer "+token, "")
	json.Unmarshal([]byte(body), &sum)
	if now := weekStart.AddDate(0, 0, 10); !sum.To.Equal(now) || !sum.From.Equal(now.AddDate(0, 0, -7)) {
		t.Errorf("current week = %s..%s", sum.From, sum.To)
	}

	// No access log, no summary.
	h := Handler{Token: token, Source: func(context.Context, time.Time, time.Time) (Summary, error) { return Summary{}, nil },
		Record: func(*http.Request, string) error { return errors.New("disk full") }}
	rec := httptest.NewRecorder()
	req := httptest.NewRequest("GET", Path, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	h.ServeHTTP(rec, req)
	if rec.Code != 500 || strings.Contains(rec.Body.String(), "version") {
		t.Errorf("with the access log failing: %d %s", rec.Code, rec.Body)
	}
}

func TestCollector(t *testing.T) {
	north := siteServer(t, "north", ShareAggregate, nil)
	south := siteServer(t, "south", ShareIdentities, nil)
	// A site that is down: a port that was just closed.
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	down := "http://" + l.Addr().String()
	l.Close()
	// A site answering something that is not a summary.
	junk := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(`{"version": 99}`)) }))
	defer junk.Close()
	// A site with a status text as long as it likes.
	ll, _ := net.Listen("tcp", "127.0.0.1:0")
	defer ll.Close()
	go func() {
		for {
			conn, err := ll.Accept()
			if err != nil {
				return
			}
			buf := make([]byte, 4096)
			conn.Read(buf)
			conn.Write([]byte("HTTP/1.1 500 " + strings.Repeat("<b>A", 2000) + "\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"))
			conn.Close()
		}
	}()
	longStatus := struct{ URL string }{"http://" + ll.Addr().String()}
	// A site not serving summaries: its dashboard asks for a login.
	noToken := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "login required", http.StatusUnauthorized)
	}))
	defer noToken.Close()

	state := filepath.Join(t.TempDir(), "reached.json")
	now := weekStart.AddDate(0, 0, 3)
	sites := []SiteConfig{{"North", north.URL, token}, {"South", south.URL, token}, {"Down", down, token},
		{"Wrong", north.URL, "wrong-token-0123456789"}, {"Junk", junk.URL, token}, {"Unauth", noToken.URL, token}}
	c := NewCollector(sites, &http.Client{Timeout: 5 * time.Second}, state, func() time.Time { return now })
	rep := c.Collect(context.Background(), "2026-11-16")
	want := []string{StateOK, StateOK, StateUnreachable, StateForbidden, StateError, StateUnauthorized}
	for i, s := range rep.Sites {
		if s.Name != sites[i].Name || s.State != want[i] {
			t.Errorf("site %d %s: %s (%s), want %s", i, s.Name, s.State, s.Error, want[i])
		}
		if (s.State == StateOK) != s.LastReached.Equal(now) {
			t.Errorf("site %s last reached %s", s.Name, s.LastReached)
		}
	}
	if long := c.fetch(context.Background(), SiteConfig{Name: "Long", URL: longStatus.URL, Token: token}, ""); long.State != StateError || len(long.Error) > maxErrorBytes+3 || !strings.Contains(long.Error, "<b>A") {
		t.Errorf("a long status text: %s, %d bytes", long.State, len(long.Error))
	}
	if !strings.Contains(rep.Sites[4].Error, "version 99") {
		t.Errorf("junk site error: %s", rep.Sites[4].Error)
	}
	if rep.Total.Sites != 6 || rep.Total.Reached != 2 || rep.Total.Safeguarding.Concerns != 4 || rep.Total.Safeguarding.ByCategory["self-harm"] != 2 ||
		rep.Total.Filtering.Blocked != 80 || rep.Total.Filtering.BypassByKind["doh"] != 6 || rep.Total.Safeguarding.Overdue != 2 {
		t.Errorf("total = %+v", rep.Total)
	}

	// A later run with North down remembers when it was last reached.
	north.Close()
	later := now.Add(time.Hour)
	c2 := NewCollector(sites[:1], &http.Client{Timeout: 5 * time.Second}, state, func() time.Time { return later })
	rep2 := c2.Collect(context.Background(), "")
	if s := rep2.Sites[0]; s.State != StateUnreachable || !s.LastReached.Equal(now) {
		t.Errorf("North down: %s, last reached %s, want %s", s.State, s.LastReached, now)
	}
	var text bytes.Buffer
	rep2.WriteText(&text, london)
	if !strings.Contains(text.String(), "UNREACHABLE") || !strings.Contains(text.String(), "last reached Thu 19 Nov 00:00") {
		t.Errorf("text:\n%s", text.String())
	}

	// Two people on the Trust page at once.
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() { c.Collect(context.Background(), "") })
	}
	wg.Wait()
	if data, err := os.ReadFile(state); err != nil || !json.Valid(data) {
		t.Errorf("state file after concurrent collections: %v %q", err, data)
	}

	// Without identities, nothing personal is in any rendering.
	for _, r := range []Report{rep.WithoutIdentities()} {
		var js, html, txt bytes.Buffer
		r.WriteJSON(&js)
		r.WriteHTML(&html, london)
		r.WriteText(&txt, london)
		for _, out := range []string{js.String(), html.String(), txt.String()} {
			for _, p := range personal {
				if strings.Contains(out, p) {
					t.Errorf("report without identities carries %q", p)
				}
			}
		}
	}
	if rep.WithoutIdentities(); rep.Sites[1].Summary.Identities == nil {
		t.Error("WithoutIdentities changed the report it was called on")
	}
}

// A hostile site (or a hostile name in one) cannot inject markup into the
// trust's page or drive its terminal.
func TestReport_hostileNames(t *testing.T) {
	evil := `<script>alert(1)</script>`
	s := Summary{Version: Version, Site: evil,
		Safeguarding: &Safeguarding{Concerns: 1, ByPriority: map[string]int{"critical": 1}, ByCategory: map[string]int{evil: 1},
			ByStatus: map[string]int{"new": 1}, AuditStatus: evil + "\x1b[2J", AuditHead: evil},
		Filtering:  &Filtering{BlockedByCategory: map[string]int64{evil + "\u202e": 3}, BypassByKind: map[string]int64{}, ByGroup: []GroupTotals{{Group: evil}}},
		Identities: &Identities{Concerns: []ConcernDetail{{Device: evil, Group: evil, Category: evil}}, Bypass: []BypassDetail{{Device: evil, Kind: evil}}}}
	rep := newReport("", weekStart, []SiteResult{{Name: evil, State: StateOK, Summary: &s}, {Name: evil + "\x1b]0;x\a", State: StateUnreachable, Error: evil}})
	var html, txt bytes.Buffer
	if err := rep.WriteHTML(&html, london); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(html.String(), "<script") {
		t.Errorf("HTML carries a script tag:\n%s", html.String())
	}
	if !strings.Contains(html.String(), "&lt;script&gt;alert(1)&lt;/script&gt;") {
		t.Errorf("HTML lacks the escaped name")
	}
	rep.WriteText(&txt, london)
	if strings.ContainsAny(txt.String(), "\x1b\a\u202e") {
		t.Errorf("text carries terminal controls: %q", txt.String())
	}
}
