package safeguarding

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"gatehouse/policy/schedule"
	"gatehouse/querylog"
	"gatehouse/safeguarding/audit"
	"gatehouse/safeguarding/deliver"
)

// WeeklySummary is the weekly monitoring report for the DSL (the DfE
// minimum): the week's concerns with their status, what is still open or
// overdue, trends against the week before, delivery health, settings
// changes and the audit head, and the query log's totals.
type WeeklySummary struct {
	Site     string
	From, To time.Time
	Concerns []Concern // raised in the week, most urgent first
	// Trends is each category with concerns this week or last.
	Trends      []Trend
	ByStatus    map[Status]int // of the week's concerns
	Open        int            // open now, from any week
	Overdue     []Concern      // open and overdue now, from any week
	Deliveries  DeliveryHealth
	Changes     []audit.Record // audit records written in the week
	AuditHead   string
	AuditStatus string // "verified, N records" or the break
	QueryLog    *querylog.Report
}

// Trend compares a category's concerns with the week before.
type Trend struct {
	Category           string
	ThisWeek, LastWeek int
}

// BuildWeeklySummary reports on the seven days before end.
func (e *Engine) BuildWeeklySummary(ctx context.Context, end time.Time) (WeeklySummary, error) {
	from := end.AddDate(0, 0, -7)
	w := WeeklySummary{Site: e.site, From: from, To: end, ByStatus: map[Status]int{}}
	a := e.settings.Load()
	var err error
	w.Concerns, err = queryConcerns(ctx, e.db, `SELECT `+concernCols+` FROM concerns WHERE created >= ? AND created < ? ORDER BY priority DESC, id`, ts(from), ts(end))
	if err != nil {
		return w, err
	}
	e.deadlines(a, w.Concerns, end)
	prev, err := queryConcerns(ctx, e.db, `SELECT `+concernCols+` FROM concerns WHERE created >= ? AND created < ?`, ts(from.AddDate(0, 0, -7)), ts(from))
	if err != nil {
		return w, err
	}
	counts := map[string]*Trend{}
	trend := func(c string) *Trend {
		if counts[c] == nil {
			counts[c] = &Trend{Category: c}
		}
		return counts[c]
	}
	for _, c := range w.Concerns {
		trend(c.Category).ThisWeek++
		w.ByStatus[c.Status]++
	}
	for _, c := range prev {
		trend(c.Category).LastWeek++
	}
	for _, c := range Signals() {
		if t := counts[c]; t != nil {
			w.Trends = append(w.Trends, *t)
		}
	}
	open, err := queryConcerns(ctx, e.db, `SELECT `+concernCols+` FROM concerns WHERE status != 'closed' ORDER BY priority DESC, id`)
	if err != nil {
		return w, err
	}
	e.deadlines(a, open, end)
	w.Open = len(open)
	for _, c := range open {
		if c.Overdue {
			w.Overdue = append(w.Overdue, c)
		}
	}
	if w.Deliveries, err = e.Health(ctx); err != nil {
		return w, err
	}
	recs, err := audit.List(ctx, e.db, 0, 0)
	if err != nil {
		return w, err
	}
	for _, r := range recs {
		if !r.Time.Before(from) && r.Time.Before(end) {
			w.Changes = append(w.Changes, r)
		}
	}
	n, head, verr := audit.Verify(ctx, e.db)
	w.AuditHead = head
	if verr != nil {
		w.AuditStatus = "BROKEN: " + verr.Error()
	} else {
		w.AuditStatus = fmt.Sprintf("verified, %d records", n)
	}
	if e.cfg.Reports != nil {
		r, err := e.cfg.Reports.Report(ctx, from, end, "")
		if err != nil {
			e.log.Warn("weekly report: query log totals", "error", err)
		} else {
			w.QueryLog = &r
		}
	}
	return w, nil
}

