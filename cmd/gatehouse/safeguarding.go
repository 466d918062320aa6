package main

import (
	"context"
	"crypto/x509"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/user"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"gatehouse/config"
	"gatehouse/policy/schedule"
	"gatehouse/safeguarding"
	"gatehouse/safeguarding/deliver"
)

// safeguardingSite is the running safeguarding engine and what reloads
// change under it.
type safeguardingSite struct {
	engine *safeguarding.Engine
	school atomic.Pointer[schoolHours]
	groups atomic.Pointer[[]string] // the config's group names, for proposals
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// schoolHours answers "is it school hours?" for one config.
type schoolHours struct {
	sched  *schedule.Schedule
	period string
}

func (h *schoolHours) at(t time.Time) bool {
	return h != nil && h.sched != nil && h.period != "" && h.sched.Active(h.period, t)
}

// safeguardingDB is where the engine keeps its database.
func safeguardingDB(dir string) string { return filepath.Join(dir, "safeguarding.db") }

// openSafeguarding opens the engine when the config turns it on; it needs
// the query log (config validation makes sure).
func (s *site) openSafeguarding(cfg *config.Config, dir string) (*safeguardingSite, error) {
	if !cfg.Safeguarding.Enabled || s.qlog == nil {
		return nil, nil
	}
	infra, err := safeguardingInfra(cfg)
	if err != nil {
		return nil, err
	}
	school, err := newSchoolHours(cfg)
	if err != nil {
		return nil, err
	}
	loc, err := schedule.LoadTimeZone(cfg.TimeZone)
	if err != nil {
		return nil, err
	}
	m, err := safeguarding.NewMetrics(s.reg)
	if err != nil {
		return nil, err
	}
	sg := &safeguardingSite{}
	sg.school.Store(school)
	sg.groups.Store(groupNames(cfg))
	e, err := safeguarding.Open(context.Background(), safeguarding.Config{
		Path:        safeguardingDB(dir),
		Initial:     safeguardingSettings(cfg.Safeguarding.Initial),
		Infra:       infra,
		Location:    loc,
		SchoolHours: func(t time.Time) bool { return sg.school.Load().at(t) },
		Holder:      s.qlog,
		Reports:     s.qlog,
		LeaseSource: func(a netip.Addr) string { return s.server.Policy().Identify(a, time.Now()).LeaseSource },
		Retention:   cfg.Safeguarding.Retention,
		Groups:      func() []string { return *sg.groups.Load() },
		Site:        siteName(cfg),
		Logger:      s.log.With("component", "safeguarding"),
		Metrics:     m,
	})
	if err != nil {
		return nil, err
	}
	sg.engine = e
	if cur, _ := e.Settings(); len(cur.Recipients) == 0 {
		s.log.Warn("safeguarding is on but has no recipients: concerns are recorded but nobody is told (set safeguarding.initial.recipients before the first start, or propose recipients in the dashboard)")
	}
	return sg, nil
}

// start feeds the engine from the query log and runs it until stop.
func (sg *safeguardingSite) start(s *site) {
	if sg == nil {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	sg.cancel = cancel
	// A large subscription buffer: the engine drains it at once into its
	// own bounded queue, where drops are counted.
	entries, unsubscribe := s.qlog.Subscribe(16384)
	sg.wg.Add(2)
	go func() {
		defer sg.wg.Done()
		defer unsubscribe()
		sg.engine.Follow(ctx, entries)
	}()
	go func() {
		defer sg.wg.Done()
		sg.engine.Run(ctx)
	}()
}

// stop ends the engine's work and closes its database; call it before
// the query log closes (holds go to the query log).
func (sg *safeguardingSite) stop() {
	if sg == nil {
		return
	}
	if sg.cancel != nil {
		sg.cancel()
	}
	sg.wg.Wait()
	sg.engine.Close()
}

// prepare builds what a reload changes, without applying it.
func (sg *safeguardingSite) prepare(cfg *config.Config) (safeguarding.Infrastructure, *schoolHours, error) {
	if sg == nil {
		return safeguarding.Infrastructure{}, nil, nil
	}
	infra, err := safeguardingInfra(cfg)
	if err != nil {
		return infra, nil, err
	}
	school, err := newSchoolHours(cfg)
	return infra, school, err
}

// apply swaps in a reloaded config's infrastructure and school hours (the
// change of infrastructure is recorded in the audit log). Settings are
// not reloaded from the file: they change by approval only.
func (sg *safeguardingSite) apply(s *site, old, cfg *config.Config, infra safeguarding.Infrastructure, school *schoolHours) {
	if sg == nil {
		return
	}
	sg.school.Store(school)
	sg.groups.Store(groupNames(cfg))
	if err := sg.engine.SetInfrastructure(context.Background(), infra); err != nil {
		s.log.Error("safeguarding: recording the new delivery infrastructure", "error", err)
	}
	if !reflect.DeepEqual(old.Safeguarding.Initial, cfg.Safeguarding.Initial) {
		s.log.Warn("safeguarding.initial changed in the config file; it is only read the first time: propose the change in the dashboard, where a second person approves it")
	}
}

func groupNames(cfg *config.Config) *[]string {
	names := make([]string, len(cfg.Groups))
	for i, g := range cfg.Groups {
		names[i] = g.Name
	}
	return &names
}

func newSchoolHours(cfg *config.Config) (*schoolHours, error) {
	if cfg.Safeguarding.SchoolHours == "" {
		return &schoolHours{}, nil
	}
	loc, err := schedule.LoadTimeZone(cfg.TimeZone)
	if err != nil {
		return nil, err
	}
	var ps []schedule.Period
	for _, p := range cfg.Periods {
		ps = append(ps, schedule.Period{Name: p.Name, Weekly: p.Weekly, TermTimeOnly: p.TermTimeOnly})
	}
	sched, err := schedule.NewSchedule(loc, &schedule.Calendar{Terms: cfg.Calendar.Terms, Closures: cfg.Calendar.Closures}, ps)
	if err != nil {
		return nil, fmt.Errorf("safeguarding school hours: %w", err)
	}
	return &schoolHours{sched: sched, period: cfg.Safeguarding.SchoolHours}, nil
}

// readSecret reads a one-line secret file.
func readSecret(what, path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("reading %s: %w", what, err)
	}
	s := strings.TrimSpace(string(b))
	if s == "" || strings.ContainsAny(s, "\r\n") {
		return "", fmt.Errorf("reading %s: %s must hold one line", what, path)
	}
	return s, nil
}

// safeguardingInfra turns the config's delivery section into senders,
// reading the secret files.
func safeguardingInfra(cfg *config.Config) (safeguarding.Infrastructure, error) {
	sc := cfg.Safeguarding
	var in safeguarding.Infrastructure
	if sc.SMTP.Address != "" {
		m := &deliver.SMTP{Address: sc.SMTP.Address, From: sc.SMTP.From, Username: sc.SMTP.Username, NoTLS: sc.SMTP.NoTLS, TLSServerName: sc.SMTP.TLSServerName}
		if sc.SMTP.PasswordFile != "" {
			pw, err := readSecret("the SMTP password (safeguarding.smtp.password_file)", sc.SMTP.PasswordFile)
			if err != nil {
				return in, err
			}
			m.Password = pw
		}
		if sc.SMTP.CAFile != "" {
			pem, err := os.ReadFile(sc.SMTP.CAFile)
			if err != nil {
				return in, fmt.Errorf("reading safeguarding.smtp.ca_file: %w", err)
			}
			m.RootCAs = x509.NewCertPool()
			if !m.RootCAs.AppendCertsFromPEM(pem) {
				return in, fmt.Errorf("safeguarding.smtp.ca_file %s: no PEM certificates", sc.SMTP.CAFile)
			}
		}
		in.SMTP = m
	}
	for _, w := range sc.Webhooks {
		u := w.URL
		if w.URLFile != "" {
			var err error
			if u, err = readSecret(fmt.Sprintf("webhook %s's URL (url_file)", w.Name), w.URLFile); err != nil {
				return in, err
			}
			if err := deliver.CheckURL(u); err != nil {
				return in, fmt.Errorf("webhook %s: %s: %w", w.Name, w.URLFile, err)
			}
		}
		in.Webhooks = append(in.Webhooks, &deliver.Webhook{Name: w.Name, URL: u, Format: w.Format})
	}
	if sc.Syslog.Address != "" {
		in.Syslog = &deliver.Syslog{Network: sc.Syslog.Network, Address: sc.Syslog.Address}
	}
	return in, nil
}

// safeguardingSettings converts the config's initial settings (validated
// by config) to the engine's; safeguarding.WithDefaults fills in what is
// left out (categories, priorities' rules and timescales, routes).
func safeguardingSettings(in config.SafeguardingPolicy) safeguarding.Settings {
	prio := func(s string) safeguarding.Priority {
		p, _ := safeguarding.ParsePriority(s)
		return p
	}
	prios := func(ss []string) []safeguarding.Priority {
		out := make([]safeguarding.Priority, len(ss))
		for i, s := range ss {
			out[i] = prio(s)
		}
		return out
	}
	var s safeguarding.Settings
	for _, cp := range in.Priorities {
		s.Priorities = append(s.Priorities, safeguarding.CategoryPriority{Category: cp.Category, Priority: prio(cp.Priority)})
	}
	for _, r := range in.Rules {
		s.Rules = append(s.Rules, safeguarding.Rule{Priority: prio(r.Priority), Category: r.Category, Threshold: r.Threshold, Window: safeguarding.Duration(r.Window)})
	}
	for _, r := range in.Recipients {
		s.Recipients = append(s.Recipients, safeguarding.Recipient{Name: r.Name, Role: safeguarding.Team(r.Role), Email: r.Email, Webhooks: r.Webhooks, Syslog: r.Syslog})
	}
	for _, r := range in.Routes {
		s.Routes = append(s.Routes, safeguarding.Route{Priorities: prios(r.Priorities), Categories: r.Categories, Groups: r.Groups,
			When: safeguarding.When(r.When), To: r.To, Speed: safeguarding.Speed(r.Speed)})
	}
	for _, oc := range in.OnCall {
		s.OnCall = append(s.OnCall, safeguarding.OnCall{Recipient: oc.Recipient, Weekly: oc.Weekly})
	}
	for _, t := range in.Timescales {
		s.Timescales = append(s.Timescales, safeguarding.Timescale{Priority: prio(t.Priority), Acknowledge: safeguarding.Duration(t.Acknowledge), Close: safeguarding.Duration(t.Close)})
	}
	s.EscalateTo = in.EscalateTo
	s.WeeklyReport = safeguarding.WeeklyReport{To: in.WeeklyReport.To, Weekday: in.WeeklyReport.Weekday, At: in.WeeklyReport.At}
	return s
}

// checkSafeguarding checks what config validation cannot: the initial
// settings as a whole, with defaults filled in (every critical concern
// must reach someone, for one).
func checkSafeguarding(cfg *config.Config) error {
	if !cfg.Safeguarding.Enabled {
		return nil
	}
	if err := safeguarding.WithDefaults(safeguardingSettings(cfg.Safeguarding.Initial)).Validate(); err != nil {
		return fmt.Errorf("safeguarding.initial: %w", err)
	}
	return nil
}

// --- command line ---

func sgDBFlag() cli.Flag {
	return &cli.StringFlag{Name: "db", Usage: "safeguarding database `FILE` (default: safeguarding.db in the config's state directory)"}
}

// openSafeguardingTool opens the engine's database for a CLI command,
// alongside a running server.
func openSafeguardingTool(c *cli.Context) (*safeguarding.Engine, *config.Config, error) {
	cfg, err := loadConfig(c.String("config"))
	if err != nil {
		return nil, nil, err
	}
	path, err := sgPath(c, cfg)
	if err != nil {
		return nil, nil, err
	}
	if _, err := os.Stat(path); err != nil {
		return nil, nil, fmt.Errorf("no safeguarding database at %s (is safeguarding enabled and Gatehouse started? use --db to name the file): %w", path, err)
	}
	infra, err := safeguardingInfra(cfg)
	if err != nil {
		return nil, nil, err
	}
	loc, err := schedule.LoadTimeZone(cfg.TimeZone)
	if err != nil {
		return nil, nil, err
	}
	e, err := safeguarding.Open(c.Context, safeguarding.Config{Path: path, Infra: infra, Location: loc, Tool: true})
	return e, cfg, err
}

func sgPath(c *cli.Context, cfg *config.Config) (string, error) {
	if p := c.String("db"); p != "" {
		return p, nil
	}
	dir, err := stateDir(cfg, os.Getenv)
	if err != nil {
		return "", err
	}
	return safeguardingDB(dir), nil
}

// cliActor is who runs a CLI command: --as, else the login name. The CLI
// runs on the appliance with access to its files, so it is trusted like a
// technician at the console; it can never approve settings changes.
func cliActor(c *cli.Context, roles ...string) safeguarding.Actor {
	name := c.String("as")
	if name == "" {
		if u, err := user.Current(); err == nil {
			name = u.Username
		}
	}
	return safeguarding.Actor{Name: name + " (command line)", Roles: roles}
}

func auditCommand(stdout io.Writer, configFlag cli.Flag) *cli.Command {
	return &cli.Command{
		Name:  "audit",
		Usage: "the safeguarding audit log",
		Subcommands: []*cli.Command{{
			Name:  "verify",
			Usage: "check the hash chain of the safeguarding audit log; exits 1 naming the first broken record",
			Flags: []cli.Flag{configFlag, sgDBFlag()},
			Action: func(c *cli.Context) error {
				cfg, err := loadConfig(c.String("config"))
				if err != nil {
					return err
				}
				path, err := sgPath(c, cfg)
				if err != nil {
					return err
				}
				n, head, err := safeguarding.VerifyFile(c.Context, path)
				if err != nil {
					return err
				}
				fmt.Fprintf(stdout, "audit log verified: %d records, head %s\n", n, head)
				return nil
			},
		}},
	}
}

func concernsCommand(stdout io.Writer, configFlag cli.Flag) *cli.Command {
	as := &cli.StringFlag{Name: "as", Usage: "your `NAME` for the record (default: your login name)"}
	return &cli.Command{
		Name:  "concerns",
		Usage: "safeguarding concerns: list, show, export, acknowledge, open as an incident, note, close",
		Subcommands: []*cli.Command{
			{
				Name:  "list",
				Usage: "the queue, most urgent first (open concerns unless --all)",
				Flags: []cli.Flag{configFlag, sgDBFlag(),
					&cli.BoolFlag{Name: "all", Usage: "closed concerns too"},
					&cli.StringFlag{Name: "status", Usage: "only new, acknowledged, in-progress or closed"},
					&cli.IntFlag{Name: "limit", Value: 200}},
				Action: func(c *cli.Context) error { return concernsList(c, stdout) },
			},
			{
				Name:      "show",
				Usage:     "one concern with its evidence and history",
				ArgsUsage: "ID",
				Flags: []cli.Flag{configFlag, sgDBFlag(),
					&cli.StringFlag{Name: "format", Value: "text", Usage: "text, json or html (a printable record)"}},
				Action: func(c *cli.Context) error { return concernsShow(c, stdout) },
			},
			{
				Name: "ack", Usage: "acknowledge a concern", ArgsUsage: "ID", Flags: []cli.Flag{configFlag, sgDBFlag(), as},
				Action: func(c *cli.Context) error {
					return concernChange(c, stdout, func(e *safeguarding.Engine, a safeguarding.Actor, id int64) error {
						return e.Acknowledge(c.Context, a, id)
					})
				},
			},
			{
				Name: "open", Usage: "make a concern an incident with an owner (default: you)", ArgsUsage: "ID",
				Flags: []cli.Flag{configFlag, sgDBFlag(), as, &cli.StringFlag{Name: "owner", Usage: "the incident's owner"}},
				Action: func(c *cli.Context) error {
					return concernChange(c, stdout, func(e *safeguarding.Engine, a safeguarding.Actor, id int64) error {
						owner := c.String("owner")
						if owner == "" {
							owner = strings.TrimSuffix(a.Name, " (command line)")
						}
						return e.OpenIncident(c.Context, a, id, owner)
					})
				},
			},
			{
				Name: "note", Usage: "add a note to a concern", ArgsUsage: "ID TEXT", Flags: []cli.Flag{configFlag, sgDBFlag(), as},
				Action: func(c *cli.Context) error {
					return concernChange(c, stdout, func(e *safeguarding.Engine, a safeguarding.Actor, id int64) error {
						return e.AddNote(c.Context, a, id, strings.Join(c.Args().Tail(), " "))
					})
				},
			},
			{
				Name: "close", Usage: "close a concern with its outcome", ArgsUsage: "ID",
				Flags: []cli.Flag{configFlag, sgDBFlag(), as,
					&cli.StringFlag{Name: "action", Usage: "the action taken"},
					&cli.StringFlag{Name: "outcome", Usage: "the outcome (required)", Required: true}},
				Action: func(c *cli.Context) error {
					return concernChange(c, stdout, func(e *safeguarding.Engine, a safeguarding.Actor, id int64) error {
						if act := c.String("action"); act != "" {
							if err := e.RecordAction(c.Context, a, id, act); err != nil {
								return err
							}
						}
						return e.CloseIncident(c.Context, a, id, c.String("outcome"))
					})
				},
			},
		},
	}
}

func concernID(c *cli.Context) (int64, error) {
	id, err := strconv.ParseInt(c.Args().First(), 10, 64)
	if err != nil || id <= 0 {
		return 0, fmt.Errorf("want a concern number, got %q", c.Args().First())
	}
	return id, nil
}

func concernChange(c *cli.Context, stdout io.Writer, fn func(*safeguarding.Engine, safeguarding.Actor, int64) error) error {
	id, err := concernID(c)
	if err != nil {
		return err
	}
	e, _, err := openSafeguardingTool(c)
	if err != nil {
		return err
	}
	defer e.Close()
	if err := fn(e, cliActor(c, safeguarding.RoleSafeguarding), id); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "concern %d: done\n", id)
	return nil
}

