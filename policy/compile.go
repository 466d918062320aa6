package policy

import (
	"fmt"
	"time"

	"gatehouse/blocklists"
	"gatehouse/clientmap"
	"gatehouse/config"
	"gatehouse/policy/schedule"
	"gatehouse/safesearch"
)

// Compile turns a parsed, validated config into a Snapshot. It builds every
// part aside and returns an error rather than a half-built policy, so the
// caller can keep the snapshot in force.
//
// leases are the DHCP leases known now (nil when none): they are carried
// into the new snapshot so a reload does not forget them. prev is the
// snapshot in force (nil at start): its lists are carried over without
// parsing when their files are unchanged.
//
// store holds the last good copies of downloaded lists (nil: none).
func Compile(cfg *config.Config, gen uint64, now time.Time, leases *clientmap.Leases, prev *Snapshot, store *blocklists.Store) (*Snapshot, error) {
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
	var prevLists *blocklists.Set
	if prev != nil {
		prevLists = prev.lists
	}
	lists, err := compileLists(cfg, prevLists, store)
	if err != nil {
		return nil, fmt.Errorf("compiling lists: %w", err)
	}
	answer, err := compileAnswer(cfg, lists, prev, store)
	if err != nil {
		return nil, fmt.Errorf("compiling answer checks: %w", err)
	}
	loc, err := schedule.LoadTimeZone(cfg.TimeZone)
	if err != nil {
		return nil, err
	}
	var periods []schedule.Period
	for _, p := range cfg.Periods {
		periods = append(periods, schedule.Period{Name: p.Name, Weekly: p.Weekly, TermTimeOnly: p.TermTimeOnly})
	}
	sched, err := schedule.NewSchedule(loc, &schedule.Calendar{Terms: cfg.Calendar.Terms, Closures: cfg.Calendar.Closures}, periods)
	if err != nil {
		return nil, fmt.Errorf("compiling schedules: %w", err)
	}
	table := safesearch.Builtin()
	opts := Options{
		Gen:               gen,
		LoadedAt:          now,
		Allow:             cfg.Access.Allow,
		AllowAny:          cfg.Access.AllowAny,
		Clients:           clients,
		TrustedForwarders: cfg.Clients.TrustedForwarders,
		DefaultGroup:      cfg.DefaultGroup,
		SafeSearch:        table,
		BlockTTL:          cfg.Blocking.TTL,
		PageAddresses:     cfg.Blocking.PageAddresses,
		Lists:             lists,
		Schedule:          sched,
		Answer:            answer,
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
		gl, err := compileGroupLists(lists, g)
		if err != nil {
			return nil, fmt.Errorf("group %s: %w", g.Name, err)
		}
		if err := addAnswerGroup(&gl, answer.Addresses, g); err != nil {
			return nil, fmt.Errorf("group %s: %w", g.Name, err)
		}
		gl.Name, gl.Style, gl.SafeSearch, gl.BypassExempt = g.Name, style, ss, g.BypassExempt
		opts.Groups = append(opts.Groups, gl)
	}
	return New(opts)
}
