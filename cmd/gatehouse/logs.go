package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"text/tabwriter"
	"time"

	"github.com/miekg/dns"
	"github.com/urfave/cli/v2"

	"gatehouse/config"
	"gatehouse/policy/schedule"
	"gatehouse/querylog"
)

// logFlags select entries; they are shared by search, tail and export.
func logFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "db", Usage: "query log database `FILE` (default: querylog.db in the config's state directory)"},
		&cli.StringFlag{Name: "client", Usage: "an IP address, MAC address or hostname (a trailing * matches by prefix: Y9-IPAD-*)"},
		&cli.StringFlag{Name: "domain", Usage: "a name (example.org), or *.example.org for it and everything below"},
		&cli.StringFlag{Name: "decision", Usage: "allowed, blocked, rewritten, refused, bypass-attempt, local or failed"},
		&cli.StringFlag{Name: "category", Usage: "a category, e.g. pornography, safesearch, bypass"},
		&cli.StringFlag{Name: "group", Usage: "a group name"},
		&cli.StringFlag{Name: "ref", Usage: "the entry with this `REFERENCE`, as a block page shows it (1V4G-8ZK2-QM3XA; case, spaces and hyphens do not matter)"},
		&cli.StringFlag{Name: "since", Usage: "how far back, e.g. 2h, 30m, 7d"},
		&cli.StringFlag{Name: "from", Usage: "start `TIME`: 10:00 (today), 2026-11-23 10:00, or RFC 3339"},
		&cli.StringFlag{Name: "to", Usage: "end `TIME`, same forms as --from (default: now)"},
	}
}

func logsCommand(stdout, stderr io.Writer, configFlag cli.Flag) *cli.Command {
	return &cli.Command{
		Name:  "logs",
		Usage: "search, export and follow the query log",
		Subcommands: []*cli.Command{
			{
				Name:  "search",
				Usage: "entries matching the filters, newest first",
				Flags: append(logFlags(), configFlag,
					&cli.IntFlag{Name: "limit", Value: 100, Usage: "at most this many entries (0: all)"},
					&cli.StringFlag{Name: "format", Value: "text", Usage: "text, csv or jsonl"}),
				Action: func(c *cli.Context) error { return logsSearch(c, stdout) },
			},
			{
				Name:   "tail",
				Usage:  "follow new entries as they are written (Ctrl-C to stop)",
				Flags:  append(logFlags(), configFlag),
				Action: func(c *cli.Context) error { return logsTail(c, stdout) },
			},
		},
	}
}

func reportsCommand(stdout io.Writer, configFlag cli.Flag) *cli.Command {
	return &cli.Command{
		Name:  "report",
		Usage: "daily or weekly summary: blocked by category, top blocked names and clients, bypass attempts, safe search",
		Flags: []cli.Flag{configFlag,
			&cli.StringFlag{Name: "db", Usage: "query log database `FILE`"},
			&cli.StringFlag{Name: "period", Value: "week", Usage: "day or week, ending today"},
			&cli.StringFlag{Name: "from", Usage: "first `DATE` (2026-11-16); overrides --period"},
			&cli.StringFlag{Name: "to", Usage: "last `DATE`, inclusive (default: today)"},
			&cli.StringFlag{Name: "group", Usage: "only this group"},
			&cli.StringFlag{Name: "format", Value: "text", Usage: "text or csv"},
		},
		Action: func(c *cli.Context) error { return report(c, stdout) },
	}
}

// openLog opens the query log read-only, from --db or the config's state
// directory, and returns the site's time zone for showing times.
func openLog(c *cli.Context) (*querylog.Log, *time.Location, error) {
	cfg, err := loadConfig(c.String("config"))
	if err != nil {
		return nil, nil, err
	}
	loc, err := schedule.LoadTimeZone(cfg.TimeZone)
	if err != nil {
		return nil, nil, err
	}
	path := c.String("db")
	if path == "" {
		dir, err := stateDir(cfg, os.Getenv)
		if err != nil {
			return nil, nil, err
		}
		path = filepath.Join(dir, "querylog.db")
	}
	if _, err := os.Stat(path); err != nil {
		return nil, nil, fmt.Errorf("no query log at %s (is Gatehouse running with this config? use --db to name the file): %w", path, err)
	}
	l, err := querylog.OpenReadOnly(path)
	return l, loc, err
}

// logFilter builds a Filter from the flags, reading times in loc.
func logFilter(c *cli.Context, loc *time.Location, now time.Time) (querylog.Filter, error) {
	f := querylog.Filter{
		Client:   c.String("client"),
		Domain:   c.String("domain"),
		Category: c.String("category"),
		Group:    c.String("group"),
	}
	if r := c.String("ref"); r != "" {
		var err error
		if f.ID, err = querylog.ParseRef(r); err != nil {
			return f, fmt.Errorf("--ref: %w", err)
		}
	}
	if d := c.String("decision"); d != "" {
		var err error
		if f.Decision, err = querylog.ParseDecision(d); err != nil {
			return f, err
		}
	}
	if s := c.String("since"); s != "" {
		d, err := config.ParseDuration(s)
		if err != nil {
			return f, fmt.Errorf("--since: %w", err)
		}
		f.From = now.Add(-d)
	}
	for _, t := range []struct {
		flag string
		dst  *time.Time
	}{{"from", &f.From}, {"to", &f.To}} {
		if s := c.String(t.flag); s != "" {
			v, err := parseTime(s, loc, now)
			if err != nil {
				return f, fmt.Errorf("--%s: %w", t.flag, err)
			}
			*t.dst = v
		}
	}
	return f, nil
}