func concernsList(c *cli.Context, stdout io.Writer) error {
	e, cfg, err := openSafeguardingTool(c)
	if err != nil {
		return err
	}
	defer e.Close()
	f := safeguarding.QueueFilter{Limit: c.Int("limit")}
	if s := c.String("status"); s != "" {
		st, err := safeguarding.ParseStatus(s)
		if err != nil {
			return err
		}
		f.Statuses = []safeguarding.Status{st}
	} else if c.Bool("all") {
		f.Statuses = []safeguarding.Status{safeguarding.StatusNew, safeguarding.StatusAcknowledged, safeguarding.StatusInProgress, safeguarding.StatusClosed}
	}
	q, err := e.Queue(c.Context, f)
	if err != nil {
		return err
	}
	loc, _ := schedule.LoadTimeZone(cfg.TimeZone)
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "#\tPRIORITY\tCATEGORY\tDEVICE\tGROUP\tFIRST LOOKUP\tLOOKUPS\tSTATUS\tOWNER\tDUE")
	for _, x := range q {
		due := "-"
		switch {
		case x.Overdue:
			due = "OVERDUE"
		case x.Status == safeguarding.StatusNew && !x.AcknowledgeBy.IsZero():
			due = "ack by " + x.AcknowledgeBy.In(loc).Format("Mon 15:04")
		case x.Status != safeguarding.StatusClosed && !x.CloseBy.IsZero():
			due = "close by " + x.CloseBy.In(loc).Format("Mon 2 Jan")
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\t%s\n", x.ID, x.Priority, x.Category, cell(x.Device.String()), cell(x.Device.Group),
			x.Time.In(loc).Format("2006-01-02 15:04"), x.Hits, x.Status, cell(x.Owner), due)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	h, err := e.Health(c.Context)
	if err == nil && (h.Failing > 0 || h.Dead > 0) {
		fmt.Fprintf(stdout, "\nALERT DELIVERY PROBLEM: %d failing, %d given up; last error: %s\n", h.Failing, h.Dead, cell(h.LastError))
	}
	return nil
}

