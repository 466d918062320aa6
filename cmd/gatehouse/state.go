package main

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"gatehouse/config"
	"gatehouse/policy/schedule"
	"gatehouse/querylog"
)

// stateDir resolves where Gatehouse keeps what it writes: the configured
// directory, else systemd's $STATE_DIRECTORY, else the user's state
// directory (so `gatehouse serve` works for a developer without root).
func stateDir(cfg *config.Config, getenv func(string) string) (string, error) {
	if cfg.StateDir != "" {
		return cfg.StateDir, nil
	}
	if d := getenv("STATE_DIRECTORY"); d != "" {
		return filepath.SplitList(d)[0], nil
	}
	if d := getenv("XDG_STATE_HOME"); d != "" {
		return filepath.Join(d, "gatehouse"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("finding a state directory: %w (set state_dir in the config)", err)
	}
	return filepath.Join(home, ".local", "state", "gatehouse"), nil
}

// openQueryLog opens the query log database in dir (nil when disabled).
func (s *site) openQueryLog(cfg *config.Config, dir string) (*querylog.Log, error) {
	if !cfg.QueryLog.Enabled {
		return nil, nil
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("creating state directory: %w", err)
	}
	loc, err := schedule.LoadTimeZone(cfg.TimeZone)
	if err != nil {
		return nil, err
	}
	days := func(d time.Duration) int { return int(d / (24 * time.Hour)) }
	ret := querylog.Retention{Default: days(cfg.QueryLog.Retention), Groups: map[string]int{}}
	for _, g := range cfg.Groups {
		if g.LogRetention > 0 {
			ret.Groups[g.Name] = days(g.LogRetention)
		}
	}
	m, err := querylog.NewMetrics(s.reg)
	if err != nil {
		return nil, err
	}
	return querylog.Open(querylog.Config{
		Path:              filepath.Join(dir, "querylog.db"),
		Location:          loc,
		Retention:         ret,
		PseudonymiseAfter: days(cfg.QueryLog.PseudonymiseAfter),
		MergeInterval:     cfg.QueryLog.MergeInterval,
		Logger:            s.log,
		Metrics:           m,
		Busy:              func() { s.busy(queryLogBusy) },
		// The writer uses the CPU the machine leaves idle, so a flood
		// that saturates it slows logging, not DNS.
		Spare: s.logSpare.cores,
	})
}
