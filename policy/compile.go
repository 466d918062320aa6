package policy

import (
	"fmt"
	"time"

	"gatehouse/clientmap"
	"gatehouse/config"
)

// Compile turns a parsed, validated config into a Snapshot. It builds every
// part aside and returns an error rather than a half-built policy, so the
// caller can keep the snapshot in force.
func Compile(cfg *config.Config, gen uint64, now time.Time) (*Snapshot, error) {
	clients, err := clientmap.New(clientmap.Config{DefaultGroup: cfg.DefaultGroup})
	if err != nil {
		return nil, fmt.Errorf("compiling client map: %w", err)
	}
	return New(Options{
		Gen:      gen,
		LoadedAt: now,
		Allow:    cfg.Access.Allow,
		AllowAny: cfg.Access.AllowAny,
		Clients:  clients,
	})
}
