package main

import (
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"gatehouse/config"
	"gatehouse/policy/override"
	"gatehouse/policy/schedule"
)

// stateDirFlag finds the running server's control socket without a config.
var stateDirFlag = &cli.StringFlag{
	Name:  "state-dir",
	Usage: "the running server's state `DIR` (default: from the config's state_dir, $STATE_DIRECTORY, ...)",
}

// controlTarget returns a client for the running server's control socket
// and the school's time zone, from --state-dir or the config.
func controlTarget(c *cli.Context) (*controlClient, *time.Location, error) {
	cfg, err := loadConfig(c.String("config"))
	dir := c.String("state-dir")
	if err != nil {
		if dir == "" {
			return nil, nil, fmt.Errorf("reading the config to find the server (or give --state-dir): %w", err)
		}
		cfg = config.Default() // for the time zone only
	}
	loc, err := schedule.LoadTimeZone(cfg.TimeZone)
	if err != nil {
		return nil, nil, err
	}
	if dir == "" {
		if dir, err = stateDir(cfg, os.Getenv); err != nil {
			return nil, nil, err
		}
	}
	return newControlClient(dir), loc, nil
}

func listsCommand(stdout io.Writer, configFlag cli.Flag) *cli.Command {
	return &cli.Command{
		Name:  "lists",
		Usage: "manage the block and allow lists of the running server",
		Subcommands: []*cli.Command{{
			Name:  "reload",
			Usage: "re-read the config and local lists and re-check downloaded lists now, like SIGHUP",
			Flags: []cli.Flag{configFlag, stateDirFlag},
			Action: func(c *cli.Context) error {
				cc, _, err := controlTarget(c)
				if err != nil {
					return err
				}
				var res struct {
					Generation uint64 `json:"generation"`
				}
				if err := cc.do(c.Context, "POST", "/v1/lists/reload", nil, &res); err != nil {
					return err
				}
				fmt.Fprintf(stdout, "lists reloaded: policy generation %d in force; downloaded lists are being re-checked\n", res.Generation)
				return nil
			},
		}, {
			Name:      "accept",
			Usage:     "put in force a downloaded list's last download, held back because it had far fewer entries than the copy in force",
			ArgsUsage: "NAME",
			Flags:     []cli.Flag{configFlag, stateDirFlag},
			Action: func(c *cli.Context) error {
				if c.NArg() != 1 {
					return errors.New("lists accept: give the list's NAME (as in the config)")
				}
				name := c.Args().First()
				cc, _, err := controlTarget(c)
				if err != nil {
					return err
				}
				if err := cc.do(c.Context, "POST", "/v1/lists/"+url.PathEscape(name)+"/accept", nil, nil); err != nil {
					return err
				}
				fmt.Fprintf(stdout, "list %s: the held download is in force now (the policy is rebuilt in a moment)\n", name)
				return nil
			},
		}},
	}
}

