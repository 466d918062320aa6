package policy

import (
	"testing"
	"time"

	"gatehouse/clientmap"
	"gatehouse/policy/override"
)

func TestSnapshot_Decide_overrides(t *testing.T) {
	base := listsSnapshot(t)
	// Monday 23 November 2026, London (GMT): 10:00 is in lessons.
	lesson := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	until := lesson.Add(30 * time.Minute)
	ov := func(id, group string, a override.Action, cat, domain string) override.Override {
		return override.Override{ID: id, Group: group, Action: a, Category: cat, Domain: domain, Until: until,
			Reason: "test", CreatedBy: "t", Created: lesson.Add(-time.Minute)}
	}
	s := base.WithOverrides([]override.Override{
		ov("adlt01", "staff", override.Block, "pornography", ""),
		ov("socl01", "pupils", override.Allow, "social-media", ""),
		ov("dom001", "pupils", override.Allow, "", "adult.example"),
		ov("dom002", "pupils", override.Block, "", "other.adult.example"),
		ov("yt0001", "pupils", override.Allow, "", "www.youtube.com"),
		ov("lock01", "pupils", override.Allow, "", "abuse.example"), // refused by Validate; Decide must hold anyway
		ov("lock02", "pupils", override.Allow, "iwf", ""),           // likewise
		ov("blk001", "it", override.Block, "", "example.org"),
		ov("gone01", "year-13", override.Block, "", "example.net"), // no such group: left out
		ov("cust01", "staff", override.Allow, "custom", ""),
	}, lesson)
	if n := len(s.Overrides()); n != 8 {
		t.Errorf("%d overrides compiled, want 8 (all but the unknown group's and the locked category's)", n)
	}
	if len(base.Overrides()) != 0 || base.Decide(clientmap.Client{Group: "it"}, "example.org.", 1, lesson).Action != Pass {
		t.Fatal("WithOverrides changed the snapshot it was called on")
	}
	ttl := uint32(30 * 60)
	tests := []struct {
		group, name string
		at          time.Time
		want        Decision
	}{
		// Locked lists first and always.
		{"pupils", "www.abuse.example.", lesson, Decision{Action: Block, Reason: ReasonLocked, Category: "iwf", List: "iwf-list", Matched: "abuse.example."}},
		// A block override of a category the group does not block.
		{"staff", "adult.example.", lesson, Decision{Action: Block, Reason: ReasonOverride, Style: StyleNXDOMAIN, Category: "pornography", List: "override adlt01", Matched: "adult.example.", TTLCap: ttl}},
		// An allow override of a timed category: allowed until it ends...
		{"pupils", "www.social.example.", lesson, Decision{Action: Allow, Reason: ReasonOverride, Category: "social-media", List: "override socl01", Matched: "social.example.", TTLCap: ttl}},
		// ...then the timetable again, to the second.
		{"pupils", "www.social.example.", until, Decision{Action: Block, Reason: ReasonSchedule, Category: "social-media", List: "social", Matched: "social.example.", TTLCap: 19200 - 1800}},
		// The most specific domain override wins.
		{"pupils", "www.adult.example.", lesson, Decision{Action: Allow, Reason: ReasonOverride, Category: "override", List: "override dom001", Matched: "adult.example.", TTLCap: ttl}},
		{"pupils", "x.other.adult.example.", lesson, Decision{Action: Block, Reason: ReasonOverride, Style: StyleNXDOMAIN, Category: "override", List: "override dom002", Matched: "other.adult.example.", TTLCap: ttl}},
		// An allowed name safe search rewrites is still rewritten.
		{"pupils", "www.youtube.com.", lesson, Decision{Action: Rewrite, Reason: ReasonSafeSearch, Category: "safesearch", List: "youtube", Matched: "www.youtube.com.", Target: "restrict.youtube.com.", TTLCap: ttl}},
		{"it", "www.example.org.", lesson, Decision{Action: Block, Reason: ReasonOverride, Style: StyleNXDOMAIN, Category: "override", List: "override blk001", Matched: "example.org.", TTLCap: ttl}},
		{"it", "www.example.org.", until.Add(-time.Second), Decision{Action: Block, Reason: ReasonOverride, Style: StyleNXDOMAIN, Category: "override", List: "override blk001", Matched: "example.org.", TTLCap: 1}},
		{"it", "www.example.org.", until, Decision{Action: Pass}},
		// Other groups are untouched.
		{"staff", "www.example.org.", lesson, Decision{Action: Pass}},
		{"staff", "www.social.example.", lesson, Decision{Action: Pass}},
		// Allowing a category lifts only that category's lists: the
		// pupils' deny entry (custom) still blocks for pupils, and staff
		// have it allowed only because they never blocked it.
		{"pupils", "extra.example.", lesson, Decision{Action: Block, Reason: ReasonList, Category: "custom", List: "group/pupils/deny", Matched: "extra.example."}},
	}
	for _, tt := range tests {
		if got := s.Decide(clientmap.Client{Group: tt.group}, tt.name, 1, tt.at); got != tt.want {
			t.Errorf("Decide(%s, %s, %s) =\n%+v\nwant\n%+v", tt.group, tt.name, tt.at.Format("15:04:05"), got, tt.want)
		}
	}
	for _, name := range []string{"www.social.example.", "x.other.adult.example.", "www.example.org.", "www.bbc.co.uk."} {
		if n := testing.AllocsPerRun(100, func() { s.Decide(clientmap.Client{Group: "pupils"}, name, 1, lesson) }); n != 0 {
			t.Errorf("Decide(%s) with overrides allocates %v times, want 0", name, n)
		}
	}
	// Leases swapped in later keep the overrides.
	if d := s.WithLeases(nil).Decide(clientmap.Client{Group: "it"}, "example.org.", 1, lesson); d.Reason != ReasonOverride {
		t.Errorf("WithLeases dropped the overrides: %+v", d)
	}
}

