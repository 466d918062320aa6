package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/user"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"gatehouse/dashboard/store"
	"gatehouse/safeguarding"
)

// usersCommand manages dashboard accounts in the state directory's
// dashboard.db. It works while the server runs (SQLite with a busy
// timeout); changing a password or role ends that account's sessions.
func usersCommand(stdout io.Writer, configFlag cli.Flag) *cli.Command {
	open := func(c *cli.Context) (*userStore, error) {
		cfg, err := loadConfig(c.String("config"))
		if err != nil {
			return nil, err
		}
		dir, err := stateDir(cfg, os.Getenv)
		if err != nil {
			return nil, err
		}
		st, err := store.Open(store.Path(dir))
		if err != nil {
			return nil, err
		}
		return &userStore{Store: st, dir: dir}, nil
	}
	// change opens the store, makes one change to an account, and records
	// it in the safeguarding audit log (see recordChange).
	change := func(c *cli.Context, account, what string, do func(*userStore) error) error {
		st, err := open(c)
		if err != nil {
			return err
		}
		defer st.Close()
		if err := do(st); err != nil {
			return err
		}
		return st.recordChange(c.Context, account, what)
	}
	one := func(c *cli.Context, what string) (string, error) {
		if c.NArg() != 1 {
			return "", fmt.Errorf("%s needs exactly one account name", what)
		}
		return c.Args().First(), nil
	}
	return &cli.Command{
		Name:  "users",
		Usage: "manage dashboard accounts (admin, technician, safeguarding, viewer)",
		Subcommands: []*cli.Command{
			{
				Name:      "add",
				Usage:     "add an account; the password is read from the terminal, or the first line of stdin",
				ArgsUsage: "NAME",
				Flags: []cli.Flag{configFlag,
					&cli.StringFlag{Name: "role", Value: "viewer", Usage: "`ROLE`: admin, technician, safeguarding or viewer"},
					&cli.BoolFlag{Name: "approver", Usage: "may approve changes to safeguarding settings that another account proposed"}},
				Action: func(c *cli.Context) error {
					name, err := one(c, "users add")
					if err != nil {
						return err
					}
					role, err := store.ParseRole(c.String("role"))
					if err != nil {
						return err
					}
					if err := store.CheckUserName(name); err != nil {
						return err
					}
					pw, err := readNewPassword(os.Stdin, stdout)
					if err != nil {
						return err
					}
					what := string(role)
					if c.Bool("approver") {
						what += ", approver"
					}
					err = change(c, name, "added (role "+what+")", func(st *userStore) error {
						if err := st.AddUser(c.Context, name, role, pw, time.Now()); err != nil {
							return err
						}
						if c.Bool("approver") {
							return st.SetApprover(c.Context, name, true)
						}
						return nil
					})
					if err != nil {
						return err
					}
					fmt.Fprintf(stdout, "added %s (%s)\n", name, what)
					return nil
				},
			},
			{
				Name:  "list",
				Usage: "list the accounts",
				Flags: []cli.Flag{configFlag},
				Action: func(c *cli.Context) error {
					st, err := open(c)
					if err != nil {
						return err
					}
					defer st.Close()
					return listUsers(c.Context, st, stdout)
				},
			},
			{
				Name:      "passwd",
				Usage:     "set an account's password (ends its sessions)",
				ArgsUsage: "NAME",
				Flags:     []cli.Flag{configFlag},
				Action: func(c *cli.Context) error {
					name, err := one(c, "users passwd")
					if err != nil {
						return err
					}
					pw, err := readNewPassword(os.Stdin, stdout)
					if err != nil {
						return err
					}
					err = change(c, name, "password reset", func(st *userStore) error {
						return st.SetPassword(c.Context, name, pw)
					})
					if err != nil {
						return err
					}
					fmt.Fprintf(stdout, "password of %s changed\n", name)
					return nil
				},
			},
			{
				Name:      "approver",
				Usage:     "give an account the approver capability for safeguarding changes (--off takes it away)",
				ArgsUsage: "NAME",
				Flags: []cli.Flag{configFlag,
					&cli.BoolFlag{Name: "off", Usage: "take the capability away"}},
				Action: func(c *cli.Context) error {
					name, err := one(c, "users approver")
					if err != nil {
						return err
					}
					what := "approver capability given"
					if c.Bool("off") {
						what = "approver capability taken away"
					}
					err = change(c, name, what, func(st *userStore) error {
						return st.SetApprover(c.Context, name, !c.Bool("off"))
					})
					if err != nil {
						return err
					}
					if c.Bool("off") {
						fmt.Fprintf(stdout, "%s is no longer an approver\n", name)
					} else {
						fmt.Fprintf(stdout, "%s is now an approver\n", name)
					}
					return nil
				},
			},
			{
				Name:      "remove",
				Usage:     "remove an account (not the last admin)",
				ArgsUsage: "NAME",
				Flags:     []cli.Flag{configFlag},
				Action: func(c *cli.Context) error {
					name, err := one(c, "users remove")
					if err != nil {
						return err
					}
					err = change(c, name, "removed", func(st *userStore) error {
						return st.RemoveUser(c.Context, name)
					})
					if err != nil {
						return err
					}
					fmt.Fprintf(stdout, "removed %s\n", name)
					return nil
				},
			},
		},
	}
}

