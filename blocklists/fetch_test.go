package blocklists

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

// listServer serves one list over HTTP on loopback, with an ETag and a
// Last-Modified date, answering conditional requests; tests change what
// it serves and read what it was sent.
type listServer struct {
	*httptest.Server
	mu      sync.Mutex
	body    string
	etag    string
	lastMod string
	handler http.HandlerFunc // replaces the list when set
	reqs    []http.Header
}

func newListServer(t *testing.T, body string) *listServer {
	t.Helper()
	ls := &listServer{}
	ls.set(body, `"v1"`)
	ls.Server = httptest.NewServer(http.HandlerFunc(ls.serve))
	t.Cleanup(ls.Close)
	return ls
}

func (ls *listServer) set(body, etag string) {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	ls.body, ls.etag = body, etag
	ls.lastMod = time.Date(2025, 9, 1, 8, 0, len(ls.reqs), 0, time.UTC).Format(http.TimeFormat)
}

func (ls *listServer) handle(h http.HandlerFunc) {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	ls.handler = h
}

func (ls *listServer) serve(w http.ResponseWriter, r *http.Request) {
	ls.mu.Lock()
	ls.reqs = append(ls.reqs, r.Header.Clone())
	h, body, etag, lastMod := ls.handler, ls.body, ls.etag, ls.lastMod
	ls.mu.Unlock()
	if h != nil {
		h(w, r)
		return
	}
	w.Header().Set("ETag", etag)
	w.Header().Set("Last-Modified", lastMod)
	if r.Header.Get("If-None-Match") == etag {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	io.WriteString(w, body)
}

// lastRequest is the header of the last request served.
func (ls *listServer) lastRequest(t *testing.T) http.Header {
	t.Helper()
	ls.mu.Lock()
	defer ls.mu.Unlock()
	if len(ls.reqs) == 0 {
		t.Fatal("no request reached the server")
	}
	return ls.reqs[len(ls.reqs)-1]
}

func (ls *listServer) requests() int {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	return len(ls.reqs)
}

func newTestFetcher(t *testing.T, ls *listServer, s *Store, cfg FetcherConfig) *Fetcher {
	t.Helper()
	if cfg.Client == nil {
		cfg.Client = ls.Client()
	}
	cfg.TempDir = s.Dir()
	f, err := NewFetcher(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// names returns a domains list of n names.
func names(n int, prefix string) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "%s%d.example\n", prefix, i)
	}
	return b.String()
}

// fetchSave fetches the list "ads" from ls with the stored copy as Prev
// and saves the result.
func fetchSave(t *testing.T, f *Fetcher, s *Store, ls *listServer, force bool) (*Result, bool, error) {
	t.Helper()
	d := Download{Name: "ads", URL: ls.URL + "/ads.txt", Force: force}
	if m, err := s.Meta("ads"); err == nil {
		d.Prev = &m
	}
	res, err := f.Fetch(t.Context(), d)
	if err != nil {
		if fe := (*FetchError)(nil); errors.As(err, &fe) && fe.Rejected != nil {
			fe.Rejected.Close()
		}
		return nil, false, err
	}
	defer res.Close()
	changed, err := s.Save(res)
	if err != nil {
		t.Fatalf("Save: %v", err)
	}
	return res, changed, nil
}

func storedText(t *testing.T, s *Store, name string) string {
	t.Helper()
	src, err := s.Source(name, Auto)
	if err != nil {
		t.Fatal(err)
	}
	return readSource(t, src)
}

func wantReason(t *testing.T, err error, reason string) {
	t.Helper()
	var fe *FetchError
	if !errors.As(err, &fe) || fe.Reason != reason || FailureReason(err) != reason {
		t.Fatalf("error = %v, want a FetchError for %s", err, reason)
	}
	t.Log(err)
	if !strings.Contains(err.Error(), fe.URL) || !strings.HasPrefix(fe.URL, "http://127.0.0.1:") {
		t.Errorf("error %q does not name the URL", err)
	}
}

// noTemps fails if a download was left in the store's directory.
func noTemps(t *testing.T, s *Store) {
	t.Helper()
	for _, f := range dirFiles(t, s.Dir()) {
		if strings.HasPrefix(f, tempPrefix) {
			t.Errorf("temporary file %s left behind", f)
		}
	}
}

