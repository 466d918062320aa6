package dashboard

import (
	"context"
	"crypto/subtle"
	"errors"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"time"

	"gatehouse/dashboard/store"
)

// perm is one thing a role may do.
type perm uint8

const (
	permNone     perm = iota // any logged-in account
	permStatus               // status page
	permLogs                 // query log search, export, live view
	permIdentity             // MAC addresses and host names, not just addresses
	permDevices              // device page
	permReports              // reports
	permPolicy               // lists and policy page, reload lists
	permOverride             // create and cancel overrides
	permReviews              // review requests from the block page
	permAccounts             // accounts and the access log
)

// can is the role matrix of issue 9: technicians run the filter and see
// addresses; safeguarding leads see who (full identity) and reports;
// viewers (governors) read reports without per-device tables.
func can(r store.Role, p perm) bool {
	if p == permNone {
		_, err := store.ParseRole(string(r))
		return err == nil
	}
	switch r {
	case store.Admin:
		return true
	case store.Technician:
		switch p {
		case permStatus, permLogs, permDevices, permPolicy, permOverride, permReviews, permDeliveries:
			return true
		}
	case store.Safeguarding:
		switch p {
		case permLogs, permIdentity, permDevices, permReports, permConcerns, permSGSettings, permDeliveries, permTrust:
			return true
		}
	case store.Viewer:
		return p == permReports || p == permSGSettings || p == permTrust
	}
	return false
}

// home is the first page a role may see.
func home(r store.Role) string {
	switch {
	case can(r, permStatus):
		return "/status"
	case can(r, permLogs):
		return "/log"
	default:
		return "/reports"
	}
}

// maxFormBytes bounds a form post: the largest is an override's reason.
const maxFormBytes = 64 << 10

type ctxKey struct{}

// sessionFrom returns the session the auth middleware attached.
func sessionFrom(ctx context.Context) store.Session {
	s, _ := ctx.Value(ctxKey{}).(store.Session)
	return s
}

func (d *Dashboard) cookieName() string {
	if d.cfg.SecureCookies {
		// The __Host- prefix makes browsers refuse the cookie unless it
		// is Secure, host-only and for the whole site.
		return "__Host-gatehouse"
	}
	return "gatehouse_session"
}

func (d *Dashboard) setSessionCookie(w http.ResponseWriter, token string, maxAge int) {
	http.SetCookie(w, &http.Cookie{
		Name: d.cookieName(), Value: token, Path: "/", MaxAge: maxAge,
		Secure: d.cfg.SecureCookies, HttpOnly: true, SameSite: http.SameSiteStrictMode,
	})
}

// need wraps h so it runs only for a logged-in session whose role has p,
// and, for anything but GET and HEAD, only with the session's CSRF token.
func (d *Dashboard) need(p perm, h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := r.Cookie(d.cookieName())
		var sess store.Session
		if err == nil {
			sess, err = d.cfg.Store.Session(r.Context(), c.Value, d.now())
		}
		if err != nil {
			if !errors.Is(err, store.ErrNoSession) && !errors.Is(err, http.ErrNoCookie) {
				d.log.Error("reading session", "error", err)
				http.Error(w, "session store unavailable", http.StatusInternalServerError)
				return
			}
			if r.Method == http.MethodGet && !strings.HasPrefix(r.URL.Path, "/api/") && !strings.HasSuffix(r.URL.Path, "/stream") {
				http.Redirect(w, r, "/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
				return
			}
			http.Error(w, "login required", http.StatusUnauthorized)
			return
		}
		if !can(sess.Role, p) {
			d.renderStatus(w, r, sess, http.StatusForbidden, "Your account ("+string(sess.Role)+") may not open this page.")
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
			tok := r.PostFormValue("csrf")
			if tok == "" {
				tok = r.Header.Get("X-CSRF-Token")
			}
			if subtle.ConstantTimeCompare([]byte(tok), []byte(sess.CSRF)) != 1 {
				http.Error(w, "missing or wrong form token; reload the page and try again", http.StatusForbidden)
				return
			}
		}
		w.Header().Set("Cache-Control", "no-store")
		h(w, r.WithContext(context.WithValue(r.Context(), ctxKey{}, sess)))
	})
}

// clientAddr is the browser's address (no proxy headers are trusted: the
// dashboard is served directly).
func clientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	if a, err := netip.ParseAddr(host); err == nil {
		return a.Unmap().String()
	}
	return host
}

func (d *Dashboard) loginPage(w http.ResponseWriter, r *http.Request) {
	d.render(w, r, store.Session{}, http.StatusOK, "login", loginView{Next: safeNext(r.URL.Query().Get("next"))})
}

type loginView struct {
	Next, Name, Error string
}

// safeNext keeps only same-site paths, so the login form cannot be used
// to redirect somewhere else.
func safeNext(s string) string {
	if !strings.HasPrefix(s, "/") || strings.HasPrefix(s, "//") || strings.HasPrefix(s, "/\\") || strings.ContainsAny(s, "\r\n") {
		return ""
	}
	return s
}

