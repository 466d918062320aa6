package dashboard

import (
	"errors"
	"math"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"gatehouse/dashboard/store"
)

func TestStatus(t *testing.T) {
	e := newEnv(t)
	healthy := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "gatehouse_forward_upstream_healthy"}, []string{"upstream"})
	queries := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "gatehouse_server_queries_total"}, []string{"proto", "type"})
	decisions := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "gatehouse_policy_decisions_total"}, []string{"action", "reason"})
	hits := prometheus.NewCounter(prometheus.CounterOpts{Name: "gatehouse_cache_hits_total"})
	misses := prometheus.NewCounter(prometheus.CounterOpts{Name: "gatehouse_cache_misses_total"})
	entries := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "gatehouse_blocklists_entries"}, []string{"list"})
	e.reg.MustRegister(healthy, queries, decisions, hits, misses, entries)
	healthy.WithLabelValues("192.0.2.1:53").Set(1)
	entries.WithLabelValues("adult").Set(1234)
	entries.WithLabelValues("iwf").Set(10)
	c := e.login(store.Technician)

	// Two samples ten seconds apart: 50 q/s, a quarter blocked, 80% hits.
	t0 := time.Now()
	e.d.samples.take(t0.Add(-10 * time.Second))
	queries.WithLabelValues("udp", "A").Add(500)
	decisions.WithLabelValues("pass", "none").Add(300)
	decisions.WithLabelValues("block", "list").Add(100)
	hits.Add(80)
	misses.Add(20)
	e.d.samples.take(t0)
	v := e.d.buildStatus()
	if math.Abs(v.BlockedShare-0.25) > 1e-9 || math.Abs(v.CacheHitRate-0.8) > 1e-9 || len(v.QPSChart.Bars) != 2 {
		t.Errorf("blocked %v hits %v bars %d", v.BlockedShare, v.CacheHitRate, len(v.QPSChart.Bars))
	}
	if len(v.Problems) != 0 {
		t.Errorf("problems on a healthy site: %+v", v.Problems)
	}
	_, body := e.get(c, "/status")
	for _, want := range []string{"All is well", "1234", "25.0%", "80.0%", "192.0.2.1:53", "Generation <strong>3</strong>"} {
		if !strings.Contains(body, want) {
			t.Errorf("status page lacks %q", want)
		}
	}

	// Now everything goes wrong.
	healthy.WithLabelValues("192.0.2.1:53").Set(0)
	entries.WithLabelValues("iwf").Set(0)
	e.site.mu.Lock()
	e.site.st.LastReload = Reload{At: time.Now(), Err: `t.yaml:3:1: groups: <b>bad</b>`}
	e.site.st.Lists = append(e.site.st.Lists, ListStatus{Name: "feed", Category: "gambling", LastError: "HTTP status 404 Not Found"})
	e.site.st.Leases = []LeaseStatus{{Path: "/var/lib/dhcp/dhcpd.leases", Format: "isc-dhcpd", Err: "file missing"}}
	e.site.mu.Unlock()
	code, body := e.get(c, "/status")
	if code != http.StatusOK || strings.Contains(body, "All is well") {
		t.Fatalf("status %d still all well", code)
	}
	probs := body[strings.Index(body, `class="problems"`):strings.Index(body, `class="tiles"`)]
	want := []string{
		"No upstream is healthy", // severe ones first
		"Locked list iwf (iwf) has no entries",
		"groups: &lt;b&gt;bad&lt;/b&gt;. The previous configuration is still in force",
		"List feed: HTTP status 404 Not Found",
		"Lease file /var/lib/dhcp/dhcpd.leases: file missing",
	}
	last := -1
	for _, w := range want {
		i := strings.Index(probs, w)
		if i < 0 {
			t.Errorf("problems lack %q", w)
			continue
		}
		if i < last {
			t.Errorf("%q out of order", w)
		}
		last = i
	}
	if !strings.Contains(probs, `<li class="severe">`) {
		t.Error("severe problems not marked")
	}
}