func TestFetch_lifecycle(t *testing.T) {
	s := openTestStore(t)
	v1 := names(100, "ads")
	ls := newListServer(t, v1)
	f := newTestFetcher(t, ls, s, FetcherConfig{})

	// First fetch: stored, with the validators.
	res, changed, err := fetchSave(t, f, s, ls, false)
	if err != nil || !changed || res.NotModified {
		t.Fatalf("first fetch: %+v, changed %v, %v; want a new copy", res, changed, err)
	}
	if h := ls.lastRequest(t); h.Get("If-None-Match") != "" || h.Get("If-Modified-Since") != "" || h.Get("User-Agent") != "Gatehouse" {
		t.Errorf("first request headers %v: want no conditions, our user agent", h)
	}
	m1, err := s.Meta("ads")
	if err != nil || m1.ETag != `"v1"` || m1.LastModified == "" || m1.ValidLines != 100 || m1.Bytes != int64(len(v1)) {
		t.Fatalf("stored meta %+v, %v", m1, err)
	}
	if got := storedText(t, s, "ads"); got != v1 {
		t.Error("stored text differs from the served list")
	}

	// Unchanged: the validators go back, the 304 keeps the copy.
	res, changed, err = fetchSave(t, f, s, ls, false)
	if err != nil || changed || !res.NotModified {
		t.Fatalf("second fetch: %+v, changed %v, %v; want not modified", res, changed, err)
	}
	if h := ls.lastRequest(t); h.Get("If-None-Match") != `"v1"` || h.Get("If-Modified-Since") != m1.LastModified {
		t.Errorf("conditional request headers %v: want If-None-Match %s, If-Modified-Since %s", h, m1.ETag, m1.LastModified)
	}
	m2, _ := s.Meta("ads")
	if m2.SHA256 != m1.SHA256 || !m2.FetchedAt.Equal(m1.FetchedAt) || m2.CheckedAt.Before(m1.CheckedAt) {
		t.Errorf("after 304: meta %+v, want the same copy checked again", m2)
	}

	// Changed: replaced.
	v2 := names(120, "ads")
	ls.set(v2, `"v2"`)
	_, changed, err = fetchSave(t, f, s, ls, false)
	if err != nil || !changed {
		t.Fatalf("third fetch: changed %v, %v; want a new copy", changed, err)
	}
	if m3, _ := s.Meta("ads"); m3.ETag != `"v2"` || m3.ValidLines != 120 || storedText(t, s, "ads") != v2 {
		t.Errorf("after change: meta %+v", m3)
	}

	// Same content under a new ETag (a server that regenerates it): not
	// a change.
	ls.set(v2, `"v3"`)
	_, changed, err = fetchSave(t, f, s, ls, false)
	if m4, _ := s.Meta("ads"); err != nil || changed || m4.ETag != `"v3"` {
		t.Errorf("same content, new ETag: changed %v, %v, ETag %s; want unchanged with the new ETag", changed, err, m4.ETag)
	}
	noTemps(t, s)
}

