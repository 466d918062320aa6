package dashboard

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/http"
	"strings"
	"time"

	"gatehouse/dashboard/store"
	"gatehouse/querylog"
)

// blockView is the block page.
type blockView struct {
	Host      string // "" when the request named no usable host
	Category  string
	Group     string
	Time      string
	Reference string
	Sent      bool
	Error     string
}

// blockLookback is how far back the block page looks for the query that
// brought the browser here.
const blockLookback = 15 * time.Minute

// BlockPage serves the page browsers see when a group's block answer is
// Gatehouse's own address: for any Host and path, a plain page saying the
// site is blocked by the school, the category, the time and a reference
// (the query-log entry ID), with a form to ask for a review. It needs no
// login and shows nothing about anyone else.
func (d *Dashboard) BlockPage() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /", d.blockPage)
	mux.HandleFunc("HEAD /", d.blockPage)
	mux.HandleFunc("POST /", d.blockReview)
	return http.NewCrossOriginProtection().Handler(mux)
}

// blockHost returns the request's host name if it looks like a DNS name.
func blockHost(r *http.Request) string {
	h := r.Host
	if host, _, err := net.SplitHostPort(h); err == nil {
		h = host
	}
	h = strings.TrimSuffix(strings.ToLower(h), ".")
	if h == "" || len(h) > 253 {
		return ""
	}
	for _, label := range strings.Split(h, ".") {
		if label == "" || len(label) > 63 {
			return ""
		}
		for _, c := range label {
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return ""
			}
		}
	}
	return h
}

// findBlock finds the newest blocked query from this client for host.
func (d *Dashboard) findBlock(ctx context.Context, client, host string) (querylog.Entry, bool) {
	if d.cfg.QueryLog == nil || host == "" {
		return querylog.Entry{}, false
	}
	for attempt := range 2 {
		for _, dec := range []querylog.Decision{querylog.Blocked, querylog.BypassAttempt} {
			p, err := d.cfg.QueryLog.Search(ctx, querylog.Filter{Client: client, Domain: host, Decision: dec,
				From: d.now().Add(-blockLookback), Limit: 1})
			if err == nil && len(p.Entries) > 0 {
				return p.Entries[0], true
			}
		}
		if attempt == 0 {
			// The entry may still be in the log's write queue.
			select {
			case <-ctx.Done():
				return querylog.Entry{}, false
			case <-time.After(2 * querylog.DefaultFlushInterval):
			}
		}
	}
	return querylog.Entry{}, false
}

func (d *Dashboard) blockView(r *http.Request) blockView {
	host := blockHost(r)
	v := blockView{Host: host, Time: d.now().In(d.cfg.Location).Format("Monday 2 January 2006, 15:04")}
	if e, ok := d.findBlock(r.Context(), clientAddr(r), host); ok {
		v.Category, v.Group = e.Category, e.Group
		v.Reference = querylog.Ref(e.ID)
		v.Time = e.Time.In(d.cfg.Location).Format("Monday 2 January 2006, 15:04")
	}
	return v
}

func (d *Dashboard) blockPage(w http.ResponseWriter, r *http.Request) {
	d.renderBlock(w, http.StatusForbidden, d.blockView(r))
}

func (d *Dashboard) blockReview(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 8<<10)
	v := d.blockView(r)
	msg := strings.TrimSpace(r.PostFormValue("message"))
	_, err := d.cfg.Store.AddReview(r.Context(), store.Review{At: d.now(), Client: clientAddr(r), Host: v.Host,
		Reference: v.Reference, Group: v.Group, Category: v.Category, Message: msg})
	switch {
	case errors.Is(err, store.ErrTooManyReviews):
		v.Error = err.Error()
		d.renderBlock(w, http.StatusTooManyRequests, v)
	case err != nil:
		d.log.Error("storing a review request", "error", err)
		v.Error = "Your request could not be stored. Please tell a member of staff."
		d.renderBlock(w, http.StatusInternalServerError, v)
	default:
		v.Sent = true
		d.renderBlock(w, http.StatusOK, v)
	}
}

func (d *Dashboard) renderBlock(w http.ResponseWriter, code int, v blockView) {
	var buf bytes.Buffer
	if err := d.pages.byName["blocked"].ExecuteTemplate(&buf, "blocked", v); err != nil {
		d.log.Error("rendering the block page", "error", err)
		http.Error(w, "blocked by the school's web filter", code)
		return
	}
	h := w.Header()
	// The page carries its few styles inline: it is served for any host
	// name, so it cannot load anything from "its" site.
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	// same-origin, not no-referrer: with no-referrer browsers send
	// "Origin: null" on form posts, and over plain HTTP on a LAN address
	// (no Sec-Fetch-Site either) cross-origin protection refuses them.
	h.Set("Referrer-Policy", "same-origin")
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	w.Write(buf.Bytes())
}

// ServeReset accepts connections on ln and closes each at once with a TCP
// reset (SO_LINGER 0), until ln is closed. It is the block page's HTTPS
// port: a blocked HTTPS site cannot be answered without a certificate for
// its name, which Gatehouse does not have (and must not make browsers
// trust), so the fastest honest answer is to refuse the connection: the
// browser shows its own connection error at once instead of waiting for a
// time-out.
func ServeReset(ln net.Listener) error {
	for {
		c, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return err
		}
		if tc, ok := c.(*net.TCPConn); ok {
			tc.SetLinger(0)
		}
		c.Close()
	}
}