func TestNiceCeil(t *testing.T) {
	for in, want := range map[float64]float64{0: 1, 0.3: 0.5, 1: 1, 7: 10, 12: 20, 45: 50, 101: 200, 999: 1000} {
		if got := niceCeil(in); math.Abs(got-want) > 1e-9 {
			t.Errorf("niceCeil(%v) = %v, want %v", in, got, want)
		}
	}
}

// A downloaded list that shrank shows its held download as a problem and,
// for those who may change lists, an Accept button that posts with the
// CSRF token and names the account.
func TestStatus_acceptHeldList(t *testing.T) {
	e := newEnv(t)
	e.site.mu.Lock()
	e.site.st.Lists = append(e.site.st.Lists, ListStatus{Name: "feed", Category: "gambling", Entries: 1000,
		LastError:   "fetching http://lists.test/feed: 10 valid lines, fewer than 50% of the 1000 of the stored copy (cut short?)",
		HeldVersion: "0123456789ab", HeldLines: 10})
	e.site.mu.Unlock()

	tech := e.login(store.Technician)
	_, body := e.get(tech, "/status")
	for _, want := range []string{"The new download (10 lines) is held", `gatehouse lists accept feed`, `action="/lists/feed/accept"`, "Accept the new download (10 lines)"} {
		if !strings.Contains(body, want) {
			t.Errorf("technician's status page lacks %q", want)
		}
	}
	if code, _ := e.post(tech, "/lists/feed/accept", url.Values{}); code != http.StatusForbidden {
		t.Errorf("accept without the CSRF token: %d, want 403", code)
	}
	if len(e.control.accepted) != 0 {
		t.Fatalf("accepted without a token: %v", e.control.accepted)
	}
	m := csrfRE.FindStringSubmatch(body)
	if m == nil {
		t.Fatal("no CSRF token in the accept form")
	}
	if code, _ := e.post(tech, "/lists/feed/accept", url.Values{"csrf": {m[1]}}); code != http.StatusSeeOther {
		t.Errorf("accept: %d, want a redirect", code)
	}
	if got := e.control.accepted; len(got) != 1 || got[0] != "feed by technician" {
		t.Errorf("accepted %v, want feed by technician", got)
	}

	// Those who may not change lists see the state, not the button.
	sg := e.login(store.Safeguarding)
	if code, body := e.get(sg, "/status"); code == http.StatusOK && strings.Contains(body, `action="/lists/feed/accept"`) {
		t.Error("the safeguarding lead is offered the accept button")
	}
	if code, _ := e.post(sg, "/lists/feed/accept", url.Values{"csrf": {e.csrf(sg)}}); code != http.StatusForbidden {
		t.Errorf("safeguarding lead's accept: %d, want 403", code)
	}

	// A smaller locked list (less illegal content blocked) is for an
	// admin to accept, not a technician.
	e.site.mu.Lock()
	e.site.st.Lists = append(e.site.st.Lists, ListStatus{Name: "iwf-feed", Category: "iwf", Locked: true, Entries: 1000,
		LastError: "fewer lines", HeldVersion: "0123456789ab", HeldLines: 10})
	e.site.mu.Unlock()
	if code, _ := e.post(tech, "/lists/iwf-feed/accept", url.Values{"csrf": {m[1]}}); code != http.StatusForbidden {
		t.Errorf("technician's accept of a locked list: %d, want 403", code)
	}
	admin := e.login(store.Admin)
	if code, _ := e.post(admin, "/lists/iwf-feed/accept", url.Values{"csrf": {e.csrf(admin)}}); code != http.StatusSeeOther {
		t.Errorf("admin's accept of a locked list: %d, want a redirect", code)
	}
	if got := e.control.accepted; len(got) != 2 || got[1] != "iwf-feed by admin" {
		t.Errorf("accepted %v, want iwf-feed by admin last", got)
	}

	e.control.err = errors.New("list \"feed\": no rejected download is held")
	if code, body := e.post(tech, "/lists/feed/accept", url.Values{"csrf": {m[1]}}); code != http.StatusBadRequest || !strings.Contains(body, "no rejected download is held") {
		t.Errorf("failed accept: %d, want 400 saying why", code)
	}
}
