package safeguarding

import (
	"net/netip"
	"testing"
	"time"

	"gatehouse/querylog"
)

func testSettings() Settings {
	return Settings{Priorities: DefaultPriorities(), Rules: DefaultRules(), Timescales: DefaultTimescales()}
}

type hit struct {
	at       time.Duration // after t0
	device   string        // address
	mac      string
	category string
	decision querylog.Decision
}

func TestDetector(t *testing.T) {
	t0 := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	blocked := querylog.Blocked
	tests := []struct {
		name string
		hits []hit
		want string // one letter per hit: . ignored, R raise, J join
	}{
		{"critical: a single hit raises", []hit{{0, "10.0.0.1", "", "self-harm", blocked}}, "R"},
		{"locked iwf raises", []hit{{0, "10.0.0.1", "", "iwf", blocked}}, "R"},
		{"high: 3 in 10 minutes", []hit{{0, "10.0.0.1", "", "pornography", blocked}, {time.Minute, "10.0.0.1", "", "pornography", blocked}, {9 * time.Minute, "10.0.0.1", "", "pornography", blocked}}, "..R"},
		{"high: 3 spread over more than 10 minutes", []hit{{0, "10.0.0.1", "", "pornography", blocked}, {5 * time.Minute, "10.0.0.1", "", "pornography", blocked}, {10 * time.Minute, "10.0.0.1", "", "pornography", blocked}}, "..."},
		{"high: the window slides", []hit{{0, "10.0.0.1", "", "pornography", blocked}, {5 * time.Minute, "10.0.0.1", "", "pornography", blocked}, {11 * time.Minute, "10.0.0.1", "", "pornography", blocked}, {12 * time.Minute, "10.0.0.1", "", "pornography", blocked}}, "...R"},
		{"high: different devices do not add up", []hit{{0, "10.0.0.1", "", "pornography", blocked}, {0, "10.0.0.2", "", "pornography", blocked}, {0, "10.0.0.3", "", "pornography", blocked}}, "..."},
		{"high: different categories do not add up", []hit{{0, "10.0.0.1", "", "pornography", blocked}, {0, "10.0.0.1", "", "hate", blocked}, {0, "10.0.0.1", "", "pornography", blocked}}, "..."},
		{"same MAC, new address: one device", []hit{{0, "10.0.0.1", "aa:bb:cc:dd:ee:ff", "pornography", blocked}, {0, "10.0.0.2", "aa:bb:cc:dd:ee:ff", "pornography", blocked}, {0, "10.0.0.3", "aa:bb:cc:dd:ee:ff", "pornography", blocked}}, "..R"},
		{"retries after a concern join it", []hit{{0, "10.0.0.1", "", "self-harm", blocked}, {time.Second, "10.0.0.1", "", "self-harm", blocked}, {9 * time.Minute, "10.0.0.1", "", "self-harm", blocked}}, "RJJ"},
		{"after the window a new concern", []hit{{0, "10.0.0.1", "", "self-harm", blocked}, {time.Minute, "10.0.0.1", "", "self-harm", blocked}, {10 * time.Minute, "10.0.0.1", "", "self-harm", blocked}}, "RJR"},
		{"fifty retries are one concern", func() []hit {
			var hs []hit
			for i := range 50 {
				hs = append(hs, hit{time.Duration(i) * time.Second, "10.0.0.1", "", "pornography", blocked})
			}
			return hs
		}(), "..R" + repeat("J", 47)},
		{"priority none never raises", []hit{{0, "10.0.0.1", "", "streaming", blocked}}, "."},
		{"allowed lookups are not signals", []hit{{0, "10.0.0.1", "", "self-harm", querylog.Allowed}}, "."},
		{"rewrites are not signals", []hit{{0, "10.0.0.1", "", "self-harm", querylog.Rewritten}}, "."},
		{"bypass attempts count", []hit{{0, "10.0.0.1", "", "private-relay", querylog.BypassAttempt}, {1, "10.0.0.1", "", "private-relay", querylog.BypassAttempt}, {2, "10.0.0.1", "", "private-relay", querylog.BypassAttempt}, {3, "10.0.0.1", "", "private-relay", querylog.BypassAttempt}, {4, "10.0.0.1", "", "private-relay", querylog.BypassAttempt}}, "....R"},
		{"no category, no signal", []hit{{0, "10.0.0.1", "", "", blocked}}, "."},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := testSettings()
			var d Detector
			got := make([]byte, 0, len(tc.hits))
			for i, h := range tc.hits {
				e := querylog.Entry{ID: uint64(i + 1), Time: t0.Add(h.at), Client: netip.MustParseAddr(h.device), MAC: h.mac, Category: h.category, Decision: h.decision, QName: "x.example."}
				o := d.Observe(e, &s)
				switch o.Verdict {
				case Ignored:
					got = append(got, '.')
				case Raise:
					got = append(got, 'R')
					d.Bind(o.Key, int64(i+100))
					if o.Evidence[len(o.Evidence)-1].ID != e.ID {
						t.Errorf("hit %d: evidence %v does not end with the hit", i, o.Evidence)
					}
				case Join:
					got = append(got, 'J')
					if o.Concern == 0 || len(o.Evidence) != 1 {
						t.Errorf("hit %d: join without concern or evidence: %+v", i, o)
					}
				}
			}
			if string(got) != tc.want {
				t.Errorf("verdicts %s, want %s", got, tc.want)
			}
		})
	}
}

func repeat(s string, n int) string {
	out := ""
	for range n {
		out += s
	}
	return out
}

func TestDetectorEvidenceAndRuleOverride(t *testing.T) {
	s := testSettings()
	s.Rules = append(s.Rules, Rule{Priority: High, Category: "hate", Threshold: 2, Window: Duration(time.Minute)})
	var d Detector
	t0 := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	e := func(id uint64, at time.Duration, cat string) querylog.Entry {
		return querylog.Entry{ID: id, Time: t0.Add(at), Client: netip.MustParseAddr("10.0.0.9"), Category: cat, Decision: querylog.Blocked}
	}
	if o := d.Observe(e(1, 0, "hate"), &s); o.Verdict != Ignored {
		t.Fatalf("first hate hit: %v", o.Verdict)
	}
	o := d.Observe(e(2, 30*time.Second, "hate"), &s)
	if o.Verdict != Raise || len(o.Evidence) != 2 || o.Evidence[0].ID != 1 || o.Rule.Threshold != 2 {
		t.Fatalf("second hate hit = %+v; want a raise with both entries under the category rule", o)
	}
}

func TestDetectorBounded(t *testing.T) {
	s := testSettings()
	d := Detector{MaxKeys: 10}
	t0 := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	for i := range 20 {
		a := netip.AddrFrom4([4]byte{10, 0, 0, byte(i)})
		d.Observe(querylog.Entry{Time: t0, Client: a, Category: "pornography", Decision: querylog.Blocked}, &s)
	}
	if d.Len() != 10 || d.Overflow != 10 {
		t.Errorf("Len %d Overflow %d, want 10 and 10", d.Len(), d.Overflow)
	}
	// An hour later every track has expired, so new devices fit again.
	d.Observe(querylog.Entry{Time: t0.Add(time.Hour), Client: netip.MustParseAddr("10.1.0.1"), Category: "pornography", Decision: querylog.Blocked}, &s)
	if d.Len() != 1 || d.Overflow != 10 {
		t.Errorf("after expiry Len %d Overflow %d, want 1 and 10", d.Len(), d.Overflow)
	}
}
