package querylog

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"reflect"
	"slices"
	"testing"
	"time"
)

func TestReport_fixture(t *testing.T) {
	l := openTest(t, Config{Site: "Hill School", ReportTopN: 2})
	loadFixture(t, l)
	r, err := l.Report(t.Context(), t0, t0.Add(time.Hour), "")
	if err != nil {
		t.Fatal(err)
	}
	want := Report{
		Site: "Hill School",
		From: time.Date(2025, 3, 10, 0, 0, 0, 0, l.loc), To: time.Date(2025, 3, 11, 0, 0, 0, 0, l.loc),
		Total:      8,
		ByDecision: []Count{{"allowed", 3}, {"blocked", 3}, {"bypass-attempt", 1}, {"rewritten", 1}}, // ties by name
		ByGroup: []GroupTotals{
			{"guests", Totals{1, 1, 0, 0}},
			{"pupils", Totals{5, 2, 0, 1}},
			{"staff", Totals{2, 0, 1, 0}},
		},
		Daily:             []DayTotals{{"2025-03-10", Totals{8, 3, 1, 1}}},
		BlockedByCategory: []Count{{"adult", 2}, {"gambling", 1}},
		TopBlockedNames:   []Count{{"WWW.Example.ORG.", 1}, {"bad.example.org.", 1}}, // top 2 of 3
		TopClients: []ClientCount{
			{ClientRef{"10.20.3.4", "aa:bb:cc:00:00:01", "Y9-IPAD-12", false}, 1, 0},
			{ClientRef{"10.40.0.2", "", "", false}, 1, 0},
		},
		Bypass:   []BypassCount{{ClientRef{"10.30.0.9", "", "STAFF-LAPTOP-1", false}, "private-relay", 1}},
		Rewrites: []Count{{"safesearch", 1}},
	}
	if !reflect.DeepEqual(r, want) {
		t.Errorf("Report =\n%+v\nwant\n%+v", r, want)
	}
	// One group.
	r, err = l.Report(t.Context(), t0, t0.Add(time.Hour), "staff")
	if err != nil {
		t.Fatal(err)
	}
	if r.Total != 2 || len(r.Bypass) != 1 || len(r.TopClients) != 0 {
		t.Errorf("staff report: %+v", r)
	}
	// Unknown group and other days: empty.
	if r, _ := l.Report(t.Context(), t0, t0.Add(time.Hour), "nope"); r.Total != 0 {
		t.Errorf("unknown group total %d", r.Total)
	}
	if r, _ := l.Report(t.Context(), t0.AddDate(0, 0, 1), t0.AddDate(0, 0, 2), ""); r.Total != 0 {
		t.Errorf("next day total %d", r.Total)
	}
	if _, err := l.Report(t.Context(), t0, t0, ""); err == nil {
		t.Error("empty range accepted")
	}
}

func TestReport_renderGolden(t *testing.T) {
	l := openTest(t, Config{Site: "Hill School"})
	es := fixture()
	es[6].Hostname = "evil\u202e\x1b[31m" // terminal control in a hostname
	es[6].Category = "=gambling"
	for _, e := range es {
		l.Enqueue(e)
	}
	flush(t, l)
	r, err := l.Report(t.Context(), time.Date(2025, 3, 10, 0, 0, 0, 0, l.loc), time.Date(2025, 3, 17, 0, 0, 0, 0, l.loc), "")
	if err != nil {
		t.Fatal(err)
	}
	var txt, csv bytes.Buffer
	if err := r.WriteText(&txt); err != nil {
		t.Fatal(err)
	}
	if err := r.WriteCSV(&csv); err != nil {
		t.Fatal(err)
	}
	golden(t, "report.txt", txt.String())
	golden(t, "report.csv", csv.String())
}

// TestReport_matchesRecount checks the rollups against a brute-force
// recount of the entries, over random data spanning a DST change, for
// several ranges and groups.
func TestReport_matchesRecount(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	l := openTest(t, Config{ReportTopN: 10000, BatchSize: 97})
	groups := []string{"pupils", "staff", "guests", ""}
	cats := []string{"", "adult", "gambling", "doh", "vpn", "safesearch"}
	start := time.Date(2025, 3, 25, 0, 0, 0, 0, time.UTC) // clocks change on 30 March
	var all []Entry
	for range 3000 {
		c := rng.IntN(25)
		d := Decision(1 + rng.IntN(int(numDecisions)-1))
		e := Entry{
			Time:     start.Add(time.Duration(rng.Int64N(int64(11 * 24 * time.Hour)))),
			Client:   netip.AddrFrom4([4]byte{10, 0, 0, byte(c)}),
			Hostname: fmt.Sprintf("dev-%d", c%20), // some devices change address
			Group:    groups[rng.IntN(len(groups))],
			QName:    fmt.Sprintf("n%d.example.", rng.IntN(40)),
			Decision: d,
			Category: cats[rng.IntN(len(cats))],
		}
		all = append(all, e)
		l.Enqueue(e)
	}
	flush(t, l)
	loc := l.loc
	for _, tc := range []struct {
		from, to time.Time
		group    string
	}{
		{start, start.AddDate(0, 0, 12), ""},
		{time.Date(2025, 3, 27, 13, 0, 0, 0, loc), time.Date(2025, 4, 2, 0, 0, 0, 0, loc), ""},
		{time.Date(2025, 3, 30, 0, 0, 0, 0, loc), time.Date(2025, 3, 31, 0, 0, 0, 0, loc), "pupils"},
		{start, start.AddDate(0, 0, 12), "guests"},
		{start, start.AddDate(0, 0, 12), ""},
	} {
		got, err := l.Report(t.Context(), tc.from, tc.to, tc.group)
		if err != nil {
			t.Fatal(err)
		}
		want := recount(all, loc, tc.from, tc.to, tc.group)
		if !reflect.DeepEqual(reportCore(got), want) {
			t.Errorf("Report(%v, %v, %q) differs from the recount:\n got %+v\nwant %+v", tc.from, tc.to, tc.group, reportCore(got), want)
		}
	}
}

