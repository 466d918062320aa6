package main

import (
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/miekg/dns"
	"github.com/urfave/cli/v2"

	"gatehouse/blocklists"
	"gatehouse/clientmap"
	"gatehouse/config"
	"gatehouse/policy"
	"gatehouse/policy/override"
	"gatehouse/policy/schedule"
)

func explainCommand(stdout io.Writer, configFlag cli.Flag) *cli.Command {
	return &cli.Command{
		Name:      "explain",
		Usage:     "show who a client is and how a query from it would be decided, and why",
		ArgsUsage: "NAME [TYPE]",
		Flags: []cli.Flag{configFlag,
			&cli.StringFlag{Name: "client", Value: "127.0.0.1", Usage: "the client's IP `ADDRESS`"},
			&cli.StringFlag{Name: "at", Usage: "decide as at this `TIME` (10:00 today, 2026-11-23 10:00; default: now)"},
			&cli.StringSliceFlag{Name: "answer", Usage: "check an answer too: a CNAME target `NAME` or an ADDRESS it holds (repeat, in answer order)"},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() < 1 || c.NArg() > 2 {
				return fmt.Errorf("explain needs a name, and optionally a type: gatehouse explain --client 10.20.3.4 www.youtube.com AAAA")
			}
			cfg, err := loadConfig(c.String("config"))
			if err != nil {
				return err
			}
			return explain(stdout, cfg, c.String("client"), c.Args().Get(0), c.Args().Get(1), c.String("at"), c.StringSlice("answer"))
		},
	}
}

func explain(w io.Writer, cfg *config.Config, clientArg, name, qtypeArg, at string, answer []string) error {
	addr, err := netip.ParseAddr(clientArg)
	if err != nil {
		return fmt.Errorf("--client: %q is not an IP address", clientArg)
	}
	qtype := dns.TypeA
	if qtypeArg != "" {
		t, ok := dns.StringToType[strings.ToUpper(qtypeArg)]
		if !ok {
			return fmt.Errorf("%q is not a DNS type", qtypeArg)
		}
		qtype = t
	}
	if _, ok := dns.IsDomainName(name); !ok {
		return fmt.Errorf("%q is not a domain name", name)
	}
	name = dns.CanonicalName(name)
	loc, err := schedule.LoadTimeZone(cfg.TimeZone)
	if err != nil {
		return err
	}
	now := time.Now()
	if at != "" {
		if now, err = parseTime(at, loc, now); err != nil {
			return fmt.Errorf("--at: %w", err)
		}
	}
	leases, statuses, err := readLeases(cfg)
	if err != nil {
		return err
	}
	// Downloaded lists: their last good copies, as the server has them;
	// and the temporary overrides it has recorded.
	var store *blocklists.Store
	var overrides []override.Override
	var overridesErr error
	if dir, err := stateDir(cfg, os.Getenv); err == nil {
		if _, err := os.Stat(filepath.Join(dir, "lists")); err == nil {
			store, _ = openListStore(dir)
		}
		overrides, overridesErr = override.Load(dir)
	}
	snap, err := policy.Compile(cfg, 0, now, leases, nil, store)
	if err != nil {
		return err
	}
	snap = snap.WithOverrides(overrides, now)

	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	defer tw.Flush()
	c := snap.Identify(addr, now)
	fmt.Fprintf(tw, "client\t%s\n", c.Addr)
	if !snap.Allowed(addr) {
		fmt.Fprintf(tw, "decision\tREFUSED: %s is outside access.allow, so Gatehouse does not answer it\n", addr)
		return nil
	}
	if c.LeaseSource != "" {
		fmt.Fprintf(tw, "lease\tMAC %s, hostname %s (from %s)\n", c.MAC, safeText(orNone(c.Hostname)), c.LeaseSource)
	} else {
		fmt.Fprintf(tw, "lease\tnone found in %d lease source(s)\n", len(statuses))
	}
	fmt.Fprintf(tw, "group\t%s (placed by %s)\n", c.Group, c.Rule)
	for _, o := range snap.Overrides() {
		if o.Group == c.Group {
			fmt.Fprintf(tw, "override\t%s %s until %s: %s (by %s)\n", o.ID, safeText(string(o.Action)+" "+o.Target()),
				o.Until.In(loc).Format("Mon 2006-01-02 15:04 MST"), safeText(o.Reason), safeText(o.CreatedBy))
		}
	}
	if overridesErr != nil {
		fmt.Fprintf(tw, "warning\ttemporary overrides could not be read: %s\n", overridesErr)
	}
	fmt.Fprintf(tw, "question\t%s %s at %s\n", name, dns.Type(qtype), now.In(loc).Format("Mon 2006-01-02 15:04 MST"))
	d := snap.Decide(c, name, qtype, now)
	fmt.Fprintf(tw, "decision\t%s\n", describe(d))
	if d.TTLCap > 0 && d.Reason == policy.ReasonOverride {
		fmt.Fprintf(tw, "override\tthis answer ends with the override in %s; its TTL is capped to match\n", time.Duration(d.TTLCap)*time.Second)
	} else if d.TTLCap > 0 {
		fmt.Fprintf(tw, "schedule\tthis answer changes with a period edge in %s; its TTL is capped to match\n", time.Duration(d.TTLCap)*time.Second)
	}
	// Every list entry that matches, with its source line, whether or not
	// this group uses the list.
	if set := snap.Lists(); set != nil {
		hits, err := set.Explain(name)
		for _, h := range hits {
			where := h.Source
			if h.Line > 0 {
				where = fmt.Sprintf("%s:%d", h.Source, h.Line)
			}
			locked := ""
			if h.Locked {
				locked = ", locked"
			}
			fmt.Fprintf(tw, "listed\t%s in %s (%s%s) at %s\n", h.Entry, h.ListName, h.Category, locked, where)
		}
		if err != nil {
			fmt.Fprintf(tw, "warning\t%s\n", err)
		}
	}
	return explainAnswer(tw, snap, c, d, name, answer, now)
}

