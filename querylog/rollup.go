package querylog

import (
	"context"
	"database/sql"
)

// rollups accumulates one batch's contribution to the report tables; it is
// written in the batch's transaction, so the rollups always equal a
// recount of the entries written (until retention deletes entries: the
// rollups outlive them on purpose).
type rollups struct {
	decisions  map[decisionKey]int64
	categories map[categoryKey]int64
	names      map[nameRollKey]int64
	clients    map[clientRollKey]clientCounts
	bypass     map[bypassKey]int64
}

type decisionKey struct {
	day      int32
	grp      int64
	decision Decision
}

type categoryKey struct {
	day      int32
	grp      int64
	decision Decision
	category int64
}

type nameRollKey struct {
	day  int32
	grp  int64
	name string
}

type clientRollKey struct {
	day    int32
	grp    int64
	client int64
}

type clientCounts struct{ blocked, bypass int64 }

type bypassKey struct {
	day      int32
	grp      int64
	client   int64
	category int64
}

func newRollups() rollups {
	return rollups{
		decisions:  map[decisionKey]int64{},
		categories: map[categoryKey]int64{},
		names:      map[nameRollKey]int64{},
		clients:    map[clientRollKey]clientCounts{},
		bypass:     map[bypassKey]int64{},
	}
}

func (r *rollups) reset() {
	clear(r.decisions)
	clear(r.categories)
	clear(r.names)
	clear(r.clients)
	clear(r.bypass)
}

// add counts one entry. Categories are counted for every decision but
// Allowed; names only for Blocked; clients for Blocked and BypassAttempt.
func (r *rollups) add(day int32, grp int64, d Decision, category, client int64, qname string) {
	r.decisions[decisionKey{day, grp, d}]++
	if d != Allowed && category != 0 {
		r.categories[categoryKey{day, grp, d, category}]++
	}
	switch d {
	case Blocked:
		r.names[nameRollKey{day, grp, qname}]++
		c := r.clients[clientRollKey{day, grp, client}]
		c.blocked++
		r.clients[clientRollKey{day, grp, client}] = c
	case BypassAttempt:
		c := r.clients[clientRollKey{day, grp, client}]
		c.bypass++
		r.clients[clientRollKey{day, grp, client}] = c
		r.bypass[bypassKey{day, grp, client, category}]++
	}
}

func (r *rollups) write(ctx context.Context, st map[string]*sql.Stmt) error {
	for k, n := range r.decisions {
		if _, err := st["rDecision"].ExecContext(ctx, k.day, k.grp, k.decision, n); err != nil {
			return err
		}
	}
	for k, n := range r.categories {
		if _, err := st["rCategory"].ExecContext(ctx, k.day, k.grp, k.decision, k.category, n); err != nil {
			return err
		}
	}
	for k, n := range r.names {
		if _, err := st["rName"].ExecContext(ctx, k.day, k.grp, k.name, n); err != nil {
			return err
		}
	}
	for k, c := range r.clients {
		if _, err := st["rClient"].ExecContext(ctx, k.day, k.grp, k.client, c.blocked, c.bypass); err != nil {
			return err
		}
	}
	for k, n := range r.bypass {
		if _, err := st["rBypass"].ExecContext(ctx, k.day, k.grp, k.client, k.category, n); err != nil {
			return err
		}
	}
	return nil
}
