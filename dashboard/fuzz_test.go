package dashboard

import (
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"testing"
	"time"
)

// FuzzBlockHost: whatever Host header a browser or attacker sends, the
// block page either names a plain DNS name or nothing.
func FuzzBlockHost(f *testing.F) {
	for _, s := range []string{"games.example.org", "games.example.org:80", "<script>", "[::1]:80", "a..b", "\u202e.example", strings.Repeat("a", 70)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, host string) {
		r := httptest.NewRequest("GET", "/", nil)
		r.Host = host
		got := blockHost(r)
		if got == "" {
			return
		}
		if len(got) > 253 || strings.Trim(got, "abcdefghijklmnopqrstuvwxyz0123456789-_.") != "" || strings.Contains(got, "..") ||
			strings.HasPrefix(got, ".") || strings.HasSuffix(got, ".") {
			t.Errorf("blockHost(%q) = %q", host, got)
		}
	})
}

// FuzzVisible: no bidi or control character survives, and text without
// them is unchanged.
func FuzzVisible(f *testing.F) {
	for _, s := range []string{"plain.example.", "evil\u202egpj.exe", "a\u2066b\u2069c", "tab\there", "\ufeffbom"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v := visible(s)
		for _, r := range v {
			if isBidiControl(r) || r < 0x20 || r == 0x7f {
				t.Fatalf("visible(%q) = %q keeps %U", s, v, r)
			}
		}
		if !strings.ContainsFunc(s, func(r rune) bool { return isBidiControl(r) || r < 0x20 || r == 0x7f || r == '\ufeff' || r == '\u200b' }) && v != s {
			t.Errorf("visible changed clean text %q to %q", s, v)
		}
	})
}

// FuzzLogFilter: any query string gives a filter or an error, never a
// panic, and technicians never get a non-address client filter.
func FuzzLogFilter(f *testing.F) {
	f.Add("client=10.0.0.1&decision=blocked&from=2026-11-23T10:00")
	f.Add("client=Y9-IPAD-*&domain=*.example.org&to=x")
	f.Fuzz(func(t *testing.T, q string) {
		vals, err := url.ParseQuery(q)
		if err != nil {
			return
		}
		form := readLogForm(vals)
		qf, err := form.filter(time.UTC, false)
		if err == nil && qf.Client != "" {
			if _, perr := netip.ParseAddr(qf.Client); perr != nil {
				t.Errorf("technician filter accepted client %q", qf.Client)
			}
		}
		_ = form.describe()
	})
}