// userStore is the accounts database as the CLI opens it: closing it
// gives the files to the state directory's owner when run as root.
type userStore struct {
	*store.Store
	dir string
}

func (u *userStore) Close() error {
	err := u.Store.Close()
	p := store.Path(u.dir)
	giveToStateDirOwner(u.dir, p, p+"-wal", p+"-shm")
	return err
}

// recordChange appends an account change to the safeguarding audit log
// (when there is one), naming the operating-system user who ran the
// command: two-person approval is only worth something if making a second
// approver leaves a trace in the same chain.
func (u *userStore) recordChange(ctx context.Context, account, change string) error {
	p := safeguardingDB(u.dir)
	err := safeguarding.RecordAccountChangeFile(ctx, p, safeguarding.AccountChange{By: osActor(), Account: account, Change: change})
	giveToStateDirOwner(u.dir, p, p+"-wal", p+"-shm")
	if err != nil {
		return fmt.Errorf("the account was changed, but %w", err)
	}
	return nil
}

// osActor names who ran a command line: the login name, and the sudo user
// behind it when there is one.
func osActor() string {
	name := "uid " + strconv.Itoa(os.Getuid())
	if u, err := user.Current(); err == nil {
		name = u.Username
	}
	if su := os.Getenv("SUDO_USER"); su != "" && su != name {
		name += " (sudo by " + su + ")"
	}
	return "os:" + name
}

func listUsers(ctx context.Context, st *userStore, w io.Writer) error {
	us, err := st.Users(ctx)
	if err != nil {
		return err
	}
	if len(us) == 0 {
		fmt.Fprintln(w, "no accounts; add the first with: gatehouse users add --role admin NAME")
		return nil
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	approvers, err := st.Approvers(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintln(tw, "NAME\tROLE\tAPPROVER\tCREATED\tLAST LOGIN")
	for _, u := range us {
		approver := "no"
		if approvers[u.Name] {
			approver = "yes"
		}
		last := "never"
		if !u.LastLogin.IsZero() {
			last = u.LastLogin.Format("2006-01-02 15:04")
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", u.Name, u.Role, approver, u.Created.Format("2006-01-02 15:04"), last)
	}
	return tw.Flush()
}

// readNewPassword asks twice on a terminal (without echo), or reads the
// first line of a pipe, so scripts can do: echo "$PW" | gatehouse users add.
func readNewPassword(in *os.File, prompt io.Writer) (string, error) {
	if isTerminal(in) {
		fmt.Fprint(prompt, "New password (at least 10 characters): ")
		a, err := readHidden(in)
		fmt.Fprintln(prompt)
		if err != nil {
			return "", err
		}
		fmt.Fprint(prompt, "Again: ")
		b, err := readHidden(in)
		fmt.Fprintln(prompt)
		if err != nil {
			return "", err
		}
		if a != b {
			return "", errors.New("the passwords differ")
		}
		return a, nil
	}
	return readPasswordLine(in)
}

func readPasswordLine(r io.Reader) (string, error) {
	line, err := bufio.NewReader(io.LimitReader(r, 4096)).ReadString('\n')
	if err != nil && err != io.EOF {
		return "", fmt.Errorf("reading the password: %w", err)
	}
	pw := strings.TrimRight(line, "\r\n")
	if pw == "" {
		return "", errors.New("no password given on stdin")
	}
	return pw, nil
}
