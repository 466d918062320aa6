package dashboard

import (
	"net/http"
	"net/url"
	"time"

	"gatehouse/querylog"
)

type reportView struct {
	Period   string // "day" or "week"
	Date     string // the form's date, YYYY-MM-DD
	Group    string
	Groups   []string
	Error    string
	Report   *querylog.Report
	Chart    chart
	Identity bool
	Prev     string
	Next     string
	Disabled bool
}

func (d *Dashboard) reportsPage(w http.ResponseWriter, r *http.Request) {
	sess := sessionFrom(r.Context())
	q := r.URL.Query()
	v := reportView{Period: q.Get("period"), Date: q.Get("date"), Group: q.Get("group"), Groups: d.groups(),
		Identity: can(sess.Role, permIdentity), Disabled: d.cfg.QueryLog == nil}
	if v.Period != "week" {
		v.Period = "day"
	}
	loc := d.cfg.Location
	now := d.now().In(loc)
	day := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, loc)
	if v.Date != "" {
		t, err := time.ParseInLocation("2006-01-02", v.Date, loc)
		if err != nil {
			v.Error = "The date must look like 2026-11-23."
			d.render(w, r, sess, http.StatusBadRequest, "reports", v)
			return
		}
		day = t
	}
	from := day
	to := day.AddDate(0, 0, 1)
	if v.Period == "week" {
		from = day.AddDate(0, 0, -((int(day.Weekday()) + 6) % 7)) // Monday
		to = from.AddDate(0, 0, 7)
	}
	v.Date = day.Format("2006-01-02")
	step := 1
	if v.Period == "week" {
		step = 7
	}
	v.Prev = day.AddDate(0, 0, -step).Format("2006-01-02")
	v.Next = day.AddDate(0, 0, step).Format("2006-01-02")
	if v.Disabled {
		d.render(w, r, sess, http.StatusOK, "reports", v)
		return
	}
	if v.Identity {
		// The top-devices tables name devices: a look at personal data.
		detail := url.Values{"period": {v.Period}, "date": {v.Date}}
		if v.Group != "" {
			detail.Set("group", v.Group)
		}
		if err := d.recordAccess(r, "report", detail.Encode()); err != nil {
			d.renderStatus(w, r, sess, http.StatusInternalServerError, "The access log cannot be written, so the report is not shown.")
			return
		}
	}
	rep, err := d.cfg.QueryLog.Report(r.Context(), from, to, v.Group)
	if err != nil {
		v.Error = err.Error()
		d.render(w, r, sess, http.StatusInternalServerError, "reports", v)
		return
	}
	if !v.Identity {
		rep.TopClients, rep.Bypass = nil, nil
	}
	v.Report = &rep
	// One slot per day of the period, days without queries included.
	byDay := map[string]querylog.DayTotals{}
	for _, dt := range rep.Daily {
		byDay[dt.Day] = dt
	}
	var labels []string
	var qs, bs []float64
	for day := from; day.Before(to); day = day.AddDate(0, 0, 1) {
		dt := byDay[day.Format("2006-01-02")]
		labels = append(labels, day.Format("Mon 2"))
		qs = append(qs, float64(dt.Queries))
		bs = append(bs, float64(dt.Blocked))
	}
	v.Chart = pairChart("Queries and blocked per day", labels, qs, bs, "queries", "blocked")
	d.render(w, r, sess, http.StatusOK, "reports", v)
}