func (d *Dashboard) login(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	name := strings.TrimSpace(r.PostFormValue("name"))
	password := r.PostFormValue("password")
	v := loginView{Next: safeNext(r.PostFormValue("next")), Name: name}
	addr := clientAddr(r)
	now := d.now()
	if wait := d.limiter.blocked(addr, name, now); wait > 0 {
		v.Error = "Too many failed logins. Try again in " + roundWait(wait) + "."
		w.Header().Set("Retry-After", retryAfter(wait))
		d.render(w, r, store.Session{}, http.StatusTooManyRequests, "login", v)
		return
	}
	u, err := d.authenticate(r.Context(), name, password, now)
	if err != nil && r.Context().Err() != nil {
		return // the browser gave up while waiting its turn
	}
	if err != nil {
		if !errors.Is(err, store.ErrBadLogin) {
			d.log.Error("checking a login", "error", err)
		}
		d.limiter.failed(addr, name, now)
		d.log.Warn("dashboard login failed", "account", name, "client", addr)
		v.Error = "Wrong account name or password."
		d.render(w, r, store.Session{}, http.StatusUnauthorized, "login", v)
		return
	}
	d.limiter.succeeded(addr, name)
	token, _, err := d.cfg.Store.CreateSession(r.Context(), u.Name, addr, now)
	if err != nil {
		d.log.Error("creating a session", "error", err)
		http.Error(w, "could not start a session", http.StatusInternalServerError)
		return
	}
	d.log.Info("dashboard login", "account", u.Name, "role", u.Role, "client", addr)
	d.setSessionCookie(w, token, int(store.MaxAge/time.Second))
	next := v.Next
	if next == "" || next == "/" {
		next = home(u.Role)
	}
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// maxHashing bounds concurrent password checks: each takes 64 MiB for
// argon2id, and a Raspberry Pi has 512 MiB to 1 GiB. Logins beyond it
// wait their turn (or give up with the request).
const maxHashing = 2

// authenticate checks a password, at most maxHashing at a time.
func (d *Dashboard) authenticate(ctx context.Context, name, password string, now time.Time) (store.User, error) {
	select {
	case d.hashing <- struct{}{}:
		defer func() { <-d.hashing }()
	case <-ctx.Done():
		return store.User{}, ctx.Err()
	}
	return d.cfg.Store.Authenticate(ctx, name, password, now)
}

func (d *Dashboard) logout(w http.ResponseWriter, r *http.Request) {
	if c, err := r.Cookie(d.cookieName()); err == nil {
		d.cfg.Store.DeleteSession(r.Context(), c.Value)
	}
	d.setSessionCookie(w, "", -1)
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}

// Login rate limits: after maxFailures failed logins within
// failureWindow from one address, or for one account name, further
// attempts are refused until the window has passed. Counting per account
// as well stops a guesser spread over many addresses; counting per
// address stops one device trying many names.
const (
	maxFailures   = 5
	failureWindow = 15 * time.Minute
	// maxTracked bounds the limiter's memory under a flood of names.
	maxTracked = 10000
)

type loginLimiter struct {
	mu   sync.Mutex
	keys map[string][]time.Time // "addr:" or "user:" key → recent failures
}

func newLoginLimiter() *loginLimiter { return &loginLimiter{keys: map[string][]time.Time{}} }

func limiterKeys(addr, name string) [2]string {
	return [2]string{"addr:" + addr, "user:" + strings.ToLower(name)}
}

// blocked returns how long the caller must wait, 0 when it may try.
func (l *loginLimiter) blocked(addr, name string, now time.Time) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	var wait time.Duration
	for _, k := range limiterKeys(addr, name) {
		fs := recent(l.keys[k], now)
		if len(fs) >= maxFailures {
			wait = max(wait, fs[len(fs)-maxFailures].Add(failureWindow).Sub(now))
		}
	}
	return wait
}

func (l *loginLimiter) failed(addr, name string, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.keys) >= maxTracked {
		for k, fs := range l.keys {
			if len(recent(fs, now)) == 0 {
				delete(l.keys, k)
			}
		}
		if len(l.keys) >= maxTracked {
			clear(l.keys) // under a flood; the per-request cost stays bounded
		}
	}
	for _, k := range limiterKeys(addr, name) {
		fs := append(recent(l.keys[k], now), now)
		if len(fs) > maxFailures {
			fs = fs[len(fs)-maxFailures:]
		}
		l.keys[k] = fs
	}
}

func (l *loginLimiter) succeeded(addr, name string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	// Only the address is forgiven: a correct password from one place
	// must not reset the count against an account guessed from others.
	delete(l.keys, "addr:"+addr)
}

func recent(fs []time.Time, now time.Time) []time.Time {
	i := 0
	for i < len(fs) && now.Sub(fs[i]) >= failureWindow {
		i++
	}
	return fs[i:]
}

func roundWait(d time.Duration) string {
	m := int(d.Round(time.Minute) / time.Minute)
	if m <= 1 {
		return "a minute"
	}
	return itoa(m) + " minutes"
}

func retryAfter(d time.Duration) string { return itoa(int(d/time.Second) + 1) }