// Text renders the summary as plain text (the email body).
func (w WeeklySummary) Text(loc *time.Location) string {
	var b strings.Builder
	day := func(t time.Time) string { return t.In(loc).Format("Mon 2 Jan 2006") }
	title := "Weekly safeguarding report"
	if w.Site != "" {
		title += ": " + w.Site
	}
	fmt.Fprintf(&b, "%s\n%s to %s\n\n", title, day(w.From), day(w.To.Add(-time.Second)))
	fmt.Fprintf(&b, "Concerns raised this week: %d", len(w.Concerns))
	if len(w.Concerns) > 0 {
		var parts []string
		for _, s := range []Status{StatusNew, StatusAcknowledged, StatusInProgress, StatusClosed} {
			if n := w.ByStatus[s]; n > 0 {
				parts = append(parts, fmt.Sprintf("%d %s", n, s))
			}
		}
		fmt.Fprintf(&b, " (%s)", strings.Join(parts, ", "))
	}
	fmt.Fprintf(&b, "\nOpen now (any week): %d, of which overdue: %d\n\n", w.Open, len(w.Overdue))
	if len(w.Concerns) > 0 {
		b.WriteString("This week's concerns\n")
		tw := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "#\tPRIORITY\tCATEGORY\tDEVICE\tGROUP\tFIRST LOOKUP\tSTATUS\tOUTCOME")
		for _, c := range w.Concerns {
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", c.ID, c.Priority, c.Category, textCell(c.Device.String()), textCell(orDash(c.Device.Group)),
				c.Time.In(loc).Format("Mon 15:04"), c.Status, textCell(orDash(c.Outcome)))
		}
		tw.Flush()
		b.WriteString("\n")
	}
	if len(w.Overdue) > 0 {
		b.WriteString("Overdue (not acknowledged or closed within the agreed timescale)\n")
		for _, c := range w.Overdue {
			fmt.Fprintf(&b, "  #%d %s %s, %s, raised %s, owner %s\n", c.ID, c.Priority, c.Category, textCell(c.Device.String()), day(c.Created), textCell(orDash(c.Owner)))
		}
		b.WriteString("\n")
	}
	if len(w.Trends) > 0 {
		b.WriteString("Trends: concerns per category, this week (last week)\n")
		for _, t := range w.Trends {
			fmt.Fprintf(&b, "  %-30s %3d (%d)\n", Title(t.Category), t.ThisWeek, t.LastWeek)
		}
		b.WriteString("\n")
	}
	if q := w.QueryLog; q != nil {
		fmt.Fprintf(&b, "Filtering this week: %d lookups", q.Total)
		var blocked, bypass int64
		for _, d := range q.Daily {
			blocked += d.Blocked
			bypass += d.Bypass
		}
		fmt.Fprintf(&b, ", %d blocked, %d bypass attempts\n", blocked, bypass)
		for i, c := range q.BlockedByCategory {
			if i == 10 {
				break
			}
			fmt.Fprintf(&b, "  blocked %-22s %d\n", c.Key, c.N)
		}
		b.WriteString("\n")
	}
	fmt.Fprintf(&b, "Alert delivery: %d waiting, %d failing, %d given up", w.Deliveries.Pending, w.Deliveries.Failing, w.Deliveries.Dead)
	if w.Deliveries.LastError != "" {
		fmt.Fprintf(&b, "; last error: %s", textCell(w.Deliveries.LastError))
	}
	b.WriteString("\n")
	if len(w.Changes) > 0 {
		b.WriteString("\nChanges to safeguarding settings this week (audit log)\n")
		for _, r := range w.Changes {
			fmt.Fprintf(&b, "  %d %s %s %s: %s\n", r.Seq, r.Time.In(loc).Format("Mon 15:04"), textCell(r.Actor), r.Kind, textCell(r.Subject))
		}
	}
	fmt.Fprintf(&b, "\nAudit log: %s; head %s\n", w.AuditStatus, w.AuditHead)
	return b.String()
}

