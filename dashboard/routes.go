package dashboard

import (
	"crypto/subtle"
	"io/fs"
	"net/http"
	"net/netip"
	"strings"

	"github.com/miekg/dns"
)

func (d *Dashboard) routes() http.Handler {
	mux := http.NewServeMux()
	static, _ := fs.Sub(staticFS, "static")
	mux.Handle("GET /static/", http.StripPrefix("/static/", cacheStatic(http.FileServerFS(static))))

	mux.HandleFunc("GET /login", d.loginPage)
	mux.HandleFunc("POST /login", d.login)
	mux.Handle("POST /logout", d.need(permNone, d.logout))
	mux.Handle("GET /{$}", d.need(permNone, func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, home(sessionFrom(r.Context()).Role), http.StatusSeeOther)
	}))

	mux.Handle("GET /status", d.need(permStatus, d.status))
	mux.Handle("GET /log", d.need(permLogs, d.logPage))
	mux.Handle("GET /log.csv", d.need(permLogs, d.logCSV))
	mux.Handle("GET /log/live", d.need(permLogs, d.livePage))
	mux.Handle("GET /log/stream", d.need(permLogs, d.liveStream))
	mux.Handle("GET /device", d.need(permDevices, d.devicePage))
	mux.Handle("GET /reports", d.need(permReports, d.reportsPage))
	mux.Handle("GET /policy", d.need(permPolicy, d.policyPage))
	mux.Handle("POST /policy/reload-lists", d.need(permPolicy, d.reloadLists))
	mux.Handle("POST /lists/{name}/accept", d.need(permPolicy, d.acceptList))
	mux.Handle("POST /overrides", d.need(permOverride, d.createOverride))
	mux.Handle("POST /overrides/{id}/cancel", d.need(permOverride, d.cancelOverride))
	mux.Handle("GET /reviews", d.need(permReviews, d.reviewsPage))
	mux.Handle("POST /reviews/{id}/close", d.need(permReviews, d.closeReview))
	mux.Handle("GET /accounts", d.need(permAccounts, d.accountsPage))
	mux.Handle("POST /accounts", d.need(permAccounts, d.addAccount))
	mux.Handle("POST /accounts/{name}/role", d.need(permAccounts, d.setRole))
	mux.Handle("POST /accounts/{name}/password", d.need(permAccounts, d.resetPassword))
	mux.Handle("POST /accounts/{name}/remove", d.need(permAccounts, d.removeAccount))
	mux.Handle("POST /accounts/sessions/{id}/end", d.need(permAccounts, d.endSession))
	mux.Handle("GET /access-log", d.need(permAccounts, d.accessLogPage))
	d.safeguardingRoutes(mux)
	d.trustRoutes(mux)
	mux.Handle("GET /account", d.need(permNone, d.ownAccountPage))
	mux.Handle("POST /account/password", d.need(permNone, d.changeOwnPassword))
	mux.Handle("/", d.need(permNone, func(w http.ResponseWriter, r *http.Request) {
		d.renderStatus(w, r, sessionFrom(r.Context()), http.StatusNotFound, "There is no such page.")
	}))

	// Cross-origin protection rejects state changes a browser sends from
	// another site (Sec-Fetch-Site / Origin), before any form token check.
	return http.NewCrossOriginProtection().Handler(mux)
}

func cacheStatic(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=3600")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		h.ServeHTTP(w, r)
	})
}

// MetricsAccess guards /metrics: Prometheus may scrape it without a
// session from the allowed networks, or from anywhere with the bearer
// token (when token is not empty). Everyone else gets 403.
func MetricsAccess(h http.Handler, allow []netip.Prefix, token string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if token != "" {
			if got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok &&
				subtle.ConstantTimeCompare([]byte(strings.TrimSpace(got)), []byte(token)) == 1 {
				h.ServeHTTP(w, r)
				return
			}
		}
		if a, err := netip.ParseAddr(clientAddr(r)); err == nil {
			for _, p := range allow {
				if p.Contains(a) {
					h.ServeHTTP(w, r)
					return
				}
			}
		}
		if token != "" {
			w.Header().Set("WWW-Authenticate", `Bearer realm="gatehouse metrics"`)
			http.Error(w, "metrics need a bearer token from this address", http.StatusUnauthorized)
			return
		}
		http.Error(w, "metrics are not served to this address", http.StatusForbidden)
	})
}

func qtypeString(t uint16) string {
	if s, ok := dns.TypeToString[t]; ok {
		return s
	}
	return "TYPE" + itoa(int(t))
}