// Every rejected download leaves the stored copy as it was.
func TestFetch_rejected(t *testing.T) {
	gz := func(s string) []byte {
		var b bytes.Buffer
		zw := gzip.NewWriter(&b)
		io.WriteString(zw, s)
		zw.Close()
		return b.Bytes()
	}
	const stored = 1000
	tests := []struct {
		name    string
		handler http.HandlerFunc
		max     int64
		want    string
	}{
		{"server error", func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, "oops", http.StatusInternalServerError)
		}, 0, ReasonHTTPStatus},
		{"not found", http.NotFound, 0, ReasonHTTPStatus},
		{"partial content", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusPartialContent)
			io.WriteString(w, names(stored, "ads"))
		}, 0, ReasonHTTPStatus},
		{"truncated", func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, names(300, "ads"))
		}, 0, ReasonTooSmall},
		{"empty", func(w http.ResponseWriter, r *http.Request) {}, 0, ReasonTooSmall},
		{"HTML page", func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, "\n  <!DOCTYPE html>\n<html><body>Proxy error</body></html>\n")
		}, 0, ReasonNotAList},
		{"captive portal text", func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, names(stored, "ads")[:40]+strings.Repeat("Please log in to use the network here\n", stored))
		}, 0, ReasonNotAList},
		{"comments only", func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, "# nothing today\n")
		}, 0, ReasonNotAList},
		{"bad gzip", func(w http.ResponseWriter, r *http.Request) {
			w.Write(append([]byte{0x1f, 0x8b}, "not really gzip at all"...))
		}, 0, ReasonNotAList},
		// The stored list has about 12 kB.
		{"over the limit, with a length", func(w http.ResponseWriter, r *http.Request) {
			body := names(3*stored, "ads")
			w.Header().Set("Content-Length", fmt.Sprint(len(body)))
			io.WriteString(w, body)
		}, 20000, ReasonTooLarge},
		{"over the limit, chunked", func(w http.ResponseWriter, r *http.Request) {
			for range 10 {
				io.WriteString(w, names(stored/3, "ads"))
				w.(http.Flusher).Flush()
			}
		}, 20000, ReasonTooLarge},
		{"gzip bomb", func(w http.ResponseWriter, r *http.Request) {
			w.Write(gz(strings.Repeat("a.example\n", 100000)))
		}, 20000, ReasonTooLarge},
		{"body cut short", func(w http.ResponseWriter, r *http.Request) {
			body := names(stored, "ads")
			w.Header().Set("Content-Length", fmt.Sprint(len(body)))
			io.WriteString(w, body[:len(body)/2])
			panic(http.ErrAbortHandler)
		}, 0, ReasonNetwork},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := openTestStore(t)
			old := names(stored, "ads")
			ls := newListServer(t, old)
			f := newTestFetcher(t, ls, s, FetcherConfig{MaxBytes: tc.max})
			if _, _, err := fetchSave(t, f, s, ls, false); err != nil {
				t.Fatal(err)
			}
			ls.handle(tc.handler)
			_, _, err := fetchSave(t, f, s, ls, false)
			wantReason(t, err, tc.want)
			// Only a download that is a list, but far shorter than the
			// stored one, is offered for keeping aside.
			if fe := (*FetchError)(nil); errors.As(err, &fe) && (fe.Rejected != nil) != (tc.name == "truncated") {
				t.Errorf("Rejected = %v, want a download only for a truncated list", fe.Rejected)
			}
			if got := storedText(t, s, "ads"); got != old {
				t.Error("the stored copy changed")
			}
			noTemps(t, s)
		})
	}
}

// A 304 is only an answer to a conditional request.
func TestFetch_unaskedNotModified(t *testing.T) {
	s := openTestStore(t)
	ls := newListServer(t, "")
	ls.handle(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNotModified) })
	f := newTestFetcher(t, ls, s, FetcherConfig{})
	_, _, err := fetchSave(t, f, s, ls, false)
	wantReason(t, err, ReasonHTTPStatus)
}

// Force lets an operator accept a list that really shrank; the other
// checks still apply.
func TestFetch_force(t *testing.T) {
	s := openTestStore(t)
	ls := newListServer(t, names(1000, "ads"))
	f := newTestFetcher(t, ls, s, FetcherConfig{})
	if _, _, err := fetchSave(t, f, s, ls, false); err != nil {
		t.Fatal(err)
	}
	small := names(10, "ads")
	ls.set(small, `"small"`)
	_, _, err := fetchSave(t, f, s, ls, false)
	wantReason(t, err, ReasonTooSmall)
	if _, changed, err := fetchSave(t, f, s, ls, true); err != nil || !changed || storedText(t, s, "ads") != small {
		t.Errorf("forced: changed %v, %v; want the small list stored", changed, err)
	}
	ls.set("<html></html>", `"html"`)
	_, _, err = fetchSave(t, f, s, ls, true)
	wantReason(t, err, ReasonNotAList)
}

