package audit

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	_ "modernc.org/sqlite"
)

func openDB(t *testing.T) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(t.TempDir(), "a.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.Exec(Schema); err != nil {
		t.Fatal(err)
	}
	return db
}

func fill(t *testing.T, db *sql.DB, n int) []Record {
	t.Helper()
	ctx := context.Background()
	var out []Record
	for i := range n {
		r, err := Append(ctx, db, Record{Time: time.Date(2026, 11, 23, 10, i, 0, 0, time.UTC), Actor: "alice",
			Kind: KindProposed, Subject: fmt.Sprintf("proposal %d", i+1), Payload: []byte(fmt.Sprintf(`{"n": %d, "why": "<b>x</b>"}`, i))})
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
	}
	return out
}

func TestVerifyIntact(t *testing.T) {
	db := openDB(t)
	recs := fill(t, db, 5)
	n, head, err := Verify(context.Background(), db)
	if err != nil || n != 5 || head != recs[4].Hash {
		t.Fatalf("Verify = %d, %s, %v; want 5, %s, nil", n, head, err, recs[4].Hash)
	}
	if recs[1].Prev != recs[0].Hash || recs[0].Prev != "" {
		t.Errorf("records are not chained: %+v", recs[:2])
	}
	got, err := List(context.Background(), db, 2, 2)
	if err != nil || len(got) != 2 || got[0].Seq != 3 || string(got[0].Payload) != `{"n":2,"why":"<b>x</b>"}` {
		t.Errorf("List(2, 2) = %+v, %v", got, err)
	}
}

func TestAppendOnlyTriggers(t *testing.T) {
	db := openDB(t)
	fill(t, db, 2)
	if _, err := db.Exec(`UPDATE audit SET actor = 'mallory' WHERE seq = 1`); err == nil || !strings.Contains(err.Error(), "append-only") {
		t.Errorf("UPDATE = %v, want refused", err)
	}
	if _, err := db.Exec(`DELETE FROM audit WHERE seq = 1`); err == nil {
		t.Error("DELETE was allowed")
	}
}

// TestTamper edits, deletes and reorders records behind the triggers' back
// (as someone with the database file could) and checks Verify names the
// first broken record.
func TestTamper(t *testing.T) {
	tests := []struct {
		name    string
		sql     []string
		wantSeq int64
		reason  string
	}{
		{"edit actor", []string{`UPDATE audit SET actor = 'mallory' WHERE seq = 3`}, 3, "edited"},
		{"edit payload", []string{`UPDATE audit SET payload = '{"n":2,"why":"nothing"}' WHERE seq = 3`}, 3, "edited"},
		{"edit time", []string{`UPDATE audit SET ts = '2026-11-24T10:02:00Z' WHERE seq = 3`}, 3, "edited"},
		{"edit and rehash", []string{"REHASH 3"}, 4, "previous-hash"},
		{"delete middle", []string{`DELETE FROM audit WHERE seq = 2`}, 3, "expected record 2"},
		{"delete first", []string{`DELETE FROM audit WHERE seq = 1`}, 2, "expected record 1"},
		{"delete and renumber", []string{`DELETE FROM audit WHERE seq = 2`, `UPDATE audit SET seq = seq - 1 WHERE seq > 2`}, 2, "previous-hash"},
		{"swap two", []string{`UPDATE audit SET seq = 100 WHERE seq = 2`, `UPDATE audit SET seq = 2 WHERE seq = 3`, `UPDATE audit SET seq = 3 WHERE seq = 100`}, 2, "previous-hash"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			db := openDB(t)
			fill(t, db, 5)
			if _, err := db.Exec(`DROP TRIGGER audit_no_update; DROP TRIGGER audit_no_delete`); err != nil {
				t.Fatal(err)
			}
			for _, q := range tc.sql {
				if seq, ok := strings.CutPrefix(q, "REHASH "); ok {
					rehash(t, db, seq)
					continue
				}
				if _, err := db.Exec(q); err != nil {
					t.Fatal(err)
				}
			}
			_, _, err := Verify(context.Background(), db)
			var be *BrokenError
			if !errors.As(err, &be) {
				t.Fatalf("Verify = %v, want a BrokenError", err)
			}
			if be.Seq != tc.wantSeq || !strings.Contains(be.Reason, tc.reason) {
				t.Errorf("Verify = %v; want record %d, reason containing %q", err, tc.wantSeq, tc.reason)
			}
		})
	}
}

// rehash edits a record and gives it a correct hash for its new content:
// the tamperer knows the algorithm, so only the next record shows it.
func rehash(t *testing.T, db *sql.DB, seq string) {
	t.Helper()
	rs, err := List(context.Background(), db, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rs {
		if fmt.Sprint(r.Seq) != seq {
			continue
		}
		r.Actor = "mallory"
		h, err := hash(r)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := db.Exec(`UPDATE audit SET actor = ?, hash = ? WHERE seq = ?`, r.Actor, h, r.Seq); err != nil {
			t.Fatal(err)
		}
	}
}