// cell keeps a value from the network on one line of a terminal table.
func cell(s string) string {
	if s == "" {
		return "-"
	}
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || r == '\t' {
			return ' '
		}
		return r
	}, s)
}

func concernsShow(c *cli.Context, stdout io.Writer) error {
	id, err := concernID(c)
	if err != nil {
		return err
	}
	e, cfg, err := openSafeguardingTool(c)
	if err != nil {
		return err
	}
	defer e.Close()
	switch c.String("format") {
	case "json":
		return e.ExportJSON(c.Context, id, stdout)
	case "html":
		return e.ExportHTML(c.Context, id, stdout)
	case "text":
	default:
		return fmt.Errorf("--format: %q is not text, json or html", c.String("format"))
	}
	r, err := e.Get(c.Context, id)
	if err != nil {
		return err
	}
	loc, _ := schedule.LoadTimeZone(cfg.TimeZone)
	when := func(t time.Time) string {
		if t.IsZero() {
			return "-"
		}
		return t.In(loc).Format("Mon 2 Jan 2006 15:04:05")
	}
	x := r.Concern
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	for _, kv := range [][2]string{
		{"Concern", fmt.Sprintf("#%d %s (%s)", x.ID, safeguarding.Title(x.Category), x.Priority)},
		{"Status", string(x.Status) + map[bool]string{true: " OVERDUE", false: ""}[x.Overdue]},
		{"Incident", map[bool]string{true: "yes, owner " + cell(x.Owner), false: "no"}[x.Incident]},
		{"Device", cell(x.Device.String())},
		{"Group", cell(x.Device.Group)},
		{"Placed by", cell(x.Device.ClientRule)},
		{"Lease from", cell(x.Device.LeaseSource)},
		{"Looked up", cell(x.Name)},
		{"First lookup", when(x.Time)},
		{"Lookups", strconv.Itoa(x.Hits)},
		{"Acknowledged", cell(x.AcknowledgedBy) + " " + when(x.AcknowledgedAt)},
		{"Action taken", cell(x.ActionTaken)},
		{"Outcome", cell(x.Outcome)},
	} {
		fmt.Fprintf(tw, "%s:\t%s\n", kv[0], kv[1])
	}
	tw.Flush()
	fmt.Fprintln(stdout, "\nEvidence (query log entries):")
	for _, ev := range r.Evidence {
		fmt.Fprintf(stdout, "  %d  %s  %s  %s %s (list %s)\n", ev.Entry, when(ev.Time), cell(ev.Name), ev.Decision, ev.Category, cell(ev.List))
	}
	fmt.Fprintln(stdout, "\nHistory:")
	for _, ev := range r.Events {
		fmt.Fprintf(stdout, "  %s  %s  %s: %s\n", when(ev.Time), cell(ev.Actor), ev.Kind, cell(ev.Detail))
	}
	fmt.Fprintln(stdout, "\nNotifications:")
	for _, d := range r.Deliveries {
		fmt.Fprintf(stdout, "  %s to %s by %s %s: %s (%d attempts) %s\n", d.Kind, d.Recipient, d.Channel, cell(d.Target), d.State, d.Attempts, cell(d.LastError))
	}
	fmt.Fprintf(stdout, "\n%s\n", safeguarding.IndicatorNotice)
	return nil
}

