package main

import (
	"context"
	"database/sql"

	"gatehouse/safeguarding"
)

// buildAuditDB makes a safeguarding database whose audit log has a seed,
// an infrastructure record and a proposal.
func buildAuditDB(path string) error {
	ctx := context.Background()
	e, err := safeguarding.Open(ctx, safeguarding.Config{Path: path})
	if err != nil {
		return err
	}
	defer e.Close()
	s, _ := e.Settings()
	s.EscalateTo = nil
	for i := range s.Priorities {
		if s.Priorities[i].Category == "gaming" {
			s.Priorities[i].Priority = safeguarding.Medium
		}
	}
	_, err = e.Propose(ctx, safeguarding.Actor{Name: "alice", Roles: []string{safeguarding.RoleSafeguarding}}, s, "test")
	return err
}

// tamperAudit edits one audit record behind the triggers' back, as
// someone with the database file could.
func tamperAudit(path string, seq int) error {
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		return err
	}
	defer db.Close()
	_, err = db.Exec(`DROP TRIGGER audit_no_update; UPDATE audit SET actor = 'mallory' WHERE seq = ?`, seq)
	return err
}
