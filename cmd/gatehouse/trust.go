package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"gatehouse/config"
	"gatehouse/dashboard"
	"gatehouse/policy/schedule"
	"gatehouse/querylog"
	"gatehouse/safeguarding"
	"gatehouse/trust"
)

// readToken reads a bearer token file: one line of at least 16
// characters without spaces.
func readToken(what, path string) (string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("%s: %w", what, err)
	}
	tok := strings.TrimSpace(string(data))
	if len(tok) < 16 || strings.ContainsAny(tok, " \t\r\n") {
		return "", fmt.Errorf("%s %s: the token must be one line of at least 16 characters without spaces", what, path)
	}
	return tok, nil
}

// openTrust reads the trust tokens (a missing or short one stops the
// start) and builds the dashboard's trust reporting: the site's summary
// when trust.serve.token_file is set, the Trust page when sites are
// listed. The sites and tokens are read at start.
func (s *site) openTrust(cfg *config.Config, dir string) (dashboard.Trust, error) {
	var t dashboard.Trust
	tc := cfg.Trust
	if tc.Serve.TokenFile != "" {
		tok, err := readToken("trust.serve.token_file", tc.Serve.TokenFile)
		if err != nil {
			return t, err
		}
		share, err := trust.ParseShare(tc.Serve.Share)
		if err != nil {
			return t, err
		}
		t.Token, t.Summary = tok, s.trustSummary(share)
	}
	if len(tc.Sites) > 0 {
		c, err := newCollector(&tc, filepath.Join(dir, "trust-sites.json"))
		if err != nil {
			return t, err
		}
		t.Collector = c
	}
	return t, nil
}

// trustSummary builds this site's summary from the safeguarding engine's
// weekly summary (which carries the query log's report) or, with
// safeguarding off, from the query log alone.
func (s *site) trustSummary(share trust.Share) trust.Source {
	return func(ctx context.Context, from, to time.Time) (trust.Summary, error) {
		name := siteName(nil)
		if s.sg != nil {
			w, err := s.sg.engine.BuildWeeklySummary(ctx, to)
			if err != nil {
				return trust.Summary{}, err
			}
			return trust.Build(name, from, to, time.Now(), &w, w.QueryLog, share), nil
		}
		var q *querylog.Report
		if s.qlog != nil {
			r, err := s.qlog.Report(ctx, from, to, "")
			if err != nil {
				return trust.Summary{}, err
			}
			q = &r
		}
		return trust.Build(name, from, to, time.Now(), nil, q, share), nil
	}
}