// A list whose URL changed is fetched unconditionally and may be smaller.
func TestFetch_urlChanged(t *testing.T) {
	s := openTestStore(t)
	ls := newListServer(t, names(1000, "ads"))
	f := newTestFetcher(t, ls, s, FetcherConfig{})
	if _, _, err := fetchSave(t, f, s, ls, false); err != nil {
		t.Fatal(err)
	}
	ls.set(names(10, "new"), `"v1"`) // the same ETag, by chance
	prev, _ := s.Meta("ads")
	res, err := f.Fetch(t.Context(), Download{Name: "ads", URL: ls.URL + "/other.txt", Prev: &prev})
	if err != nil || res.NotModified || res.Meta.ValidLines != 10 {
		t.Fatalf("Fetch of the new URL = %+v, %v; want a new 10-line copy", res, err)
	}
	res.Close()
	if h := ls.lastRequest(t); h.Get("If-None-Match") != "" || h.Get("If-Modified-Since") != "" {
		t.Errorf("request to the new URL was conditional: %v", h)
	}
}

func TestFetch_gzip(t *testing.T) {
	text := names(50, "gz")
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	io.WriteString(zw, text)
	zw.Close()
	gzipped := b.Bytes()
	tests := []struct {
		name    string
		handler http.HandlerFunc
	}{
		{"content encoding", func(w http.ResponseWriter, r *http.Request) {
			if !strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") {
				io.WriteString(w, "not asked for gzip")
				return
			}
			w.Header().Set("Content-Encoding", "gzip")
			w.Write(gzipped)
		}},
		{"gzip file", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/gzip")
			w.Write(gzipped)
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := openTestStore(t)
			ls := newListServer(t, "")
			ls.handle(tc.handler)
			f := newTestFetcher(t, ls, s, FetcherConfig{})
			if _, _, err := fetchSave(t, f, s, ls, false); err != nil {
				t.Fatal(err)
			}
			if got := storedText(t, s, "ads"); got != text {
				t.Errorf("stored %q, want the decompressed list", got)
			}
		})
	}
}

func TestFetch_slowServer(t *testing.T) {
	tests := []struct {
		name    string
		handler http.HandlerFunc
	}{
		{"no headers", func(w http.ResponseWriter, r *http.Request) {
			<-r.Context().Done()
		}},
		{"stalled body", func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, names(10, "slow"))
			w.(http.Flusher).Flush()
			<-r.Context().Done()
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := openTestStore(t)
			ls := newListServer(t, "")
			ls.handle(tc.handler)
			client := ls.Client()
			client.Timeout = 100 * time.Millisecond
			f := newTestFetcher(t, ls, s, FetcherConfig{Client: client})
			_, _, err := fetchSave(t, f, s, ls, false)
			wantReason(t, err, ReasonNetwork)
			if _, err := s.Meta("ads"); err == nil {
				t.Error("something was stored")
			}
			noTemps(t, s)
		})
	}
}

func TestFetch_badURL(t *testing.T) {
	s := openTestStore(t)
	ls := newListServer(t, names(10, "x"))
	f := newTestFetcher(t, ls, s, FetcherConfig{})
	for _, u := range []string{"file:///etc/passwd", "ftp://127.0.0.1/list", "/relative/list", "127.0.0.1/list", "https:///nohost", "gopher://127.0.0.1:70/"} {
		if err := CheckURL(u); err == nil {
			t.Errorf("CheckURL(%q) succeeded", u)
		}
		if _, err := f.Fetch(t.Context(), Download{Name: "x", URL: u}); err == nil {
			t.Errorf("Fetch(%q) succeeded", u)
		}
	}
	if n := ls.requests(); n != 0 {
		t.Errorf("%d requests reached the server", n)
	}
	for _, u := range []string{"https://lists.test/a.txt", "http://127.0.0.1:8080/a?b=c"} {
		if err := CheckURL(u); err != nil {
			t.Errorf("CheckURL(%q) = %v", u, err)
		}
	}
}

func TestNewFetcher_invalid(t *testing.T) {
	for _, cfg := range []FetcherConfig{{MaxBytes: -1}, {MinValidFraction: 1.5}, {MinValidFraction: -0.1}} {
		if _, err := NewFetcher(cfg); err == nil {
			t.Errorf("NewFetcher(%+v) succeeded", cfg)
		}
	}
}