// core is the comparable content of a report.
type core struct {
	Total                                       int64
	ByDecision, Blocked, Names, Rewrites        map[string]int64
	Daily, ByGroup                              map[string]Totals
	ClientsBlocked, ClientsBypass, BypassByKind map[string]int64
}

func newCore() core {
	return core{ByDecision: map[string]int64{}, Blocked: map[string]int64{}, Names: map[string]int64{}, Rewrites: map[string]int64{},
		Daily: map[string]Totals{}, ByGroup: map[string]Totals{},
		ClientsBlocked: map[string]int64{}, ClientsBypass: map[string]int64{}, BypassByKind: map[string]int64{}}
}

func reportCore(r Report) core {
	c := newCore()
	c.Total = r.Total
	for _, x := range r.ByDecision {
		c.ByDecision[x.Key] = x.N
	}
	for _, x := range r.BlockedByCategory {
		c.Blocked[x.Key] = x.N
	}
	for _, x := range r.TopBlockedNames {
		c.Names[x.Key] = x.N
	}
	for _, x := range r.Rewrites {
		c.Rewrites[x.Key] = x.N
	}
	for _, x := range r.Daily {
		c.Daily[x.Day] = x.Totals
	}
	for _, x := range r.ByGroup {
		c.ByGroup[x.Group] = x.Totals
	}
	for _, x := range r.TopClients {
		c.ClientsBlocked[x.Client.String()] = x.Blocked
		if x.Bypass > 0 {
			c.ClientsBypass[x.Client.String()] = x.Bypass
		}
	}
	for _, x := range r.Bypass {
		c.BypassByKind[x.Client.String()+"/"+x.Category] = x.N
	}
	return c
}

func recount(all []Entry, loc *time.Location, from, to time.Time, group string) core {
	c := newCore()
	first := from.In(loc).Format(time.DateOnly)
	last := to.Add(-1).In(loc).Format(time.DateOnly)
	bypassOf := map[string]int64{}
	for _, e := range all {
		day := e.Time.In(loc).Format(time.DateOnly)
		if day < first || day > last || (group != "" && e.Group != group) {
			continue
		}
		c.Total++
		c.ByDecision[e.Decision.String()]++
		dt, gt := c.Daily[day], c.ByGroup[e.Group]
		dt.add(e.Decision, 1)
		gt.add(e.Decision, 1)
		c.Daily[day], c.ByGroup[e.Group] = dt, gt
		client := ClientRef{Client: e.Client.String(), Hostname: e.Hostname}.String()
		switch e.Decision {
		case Blocked:
			if e.Category != "" {
				c.Blocked[e.Category]++
			}
			c.Names[e.QName]++
			c.ClientsBlocked[client]++
		case Rewritten:
			if e.Category != "" {
				c.Rewrites[e.Category]++
			}
		case BypassAttempt:
			c.BypassByKind[client+"/"+e.Category]++
			bypassOf[client]++
		}
	}
	// TopClients lists devices with blocked attempts, with their bypass
	// count alongside.
	for k := range c.ClientsBlocked {
		if n := bypassOf[k]; n > 0 {
			c.ClientsBypass[k] = n
		}
	}
	return c
}

func TestReport_topNOrder(t *testing.T) {
	l := openTest(t, Config{ReportTopN: 3})
	for i, n := range []int{5, 1, 7, 3, 7} {
		for range n {
			e := fullEntry()
			e.QName = fmt.Sprintf("n%d.example.", i)
			e.Client = netip.AddrFrom4([4]byte{10, 0, 0, byte(i)})
			l.Enqueue(e)
		}
	}
	flush(t, l)
	r, err := l.Report(t.Context(), t0, t0.Add(time.Hour), "")
	if err != nil {
		t.Fatal(err)
	}
	var names, clients []string
	for _, c := range r.TopBlockedNames {
		names = append(names, fmt.Sprintf("%s=%d", c.Key, c.N))
	}
	for _, c := range r.TopClients {
		clients = append(clients, fmt.Sprintf("%s=%d", c.Client.Client, c.Blocked))
	}
	if want := []string{"n2.example.=7", "n4.example.=7", "n0.example.=5"}; !slices.Equal(names, want) {
		t.Errorf("top names %v, want %v", names, want)
	}
	if want := []string{"10.0.0.2=7", "10.0.0.4=7", "10.0.0.0=5"}; !slices.Equal(clients, want) {
		t.Errorf("top clients %v, want %v", clients, want)
	}
}

func TestTerminalSafe(t *testing.T) {
	for in, want := range map[string]string{
		"plain":           "plain",
		"a\x1b[31mb":      `a\x1b[31mb`,
		"rtl\u202ex":      `rtl\u202ex`,
		"c1\u009bx":       `c1\u009bx`,
		"bad\xffutf8":     `bad\xffutf8`,
		"tab\there":       `tab\there`,
		"ünïcode is fine": "ünïcode is fine",
	} {
		if got := TerminalSafe(in); got != want {
			t.Errorf("TerminalSafe(%q) = %q, want %q", in, got, want)
		}
	}
}
