package store

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// open returns a store with cheap hashing parameters: the cost of the real
// ones is a property of argon2, not of this code.
func open(t *testing.T) *Store {
	t.Helper()
	s, err := Open(filepath.Join(t.TempDir(), "dashboard.db"))
	if err != nil {
		t.Fatal(err)
	}
	s.params = hashParams{memory: 64, time: 1, threads: 1}
	t.Cleanup(func() { s.Close() })
	return s
}

var t0 = time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)

func TestPasswordHash(t *testing.T) {
	h, err := hashPassword("correct horse battery", hashParams{memory: 64, time: 1, threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=64,t=1,p=1$") {
		t.Errorf("hash %q", h)
	}
	for pw, want := range map[string]bool{"correct horse battery": true, "correct horse batterY": false, "": false} {
		ok, err := checkPassword(pw, h)
		if err != nil || ok != want {
			t.Errorf("checkPassword(%q) = %v, %v; want %v", pw, ok, err, want)
		}
	}
	if ok, err := checkPassword("anything at all", dummyHash); err != nil || ok {
		t.Errorf("dummy hash: %v %v", ok, err)
	}
	for _, bad := range []string{"", "$argon2i$v=19$m=64,t=1,p=1$AAAA$AAAA", "$argon2id$v=19$m=99999999,t=1,p=1$AAAA$AAAA",
		"$argon2id$v=19$m=64,t=1,p=1$!!$AAAA", "$argon2id$v=18$m=64,t=1,p=1$AAAA$AAAA"} {
		if _, err := checkPassword("x", bad); err == nil {
			t.Errorf("checkPassword accepted hash %q", bad)
		}
	}
	if _, err := hashPassword("short", defaultParams); !errors.Is(err, ErrWeakPassword) {
		t.Errorf("short password: %v", err)
	}
}

func TestUsers(t *testing.T) {
	ctx := context.Background()
	s := open(t)
	if err := s.AddUser(ctx, "alice", Admin, "alice password 1", t0); err != nil {
		t.Fatal(err)
	}
	if err := s.AddUser(ctx, "alice", Viewer, "another password", t0); !errors.Is(err, ErrUserExists) {
		t.Errorf("duplicate: %v", err)
	}
	for _, bad := range []string{"", "<script>", "a b", strings.Repeat("a", 65), "-x"} {
		if err := s.AddUser(ctx, bad, Viewer, "long enough password", t0); err == nil {
			t.Errorf("AddUser(%q) accepted", bad)
		}
	}
	if err := s.AddUser(ctx, "bob", Role("root"), "long enough password", t0); err == nil {
		t.Error("unknown role accepted")
	}
	if err := s.AddUser(ctx, "bob", Technician, "bob password 12", t0); err != nil {
		t.Fatal(err)
	}

	if _, err := s.Authenticate(ctx, "alice", "wrong password", t0); !errors.Is(err, ErrBadLogin) {
		t.Errorf("wrong password: %v", err)
	}
	if _, err := s.Authenticate(ctx, "nobody", "alice password 1", t0); !errors.Is(err, ErrBadLogin) {
		t.Errorf("unknown user: %v", err)
	}
	u, err := s.Authenticate(ctx, "alice", "alice password 1", t0)
	if err != nil || u.Role != Admin {
		t.Fatalf("login: %+v %v", u, err)
	}

	if err := s.RemoveUser(ctx, "alice"); err == nil {
		t.Error("removed the last admin")
	}
	if err := s.SetPassword(ctx, "bob", "new bob password"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Authenticate(ctx, "bob", "bob password 12", t0); !errors.Is(err, ErrBadLogin) {
		t.Error("old password still works")
	}
	if err := s.SetPassword(ctx, "carol", "whatever password"); !errors.Is(err, ErrNoUser) {
		t.Errorf("SetPassword(unknown): %v", err)
	}
	if err := s.RemoveUser(ctx, "bob"); err != nil {
		t.Fatal(err)
	}
	us, err := s.Users(ctx)
	if err != nil || len(us) != 1 || us[0].Name != "alice" || us[0].LastLogin.IsZero() {
		t.Errorf("Users = %+v, %v", us, err)
	}
}

func TestSessions(t *testing.T) {
	ctx := context.Background()
	s := open(t)
	if err := s.AddUser(ctx, "tech", Technician, "tech password 1", t0); err != nil {
		t.Fatal(err)
	}
	tok, sess, err := s.CreateSession(ctx, "tech", "10.0.0.5", t0)
	if err != nil {
		t.Fatal(err)
	}
	if sess.ID == tok || strings.Contains(sess.ID, tok) || sess.CSRF == "" || sess.Role != Technician {
		t.Errorf("session %+v", sess)
	}
	got, err := s.Session(ctx, tok, t0.Add(IdleTimeout/2))
	if err != nil || got.User != "tech" || got.CSRF != sess.CSRF {
		t.Fatalf("Session = %+v, %v", got, err)
	}
	// Activity moves the idle deadline.
	if _, err := s.Session(ctx, tok, t0.Add(IdleTimeout/2+IdleTimeout-time.Second)); err != nil {
		t.Errorf("active session expired: %v", err)
	}
	if _, err := s.Session(ctx, "not-a-token", t0); !errors.Is(err, ErrNoSession) {
		t.Errorf("bad token: %v", err)
	}
	// A role change ends sessions; so does idleness.
	tok2, _, _ := s.CreateSession(ctx, "tech", "10.0.0.5", t0)
	if err := s.SetRole(ctx, "tech", Viewer); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Session(ctx, tok2, t0); !errors.Is(err, ErrNoSession) {
		t.Errorf("session survived role change: %v", err)
	}
	tok3, _, _ := s.CreateSession(ctx, "tech", "10.0.0.5", t0)
	if _, err := s.Session(ctx, tok3, t0.Add(IdleTimeout+time.Second)); !errors.Is(err, ErrNoSession) {
		t.Errorf("idle session: %v", err)
	}
	tok4, _, _ := s.CreateSession(ctx, "tech", "10.0.0.5", t0)
	for at := t0; at.Before(t0.Add(MaxAge)); at = at.Add(IdleTimeout / 2) {
		if _, err := s.Session(ctx, tok4, at); err != nil {
			t.Fatalf("at %v: %v", at, err)
		}
	}
	if _, err := s.Session(ctx, tok4, t0.Add(MaxAge+time.Minute)); !errors.Is(err, ErrNoSession) {
		t.Errorf("session older than MaxAge: %v", err)
	}
	tok5, _, _ := s.CreateSession(ctx, "tech", "10.0.0.5", t0)
	if err := s.DeleteSession(ctx, tok5); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Session(ctx, tok5, t0); !errors.Is(err, ErrNoSession) {
		t.Errorf("logged-out session: %v", err)
	}
}

func TestAccessLog(t *testing.T) {
	ctx := context.Background()
	s := open(t)
	for i, d := range []string{"client=10.0.0.1", "domain=<script>", strings.Repeat("x", 5000)} {
		if err := s.LogAccess(ctx, Access{At: t0.Add(time.Duration(i) * time.Second), User: "dsl", Addr: "10.0.0.9", Action: "search", Detail: d}); err != nil {
			t.Fatal(err)
		}
	}
	as, err := s.AccessLog(ctx, 0, 2)
	if err != nil || len(as) != 2 {
		t.Fatalf("AccessLog = %v, %v", as, err)
	}
	if len(as[0].Detail) != maxDetail || as[1].Detail != "domain=<script>" || !as[1].At.Equal(t0.Add(time.Second)) {
		t.Errorf("newest first, clipped: %+v", as)
	}
	older, err := s.AccessLog(ctx, as[1].ID, 10)
	if err != nil || len(older) != 1 || older[0].Detail != "client=10.0.0.1" {
		t.Errorf("paging: %+v %v", older, err)
	}
}

func TestReviews(t *testing.T) {
	ctx := context.Background()
	s := open(t)
	id, err := s.AddReview(ctx, Review{At: t0, Client: "10.0.0.7", Host: "games.example.", Reference: "123", Message: "for homework \u202eevil"})
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i < MaxReviewsPerHour; i++ {
		if _, err := s.AddReview(ctx, Review{At: t0.Add(time.Duration(i) * time.Minute), Client: "10.0.0.7", Host: "x."}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.AddReview(ctx, Review{At: t0.Add(30 * time.Minute), Client: "10.0.0.7", Host: "x."}); !errors.Is(err, ErrTooManyReviews) {
		t.Errorf("flood: %v", err)
	}
	if _, err := s.AddReview(ctx, Review{At: t0.Add(30 * time.Minute), Client: "10.0.0.8", Host: "x."}); err != nil {
		t.Errorf("another client: %v", err)
	}
	if err := s.CloseReview(ctx, id, "tech", "allowed for year 9", t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := s.CloseReview(ctx, id, "tech", "again", t0.Add(time.Hour)); !errors.Is(err, ErrNotFound) {
		t.Errorf("closing twice: %v", err)
	}
	open, _ := s.Reviews(ctx, false, 100)
	all, _ := s.Reviews(ctx, true, 100)
	if len(open) != MaxReviewsPerHour || len(all) != MaxReviewsPerHour+1 {
		t.Errorf("open %d all %d", len(open), len(all))
	}
	last := all[len(all)-1]
	if last.ID != id || last.ClosedBy != "tech" || last.Message != "for homework \u202eevil" {
		t.Errorf("closed review %+v", last)
	}
}

func TestClip(t *testing.T) {
	if got := clip("aé", 2); got != "a" {
		t.Errorf("clip split a character: %q", got)
	}
}

// BenchmarkPasswordHash is the cost of one login (argon2id, the
// production parameters).
func BenchmarkPasswordHash(b *testing.B) {
	h, err := hashPassword("a long test password", defaultParams)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if ok, _ := checkPassword("a long test password", h); !ok {
			b.Fatal("no match")
		}
	}
}