// fakeLists serves lists by path through a fake transport: no network,
// so Refresher tests run in a synctest bubble on fake time.
type fakeLists struct {
	mu     sync.Mutex
	bodies map[string]string
	status map[string]int  // answer with this status instead
	block  map[string]bool // hold the request until it is cancelled
	hits   map[string]int
}

func newFakeLists() *fakeLists {
	return &fakeLists{bodies: map[string]string{}, status: map[string]int{}, block: map[string]bool{}, hits: map[string]int{}}
}

func (fl *fakeLists) set(path, body string, status int) {
	fl.mu.Lock()
	defer fl.mu.Unlock()
	fl.bodies[path], fl.status[path] = body, status
}

func (fl *fakeLists) hit(path string) int {
	fl.mu.Lock()
	defer fl.mu.Unlock()
	return fl.hits[path]
}

func (fl *fakeLists) RoundTrip(req *http.Request) (*http.Response, error) {
	fl.mu.Lock()
	p := req.URL.Path
	fl.hits[p]++
	body, status, block := fl.bodies[p], fl.status[p], fl.block[p]
	fl.mu.Unlock()
	if block {
		<-req.Context().Done()
		return nil, req.Context().Err()
	}
	rec := httptest.NewRecorder()
	etag := fmt.Sprintf(`"%x"`, len(body))
	switch {
	case status != 0:
		rec.WriteHeader(status)
	case req.Header.Get("If-None-Match") == etag:
		rec.WriteHeader(http.StatusNotModified)
	default:
		rec.Header().Set("ETag", etag)
		io.WriteString(rec, body)
	}
	resp := rec.Result()
	resp.Request = req
	return resp, nil
}

func newTestRefresher(t *testing.T, s *Store, fl *fakeLists, onChange func(), lists ...Remote) *Refresher {
	t.Helper()
	f, err := NewFetcher(FetcherConfig{Client: &http.Client{Transport: fl}, TempDir: s.Dir()})
	if err != nil {
		t.Fatal(err)
	}
	r, err := NewRefresher(RefresherConfig{Store: s, Fetcher: f, Lists: lists, OnChange: onChange})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func statusOf(t *testing.T, r *Refresher, name string) ListStatus {
	t.Helper()
	for _, st := range r.Status() {
		if st.Name == name {
			return st
		}
	}
	t.Fatalf("no status for %s", name)
	return ListStatus{}
}

// runRefresher runs r until the test ends; the returned stop cancels it
// and waits for Run to return.
func runRefresher(t *testing.T, r *Refresher) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run = %v", err)
		}
	}
	t.Cleanup(stop)
	return stop
}

