package trust

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"
)

// Path is where a site serves its summary on the dashboard listener.
const Path = "/api/trust/summary"

// Source builds the site's summary of [from, to).
type Source func(ctx context.Context, from, to time.Time) (Summary, error)

// Handler serves GET Path?week=YYYY-MM-DD (any day of the week; default
// this week) to a request bearing Token, and to nothing else.
type Handler struct {
	Token    string // at least 16 characters; "" refuses everyone
	Source   Source
	Location *time.Location // the site's zone: weeks start Monday 00:00 there
	Now      func() time.Time
	// Record writes the request to the site's access log before the
	// summary is sent; when it fails nothing is sent.
	Record func(r *http.Request, detail string) error
	// Logger gets the reason a summary could not be built (nil: none).
	Logger *slog.Logger
}

// Week returns the Monday-to-Monday week around day, in loc.
func Week(day time.Time, loc *time.Location) (from, to time.Time) {
	d := day.In(loc)
	from = time.Date(d.Year(), d.Month(), d.Day()-(int(d.Weekday())+6)%7, 0, 0, 0, 0, loc)
	return from, from.AddDate(0, 0, 7)
}

// Period is the week a summary covers: the Monday-to-Monday week around
// week (YYYY-MM-DD), or, for the current week or "", the seven days up to
// now, so open concerns are judged overdue as of now, not next Monday.
func Period(week string, now time.Time, loc *time.Location) (from, to time.Time, err error) {
	day := now
	if week != "" {
		if day, err = time.ParseInLocation(time.DateOnly, week, loc); err != nil {
			return from, to, fmt.Errorf("week %q: must be a date like 2026-11-23", week)
		}
	}
	from, to = Week(day, loc)
	if to.After(now) {
		from, to = now.AddDate(0, 0, -7), now
	}
	return from, to, nil
}

func (h Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		w.Header().Set("WWW-Authenticate", `Bearer realm="gatehouse trust"`)
		http.Error(w, "the trust summary needs a bearer token", http.StatusUnauthorized)
		return
	}
	if h.Token == "" || subtle.ConstantTimeCompare([]byte(strings.TrimSpace(got)), []byte(h.Token)) != 1 {
		http.Error(w, "wrong trust token", http.StatusForbidden)
		return
	}
	loc := h.Location
	if loc == nil {
		loc = time.Local
	}
	now := time.Now
	if h.Now != nil {
		now = h.Now
	}
	from, to, err := Period(r.URL.Query().Get("week"), now(), loc)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if h.Record != nil {
		if err := h.Record(r, "week="+from.Format(time.DateOnly)); err != nil {
			http.Error(w, "the access log cannot be written, so the summary is not sent", http.StatusInternalServerError)
			return
		}
	}
	s, err := h.Source(r.Context(), from, to)
	if err != nil {
		if h.Logger != nil {
			h.Logger.Error("building the trust summary", "error", err)
		}
		http.Error(w, "building the summary failed", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	json.NewEncoder(w).Encode(s)
}