// parseTime reads the time forms a technician types: "10:00" (today, in
// the site's zone), "2026-11-23 10:00", "2026-11-23", or RFC 3339.
func parseTime(s string, loc *time.Location, now time.Time) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	for _, layout := range []string{"2006-01-02 15:04:05", "2006-01-02 15:04", "2006-01-02T15:04", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, s, loc); err == nil {
			return t, nil
		}
	}
	for _, layout := range []string{"15:04:05", "15:04"} {
		if t, err := time.ParseInLocation(layout, s, loc); err == nil {
			y, m, d := now.In(loc).Date()
			return time.Date(y, m, d, t.Hour(), t.Minute(), t.Second(), 0, loc), nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not a time like 10:00, 2026-11-23 10:00 or 2026-11-23T10:00:00Z", s)
}

func logsSearch(c *cli.Context, stdout io.Writer) error {
	l, loc, err := openLog(c)
	if err != nil {
		return err
	}
	defer l.Close()
	f, err := logFilter(c, loc, time.Now())
	if err != nil {
		return err
	}
	ctx := c.Context
	switch c.String("format") {
	case "csv":
		return l.ExportCSV(ctx, f, stdout)
	case "jsonl":
		return l.ExportJSONL(ctx, f, stdout)
	case "text":
	default:
		return fmt.Errorf("--format: %q is not text, csv or jsonl", c.String("format"))
	}
	limit := c.Int("limit")
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TIME\tCLIENT\tHOSTNAME\tGROUP\tNAME\tTYPE\tDECISION\tWHY\tRCODE\tANSWER\tREF")
	shown := 0
	for {
		f.Limit = 1000
		if limit > 0 {
			f.Limit = min(f.Limit, limit-shown)
		}
		page, err := l.Search(ctx, f)
		if err != nil {
			return err
		}
		for _, e := range page.Entries {
			writeEntry(tw, e, loc)
			shown++
		}
		if page.Next == "" || (limit > 0 && shown >= limit) {
			break
		}
		f.Cursor = page.Next
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%d entries\n", shown)
	return nil
}

// writeEntry prints one entry as a table row. Every field that came from
// the network (names, hostnames, answers) is quoted if it holds anything
// but plain printable text, so a hostile name cannot forge a row or move
// the terminal's cursor.
func writeEntry(w io.Writer, e querylog.Entry, loc *time.Location) {
	who := e.Category
	if e.List != "" {
		who += "/" + e.List
	}
	if e.Matched != "" {
		who += " " + e.Matched
	}
	client := e.Client.String()
	if !e.Client.IsValid() {
		client = e.Pseudonym
	}
	answer := ""
	if e.Answer != nil {
		answer = e.Answer.Summary()
	}
	fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n",
		e.Time.In(loc).Format("2006-01-02 15:04:05"), client, safeText(e.Hostname), safeText(e.Group),
		safeText(e.QName), dns.Type(e.QType), e.Decision, safeText(who), dns.RcodeToString[int(e.Rcode)], safeText(answer), querylog.Ref(e.ID))
}

func logsTail(c *cli.Context, stdout io.Writer) error {
	l, loc, err := openLog(c)
	if err != nil {
		return err
	}
	defer l.Close()
	f, err := logFilter(c, loc, time.Now())
	if err != nil {
		return err
	}
	// Start from the newest entry now, then follow.
	latest, err := l.Search(c.Context, querylog.Filter{Limit: 1})
	if err != nil {
		return err
	}
	var after uint64
	if len(latest.Entries) > 0 {
		after = latest.Entries[0].ID
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	err = l.TailFunc(c.Context, f, after, func(e querylog.Entry) error {
		writeEntry(tw, e, loc)
		return tw.Flush()
	})
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

func report(c *cli.Context, stdout io.Writer) error {
	l, loc, err := openLog(c)
	if err != nil {
		return err
	}
	defer l.Close()
	now := time.Now().In(loc)
	y, m, d := now.Date()
	to := time.Date(y, m, d, 0, 0, 0, 0, loc).AddDate(0, 0, 1) // end of today
	if s := c.String("to"); s != "" {
		t, err := parseTime(s, loc, now)
		if err != nil {
			return fmt.Errorf("--to: %w", err)
		}
		to = t.AddDate(0, 0, 1)
	}
	var from time.Time
	switch p := c.String("period"); {
	case c.String("from") != "":
		if from, err = parseTime(c.String("from"), loc, now); err != nil {
			return fmt.Errorf("--from: %w", err)
		}
	case p == "day":
		from = to.AddDate(0, 0, -1)
	case p == "week":
		from = to.AddDate(0, 0, -7)
	default:
		return fmt.Errorf("--period: %q is not day or week", p)
	}
	r, err := l.Report(c.Context, from, to, c.String("group"))
	if err != nil {
		return err
	}
	switch c.String("format") {
	case "csv":
		return r.WriteCSV(stdout)
	case "text":
		return r.WriteText(stdout)
	}
	return fmt.Errorf("--format: %q is not text or csv", c.String("format"))
}

// safeText keeps attacker-controlled names from driving the terminal.
func safeText(s string) string { return querylog.TerminalSafe(s) }
