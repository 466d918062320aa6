package policy

import (
	"fmt"
	"time"

	"gatehouse/clientmap"
	"gatehouse/config"
	"gatehouse/safesearch"
)

// Compile turns a parsed, validated config into a Snapshot. It builds every
// part aside and returns an error rather than a half-built policy, so the
// caller can keep the snapshot in force.
//
// leases are the DHCP leases known now (nil when none): they are carried
// into the new snapshot so a reload does not forget them.
func Compile(cfg *config.Config, gen uint64, now time.Time, leases *clientmap.Leases) (*Snapshot, error) {
	cc := clientmap.Config{DefaultGroup: cfg.DefaultGroup}
	for _, g := range cfg.Groups {
		cc.Rules = append(cc.Rules, clientmap.Rule{
			Group:     g.Name,
			Addresses: g.Match.Addresses,
			MACs:      g.Match.MACs,
			Hostnames: g.Match.Hostnames,
			Subnets:   g.Match.Subnets,
		})
	}
	clients, err := clientmap.New(cc)
	if err != nil {
		return nil, fmt.Errorf("compiling client map: %w", err)
	}
	clients = clients.WithLeases(leases)
	table := safesearch.Builtin()
	opts := Options{
		Gen:           gen,
		LoadedAt:      now,
		Allow:         cfg.Access.Allow,
		AllowAny:      cfg.Access.AllowAny,
		Clients:       clients,
		DefaultGroup:  cfg.DefaultGroup,
		SafeSearch:    table,
		BlockTTL:      cfg.Blocking.TTL,
		PageAddresses: cfg.Blocking.PageAddresses,
	}
	for _, g := range cfg.Groups {
		style, err := ParseStyle(g.BlockAnswer)
		if err != nil {
			return nil, fmt.Errorf("group %s: %w", g.Name, err)
		}
		ss, err := g.SafeSearch.Apply(table.Defaults())
		if err != nil {
			return nil, fmt.Errorf("group %s: safe_search.%w", g.Name, err)
		}
		opts.Groups = append(opts.Groups, GroupOptions{Name: g.Name, Style: style, SafeSearch: ss, BypassExempt: g.BypassExempt})
	}
	return New(opts)
}
