package store

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"testing"
)

func TestApprover(t *testing.T) {
	ctx := context.Background()
	s := open(t)
	for _, n := range []string{"dsl", "head"} {
		if err := s.AddUser(ctx, n, Safeguarding, "a long password", t0); err != nil {
			t.Fatal(err)
		}
	}
	if on, err := s.IsApprover(ctx, "head"); err != nil || on {
		t.Fatalf("new account is approver: %v %v", on, err)
	}
	if err := s.SetApprover(ctx, "head", true); err != nil {
		t.Fatal(err)
	}
	if on, _ := s.IsApprover(ctx, "head"); !on {
		t.Error("head not an approver after SetApprover")
	}
	if on, _ := s.IsApprover(ctx, "dsl"); on {
		t.Error("the flag leaked to another account")
	}
	as, err := s.Approvers(ctx)
	if err != nil || len(as) != 1 || !as["head"] {
		t.Errorf("Approvers = %v, %v", as, err)
	}
	if err := s.SetApprover(ctx, "head", false); err != nil {
		t.Fatal(err)
	}
	if on, _ := s.IsApprover(ctx, "head"); on {
		t.Error("head still an approver after taking it away")
	}
	if err := s.SetApprover(ctx, "nobody", true); !errors.Is(err, ErrNoUser) {
		t.Errorf("SetApprover on a missing account: %v", err)
	}
	if on, err := s.IsApprover(ctx, "nobody"); on || err != nil {
		t.Errorf("IsApprover on a missing account: %v %v", on, err)
	}
}

// A database made before the approver column keeps its accounts, none of
// them an approver.
func TestApprover_migratesOldDatabase(t *testing.T) {
	path := filepath.Join(t.TempDir(), "dashboard.db")
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{migrations[0], `PRAGMA user_version = 1`,
		`INSERT INTO users(name, role, hash, created) VALUES ('old', 'admin', 'x', 1)`} {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	if on, err := s.IsApprover(ctx, "old"); on || err != nil {
		t.Fatalf("old account after migration: %v %v", on, err)
	}
	if err := s.SetApprover(ctx, "old", true); err != nil {
		t.Fatal(err)
	}
}