func TestRefresher_schedule(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := openTestStore(t)
		const base = "https://lists.test"
		oldText := names(100, "old")
		if _, _, err := s.Put("old", base+"/old", Auto, strings.NewReader(oldText)); err != nil {
			t.Fatal(err)
		}
		fl := newFakeLists()
		fl.set("/old", oldText, 0)
		fl.set("/new", names(100, "new"), 0)
		var changes atomic.Int32
		r := newTestRefresher(t, s, fl, func() { changes.Add(1) },
			Remote{Name: "old", URL: base + "/old", Interval: time.Hour},
			Remote{Name: "new", URL: base + "/new", Interval: time.Hour})
		start := time.Now()
		stop := runRefresher(t, r)

		// At once: the list with no copy, not the one checked just now.
		synctest.Wait()
		if fl.hit("/new") != 1 || fl.hit("/old") != 0 || changes.Load() != 1 {
			t.Fatalf("at start: %d, %d requests, %d changes; want the new list fetched and one change", fl.hit("/new"), fl.hit("/old"), changes.Load())
		}
		st := statusOf(t, r, "new")
		if st.Version == "" || st.ValidLines != 100 || !st.LastSuccess.Equal(start) || st.LastError != "" {
			t.Errorf("status of new after start: %+v", st)
		}
		if next := statusOf(t, r, "old").NextAttempt; next.Before(start.Add(54*time.Minute)) || next.After(start.Add(time.Hour)) {
			t.Errorf("old list next refreshed at +%v, want within 54m..1h", next.Sub(start))
		}

		// An interval later: both checked, nothing changed.
		time.Sleep(time.Hour)
		synctest.Wait()
		if fl.hit("/new") != 2 || fl.hit("/old") != 1 || changes.Load() != 1 {
			t.Errorf("after 1h: %d, %d requests, %d changes; want both checked, no change", fl.hit("/new"), fl.hit("/old"), changes.Load())
		}

		// Changed upstream: stored, and the owner told.
		changed := names(150, "new")
		fl.set("/new", changed, 0)
		time.Sleep(time.Hour)
		synctest.Wait()
		if changes.Load() != 2 || storedText(t, s, "new") != changed {
			t.Errorf("after a change upstream: %d changes, want 2 and the new text stored", changes.Load())
		}

		// Failing: the copy stays, the failure is reported, retries back
		// off from a minute.
		fl.set("/new", "", http.StatusServiceUnavailable)
		untilNext := func() {
			time.Sleep(time.Until(statusOf(t, r, "new").NextAttempt))
			synctest.Wait()
		}
		untilNext()
		st = statusOf(t, r, "new")
		if st.Failures != 1 || st.LastReason != ReasonHTTPStatus || !strings.Contains(st.LastError, "503") || st.ValidLines != 150 {
			t.Errorf("after a failure: %+v", st)
		}
		if d := time.Until(st.NextAttempt); d > time.Minute || d < 54*time.Second {
			t.Errorf("first retry in %v, want about a minute", d)
		}
		untilNext()
		if st = statusOf(t, r, "new"); st.Failures != 2 || time.Until(st.NextAttempt) > 2*time.Minute || time.Until(st.NextAttempt) <= time.Minute {
			t.Errorf("after a second failure: %+v, want the retry in 1m..2m", st)
		}
		if storedText(t, s, "new") != changed {
			t.Error("a failure replaced the stored copy")
		}
		fl.set("/new", changed, 0)
		untilNext()
		if st = statusOf(t, r, "new"); st.Failures != 0 || st.LastError != "" || st.LastReason != "" {
			t.Errorf("after recovery: %+v", st)
		}

		// Refresh asks now.
		n := fl.hit("/old")
		if err := r.Refresh("old", false); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		if fl.hit("/old") != n+1 {
			t.Errorf("Refresh: %d requests, want %d", fl.hit("/old"), n+1)
		}
		if err := r.Refresh("nope", false); err == nil {
			t.Error("Refresh of an unknown list succeeded")
		}
		stop()
	})
}

// Lists without a copy are fetched in one batch with one OnChange; a list
// that really shrank needs a forced refresh.
func TestRefresher_batchAndForce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := openTestStore(t)
		fl := newFakeLists()
		var remotes []Remote
		for _, n := range []string{"a", "b", "c"} {
			fl.set("/"+n, names(100, n), 0)
			remotes = append(remotes, Remote{Name: n, URL: "https://lists.test/" + n})
		}
		var changes atomic.Int32
		r := newTestRefresher(t, s, fl, func() { changes.Add(1) }, remotes...)
		runRefresher(t, r)
		synctest.Wait()
		if err := r.Run(t.Context()); err == nil {
			t.Error("a second Run at the same time succeeded")
		}
		if changes.Load() != 1 {
			t.Errorf("%d changes for three new lists, want 1", changes.Load())
		}
		if st := r.Status(); len(st) != 3 || st[0].Name != "a" || st[2].Name != "c" || st[1].Version == "" {
			t.Errorf("Status = %+v, want a, b, c stored", st)
		}

		fl.set("/b", names(10, "b"), 0)
		r.Refresh("b", false)
		synctest.Wait()
		if st := statusOf(t, r, "b"); st.LastReason != ReasonTooSmall || st.ValidLines != 100 {
			t.Errorf("after shrinking: %+v, want rejected as too small", st)
		}
		r.Refresh("b", true)
		synctest.Wait()
		if st := statusOf(t, r, "b"); st.LastError != "" || st.ValidLines != 10 || changes.Load() != 2 {
			t.Errorf("after a forced refresh: %+v, %d changes; want the small list stored", st, changes.Load())
		}
	})
}