func overrideCommand(stdout io.Writer, configFlag cli.Flag) *cli.Command {
	return &cli.Command{
		Name:  "override",
		Usage: "temporary exceptions to a group's policy: allow or block a category or domain until a time",
		Subcommands: []*cli.Command{
			{
				Name:  "add",
				Usage: "allow or block a category or a domain for a group until a time",
				Description: `Examples:
   gatehouse override add --group year-9 --allow --domain youtube.com --until 14:30 --reason "media studies lesson"
   gatehouse override add --group staff-guest --block --category gaming --until today --reason "exam week"

An override ends by itself at --until (14:30, 2h, today, tomorrow, 2026-11-24 08:40), at most 7 days ahead.
Locked categories (iwf, ctiru) can never be overridden. Who created it is taken from your OS user.`,
				Flags: []cli.Flag{configFlag, stateDirFlag,
					&cli.StringFlag{Name: "group", Usage: "the `GROUP` it applies to", Required: true},
					&cli.BoolFlag{Name: "allow", Usage: "allow what it names"},
					&cli.BoolFlag{Name: "block", Usage: "block what it names"},
					&cli.StringFlag{Name: "category", Usage: "a `CATEGORY` (gaming, social-media, ...)"},
					&cli.StringFlag{Name: "domain", Usage: "a `DOMAIN`; every name under it is covered too"},
					&cli.StringFlag{Name: "until", Usage: "when it ends: `TIME` such as 14:30, 2h, today", Required: true},
					&cli.StringFlag{Name: "reason", Usage: "why (recorded and logged)", Required: true},
				},
				Action: func(c *cli.Context) error {
					cc, loc, err := controlTarget(c)
					if err != nil {
						return err
					}
					var action override.Action
					switch {
					case c.Bool("allow") == c.Bool("block"):
						return errors.New("give exactly one of --allow and --block")
					case c.Bool("allow"):
						action = override.Allow
					default:
						action = override.Block
					}
					if (c.String("category") == "") == (c.String("domain") == "") {
						return errors.New("give exactly one of --category and --domain")
					}
					until, err := override.ParseUntil(c.String("until"), time.Now(), loc)
					if err != nil {
						return fmt.Errorf("--until: %w", err)
					}
					r := override.Request{Group: c.String("group"), Action: action, Category: c.String("category"),
						Domain: c.String("domain"), Until: until, Reason: c.String("reason")}
					var o override.Override
					if err := cc.do(c.Context, "POST", "/v1/overrides", r, &o); err != nil {
						return err
					}
					fmt.Fprintf(stdout, "override %s: %s %s for group %s until %s\n", o.ID, o.Action, safeText(o.Target()),
						safeText(o.Group), o.Until.In(loc).Format("Mon 2 Jan 15:04 MST"))
					return nil
				},
			},
			{
				Name:  "list",
				Usage: "show the overrides in force (with --all, also the recently ended ones)",
				Flags: []cli.Flag{configFlag, stateDirFlag,
					&cli.BoolFlag{Name: "all", Usage: "include cancelled and expired overrides"},
				},
				Action: func(c *cli.Context) error {
					cc, loc, err := controlTarget(c)
					if err != nil {
						return err
					}
					var all []override.Override
					if err := cc.do(c.Context, "GET", "/v1/overrides", nil, &all); err != nil {
						return err
					}
					printOverrides(stdout, all, c.Bool("all"), time.Now(), loc)
					return nil
				},
			},
			{
				Name:      "cancel",
				Usage:     "end an override now",
				ArgsUsage: "ID",
				Flags:     []cli.Flag{configFlag, stateDirFlag},
				Action: func(c *cli.Context) error {
					if c.NArg() != 1 {
						return errors.New("cancel needs the override's ID (see gatehouse override list)")
					}
					cc, _, err := controlTarget(c)
					if err != nil {
						return err
					}
					id := c.Args().First()
					if err := cc.do(c.Context, "DELETE", "/v1/overrides/"+url.PathEscape(id), nil, nil); err != nil {
						return err
					}
					fmt.Fprintf(stdout, "override %s cancelled\n", safeText(id))
					return nil
				},
			},
		},
	}
}

// printOverrides writes a table of overrides: those in force, or with all
// the recent history too.
func printOverrides(w io.Writer, all []override.Override, history bool, now time.Time, loc *time.Location) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	defer tw.Flush()
	fmt.Fprintln(tw, "ID\tGROUP\tACTION\tTARGET\tUNTIL\tSTATE\tBY\tREASON")
	n := 0
	for _, o := range all {
		state := "active"
		switch {
		case !o.Cancelled.IsZero():
			state = "cancelled by " + o.CancelledBy
		case !now.Before(o.Until):
			state = "expired"
		}
		if state != "active" && !history {
			continue
		}
		n++
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", safeText(o.ID), safeText(o.Group), o.Action, safeText(o.Target()),
			o.Until.In(loc).Format("Mon 2 Jan 15:04"), safeText(state), safeText(o.CreatedBy), safeText(o.Reason))
	}
	if n == 0 {
		if history {
			fmt.Fprintln(tw, "(no overrides)")
		} else {
			fmt.Fprintln(tw, "(no overrides in force)")
		}
	}
}