// newCollector reads the sites' tokens and builds the collector;
// statePath keeps when each site was last reached ("" for none).
func newCollector(tc *config.Trust, statePath string) (*trust.Collector, error) {
	var sites []trust.SiteConfig
	for i, sc := range tc.Sites {
		tok, err := readToken(fmt.Sprintf("trust.sites[%d].token_file", i), sc.TokenFile)
		if err != nil {
			return nil, err
		}
		sites = append(sites, trust.SiteConfig{Name: sc.Name, URL: sc.URL, Token: tok})
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.Proxy = nil // sites are on the trust's network; a proxy would see the tokens
	if tc.CAFile != "" {
		pem, err := os.ReadFile(tc.CAFile)
		if err != nil {
			return nil, fmt.Errorf("trust.ca_file: %w", err)
		}
		pool, err := x509.SystemCertPool()
		if err != nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("trust.ca_file %s: no PEM certificate in it", tc.CAFile)
		}
		tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	client := &http.Client{Timeout: tc.Timeout, Transport: tr,
		// A site's answer is the summary itself; a redirect would carry
		// the token somewhere else.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return trust.NewCollector(sites, client, statePath, nil), nil
}

func trustCommand(stdout io.Writer, configFlag cli.Flag) *cli.Command {
	return &cli.Command{
		Name:  "trust",
		Usage: "trust-wide reporting across a multi-academy trust's sites (docs/trust.md)",
		Subcommands: []*cli.Command{{
			Name:  "report",
			Usage: "collect every site's weekly summary and print one report; unreachable sites are shown as such",
			Flags: []cli.Flag{configFlag,
				&cli.StringFlag{Name: "sites", Usage: "sites `FILE` (YAML: sites, ca_file, timeout); default: the config's trust section"},
				&cli.StringFlag{Name: "week", Usage: "any `DATE` in the week (2026-11-16); default: the current week"},
				&cli.StringFlag{Name: "format", Value: "text", Usage: "text, json or html (a printable page)"},
				&cli.StringFlag{Name: "state", Usage: "`FILE` remembering when each site was last reached (default: none)"},
			},
			Action: func(c *cli.Context) error { return trustReport(c, stdout) },
		}, {
			Name:  "summary",
			Usage: "print this site's weekly summary as JSON, as /api/trust/summary sends it: what leaves the site",
			Flags: []cli.Flag{configFlag,
				&cli.StringFlag{Name: "week", Usage: "any `DATE` in the week (2026-11-16); default: the seven days up to now"},
			},
			Action: func(c *cli.Context) error { return trustSummaryCLI(c, stdout) },
		}},
	}
}

func trustReport(c *cli.Context, stdout io.Writer) error {
	format := c.String("format")
	if format != "text" && format != "json" && format != "html" {
		return fmt.Errorf("--format %q: want text, json or html", format)
	}
	week := c.String("week")
	if week != "" {
		if _, err := time.Parse(time.DateOnly, week); err != nil {
			return fmt.Errorf("--week %q: want a date like 2026-11-16", week)
		}
	}
	var tc *config.Trust
	loc := time.Local
	if path := c.String("sites"); path != "" {
		var err error
		if tc, err = config.LoadTrustSites(path); err != nil {
			return err
		}
	} else {
		cfg, err := loadConfig(c.String("config"))
		if err != nil {
			return err
		}
		if loc, err = schedule.LoadTimeZone(cfg.TimeZone); err != nil {
			return err
		}
		tc = &cfg.Trust
	}
	if len(tc.Sites) == 0 {
		return fmt.Errorf("no sites: give --sites FILE or list trust.sites in the config")
	}
	col, err := newCollector(tc, c.String("state"))
	if err != nil {
		return err
	}
	rep := col.Collect(c.Context, week)
	switch format {
	case "json":
		return rep.WriteJSON(stdout)
	case "html":
		return rep.WriteHTML(stdout, loc)
	}
	return rep.WriteText(stdout, loc)
}

// trustSummaryCLI builds the site's summary from its databases, read-only,
// as the running server would serve it.
func trustSummaryCLI(c *cli.Context, stdout io.Writer) error {
	cfg, err := loadConfig(c.String("config"))
	if err != nil {
		return err
	}
	loc, err := schedule.LoadTimeZone(cfg.TimeZone)
	if err != nil {
		return err
	}
	share, err := trust.ParseShare(cfg.Trust.Serve.Share)
	if err != nil {
		return err
	}
	now := time.Now()
	from, to, err := trust.Period(c.String("week"), now, loc)
	if err != nil {
		return fmt.Errorf("--week: %w", err)
	}
	var w *safeguarding.WeeklySummary
	if cfg.Safeguarding.Enabled {
		e, _, err := openSafeguardingTool(c)
		if err != nil {
			return err
		}
		defer e.Close()
		ws, err := e.BuildWeeklySummary(c.Context, to)
		if err != nil {
			return err
		}
		w = &ws
	}
	var q *querylog.Report
	if cfg.QueryLog.Enabled {
		l, _, err := openLog(c)
		if err != nil {
			return err
		}
		defer l.Close()
		r, err := l.Report(c.Context, from, to, "")
		if err != nil {
			return err
		}
		q = &r
	}
	e := json.NewEncoder(stdout)
	e.SetIndent("", "  ")
	return e.Encode(trust.Build(siteName(cfg), from, to, now, w, q, share))
}