// Stopping during a download returns, leaves no goroutine behind (synctest
// fails the test otherwise) and records no failure.
func TestRefresher_stopDuringDownload(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := openTestStore(t)
		fl := newFakeLists()
		fl.block["/slow"] = true
		r := newTestRefresher(t, s, fl, nil, Remote{Name: "slow", URL: "https://lists.test/slow"})
		stop := runRefresher(t, r)
		synctest.Wait()
		if fl.hit("/slow") != 1 {
			t.Fatal("the download did not start")
		}
		stop()
		if st := statusOf(t, r, "slow"); st.Failures != 0 || st.LastError != "" || !st.LastAttempt.IsZero() {
			t.Errorf("status after stop: %+v, want no attempt recorded", st)
		}
		if _, err := s.Meta("slow"); err == nil {
			t.Error("something was stored")
		}
	})
}

// A real server on loopback: the first refresh stores the list; stopping
// while the server holds a request returns.
func TestRefresher_loopback(t *testing.T) {
	s := openTestStore(t)
	ls := newListServer(t, names(20, "loop"))
	f := newTestFetcher(t, ls, s, FetcherConfig{})
	changed := make(chan struct{}, 10)
	r, err := NewRefresher(RefresherConfig{Store: s, Fetcher: f, Lists: []Remote{{Name: "loop", URL: ls.URL + "/loop.txt"}},
		OnChange: func() { changed <- struct{}{} }})
	if err != nil {
		t.Fatal(err)
	}
	entered := make(chan struct{}, 1)
	ls.handle(func(w http.ResponseWriter, req *http.Request) {
		entered <- struct{}{}
		<-req.Context().Done()
	})
	stop := runRefresher(t, r)
	<-entered
	stop()
	if st := statusOf(t, r, "loop"); st.LastError != "" {
		t.Errorf("stop recorded a failure: %+v", st)
	}

	ls.handle(nil)
	stop = runRefresher(t, r)
	<-changed
	stop()
	if got := storedText(t, s, "loop"); got != names(20, "loop") {
		t.Errorf("stored %q", got)
	}
	ls.Client().CloseIdleConnections()
}

func TestNewRefresher_invalid(t *testing.T) {
	s := openTestStore(t)
	f, _ := NewFetcher(FetcherConfig{})
	good := Remote{Name: "a", URL: "https://lists.test/a"}
	tests := []struct {
		name string
		cfg  RefresherConfig
	}{
		{"no store", RefresherConfig{Fetcher: f}},
		{"no fetcher", RefresherConfig{Store: s}},
		{"twice", RefresherConfig{Store: s, Fetcher: f, Lists: []Remote{good, good}}},
		{"no name", RefresherConfig{Store: s, Fetcher: f, Lists: []Remote{{URL: good.URL}}}},
		{"file URL", RefresherConfig{Store: s, Fetcher: f, Lists: []Remote{{Name: "a", URL: "file:///etc/hosts"}}}},
		{"short interval", RefresherConfig{Store: s, Fetcher: f, Lists: []Remote{{Name: "a", URL: good.URL, Interval: time.Second}}}},
	}
	for _, tc := range tests {
		if _, err := NewRefresher(tc.cfg); err == nil {
			t.Errorf("%s: NewRefresher succeeded", tc.name)
		}
	}
}

