package safeguarding

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"gatehouse/safeguarding/audit"
)

// Account changes from the dashboard (through the engine) and from the
// command line (through the file, with the engine running) land in one
// chain that still verifies, in order, with who did what.
func TestRecordAccountChange(t *testing.T) {
	env := newEnv(t, 0, nil)
	ctx := context.Background()
	if err := env.e.RecordAccountChange(ctx, AccountChange{By: "admin1", Account: "head", Change: "approver given"}); err != nil {
		t.Fatal(err)
	}
	if err := RecordAccountChangeFile(ctx, env.path, AccountChange{By: "os:root", Account: "admin2", Change: "added (role admin)"}); err != nil {
		t.Fatal(err)
	}
	if err := env.e.RecordAccountChange(ctx, AccountChange{By: "admin1", Account: ""}); err == nil {
		t.Error("an account change without an account was recorded")
	}
	if _, _, err := env.e.VerifyAudit(ctx); err != nil {
		t.Fatalf("chain after account changes: %v", err)
	}
	recs, err := env.e.AuditLog(ctx, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range recs {
		if r.Kind == audit.KindAccount {
			got = append(got, r.Actor+" "+r.Subject+" "+string(r.Payload))
		}
	}
	want := []string{
		`admin1 account head {"change":"approver given"}`,
		`os:root account admin2 {"change":"added (role admin)"}`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("account records\n got %q\nwant %q", got, want)
	}
}

// With safeguarding never enabled there is no database and nothing to
// approve: the command line carries on.
func TestRecordAccountChangeFile_noDatabase(t *testing.T) {
	path := filepath.Join(t.TempDir(), "safeguarding.db")
	if err := RecordAccountChangeFile(context.Background(), path, AccountChange{By: "os:root", Account: "a", Change: "removed"}); err != nil {
		t.Fatal(err)
	}
}