// readLeases reads the configured lease files once.
func readLeases(cfg *config.Config) (*clientmap.Leases, []clientmap.LeaseSourceStatus, error) {
	if len(cfg.Clients.Leases) == 0 {
		return nil, nil, nil
	}
	var sources []clientmap.LeaseSource
	for _, l := range cfg.Clients.Leases {
		sources = append(sources, clientmap.LeaseSource{Path: l.Path, Format: clientmap.LeaseFormat(l.Format)})
	}
	w, err := clientmap.NewLeaseWatcher(clientmap.LeaseWatcherConfig{Sources: sources})
	if err != nil {
		return nil, nil, err
	}
	return w.Leases(), w.Status(), nil
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

// describe says what a decision means, for a technician.
func describe(d policy.Decision) string {
	why := ""
	if d.Reason != policy.ReasonNone {
		why = fmt.Sprintf(" — %s rule", d.Reason)
		if d.Category != "" {
			why += ", category " + d.Category
		}
		if d.List != "" {
			why += ", list " + d.List
		}
		if d.Matched != "" {
			why += ", matched entry " + d.Matched
		}
	}
	switch d.Action {
	case policy.Block:
		styles := map[policy.Style]string{
			policy.StyleNXDOMAIN:  "answered NXDOMAIN (the name does not exist)",
			policy.StyleNull:      "answered 0.0.0.0 / ::",
			policy.StyleBlockPage: "answered with the block page address",
			policy.StyleNODATA:    "answered with no data",
		}
		return "BLOCKED: " + styles[d.Style] + why
	case policy.Rewrite:
		return "REWRITTEN: answered as CNAME " + d.Target + " with that name's own records" + why
	case policy.Allow:
		return "ALLOWED" + why
	}
	return "resolved normally: no rule matches"
}
