package safeguarding

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"gatehouse/safeguarding/audit"
)

func TestApprovals(t *testing.T) {
	env := newEnv(t, 0, nil)
	ctx := context.Background()
	alice := Actor{Name: "alice", Roles: []string{RoleSafeguarding, RoleApprover}} // DSL, also an approver
	bob := Actor{Name: "bob", Roles: []string{RoleAdmin, RoleApprover}}            // head teacher
	carol := Actor{Name: "carol", Roles: []string{RoleTechnician}}
	viewer := Actor{Name: "gov", Roles: []string{RoleViewer}}

	cur, v := env.e.Settings()
	if v != 1 {
		t.Fatalf("seeded version %d", v)
	}
	// Raise gambling from low to high.
	next := cur
	next.Priorities = append([]CategoryPriority(nil), cur.Priorities...)
	for i := range next.Priorities {
		if next.Priorities[i].Category == "gambling" {
			next.Priorities[i].Priority = High
		}
	}
	if _, err := env.e.Propose(ctx, carol, next, "x"); !errors.Is(err, ErrForbidden) {
		t.Errorf("technician proposing: %v, want ErrForbidden", err)
	}
	if _, err := env.e.Propose(ctx, alice, next, ""); !errors.Is(err, ErrInvalid) {
		t.Errorf("no reason: %v, want ErrInvalid", err)
	}
	if _, err := env.e.Propose(ctx, alice, cur, "nothing"); !errors.Is(err, ErrInvalid) {
		t.Errorf("no change: %v, want ErrInvalid", err)
	}
	p, err := env.e.Propose(ctx, alice, next, "gambling adverts targeting Y11")
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Changes) != 1 || p.Changes[0] != "priority of gambling: low -> high" {
		t.Errorf("changes %q", p.Changes)
	}
	// Not yet in force.
	if s, _ := env.e.Settings(); s.priorityOf("gambling") != Low {
		t.Error("a proposal took effect before approval")
	}
	if err := env.e.Approve(ctx, alice, p.ID, "ok"); !errors.Is(err, ErrForbidden) || !strings.Contains(err.Error(), "cannot also approve") {
		t.Errorf("self-approval: %v, want refused", err)
	}
	if err := env.e.Approve(ctx, Actor{Name: "ALICE", Roles: []string{RoleApprover}}, p.ID, "ok"); !errors.Is(err, ErrForbidden) {
		t.Errorf("self-approval with different case: %v, want refused", err)
	}
	if err := env.e.Approve(ctx, viewer, p.ID, "ok"); !errors.Is(err, ErrForbidden) {
		t.Errorf("viewer approving: %v, want refused", err)
	}
	if err := env.e.Approve(ctx, bob, p.ID, "agreed at SLT"); err != nil {
		t.Fatal(err)
	}
	s, v := env.e.Settings()
	if v != 2 || s.priorityOf("gambling") != High {
		t.Errorf("after approval: version %d, gambling %s", v, s.priorityOf("gambling"))
	}
	if err := env.e.Approve(ctx, bob, p.ID, "again"); !errors.Is(err, ErrConflict) {
		t.Errorf("approving twice: %v", err)
	}
	// The detector uses the new priority at once: 3 gambling lookups are
	// now a (high) concern.
	now := env.clk.Now()
	for i := range 3 {
		env.process(entry(now.Add(time.Duration(i)), "10.20.4.1", "PC-9", "pupils", "gambling", "bet.example."))
	}
	if q, _ := env.e.Queue(ctx, QueueFilter{Category: "gambling"}); len(q) != 1 || q[0].Priority != High {
		t.Errorf("gambling concerns %+v; want one high", q)
	}

	// A stale proposal: made against version 2, another approved first.
	s2 := s
	s2.EscalateTo = []string{"dsl"}
	s3 := s
	s3.EscalateTo = []string{"pastoral"}
	pa, err := env.e.Propose(ctx, alice, s2, "a")
	if err != nil {
		t.Fatal(err)
	}
	pb, err := env.e.Propose(ctx, alice, s3, "b")
	if err != nil {
		t.Fatal(err)
	}
	if err := env.e.Approve(ctx, bob, pa.ID, ""); err != nil {
		t.Fatal(err)
	}
	if err := env.e.Approve(ctx, bob, pb.ID, ""); !errors.Is(err, ErrConflict) || !strings.Contains(err.Error(), "propose it again") {
		t.Errorf("stale approval: %v", err)
	}
	// Rejection and withdrawal.
	pc, _ := env.e.Propose(ctx, alice, s3, "c")
	if err := env.e.Reject(ctx, carol, pc.ID, "no"); !errors.Is(err, ErrForbidden) {
		t.Errorf("technician rejecting: %v", err)
	}
	if err := env.e.Reject(ctx, bob, pc.ID, "not needed"); err != nil {
		t.Fatal(err)
	}
	pd, _ := env.e.Propose(ctx, alice, s3, "d")
	if err := env.e.Reject(ctx, alice, pd.ID, "changed my mind"); err != nil {
		t.Fatal(err)
	}
	ps, _ := env.e.Proposals(ctx, "")
	states := map[int64]string{}
	for _, p := range ps {
		states[p.ID] = p.State
	}
	if states[p.ID] != "approved" || states[pb.ID] != "stale" || states[pc.ID] != "rejected" || states[pd.ID] != "withdrawn" {
		t.Errorf("proposal states %v", states)
	}

	// The audit chain holds every step and verifies.
	n, head, err := env.e.VerifyAudit(ctx)
	if err != nil || head == "" {
		t.Fatalf("VerifyAudit = %d, %q, %v", n, head, err)
	}
	recs, _ := env.e.AuditLog(ctx, 0, 0)
	var kinds []string
	for _, r := range recs {
		kinds = append(kinds, r.Kind)
	}
	want := "seeded,infrastructure,proposed,approved,applied,proposed,proposed,approved,applied,rejected,proposed,rejected,proposed,rejected"
	if got := strings.Join(kinds, ","); got != want {
		t.Errorf("audit kinds\n got %s\nwant %s", got, want)
	}
	hist, _ := env.e.History(ctx)
	if len(hist) != 3 || hist[0].Version != 3 || hist[0].Proposal != pa.ID {
		t.Errorf("history %+v", hist)
	}
}

