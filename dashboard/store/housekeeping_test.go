package store

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestSessionsListAndEnd(t *testing.T) {
	ctx := context.Background()
	s := open(t)
	for _, u := range []struct {
		name string
		role Role
	}{{"admin", Admin}, {"tech", Technician}} {
		if err := s.AddUser(ctx, u.name, u.role, "a long password 1", t0); err != nil {
			t.Fatal(err)
		}
	}
	admTok, adm, _ := s.CreateSession(ctx, "admin", "10.0.0.1", t0)
	techTok, tech, _ := s.CreateSession(ctx, "tech", "10.0.0.5", t0.Add(time.Minute))
	_, old, _ := s.CreateSession(ctx, "tech", "10.0.0.6", t0.Add(-IdleTimeout-time.Minute)) // idle: not live

	now := t0.Add(2 * time.Minute)
	list, err := s.Sessions(ctx, now)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[0].ID != adm.ID || list[1].ID != tech.ID || list[1].Addr != "10.0.0.5" || list[1].Role != Technician {
		t.Fatalf("Sessions = %+v, want admin's then tech's live session", list)
	}
	for _, l := range list {
		if l.CSRF != "" || l.ID == old.ID {
			t.Errorf("listed %+v: a CSRF token or an expired session", l)
		}
	}

	user, err := s.EndSession(ctx, tech.ID)
	if err != nil || user != "tech" {
		t.Fatalf("EndSession = %q, %v", user, err)
	}
	if _, err := s.Session(ctx, techTok, now); !errors.Is(err, ErrNoSession) {
		t.Errorf("an ended session still works: %v", err)
	}
	if _, err := s.Session(ctx, admTok, now); err != nil {
		t.Errorf("ending another session ended the admin's: %v", err)
	}
	if _, err := s.EndSession(ctx, tech.ID); !errors.Is(err, ErrNoSession) {
		t.Errorf("ending it twice: %v, want ErrNoSession", err)
	}
}

func TestPrune(t *testing.T) {
	ctx := context.Background()
	s := open(t)
	for i, at := range []time.Time{t0.Add(-400 * 24 * time.Hour), t0.Add(-300 * 24 * time.Hour), t0} {
		if err := s.LogAccess(ctx, Access{At: at, User: "sg", Addr: "10.0.0.1", Action: "search", Detail: string(rune('a' + i))}); err != nil {
			t.Fatal(err)
		}
	}
	var ids []int64
	for range 3 {
		id, err := s.AddReview(ctx, Review{At: t0.Add(-200 * 24 * time.Hour), Client: "10.1.2.3", Host: "games.example", Message: "homework"})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	// Closed long ago, closed lately, still open (however old).
	if err := s.CloseReview(ctx, ids[0], "tech", "", t0.Add(-100*24*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := s.CloseReview(ctx, ids[1], "tech", "", t0.Add(-10*24*time.Hour)); err != nil {
		t.Fatal(err)
	}

	// Zero times keep everything.
	if a, r, err := s.Prune(ctx, time.Time{}, time.Time{}); err != nil || a != 0 || r != 0 {
		t.Fatalf("Prune(zero) = %d, %d, %v", a, r, err)
	}
	a, r, err := s.Prune(ctx, t0.Add(-365*24*time.Hour), t0.Add(-90*24*time.Hour))
	if err != nil || a != 1 || r != 1 {
		t.Fatalf("Prune = %d, %d, %v; want 1 access record and 1 closed review", a, r, err)
	}
	acc, _ := s.AccessLog(ctx, 0, 10)
	if len(acc) != 2 || acc[1].Detail != "b" {
		t.Errorf("access log after pruning: %+v", acc)
	}
	revs, _ := s.Reviews(ctx, true, 10)
	if len(revs) != 2 || revs[0].ID != ids[2] || revs[1].ID != ids[1] {
		t.Errorf("reviews after pruning: %+v, want the open one and the recently closed one", revs)
	}
}
