package main

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"

	"gatehouse/config"
)

// The redirect keeps the host the browser used when it is a plain name
// or address; anything else in a Host header falls back to the configured
// address, so a hostile header cannot send the browser elsewhere with
// extra parts.
func TestHTTPSRedirect(t *testing.T) {
	h := httpsRedirect(config.ListenAddr{Addr: netip.MustParseAddr("10.20.0.5"), Port: 8443})
	any := httpsRedirect(config.ListenAddr{Port: 8443})
	for _, tc := range []struct {
		handler  http.Handler
		host     string
		target   string
		location string
	}{
		{h, "gatehouse.school.local", "/log?client=10.1.2.3", "https://gatehouse.school.local:8443/log?client=10.1.2.3"},
		{h, "10.20.0.5:80", "/", "https://10.20.0.5:8443/"},
		{h, "[fd00::5]:80", "/status", "https://[fd00::5]:8443/status"},
		{h, "evil.example@attacker", "/", "https://10.20.0.5:8443/"},
		{h, "", "/", "https://10.20.0.5:8443/"},
		{any, "a b", "/x", "https://localhost:8443/x"},
	} {
		req := httptest.NewRequest("GET", "http://placeholder"+tc.target, nil)
		req.Host = tc.host
		rec := httptest.NewRecorder()
		tc.handler.ServeHTTP(rec, req)
		if rec.Code != http.StatusFound || rec.Header().Get("Location") != tc.location {
			t.Errorf("Host %q %s: %d to %q, want 302 to %q", tc.host, tc.target, rec.Code, rec.Header().Get("Location"), tc.location)
		}
	}
}
