package dashboard

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"testing"
	"time"

	"gatehouse/querylog"
)

// benchEnv is a dashboard with n logged queries and a technician's
// session cookie.
func benchEnv(b *testing.B, n int) (*env, *http.Cookie) {
	e := newEnvTB(b)
	base := time.Now().Add(-time.Hour)
	for i := range n {
		e.qlog.Enqueue(querylog.Entry{Time: base.Add(time.Duration(i) * time.Millisecond),
			Client: netip.AddrFrom4([4]byte{10, 20, byte(i >> 8), byte(i)}), Group: "pupils",
			QName: fmt.Sprintf("host%d.example.org.", i%500), QType: 1, Decision: querylog.Decision(1 + i%2), Category: "gaming"})
	}
	if err := e.qlog.Flush(context.Background()); err != nil {
		b.Fatal(err)
	}
	token, _, err := e.store.CreateSession(context.Background(), "technician", "127.0.0.1", time.Now())
	if err != nil {
		b.Fatal(err)
	}
	return e, &http.Cookie{Name: e.d.cookieName(), Value: token}
}

func benchPage(b *testing.B, e *env, ck *http.Cookie, path string) {
	h := e.d.Handler()
	b.ReportAllocs()
	for b.Loop() {
		r := httptest.NewRequest("GET", path, nil)
		r.AddCookie(ck)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != http.StatusOK {
			b.Fatalf("%s: %d", path, w.Code)
		}
	}
}

// BenchmarkLogPage is one page (50 entries) of a 20 000-entry log,
// filtered by decision, including the access-log write.
func BenchmarkLogPage(b *testing.B) {
	e, ck := benchEnv(b, 20000)
	benchPage(b, e, ck, "/log?"+url.Values{"decision": {"blocked"}}.Encode())
}

// BenchmarkStatusPage gathers the metrics and renders the status page.
func BenchmarkStatusPage(b *testing.B) {
	e, ck := benchEnv(b, 0)
	benchPage(b, e, ck, "/status")
}
