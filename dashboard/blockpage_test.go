package dashboard

import (
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
	"testing"
	"time"

	"gatehouse/dashboard/store"
	"gatehouse/querylog"
)

func TestBlockHost(t *testing.T) {
	long := strings.Repeat("a", 63) + ".example"
	for host, want := range map[string]string{
		"Games.Example.org":        "games.example.org",
		"games.example.org:80":     "games.example.org",
		"games.example.org.":       "games.example.org",
		long:                       long,
		strings.Repeat("a", 64):    "",
		"<script>":                 "",
		`"quoted".example`:         "",
		"evil\u202egpj.example":    "",
		"":                         "",
		"a..b":                     "",
		"[::1]:80":                 "",
		strings.Repeat("a.", 130):  "",
		"xn--80ak6aa92e.com":       "xn--80ak6aa92e.com",
		"under_score.example.org.": "under_score.example.org",
	} {
		r := httptest.NewRequest("GET", "/", nil)
		r.Host = host
		if got := blockHost(r); got != want {
			t.Errorf("blockHost(%q) = %q, want %q", host, got, want)
		}
	}
}

func TestBlockPage(t *testing.T) {
	e := newEnv(t)
	srv := httptest.NewServer(e.d.BlockPage())
	t.Cleanup(srv.Close)
	long := strings.Repeat("x", 63) + ".example.org"
	id, _ := e.qlog.EnqueueID(querylog.Entry{Client: netip.MustParseAddr("127.0.0.1"), Group: "pupils", QName: "games.example.org.",
		QType: 1, Decision: querylog.Blocked, Category: "gaming", List: "games"})
	// Someone else's block of the same name is not this client's reference.
	e.qlog.Enqueue(querylog.Entry{Client: netip.MustParseAddr("10.9.9.9"), Group: "pupils", QName: "other.example.org.", Decision: querylog.Blocked, Category: "adult"})
	e.qlog.Enqueue(querylog.Entry{Client: netip.MustParseAddr("127.0.0.1"), Group: "pupils", QName: long + ".", Decision: querylog.Blocked, Category: "gambling"})
	e.qlog.Flush(t.Context())

	get := func(host, method string, form url.Values) (int, string, http.Header) {
		t.Helper()
		var body io.Reader
		if form != nil {
			body = strings.NewReader(form.Encode())
		}
		req, _ := http.NewRequest(method, srv.URL+"/any/path", body)
		req.Host = host
		if form != nil {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b), resp.Header
	}
	code, body, h := get("games.example.org", "GET", nil)
	if code != http.StatusForbidden || !strings.Contains(body, "<strong>"+querylog.Ref(id)+"</strong>") || !strings.Contains(body, "gaming") {
		t.Errorf("block page %d:\n%s", code, body)
	}
	if !strings.Contains(h.Get("Content-Security-Policy"), "default-src 'none'") || h.Get("Cache-Control") != "no-store" {
		t.Errorf("headers %v", h)
	}
	if _, body, _ := get(long, "GET", nil); !strings.Contains(body, long) || !strings.Contains(body, "gambling") {
		t.Error("a 63-byte label is not shown")
	}
	if _, body, _ := get("other.example.org", "GET", nil); strings.Contains(body, "adult") || !strings.Contains(body, "none found") {
		t.Error("another client's block shown")
	}
	if _, body, _ := get(`"><script>alert(1)</script>`, "GET", nil); strings.Contains(body, "<script>alert") {
		t.Error("hostile Host reflected")
	}

	// Review requests are stored with what the server found, not what
	// the form claims, and are bounded per client.
	code, body, _ = get("games.example.org", "POST", url.Values{"message": {"homework \u202e"}, "reference": {"999"}, "category": {"none"}})
	if code != http.StatusOK || !strings.Contains(body, "request was sent") {
		t.Fatalf("review %d", code)
	}
	rs, _ := e.store.Reviews(t.Context(), false, 10)
	if len(rs) != 1 || rs[0].Reference != querylog.Ref(id) || rs[0].Category != "gaming" || rs[0].Host != "games.example.org" || rs[0].Client != "127.0.0.1" {
		t.Errorf("stored review %+v", rs)
	}
	for range store.MaxReviewsPerHour - 1 {
		get("games.example.org", "POST", url.Values{})
	}
	if code, body, _ := get("games.example.org", "POST", url.Values{}); code != http.StatusTooManyRequests || !strings.Contains(body, "too many") {
		t.Errorf("flood: %d", code)
	}
	// The technician's page shows the message as text.
	c := e.login(store.Technician)
	_, body = e.get(c, "/reviews")
	if !strings.Contains(body, "homework [U&#43;202E]") || strings.Contains(body, "\u202e") {
		t.Error("review message not shown as text")
	}
	if !strings.Contains(body, `href="/policy?group=pupils&amp;domain=games.example.org#override"`) {
		t.Error("no link from the review request to an override")
	}
	if !strings.Contains(body, `href="/log?ref=`+querylog.Ref(id)+`"`) {
		t.Error("no link from the review request to its log entry")
	}
	// The reference as a pupil reads it out (lower case, spaces, O for 0)
	// finds the entry on the log page.
	spoken := strings.ToLower(strings.ReplaceAll(strings.ReplaceAll(querylog.Ref(id), "-", " "), "0", "o"))
	if code, body := e.get(c, "/log?ref="+url.QueryEscape(spoken)); code != http.StatusOK ||
		!strings.Contains(body, "<strong>"+querylog.Ref(id)+"</strong>") || strings.Count(body, `<details class="entry`) != 1 {
		t.Errorf("log search by the spoken reference %q: %d, want the one entry", spoken, code)
	}
	if code, body := e.get(c, "/log?ref=not-a-ref"); code == http.StatusOK && !strings.Contains(body, "is not a reference") {
		t.Error("a bad reference is not explained")
	}
	// A cross-site form post is refused.
	req, _ := http.NewRequest("POST", srv.URL+"/", strings.NewReader("message=x"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("cross-site review post: %s", resp.Status)
	}
}

func TestServeReset(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- ServeReset(ln) }()
	for range 3 {
		c, err := net.Dial("tcp", ln.Addr().String())
		if errors.Is(err, syscall.ECONNRESET) {
			continue // the reset won the race with connect's return
		}
		if err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(2 * time.Second))
		// The reset is reported once: to the write if it comes first.
		_, err = c.Write([]byte("\x16\x03\x01"))
		if err == nil {
			_, err = c.Read(make([]byte, 1))
		}
		c.Close()
		if !errors.Is(err, syscall.ECONNRESET) {
			t.Errorf("got %v, want a connection reset", err)
		}
	}
	ln.Close()
	if err := <-done; err != nil {
		t.Errorf("ServeReset after close: %v", err)
	}
}