// A category allow override does not unblock a name that a list of
// another blocked category also holds.
func TestSnapshot_Decide_overrideAllowCategoryOnly(t *testing.T) {
	s := listsSnapshot(t)
	at := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	s = s.WithOverrides([]override.Override{{ID: "p1", Group: "pupils", Action: override.Allow, Category: "pornography",
		Until: at.Add(time.Hour), Created: at}}, at)
	// adult.example is only in the pornography list: allowed.
	if d := s.Decide(clientmap.Client{Group: "pupils"}, "adult.example.", 1, at); d.Action != Allow || d.List != "override p1" {
		t.Errorf("adult.example: %+v", d)
	}
	// quiet.example is in the custom RPZ: still blocked.
	if d := s.Decide(clientmap.Client{Group: "pupils"}, "quiet.example.", 1, at); d.Action != Block || d.List != "local-rpz" {
		t.Errorf("quiet.example: %+v", d)
	}
}

func TestSnapshot_overridePolicy(t *testing.T) {
	s := listsSnapshot(t)
	if !s.HasGroup("pupils") || s.HasGroup("nobody") {
		t.Error("HasGroup")
	}
	// "example." is above the listed name, not under it: an allow override
	// of it is accepted, and Decide still blocks abuse.example (lock01 in
	// TestSnapshot_Decide_overrides).
	for name, want := range map[string]bool{"abuse.example.": true, "www.abuse.example.": true, "example.": false, "adult.example.": false} {
		list, got := s.LockedListed(name)
		if got != want || (got && list != "iwf-list") {
			t.Errorf("LockedListed(%s) = %q, %v; want %v", name, list, got, want)
		}
	}
	now := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	_, err := override.Validate(override.Request{Group: "pupils", Action: override.Allow, Domain: "www.abuse.example",
		Until: now.Add(time.Hour), Reason: "r", By: "t"}, s, now)
	if err == nil {
		t.Error("an allow override of a locked-listed name was accepted")
	}
}

// Category overrides apply to CNAME targets as they do to names.
func TestSnapshot_DecideAnswer_categoryOverrides(t *testing.T) {
	base := listsSnapshot(t)
	at := time.Date(2026, 11, 23, 16, 0, 0, 0, time.UTC) // after lessons
	s := base.WithOverrides([]override.Override{
		{ID: "p1", Group: "pupils", Action: override.Allow, Category: "pornography", Until: at.Add(time.Hour), Created: at},
		{ID: "s1", Group: "staff", Action: override.Block, Category: "social-media", Until: at.Add(time.Hour), Created: at},
	}, at)
	pass := Decision{Action: Pass}
	for _, tt := range []struct {
		snap          *Snapshot
		group, target string
		want          Action
	}{
		{base, "pupils", "adult.example.", Block}, // no override: the CNAME target is blocked
		{s, "pupils", "adult.example.", Pass},     // its category is allowed for now
		{s, "pupils", "abuse.example.", Block},    // locked: always
		{base, "staff", "www.social.example.", Pass},
		{s, "staff", "www.social.example.", Block}, // blocked for now
	} {
		d := tt.snap.DecideAnswer(clientmap.Client{Group: tt.group}, pass, "cdn.example.", []string{tt.target}, nil, at)
		if d.Action != tt.want {
			t.Errorf("DecideAnswer(%s, cname %s) = %+v, want %v", tt.group, tt.target, d, tt.want)
		}
	}
	// An answer allowed only by the override expires with it.
	if d := s.DecideAnswer(clientmap.Client{Group: "pupils"}, pass, "cdn.example.", []string{"adult.example."}, nil, at.Add(59*time.Minute)); d.Action != Pass || d.TTLCap != 60 {
		t.Errorf("a minute before the override ends: %+v, want pass with TTL cap 60", d)
	}
	if d := s.DecideAnswer(clientmap.Client{Group: "pupils"}, pass, "cdn.example.", []string{"www.example.org."}, nil, at); d.TTLCap != 0 {
		t.Errorf("a target no override covers: %+v, want no TTL cap", d)
	}
	// After the overrides end, the group's own lists again.
	if d := s.DecideAnswer(clientmap.Client{Group: "pupils"}, pass, "cdn.example.", []string{"adult.example."}, nil, at.Add(time.Hour)); d.Action != Block {
		t.Errorf("after the override ended: %+v", d)
	}
}
