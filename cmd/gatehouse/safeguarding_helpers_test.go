package main

import (
	"context"
	"database/sql"
	"testing"
	"time"

	"gatehouse/config"
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

func TestSafeguardingConfigConversion(t *testing.T) {
	cfg, err := config.Parse("t.yaml", []byte(`version: 1
resolver: {mode: forward, upstreams: [{address: 192.0.2.1}]}
calendar: {terms: [2026-09-03..2026-12-18], closures: [2026-10-26..2026-10-30]}
periods: [{name: lessons, weekly: ["Mon-Fri 08:40-15:20"]}]
groups: [{name: pupils}]
safeguarding:
  enabled: true
  school_hours: lessons
  smtp: {address: "smtp.school.example:587", from: g@school.example}
  initial:
    priorities: [{category: gambling, priority: high}]
    rules: [{priority: high, threshold: 2, window: 5m}]
    recipients: [{name: dsl, role: safeguarding, email: [dsl@school.example]}]
    timescales: [{priority: critical, acknowledge: 5m, close: 2h}]
`))
	if err != nil {
		t.Fatal(err)
	}
	h, err := newSchoolHours(cfg)
	if err != nil {
		t.Fatal(err)
	}
	london, _ := time.LoadLocation("Europe/London")
	for _, tc := range []struct {
		at   time.Time
		want bool
	}{
		{time.Date(2026, 11, 23, 10, 0, 0, 0, london), true},  // Monday in term, in lessons
		{time.Date(2026, 11, 23, 16, 0, 0, 0, london), false}, // after school
		{time.Date(2026, 11, 28, 10, 0, 0, 0, london), false}, // Saturday
		{time.Date(2026, 10, 27, 10, 0, 0, 0, london), false}, // half term
	} {
		if got := h.at(tc.at); got != tc.want {
			t.Errorf("school hours at %v = %v, want %v", tc.at, got, tc.want)
		}
	}
	s := safeguarding.WithDefaults(safeguardingSettings(cfg.Safeguarding.Initial))
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	var gambling safeguarding.Priority
	for _, cp := range s.Priorities {
		if cp.Category == "gambling" {
			gambling = cp.Priority
		}
	}
	rules := map[safeguarding.Priority]int{}
	for _, r := range s.Rules {
		rules[r.Priority] = r.Threshold
	}
	if gambling != safeguarding.High || rules[safeguarding.High] != 2 || rules[safeguarding.Critical] != 1 || len(s.Timescales) != 4 || len(s.Routes) == 0 {
		t.Errorf("converted settings: gambling %s, rules %v, %d timescales, %d routes", gambling, rules, len(s.Timescales), len(s.Routes))
	}
	if err := checkSafeguarding(cfg); err != nil {
		t.Errorf("checkSafeguarding: %v", err)
	}
	// Routes that leave critical concerns unsent are caught by check-config.
	cfg.Safeguarding.Initial.Routes = []config.Route{{Priorities: []string{"high"}, When: "always", To: []string{"dsl"}, Speed: "immediate"}}
	if err := checkSafeguarding(cfg); err == nil {
		t.Error("checkSafeguarding accepted routes that never send critical concerns")
	}
}