func safeguardingCommand(stdout io.Writer, configFlag cli.Flag) *cli.Command {
	return &cli.Command{
		Name:  "safeguarding",
		Usage: "safeguarding alerts: test delivery, show settings and the weekly report",
		Subcommands: []*cli.Command{
			{
				Name:  "test-alert",
				Usage: "send a test alert to one recipient on every channel now, and say what worked",
				Flags: []cli.Flag{configFlag, sgDBFlag(),
					&cli.StringFlag{Name: "to", Required: true, Usage: "recipient `NAME` from the safeguarding settings"},
					&cli.StringFlag{Name: "as", Usage: "your `NAME` for the message"}},
				Action: func(c *cli.Context) error {
					e, _, err := openSafeguardingTool(c)
					if err != nil {
						return err
					}
					defer e.Close()
					res, err := e.TestAlert(c.Context, cliActor(c, safeguarding.RoleTechnician), c.String("to"))
					if err != nil {
						return err
					}
					failed := 0
					for _, r := range res {
						if r.Err != nil {
							failed++
							fmt.Fprintf(stdout, "FAILED %s %s: %v\n", r.Channel, r.Target, r.Err)
						} else {
							fmt.Fprintf(stdout, "sent   %s %s\n", r.Channel, r.Target)
						}
					}
					if len(res) == 0 {
						return fmt.Errorf("recipient %s has no channels", c.String("to"))
					}
					if failed > 0 {
						return fmt.Errorf("%d of %d channels failed", failed, len(res))
					}
					return nil
				},
			},
			{
				Name:  "settings",
				Usage: "the safeguarding settings in force (JSON), their version and pending proposals",
				Flags: []cli.Flag{configFlag, sgDBFlag()},
				Action: func(c *cli.Context) error {
					e, _, err := openSafeguardingTool(c)
					if err != nil {
						return err
					}
					defer e.Close()
					s, v := e.Settings()
					js, err := s.Canonical()
					if err != nil {
						return err
					}
					fmt.Fprintf(stdout, "version %d\n%s\n", v, js)
					ps, err := e.Proposals(c.Context, "pending")
					if err != nil {
						return err
					}
					for _, p := range ps {
						fmt.Fprintf(stdout, "\npending proposal %d by %s: %s\n", p.ID, cell(p.Proposer), cell(p.Reason))
						for _, ch := range p.Changes {
							fmt.Fprintf(stdout, "  %s\n", cell(ch))
						}
					}
					return nil
				},
			},
			{
				Name:  "report",
				Usage: "print the weekly safeguarding report for the 7 days before now",
				Flags: []cli.Flag{configFlag, sgDBFlag()},
				Action: func(c *cli.Context) error {
					e, cfg, err := openSafeguardingTool(c)
					if err != nil {
						return err
					}
					defer e.Close()
					w, err := e.BuildWeeklySummary(c.Context, time.Now())
					if err != nil {
						return err
					}
					loc, _ := schedule.LoadTimeZone(cfg.TimeZone)
					_, err = io.WriteString(stdout, w.Text(loc))
					return err
				},
			},
		},
	}
}

// siteName names the appliance in alert subjects, so a trust's DSL with
// several schools can tell them apart: its host name.
func siteName(*config.Config) string {
	h, _ := os.Hostname()
	return h
}
