package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"

	"github.com/urfave/cli/v2"

	"gatehouse/config"
)

// Build information, set by the release build with -ldflags "-X main.version=...".
var (
	version = "dev"
	commit  = ""
	date    = ""
)

// errReported means the details were already written to stderr.
var errReported = errors.New("reported")

// run is the whole program behind main, so tests can run it too.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	configFlag := &cli.StringFlag{
		Name:    "config",
		Aliases: []string{"c"},
		Usage:   "configuration `FILE` (YAML); without it the built-in default is used",
		EnvVars: []string{"GATEHOUSE_CONFIG"},
	}
	app := &cli.App{
		Name:      "gatehouse",
		Usage:     "a recursive DNS filtering resolver for schools",
		Writer:    stdout,
		ErrWriter: stderr,
		// Errors are returned to main, which prints them once.
		ExitErrHandler: func(*cli.Context, error) {},
		Commands: []*cli.Command{
			{
				Name:  "serve",
				Usage: "run the resolver",
				Flags: []cli.Flag{configFlag},
				Action: func(c *cli.Context) error {
					return serve(ctx, c.String("config"), stderr)
				},
			},
			{
				Name:  "check-config",
				Usage: "validate a configuration and print it normalised, with every default filled in",
				Flags: []cli.Flag{configFlag, &cli.BoolFlag{Name: "quiet", Aliases: []string{"q"},
					Usage: "print nothing when the configuration is valid (for the service's start check)"}},
				Action: func(c *cli.Context) error {
					out := stdout
					if c.Bool("quiet") {
						out = io.Discard
					}
					return checkConfig(c.String("config"), out, stderr)
				},
			},
			logsCommand(stdout, stderr, configFlag),
			reportsCommand(stdout, configFlag),
			explainCommand(stdout, configFlag),
			listsCommand(stdout, configFlag),
			overrideCommand(stdout, configFlag),
			usersCommand(stdout, configFlag),
			auditCommand(stdout, configFlag),
			concernsCommand(stdout, configFlag),
			safeguardingCommand(stdout, configFlag),
			trustCommand(stdout, configFlag),
			{
				// The package's manual page is generated from these
				// definitions, so it cannot drift from the program.
				Name:   "man",
				Usage:  "print the manual page (roff), for packaging",
				Hidden: true,
				Action: func(c *cli.Context) error {
					page, err := c.App.ToManWithSection(1)
					if err != nil {
						return err
					}
					_, err = io.WriteString(stdout, page)
					return err
				},
			},
			{
				Name:  "version",
				Usage: "print the version and build information",
				Action: func(c *cli.Context) error {
					fmt.Fprintln(stdout, versionString())
					return nil
				},
			},
		},
	}
	return app.RunContext(ctx, args)
}

// loadConfig reads path, or returns the built-in default when path is "".
func loadConfig(path string) (*config.Config, error) {
	if path == "" {
		return config.Default(), nil
	}
	return config.Load(path)
}

func checkConfig(path string, stdout, stderr io.Writer) error {
	cfg, err := loadConfig(path)
	if err != nil {
		var errs config.Errors
		if errors.As(err, &errs) {
			for _, e := range errs {
				fmt.Fprintln(stderr, e.Error())
			}
			fmt.Fprintf(stderr, "%d error(s)\n", len(errs))
			return errReported
		}
		return err
	}
	if err := checkSafeguarding(cfg); err != nil {
		fmt.Fprintln(stderr, err)
		return errReported
	}
	out, err := cfg.Marshal()
	if err != nil {
		return err
	}
	_, err = stdout.Write(out)
	return err
}

func versionString() string {
	c, d := commit, date
	if bi, ok := debug.ReadBuildInfo(); ok && c == "" {
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				c = s.Value
			case "vcs.time":
				d = s.Value
			}
		}
	}
	s := "gatehouse " + version
	if c != "" {
		s += " commit " + c
	}
	if d != "" {
		s += " built " + d
	}
	return s + " " + runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH
}