func TestLockedCategoriesRefused(t *testing.T) {
	env := newEnv(t, 0, nil)
	ctx := context.Background()
	alice := Actor{Name: "alice", Roles: []string{RoleSafeguarding}}
	cur, _ := env.e.Settings()
	lower := func(cat string, p Priority) Settings {
		s := cur
		s.Priorities = append([]CategoryPriority(nil), cur.Priorities...)
		for i := range s.Priorities {
			if s.Priorities[i].Category == cat {
				s.Priorities[i].Priority = p
			}
		}
		return s
	}
	withRule := func(r Rule) Settings {
		s := cur
		s.Rules = append(append([]Rule(nil), cur.Rules...), r)
		return s
	}
	dropCategory := func(cat string) Settings {
		s := cur
		s.Priorities = nil
		for _, cp := range cur.Priorities {
			if cp.Category != cat {
				s.Priorities = append(s.Priorities, cp)
			}
		}
		return s
	}
	criticalThreshold := func() Settings {
		s := cur
		s.Rules = append([]Rule(nil), cur.Rules...)
		s.Rules[0].Threshold = 5 // the critical rule
		return s
	}
	noCriticalRoute := func() Settings {
		s := cur
		s.Routes = nil
		for _, r := range cur.Routes {
			if r.When != Always || r.Speed != Immediate {
				s.Routes = append(s.Routes, r)
			}
		}
		return s
	}
	tests := []struct {
		name string
		s    Settings
	}{
		{"iwf lowered to high", lower("iwf", High)},
		{"ctiru disabled", lower("ctiru", None)},
		{"iwf removed", dropCategory("iwf")},
		{"iwf threshold raised", withRule(Rule{Priority: Critical, Category: "iwf", Threshold: 3, Window: Duration(10 * 60e9)})},
		{"critical threshold raised", criticalThreshold()},
		{"critical no longer routed", noCriticalRoute()},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before, _ := env.e.AuditLog(ctx, 0, 0)
			_, err := env.e.Propose(ctx, alice, tc.s, "try")
			if !errors.Is(err, ErrLocked) {
				t.Fatalf("Propose = %v, want ErrLocked", err)
			}
			after, _ := env.e.AuditLog(ctx, 0, 0)
			if len(after) != len(before)+1 || after[len(after)-1].Kind != audit.KindRefused || after[len(after)-1].Actor != "alice" {
				t.Errorf("the refused attempt is not in the audit log: %+v", after[len(after)-1])
			}
		})
	}
	// References to webhooks and groups that do not exist are refused.
	bad := cur
	bad.Recipients = append(append([]Recipient(nil), cur.Recipients...), Recipient{Name: "x", Role: TeamPastoral, Webhooks: []string{"nope"}})
	if _, err := env.e.Propose(ctx, alice, bad, "x"); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), `no webhook named "nope"`) {
		t.Errorf("unknown webhook: %v", err)
	}
	bad = cur
	bad.Routes = append(append([]Route(nil), cur.Routes...), Route{Priorities: []Priority{Low}, Groups: []string{"year13"}, When: Always, To: []string{"dsl"}, Speed: Daily})
	if _, err := env.e.Propose(ctx, alice, bad, "x"); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), `no group named "year13"`) {
		t.Errorf("unknown group: %v", err)
	}
	// Self-harm may be lowered (it is not locked), by the same process.
	if _, err := env.e.Propose(ctx, alice, lower("self-harm", High), "policy review"); err != nil {
		t.Errorf("lowering self-harm: %v", err)
	}
}

func TestSeedOnceConfigIgnoredAfter(t *testing.T) {
	env := newEnv(t, 0, nil)
	env.e.Close()
	// The config now says gambling is critical; the database keeps what
	// was seeded and approved.
	cfg := env.cfg
	cfg.Initial.Priorities = []CategoryPriority{{Category: "gambling", Priority: Critical}}
	e2, err := Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer e2.Close()
	s, v := e2.Settings()
	if v != 1 || s.priorityOf("gambling") != Low {
		t.Errorf("reopened with edited config: version %d, gambling %s; want 1, low", v, s.priorityOf("gambling"))
	}
	// A changed webhook URL is recorded in the audit log.
	cfg.Infra.Webhooks[0].URL += "-moved"
	if err := e2.SetInfrastructure(context.Background(), cfg.Infra); err != nil {
		t.Fatal(err)
	}
	recs, _ := e2.AuditLog(context.Background(), 0, 0)
	last := recs[len(recs)-1]
	if last.Kind != audit.KindInfrastructure || len(recs) != 3 || strings.Contains(string(last.Payload), "moved") {
		t.Errorf("audit after a URL change: %d records, last %+v (URLs must be recorded by hash only)", len(recs), last)
	}
}
