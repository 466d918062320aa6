package querylog

import "errors"

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

func (r *rollups) write(st *batchStmts) error {
	exec := func(s *rawStmt, args ...int64) error {
		for i, a := range args {
			if err := s.int64(i+1, a); err != nil {
				return err
			}
		}
		return s.run()
	}
	for k, n := range r.decisions {
		if err := exec(st.rDecision, int64(k.day), k.grp, int64(k.decision), n); err != nil {
			return err
		}
	}
	for k, n := range r.categories {
		if err := exec(st.rCategory, int64(k.day), k.grp, int64(k.decision), k.category, n); err != nil {
			return err
		}
	}
	for k, n := range r.names {
		s := st.rName // day, grp, name, n
		if err := errors.Join(s.int64(1, int64(k.day)), s.int64(2, k.grp), s.text(3, k.name), s.int64(4, n)); err != nil {
			return err
		}
		if err := s.run(); err != nil {
			return err
		}
	}
	for k, c := range r.clients {
		if err := exec(st.rClient, int64(k.day), k.grp, k.client, c.blocked, c.bypass); err != nil {
			return err
		}
	}
	for k, n := range r.bypass {
		if err := exec(st.rBypass, int64(k.day), k.grp, k.client, k.category, n); err != nil {
			return err
		}
	}
	return nil
}
