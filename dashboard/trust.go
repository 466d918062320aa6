package dashboard

import (
	"html/template"
	"net/http"
	"time"

	"gatehouse/dashboard/store"
	"gatehouse/trust"
)

// Trust is trust-wide reporting on the dashboard listener (docs/trust.md).
type Trust struct {
	// Summary and Token serve this site's weekly summary at trust.Path
	// to the trust's collector; off when either is empty.
	Summary trust.Source
	Token   string
	// Collector feeds the Trust page; nil: no Trust page.
	Collector *trust.Collector
}

// permTrust is the Trust page: admins (the trust's IT director), the
// safeguarding team and viewers (governors, trustees). Identities that a
// site shares are shown only to roles with permIdentity.
const permTrust = permDeliveries + 1

func (d *Dashboard) trustRoutes(mux *http.ServeMux) {
	t := d.cfg.Trust
	if t.Summary != nil && t.Token != "" {
		mux.Handle("GET "+trust.Path, trust.Handler{Token: t.Token, Source: t.Summary, Location: d.cfg.Location, Now: d.now, Logger: d.log,
			Record: func(r *http.Request, detail string) error {
				err := d.cfg.Store.LogAccess(r.Context(), store.Access{At: d.now(), User: "trust collector", Addr: clientAddr(r), Action: "trust-summary", Detail: detail})
				if err != nil {
					d.log.Error("recording a trust summary request", "error", err)
				}
				return err
			}})
	}
	if t.Collector != nil {
		mux.Handle("GET /trust", d.need(permTrust, d.trustPage))
		mux.Handle("GET /trust/report.html", d.need(permTrust, d.trustPage))
		mux.Handle("GET /trust/report.json", d.need(permTrust, d.trustPage))
	}
}

type trustView struct {
	Week, Error string
	Body        template.HTML
	Identities  bool // the reader is shown identities sites shared
}

func (d *Dashboard) trustPage(w http.ResponseWriter, r *http.Request) {
	sess := sessionFrom(r.Context())
	week := r.URL.Query().Get("week")
	if week != "" {
		if _, err := time.Parse(time.DateOnly, week); err != nil {
			d.render(w, r, sess, http.StatusBadRequest, "trust", trustView{Error: "The week must be a date like 2026-11-23."})
			return
		}
	}
	rep := d.cfg.Trust.Collector.Collect(r.Context(), week)
	v := trustView{Week: week}
	if !can(sess.Role, permIdentity) {
		rep = rep.WithoutIdentities()
	} else if rep.HasIdentities() {
		v.Identities = true
		if err := d.recordAccess(r, "trust-report", "week="+week); err != nil {
			d.renderStatus(w, r, sess, http.StatusInternalServerError, "The access log cannot be written, so the report is not shown.")
			return
		}
	}
	switch r.URL.Path {
	case "/trust/report.json":
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		rep.WriteJSON(w)
		return
	case "/trust/report.html":
		securityHeaders(w)
		// The printable page carries its own styles and no script.
		w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'")
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		if err := rep.WriteHTML(w, d.cfg.Location); err != nil {
			d.log.Error("rendering the trust report", "error", err)
		}
		return
	}
	body, err := rep.HTMLBody(d.cfg.Location)
	if err != nil {
		d.log.Error("rendering the trust report", "error", err)
		v.Error = "The report could not be rendered."
	}
	v.Body = body
	d.render(w, r, sess, http.StatusOK, "trust", v)
}