// A list that really shrank is rejected, held aside and reported; Accept
// makes the held copy the stored one without downloading again, and who
// accepted it goes to the log. A later good download drops a held copy.
func TestRefresher_holdAndAccept(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := openTestStore(t)
		fl := newFakeLists()
		fl.set("/feed", names(100, "feed"), 0)
		var changes atomic.Int32
		var logs bytes.Buffer
		f, err := NewFetcher(FetcherConfig{Client: &http.Client{Transport: fl}, TempDir: s.Dir()})
		if err != nil {
			t.Fatal(err)
		}
		remote := Remote{Name: "feed", URL: "https://lists.test/feed"}
		r, err := NewRefresher(RefresherConfig{Store: s, Fetcher: f, Lists: []Remote{remote},
			OnChange: func() { changes.Add(1) }, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
		if err != nil {
			t.Fatal(err)
		}
		stop := runRefresher(t, r)
		synctest.Wait()
		if _, err := r.Accept("feed", "tech"); !errors.Is(err, ErrNothingHeld) {
			t.Errorf("Accept with nothing held = %v, want ErrNothingHeld", err)
		}
		if _, err := r.Accept("nope", "tech"); err == nil {
			t.Error("Accept of an unknown list succeeded")
		}

		small := names(10, "feed")
		fl.set("/feed", small, 0)
		r.Refresh("feed", false)
		synctest.Wait()
		st := statusOf(t, r, "feed")
		if st.LastReason != ReasonTooSmall || st.ValidLines != 100 || st.Held == nil || st.Held.ValidLines != 10 {
			t.Fatalf("after shrinking: %+v (held %+v), want rejected and held", st, st.Held)
		}
		if !strings.Contains(logs.String(), "holding the new one until accepted") {
			t.Errorf("log does not say the download is held: %s", logs.String())
		}
		if got := storedText(t, s, "feed"); got != names(100, "feed") {
			t.Error("the held copy is in force before anyone accepted it")
		}
		// It survives a restart (and the start-up Clean) and is shown again.
		stop()
		if err := s.Clean(); err != nil {
			t.Fatal(err)
		}
		r2, err := NewRefresher(RefresherConfig{Store: s, Fetcher: f, Lists: []Remote{{Name: "feed", URL: remote.URL, Interval: time.Hour}},
			OnChange: func() { changes.Add(1) }, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
		if err != nil {
			t.Fatal(err)
		}
		runRefresher(t, r2)
		synctest.Wait()
		if st := statusOf(t, r2, "feed"); st.Held == nil || st.Held.ValidLines != 10 {
			t.Fatalf("after a restart: held %+v, want the 10-line copy", st.Held)
		}

		// Accepting does not ask the server again.
		fl.set("/feed", "", http.StatusServiceUnavailable)
		before, n := changes.Load(), fl.hit("/feed")
		m, err := r2.Accept("feed", "tech")
		if err != nil {
			t.Fatal(err)
		}
		if fl.hit("/feed") != n || m.ValidLines != 10 || storedText(t, s, "feed") != small || changes.Load() != before+1 {
			t.Errorf("Accept: %d requests (want %d), %+v, %d changes (want %d)", fl.hit("/feed"), n, m, changes.Load(), before+1)
		}
		if st := statusOf(t, r2, "feed"); st.Held != nil || st.LastError != "" || st.ValidLines != 10 {
			t.Errorf("status after Accept: %+v", st)
		}
		if !strings.Contains(logs.String(), "rejected list download accepted") || !strings.Contains(logs.String(), "by=tech") {
			t.Errorf("log does not record who accepted: %s", logs.String())
		}
		if _, err := s.Held("feed"); !errors.Is(err, ErrNothingHeld) {
			t.Errorf("Held after Accept = %v, want ErrNothingHeld", err)
		}
		for _, f := range dirFiles(t, s.Dir()) {
			if strings.HasSuffix(f, heldSuffix) || strings.Contains(f, heldSuffix+".") {
				t.Errorf("held file %s left after Accept", f)
			}
		}

		// Shrinks again, then recovers on its own: the held copy goes.
		fl.set("/feed", names(1, "feed"), 0)
		r2.Refresh("feed", false)
		synctest.Wait()
		if _, err := s.Held("feed"); err != nil {
			t.Fatalf("second shrink not held: %v", err)
		}
		fl.set("/feed", names(12, "feed"), 0)
		r2.Refresh("feed", false)
		synctest.Wait()
		if _, err := s.Held("feed"); !errors.Is(err, ErrNothingHeld) {
			t.Errorf("Held after a good download = %v, want ErrNothingHeld", err)
		}
		if st := statusOf(t, r2, "feed"); st.Held != nil || st.ValidLines != 12 {
			t.Errorf("status after a good download: %+v", st)
		}
		// Remove forgets a held copy too.
		fl.set("/feed", names(1, "feed"), 0)
		r2.Refresh("feed", false)
		synctest.Wait()
		if err := s.Remove("feed"); err != nil {
			t.Fatal(err)
		}
		if files := dirFiles(t, s.Dir()); len(files) != 0 {
			t.Errorf("after Remove: %v left", files)
		}
	})
}
