package querylog

import (
	"context"
	"database/sql"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// Report summarises the log over whole site-local days, from the rollup
// tables only: its cost depends on days, groups and distinct blocked
// names, not on the number of entries.
type Report struct {
	Site  string
	Group string // "" for all groups
	// From and To are the site-local midnights around the days covered.
	From, To time.Time

	Total      int64
	ByDecision []Count       // every decision seen, most first
	ByGroup    []GroupTotals // per group, by name
	Daily      []DayTotals   // per day, in order

	BlockedByCategory []Count
	TopBlockedNames   []Count       // at most Config.ReportTopN
	TopClients        []ClientCount // by blocked attempts, at most ReportTopN
	// Bypass lists bypass attempts (DoH canary, Private Relay, DoH and VPN
	// endpoints: the entry's category) per device, most first.
	Bypass []BypassCount
	// Rewrites counts rewritten answers by category; safe search is the
	// "safesearch" category.
	Rewrites []Count
}

// Count is a key and how often it occurred.
type Count struct {
	Key string
	N   int64
}

// Totals are one slice of a report.
type Totals struct {
	Queries, Blocked, Bypass, Rewritten int64
}

// GroupTotals are a group's totals.
type GroupTotals struct {
	Group string
	Totals
}

// DayTotals are a day's totals; Day is YYYY-MM-DD in the site's zone.
type DayTotals struct {
	Day string
	Totals
}

// ClientRef identifies a device in a report: its address (or pseudonym),
// MAC and hostname as logged.
type ClientRef struct {
	Client, MAC, Hostname string
	Pseudonymised         bool
}

// String is the device as a technician reads it: "10.20.3.4 Y9-IPAD-12".
func (c ClientRef) String() string {
	s := c.Client
	if c.Hostname != "" {
		s += " " + c.Hostname
	}
	if c.MAC != "" {
		s += " [" + c.MAC + "]"
	}
	return s
}

// ClientCount is one device's blocked and bypass attempts.
type ClientCount struct {
	Client          ClientRef
	Blocked, Bypass int64
}

// BypassCount is one device's bypass attempts of one kind.
type BypassCount struct {
	Client   ClientRef
	Category string
	N        int64
}

// maxBypassRows bounds Report.Bypass.
const maxBypassRows = 1000

// Report summarises every site-local day that overlaps [from, to), for
// one group or, with group "", all of them.
func (l *Log) Report(ctx context.Context, from, to time.Time, group string) (Report, error) {
	r, err := l.report(ctx, from, to, group)
	if err != nil {
		return Report{}, fmt.Errorf("building report: %w", err)
	}
	return r, nil
}

func (l *Log) report(ctx context.Context, from, to time.Time, group string) (Report, error) {
	if !to.After(from) {
		return Report{}, errors.New("empty time range")
	}
	lf, lt := from.In(l.loc), to.Add(-time.Nanosecond).In(l.loc)
	r := Report{
		Site: l.cfg.Site, Group: group,
		From: time.Date(lf.Year(), lf.Month(), lf.Day(), 0, 0, 0, 0, l.loc),
		To:   time.Date(lt.Year(), lt.Month(), lt.Day()+1, 0, 0, 0, 0, l.loc),
	}
	d0, d1 := dayKey(from, l.loc), dayKey(to.Add(-time.Nanosecond), l.loc)
	where, args := "day BETWEEN ? AND ?", []any{d0, d1}
	if group != "" {
		var gid int64
		err := l.rdb.QueryRowContext(ctx, `SELECT id FROM dict WHERE s = ?`, group).Scan(&gid)
		if errors.Is(err, sql.ErrNoRows) {
			return r, nil // never seen: an empty report
		}
		if err != nil {
			return r, err
		}
		where += " AND grp = ?"
		args = append(args, gid)
	}

	// Totals by day, group and decision.
	byDecision := map[Decision]int64{}
	byGroup := map[int64]*Totals{}
	byDay := map[int32]*Totals{}
	err := l.rows(ctx, `SELECT day, grp, decision, sum(n) FROM r_decisions WHERE `+where+` GROUP BY day, grp, decision`, args,
		func(rows *sql.Rows) error {
			var day int32
			var grp, n int64
			var d Decision
			if err := rows.Scan(&day, &grp, &d, &n); err != nil {
				return err
			}
			byDecision[d] += n
			if byGroup[grp] == nil {
				byGroup[grp] = &Totals{}
			}
			if byDay[day] == nil {
				byDay[day] = &Totals{}
			}
			byGroup[grp].add(d, n)
			byDay[day].add(d, n)
			r.Total += n
			return nil
		})
	if err != nil {
		return r, err
	}
	for d, n := range byDecision {
		r.ByDecision = append(r.ByDecision, Count{d.String(), n})
	}
	sortCounts(r.ByDecision)
	for g, t := range byGroup {
		name, err := l.dictString(ctx, g)
		if err != nil {
			return r, err
		}
		r.ByGroup = append(r.ByGroup, GroupTotals{name, *t})
	}
	slices.SortFunc(r.ByGroup, func(a, b GroupTotals) int { return strings.Compare(a.Group, b.Group) })
	for d, t := range byDay {
		r.Daily = append(r.Daily, DayTotals{fmt.Sprintf("%04d-%02d-%02d", d/10000, d/100%100, d%100), *t})
	}
	slices.SortFunc(r.Daily, func(a, b DayTotals) int { return strings.Compare(a.Day, b.Day) })

	// Categories of blocked and rewritten answers.
	type catCount struct {
		d   Decision
		cat int64
		n   int64
	}
	var cats []catCount
	err = l.rows(ctx, `SELECT decision, category, sum(n) FROM r_categories WHERE `+where+` AND decision IN (?, ?) GROUP BY decision, category`,
		append(args, int(Blocked), int(Rewritten)), func(rows *sql.Rows) error {
			var c catCount
			if err := rows.Scan(&c.d, &c.cat, &c.n); err != nil {
				return err
			}
			cats = append(cats, c)
			return nil
		})
	if err != nil {
		return r, err
	}
	for _, c := range cats {
		name, err := l.dictString(ctx, c.cat)
		if err != nil {
			return r, err
		}
		if c.d == Blocked {
			r.BlockedByCategory = append(r.BlockedByCategory, Count{name, c.n})
		} else {
			r.Rewrites = append(r.Rewrites, Count{name, c.n})
		}
	}
	sortCounts(r.BlockedByCategory)
	sortCounts(r.Rewrites)

	// Top blocked names.
	err = l.rows(ctx, `SELECT name, sum(n) AS s FROM r_names WHERE `+where+` GROUP BY name ORDER BY s DESC, name LIMIT ?`,
		append(args, l.cfg.ReportTopN), func(rows *sql.Rows) error {
			var c Count
			if err := rows.Scan(&c.Key, &c.N); err != nil {
				return err
			}
			r.TopBlockedNames = append(r.TopBlockedNames, c)
			return nil
		})
	if err != nil {
		return r, err
	}

	// Top clients by blocked attempts, and bypass attempts per device.
	err = l.rows(ctx, `SELECT c.addr, c.mac, c.hostname, c.pseudo, x.b, x.p FROM
		(SELECT client, sum(blocked) AS b, sum(bypass) AS p FROM r_clients WHERE `+where+` GROUP BY client) x
		JOIN clients c ON c.id = x.client WHERE x.b > 0 ORDER BY x.b DESC, c.addr, c.mac, c.hostname LIMIT ?`,
		append(args, l.cfg.ReportTopN), func(rows *sql.Rows) error {
			var c ClientCount
			if err := rows.Scan(&c.Client.Client, &c.Client.MAC, &c.Client.Hostname, &c.Client.Pseudonymised, &c.Blocked, &c.Bypass); err != nil {
				return err
			}
			r.TopClients = append(r.TopClients, c)
			return nil
		})
	if err != nil {
		return r, err
	}
	type bp struct {
		BypassCount
		cat int64
	}
	var bps []bp
	err = l.rows(ctx, `SELECT c.addr, c.mac, c.hostname, c.pseudo, x.category, x.s FROM
		(SELECT client, category, sum(n) AS s FROM r_bypass WHERE `+where+` GROUP BY client, category) x
		JOIN clients c ON c.id = x.client ORDER BY x.s DESC, c.addr, c.mac, c.hostname, x.category LIMIT ?`,
		append(args, maxBypassRows), func(rows *sql.Rows) error {
			var b bp
			if err := rows.Scan(&b.Client.Client, &b.Client.MAC, &b.Client.Hostname, &b.Client.Pseudonymised, &b.cat, &b.N); err != nil {
				return err
			}
			bps = append(bps, b)
			return nil
		})
	if err != nil {
		return r, err
	}
	for _, b := range bps {
		if b.Category, err = l.dictString(ctx, b.cat); err != nil {
			return r, err
		}
		r.Bypass = append(r.Bypass, b.BypassCount)
	}
	return r, nil
}

func (t *Totals) add(d Decision, n int64) {
	t.Queries += n
	switch d {
	case Blocked:
		t.Blocked += n
	case BypassAttempt:
		t.Bypass += n
	case Rewritten:
		t.Rewritten += n
	}
}

func sortCounts(cs []Count) {
	slices.SortFunc(cs, func(a, b Count) int {
		if a.N != b.N {
			if a.N > b.N {
				return -1
			}
			return 1
		}
		return strings.Compare(a.Key, b.Key)
	})
}

// rows runs a query and calls fn per row, closing the rows before it
// returns (callers then resolve strings with queries of their own).
func (l *Log) rows(ctx context.Context, q string, args []any, fn func(*sql.Rows) error) error {
	rows, err := l.rdb.QueryContext(ctx, q, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := fn(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}

// WriteText renders r for a terminal.
func (r Report) WriteText(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	p := func(format string, a ...any) { fmt.Fprintf(tw, format, a...) }
	title := "Query log report"
	if r.Site != "" {
		title += " for " + r.Site
	}
	group := r.Group
	if group == "" {
		group = "all groups"
	}
	p("%s, %s\n", title, group)
	p("%s to %s (site time)\n\n", r.From.Format("Mon 2 Jan 2006"), r.To.Add(-time.Nanosecond).Format("Mon 2 Jan 2006"))
	p("Queries\t%d\n", r.Total)
	for _, c := range r.ByDecision {
		p("  %s\t%d\n", c.Key, c.N)
	}
	if len(r.Daily) > 0 {
		p("\nDay\tQueries\tBlocked\tBypass\tRewritten\n")
		for _, d := range r.Daily {
			p("%s\t%d\t%d\t%d\t%d\n", d.Day, d.Queries, d.Blocked, d.Bypass, d.Rewritten)
		}
	}
	if len(r.ByGroup) > 0 {
		p("\nGroup\tQueries\tBlocked\tBypass\tRewritten\n")
		for _, g := range r.ByGroup {
			p("%s\t%d\t%d\t%d\t%d\n", TerminalSafe(g.Group), g.Queries, g.Blocked, g.Bypass, g.Rewritten)
		}
	}
	section := func(name string, cs []Count) {
		if len(cs) == 0 {
			return
		}
		p("\n%s\n", name)
		for _, c := range cs {
			p("  %s\t%d\n", TerminalSafe(c.Key), c.N)
		}
	}
	section("Blocked by category", r.BlockedByCategory)
	section("Top blocked names", r.TopBlockedNames)
	if len(r.TopClients) > 0 {
		p("\nTop devices by blocked attempts\tBlocked\tBypass\n")
		for _, c := range r.TopClients {
			p("  %s\t%d\t%d\n", TerminalSafe(c.Client.String()), c.Blocked, c.Bypass)
		}
	}
	if len(r.Bypass) > 0 {
		p("\nBypass attempts\tKind\tCount\n")
		for _, b := range r.Bypass {
			p("  %s\t%s\t%d\n", TerminalSafe(b.Client.String()), TerminalSafe(b.Category), b.N)
		}
	}
	section("Rewrites (safe search and others)", r.Rewrites)
	return tw.Flush()
}

// TerminalSafe keeps logged strings (query names, hostnames, group and
// category names, all attacker-controlled or site-chosen) from driving a
// terminal: a string with control characters (C0, DEL, C1), bidi overrides
// or invalid UTF-8 comes back escaped as a Go string literal's body.
func TerminalSafe(s string) string {
	for _, r := range s {
		if r < 0x20 || r == 0x7f || r == '\uFFFD' || (r >= 0x80 && r < 0xa0) || (r >= 0x202a && r <= 0x202e) || (r >= 0x2066 && r <= 0x2069) {
			q := strconv.QuoteToASCII(s)
			return q[1 : len(q)-1]
		}
	}
	return s
}

// WriteCSV renders r as CSV rows of section, key, measure, count.
func (r Report) WriteCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	row := func(section, key, measure string, n int64) {
		cw.Write([]string{section, csvSafe(key), csvSafe(measure), strconv.FormatInt(n, 10)})
	}
	cw.Write([]string{"section", "key", "measure", "count"})
	row("range", r.From.Format(time.DateOnly), "from", 0)
	row("range", r.To.Add(-time.Nanosecond).Format(time.DateOnly), "to", 0)
	row("total", r.Group, "queries", r.Total)
	for _, c := range r.ByDecision {
		row("decision", c.Key, "queries", c.N)
	}
	totals := func(section, key string, t Totals) {
		row(section, key, "queries", t.Queries)
		row(section, key, "blocked", t.Blocked)
		row(section, key, "bypass", t.Bypass)
		row(section, key, "rewritten", t.Rewritten)
	}
	for _, d := range r.Daily {
		totals("day", d.Day, d.Totals)
	}
	for _, g := range r.ByGroup {
		totals("group", g.Group, g.Totals)
	}
	for _, c := range r.BlockedByCategory {
		row("blocked_category", c.Key, "blocked", c.N)
	}
	for _, c := range r.TopBlockedNames {
		row("top_blocked_name", c.Key, "blocked", c.N)
	}
	for _, c := range r.TopClients {
		row("top_device", c.Client.String(), "blocked", c.Blocked)
		row("top_device", c.Client.String(), "bypass", c.Bypass)
	}
	for _, b := range r.Bypass {
		row("bypass", b.Client.String(), b.Category, b.N)
	}
	for _, c := range r.Rewrites {
		row("rewrite", c.Key, "rewritten", c.N)
	}
	cw.Flush()
	return cw.Error()
}