// textCell keeps a hostile value on one line.
func textCell(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
}

// lastReportTime is the most recent scheduled weekly report time at or
// before now.
func (e *Engine) lastReportTime(wr WeeklyReport, now time.Time) (time.Time, error) {
	days, err := schedule.ParseWeekdays(wr.Weekday)
	if err != nil {
		return time.Time{}, err
	}
	at, err := schedule.ParseClock(wr.At)
	if err != nil {
		return time.Time{}, err
	}
	l := now.In(e.loc)
	for i := 0; i <= 7; i++ {
		d := l.AddDate(0, 0, -i)
		t := time.Date(d.Year(), d.Month(), d.Day(), int(at)/60, int(at)%60, 0, 0, e.loc)
		if days.Has(t.Weekday()) && !t.After(now) {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("no weekly report day in %q", wr.Weekday)
}

// weeklyReportDue sends the weekly report once its time has come. A new
// database starts counting from now, so the first report covers a whole
// week.
func (e *Engine) weeklyReportDue(ctx context.Context, now time.Time) error {
	a := e.settings.Load()
	if len(a.WeeklyReport.To) == 0 {
		return nil
	}
	due, err := e.lastReportTime(a.WeeklyReport, now)
	if err != nil {
		return err
	}
	last, ok, err := getMeta(ctx, e.db, "weekly_report")
	if err != nil {
		return err
	}
	if !ok {
		return withTx(ctx, e.db, func(tx *sql.Tx) error { return setMeta(ctx, tx, "weekly_report", ts(due)) })
	}
	if !parseTS(last).Before(due) {
		return nil
	}
	return e.SendWeeklyReport(ctx, due)
}

// SendWeeklyReport queues the weekly report for the seven days before end
// to the weekly report's recipients (email, and their webhooks), and
// records it as sent for that time.
func (e *Engine) SendWeeklyReport(ctx context.Context, end time.Time) error {
	a := e.settings.Load()
	w, err := e.BuildWeeklySummary(ctx, end)
	if err != nil {
		return fmt.Errorf("building the weekly report: %w", err)
	}
	subject := fmt.Sprintf("Weekly safeguarding report, week to %s: %d concern(s), %d open, %d overdue",
		end.In(e.loc).Format("2 Jan 2006"), len(w.Concerns), w.Open, len(w.Overdue))
	if e.site != "" {
		subject = "[" + e.site + "] " + subject
	}
	msg := deliver.Message{Kind: "report", Subject: subject, Body: w.Text(e.loc), Notice: IndicatorNotice,
		Facts: []deliver.Fact{
			{Name: "Concerns this week", Value: fmt.Sprint(len(w.Concerns))},
			{Name: "Open", Value: fmt.Sprint(w.Open)},
			{Name: "Overdue", Value: fmt.Sprint(len(w.Overdue))},
			{Name: "Audit log", Value: w.AuditStatus},
		}}
	for _, c := range w.Concerns {
		msg.Concerns = append(msg.Concerns, c.ID)
	}
	now := e.now()
	err = withTx(ctx, e.db, func(tx *sql.Tx) error {
		for _, name := range a.WeeklyReport.To {
			r, ok := a.recipient(name)
			if !ok {
				continue
			}
			for _, t := range targets(r) {
				if t.channel == "syslog" {
					continue // a report is too long for one syslog line
				}
				m := msg
				m.Key = fmt.Sprintf("report-%d-%s-%s-%s", end.Unix(), t.recipient, t.channel, t.address)
				if err := enqueue(ctx, tx, 0, "report", t, m, now); err != nil {
					return err
				}
			}
		}
		return setMeta(ctx, tx, "weekly_report", ts(end))
	})
	if err != nil {
		return fmt.Errorf("queueing the weekly report: %w", err)
	}
	e.kick()
	return nil
}
