package dashboard

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"gatehouse/dashboard/store"
)

// An admin sees every account's sessions and ends another's: that browser
// is signed out at once. Only admins may.
func TestAccounts_endSession(t *testing.T) {
	e := newEnv(t)
	admin := e.login(store.Admin)
	tech := e.login(store.Technician)
	if code, _ := e.get(tech, "/status"); code != http.StatusOK {
		t.Fatalf("technician's status page: %d", code)
	}
	_, body := e.get(admin, "/accounts")
	ends := regexp.MustCompile(`action="/accounts/sessions/([0-9a-f]+)/end"`).FindAllStringSubmatch(body, -1)
	if len(ends) != 2 || !strings.Contains(body, "(this session)") {
		t.Fatalf("accounts page offers %d sessions to end, want the admin's and the technician's", len(ends))
	}
	sessions, err := e.store.Sessions(context.Background(), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	var techID string
	for _, s := range sessions {
		if s.User == "technician" {
			techID = s.ID
		}
	}

	// Not without the token, not by a technician.
	if code, _ := e.post(admin, "/accounts/sessions/"+techID+"/end", url.Values{}); code != http.StatusForbidden {
		t.Errorf("end without CSRF: %d, want 403", code)
	}
	if code, _ := e.post(tech, "/accounts/sessions/"+techID+"/end", url.Values{"csrf": {e.csrf(tech)}}); code != http.StatusForbidden {
		t.Errorf("a technician ending a session: %d, want 403", code)
	}
	if code, _ := e.post(admin, "/accounts/sessions/"+techID+"/end", url.Values{"csrf": {e.csrf(admin)}}); code != http.StatusSeeOther {
		t.Fatalf("end: %d, want a redirect", code)
	}
	resp, err := tech.Get(e.srv.URL + "/status")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/login") {
		t.Errorf("the ended session still opens pages: %s", resp.Status)
	}
	if code, _ := e.get(admin, "/accounts"); code != http.StatusOK {
		t.Errorf("the admin's own session ended too: %d", code)
	}
	if code, body := e.post(admin, "/accounts/sessions/"+techID+"/end", url.Values{"csrf": {e.csrf(admin)}}); code != http.StatusBadRequest || !strings.Contains(body, "not ended") {
		t.Errorf("ending it again: %d", code)
	}
}

// Prune applies the configured retention: a year of access log (the
// defaults), 90 days of closed review requests, open requests kept.
func TestPrune_retention(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	now := time.Now()
	for _, at := range []time.Time{now.Add(-366 * 24 * time.Hour), now.Add(-364 * 24 * time.Hour)} {
		if err := e.store.LogAccess(ctx, store.Access{At: at, User: "sg", Addr: "10.0.0.1", Action: "search", Detail: at.String()}); err != nil {
			t.Fatal(err)
		}
	}
	old, _ := e.store.AddReview(ctx, store.Review{At: now.Add(-200 * 24 * time.Hour), Client: "10.1.2.3", Host: "a.example"})
	recent, _ := e.store.AddReview(ctx, store.Review{At: now.Add(-200 * 24 * time.Hour), Client: "10.1.2.3", Host: "b.example"})
	open, _ := e.store.AddReview(ctx, store.Review{At: now.Add(-200 * 24 * time.Hour), Client: "10.1.2.3", Host: "c.example"})
	e.store.CloseReview(ctx, old, "tech", "", now.Add(-91*24*time.Hour))
	e.store.CloseReview(ctx, recent, "tech", "", now.Add(-89*24*time.Hour))

	e.d.Prune(ctx)
	acc, _ := e.store.AccessLog(ctx, 0, 10)
	if len(acc) != 1 || acc[0].At.Before(now.Add(-365*24*time.Hour)) {
		t.Errorf("access log after Prune: %+v, want only the record within a year", acc)
	}
	revs, _ := e.store.Reviews(ctx, true, 10)
	if len(revs) != 2 || revs[0].ID != open || revs[1].ID != recent {
		t.Errorf("reviews after Prune: %+v, want the open one and the one closed 89 days ago", revs)
	}
}
