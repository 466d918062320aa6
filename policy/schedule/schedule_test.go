package schedule

import (
	"math/rand/v2"
	"os/exec"
	"strings"
	"testing"
	"time"
)

func london(t testing.TB) *time.Location {
	t.Helper()
	loc, err := LoadTimeZone("Europe/London")
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

// at is a wall-clock instant in loc, "2006-01-02 15:04:05"; for a wall time
// that happens twice, add " BST" or " GMT" to pick one.
func at(t testing.TB, loc *time.Location, s string) time.Time {
	t.Helper()
	layout := "2006-01-02 15:04:05"
	if strings.HasSuffix(s, "T") { // zone abbreviation given
		layout += " MST"
	}
	v, err := time.ParseInLocation(layout, s, loc)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func utc(t testing.TB, s string) time.Time {
	t.Helper()
	v, err := time.Parse("2006-01-02 15:04:05", s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func mustWeekly(t testing.TB, s string) Weekly {
	t.Helper()
	w, err := ParseWeekly(s)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func mustRange(t testing.TB, s string) DateRange {
	t.Helper()
	r, err := ParseDateRange(s)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// schoolCalendar is autumn term 2026 with half term (26-30 Oct, between the
// terms) and two INSET days.
func schoolCalendar(t testing.TB) *Calendar {
	return &Calendar{
		Terms:    []DateRange{mustRange(t, "2026-09-02..2026-10-23"), mustRange(t, "2026-11-02..2026-12-18")},
		Closures: []DateRange{mustRange(t, "2026-09-02"), mustRange(t, "2026-11-02")},
	}
}

func testSchedule(t testing.TB) *Schedule {
	t.Helper()
	s, err := NewSchedule(london(t), schoolCalendar(t), []Period{
		{Name: "lessons", Weekly: []Weekly{mustWeekly(t, "Mon-Fri 08:40-15:20")}, TermTimeOnly: true},
		{Name: "lunch", Weekly: []Weekly{mustWeekly(t, "Mon-Fri 12:10-13:00")}, TermTimeOnly: true},
		{Name: "weekdays", Weekly: []Weekly{mustWeekly(t, "Mon-Fri 08:40-15:20")}},
		{Name: "friday-night", Weekly: []Weekly{mustWeekly(t, "Fri 22:00-02:00")}},
		{Name: "term-friday-night", Weekly: []Weekly{mustWeekly(t, "Fri 22:00-02:00")}, TermTimeOnly: true},
		{Name: "shifted", Weekly: []Weekly{mustWeekly(t, "Mon-Sun 01:30-02:30")}},
		{Name: "gap", Weekly: []Weekly{mustWeekly(t, "Sun 01:00-02:00")}},
		{Name: "sunday-all-day", Weekly: []Weekly{mustWeekly(t, "Sun 00:00-00:00")}},
		{Name: "split", Weekly: []Weekly{mustWeekly(t, "Sat 10:00-12:00"), mustWeekly(t, "Sat 11:00-13:00"), mustWeekly(t, "Sat 13:00-14:00")}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestLoadTimeZone(t *testing.T) {
	for _, name := range []string{"", "Europe/London"} {
		loc, err := LoadTimeZone(name)
		if err != nil || loc.String() != "Europe/London" {
			t.Errorf("LoadTimeZone(%q) = %v, %v, want Europe/London", name, loc, err)
		}
	}
	if _, err := LoadTimeZone("Europe/Atlantis"); err == nil || !strings.Contains(err.Error(), "Europe/Atlantis") {
		t.Errorf("LoadTimeZone(bogus) error = %v", err)
	}
}

// TestTzdataEmbedded checks the binary carries its own zone data, so a
// minimal image without /usr/share/zoneinfo still resolves Europe/London.
func TestTzdataEmbedded(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go tool to list dependencies")
	}
	out, err := exec.Command(goTool, "list", "-e", "-deps", ".").Output()
	if err != nil {
		t.Skipf("go list: %v", err)
	}
	if !strings.Contains("\n"+string(out), "\ntime/tzdata\n") {
		t.Error("policy does not link time/tzdata")
	}
}

func TestParseClock(t *testing.T) {
	tests := []struct {
		in      string
		want    ClockTime
		wantErr string
	}{
		{"08:40", 520, ""},
		{"8:40", 520, ""},
		{"00:00", 0, ""},
		{"23:59", 1439, ""},
		{"24:00", 1440, ""},
		{"24:01", 0, "out of range"},
		{"25:00", 0, "out of range"},
		{"12:60", 0, "out of range"},
		{"12:5", 0, "want HH:MM"},
		{"1240", 0, "want HH:MM"},
		{"-1:00", 0, "want HH:MM"},
		{"ab:cd", 0, "want HH:MM"},
		{"", 0, "want HH:MM"},
		{"123:00", 0, "want HH:MM"},
	}
	for _, tt := range tests {
		got, err := ParseClock(tt.in)
		if got != tt.want || (err == nil) != (tt.wantErr == "") || err != nil && !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("ParseClock(%q) = %v, %v, want %v, %q", tt.in, got, err, tt.want, tt.wantErr)
		}
		if err == nil && tt.want < 1440 && got.String() != tt.in && "0"+tt.in != got.String() {
			t.Errorf("ClockTime(%d).String() = %q, want %q", got, got.String(), tt.in)
		}
	}
}

func TestParseWeekdays(t *testing.T) {
	const (
		sun = time.Sunday
		mon = time.Monday
		tue = time.Tuesday
		wed = time.Wednesday
		thu = time.Thursday
		fri = time.Friday
		sat = time.Saturday
	)
	tests := []struct {
		in       string
		want     Weekdays
		wantText string
		wantErr  string
	}{
		{"Mon-Fri", Days(mon, tue, wed, thu, fri), "Mon-Fri", ""},
		{"Mon,Wed,Fri", Days(mon, wed, fri), "Mon,Wed,Fri", ""},
		{"Sat-Sun", Days(sat, sun), "Sat-Sun", ""},
		{"sat, SUN", Days(sat, sun), "Sat-Sun", ""},
		{"Fri-Mon", Days(fri, sat, sun, mon), "Mon,Fri-Sun", ""},
		{"Monday-Sunday", Days(sun, mon, tue, wed, thu, fri, sat), "Mon-Sun", ""},
		{"Wed", Days(wed), "Wed", ""},
		{"Thursday", Days(thu), "Thu", ""},
		{"Mon-Fry", 0, "", `unknown day "Fry"`},
		{"", 0, "", "empty day"},
		{"Mon,", 0, "", "empty day"},
		{"Mon-", 0, "", "empty day"},
	}
	for _, tt := range tests {
		got, err := ParseWeekdays(tt.in)
		if got != tt.want || (err == nil) != (tt.wantErr == "") || err != nil && !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("ParseWeekdays(%q) = %v, %v, want %v, %q", tt.in, got, err, tt.want, tt.wantErr)
			continue
		}
		if err == nil && got.String() != tt.wantText {
			t.Errorf("ParseWeekdays(%q).String() = %q, want %q", tt.in, got.String(), tt.wantText)
		}
	}
}

func TestParseWeekly(t *testing.T) {
	w, err := ParseWeekly("Mon-Fri 08:40-15:20")
	if want := (Weekly{Days: Days(1, 2, 3, 4, 5), From: Clock(8, 40), To: Clock(15, 20)}); err != nil || w != want {
		t.Errorf("ParseWeekly = %v, %v, want %v", w, err, want)
	}
	if w.String() != "Mon-Fri 08:40-15:20" {
		t.Errorf("String() = %q", w.String())
	}
	for _, bad := range []string{"Mon-Fri", "Mon-Fri 08:40", "Mon-Fri 08:40-15:20 extra", "Mon-Fri 08:40-25:00", "Mon-Fri 24:00-01:00", "Funday 08:40-15:20"} {
		if _, err := ParseWeekly(bad); err == nil {
			t.Errorf("ParseWeekly(%q) succeeded", bad)
		}
	}
}

func TestParseDate(t *testing.T) {
	d, err := ParseDate("2026-09-03")
	if err != nil || d != DateOf(2026, time.September, 3) || d.String() != "2026-09-03" || d.Weekday() != time.Thursday {
		t.Errorf("ParseDate = %v (%v), %v", d, d.Weekday(), err)
	}
	if DateOf(1970, 1, 1) != 0 || DateOf(1969, 12, 31) != -1 || Date(-1).Weekday() != time.Wednesday {
		t.Error("epoch arithmetic is off")
	}
	for _, bad := range []string{"2026-02-30", "2026-13-01", "03/09/2026", "2026-9-3", ""} {
		if _, err := ParseDate(bad); err == nil || !strings.Contains(err.Error(), bad) {
			t.Errorf("ParseDate(%q) error = %v", bad, err)
		}
	}
	r, err := ParseDateRange("2026-09-02..2026-10-23")
	if err != nil || r.From != DateOf(2026, 9, 2) || r.To != DateOf(2026, 10, 23) || r.String() != "2026-09-02..2026-10-23" {
		t.Errorf("ParseDateRange = %v, %v", r, err)
	}
	if !r.Contains(r.From) || !r.Contains(r.To) || r.Contains(r.To+1) || r.Contains(r.From-1) {
		t.Error("a date range is not inclusive at both ends")
	}
	if r, err := ParseDateRange("2026-11-02"); err != nil || r.From != r.To || r.String() != "2026-11-02" {
		t.Errorf("single-day range = %v, %v", r, err)
	}
	if _, err := ParseDateRange("2026-10-23..2026-09-02"); err == nil || !strings.Contains(err.Error(), "ends before") {
		t.Errorf("backwards range error = %v", err)
	}
}

func TestCalendar_InTerm(t *testing.T) {
	c := schoolCalendar(t)
	for d, want := range map[string]bool{
		"2026-09-01": false, // before term
		"2026-09-02": false, // INSET: closure overrides the term
		"2026-09-03": true,
		"2026-10-23": true,  // last day, inclusive
		"2026-10-26": false, // half term
		"2026-11-02": false, // INSET
		"2026-11-03": true,
		"2026-12-18": true,
		"2026-12-19": false,
	} {
		if got := c.InTerm(mustRange(t, d).From); got != want {
			t.Errorf("InTerm(%s) = %v, want %v", d, got, want)
		}
	}
	if (*Calendar)(nil).InTerm(0) {
		t.Error("nil calendar has term days")
	}
}

func TestSchedule_Active(t *testing.T) {
	s := testSchedule(t)
	loc := s.Location()
	tests := []struct {
		period string
		at     time.Time
		want   bool
	}{
		// School day boundaries (Thursday 1 October 2026, term time, BST).
		{"lessons", at(t, loc, "2026-10-01 08:39:59"), false},
		{"lessons", at(t, loc, "2026-10-01 08:40:00"), true},
		{"lessons", at(t, loc, "2026-10-01 12:00:00"), true},
		{"lessons", at(t, loc, "2026-10-01 15:19:59"), true},
		{"lessons", at(t, loc, "2026-10-01 15:20:00"), false},
		{"lessons", at(t, loc, "2026-10-01 15:20:00").Add(-time.Nanosecond), true},
		{"lunch", at(t, loc, "2026-10-01 12:09:59"), false},
		{"lunch", at(t, loc, "2026-10-01 12:10:00"), true},
		{"lunch", at(t, loc, "2026-10-01 12:59:59"), true},
		{"lunch", at(t, loc, "2026-10-01 13:00:00"), false},
		// The instant, not its zone, decides.
		{"lessons", at(t, loc, "2026-10-01 08:40:00").UTC(), true},
		{"lessons", utc(t, "2026-10-01 07:39:59"), false},
		// Weekend in term.
		{"lessons", at(t, loc, "2026-10-03 10:00:00"), false},
		{"lessons", at(t, loc, "2026-10-04 10:00:00"), false},
		// Term calendar.
		{"lessons", at(t, loc, "2026-09-01 10:00:00"), false}, // Tuesday before term
		{"lessons", at(t, loc, "2026-09-02 10:00:00"), false}, // INSET day
		{"weekdays", at(t, loc, "2026-09-02 10:00:00"), true}, // ... unless the period ignores terms
		{"lessons", at(t, loc, "2026-09-03 10:00:00"), true},
		{"lessons", at(t, loc, "2026-10-23 15:19:00"), true},  // last day of half term 1
		{"lessons", at(t, loc, "2026-10-27 10:00:00"), false}, // half term
		{"weekdays", at(t, loc, "2026-10-27 10:00:00"), true},
		{"lessons", at(t, loc, "2026-11-02 10:00:00"), false}, // INSET day
		{"lessons", at(t, loc, "2026-11-03 10:00:00"), true},
		{"lessons", at(t, loc, "2026-12-18 10:00:00"), true},
		{"lessons", at(t, loc, "2026-12-21 10:00:00"), false}, // Christmas holiday
		{"lessons", at(t, loc, "2027-09-08 10:00:00"), false}, // beyond the calendar
		// Midnight crossing: Fri 22:00-02:00 belongs to Friday.
		{"friday-night", at(t, loc, "2026-06-12 21:59:59"), false},
		{"friday-night", at(t, loc, "2026-06-12 22:00:00"), true},
		{"friday-night", at(t, loc, "2026-06-12 23:59:59"), true},
		{"friday-night", at(t, loc, "2026-06-13 00:00:00"), true}, // Saturday, still Friday's window
		{"friday-night", at(t, loc, "2026-06-13 01:59:59"), true},
		{"friday-night", at(t, loc, "2026-06-13 02:00:00"), false},
		{"friday-night", at(t, loc, "2026-06-13 22:30:00"), false}, // Saturday night
		{"friday-night", at(t, loc, "2026-06-12 01:00:00"), false}, // early Friday belongs to Thursday
		{"friday-night", at(t, loc, "2026-06-11 23:00:00"), false},
		// Term-only midnight crossing: the window's start day decides.
		{"term-friday-night", at(t, loc, "2026-10-24 01:00:00"), true},  // Saturday of half term, Friday was term
		{"term-friday-night", at(t, loc, "2026-10-31 01:00:00"), false}, // Friday 30 Oct was half term
		{"term-friday-night", at(t, loc, "2026-10-30 23:00:00"), false},
		// Full-day windows and overlapping windows.
		{"sunday-all-day", at(t, loc, "2026-06-14 00:00:00"), true},
		{"sunday-all-day", at(t, loc, "2026-06-14 23:59:59"), true},
		{"sunday-all-day", at(t, loc, "2026-06-15 00:00:00"), false},
		{"sunday-all-day", at(t, loc, "2026-06-13 23:59:59"), false},
		{"split", at(t, loc, "2026-06-13 11:30:00"), true},
		{"split", at(t, loc, "2026-06-13 13:30:00"), true},
		{"split", at(t, loc, "2026-06-13 14:00:00"), false},
		// Spring forward, Sunday 29 March 2026: 01:00 GMT (01:00 UTC) becomes
		// 02:00 BST. 01:30-02:30 runs only 02:00-02:30 BST.
		{"shifted", utc(t, "2026-03-29 00:59:59"), false}, // 00:59:59 GMT
		{"shifted", utc(t, "2026-03-29 01:00:00"), true},  // 02:00 BST
		{"shifted", utc(t, "2026-03-29 01:29:59"), true},  // 02:29:59 BST
		{"shifted", utc(t, "2026-03-29 01:30:00"), false}, // 02:30 BST
		{"shifted", utc(t, "2026-03-28 01:30:00"), true},  // the day before, 01:30 GMT
		{"shifted", utc(t, "2026-03-30 00:30:00"), true},  // the day after, 01:30 BST
		{"gap", utc(t, "2026-03-29 00:59:59"), false},     // 01:00-02:00 never happens that day
		{"gap", utc(t, "2026-03-29 01:00:00"), false},
		// Fall back, Sunday 25 October 2026: 02:00 BST (01:00 UTC) becomes
		// 01:00 GMT; 01:00-01:59 happens twice.
		{"shifted", utc(t, "2026-10-25 00:29:59"), false}, // 01:29:59 BST
		{"shifted", utc(t, "2026-10-25 00:30:00"), true},  // 01:30 BST
		{"shifted", utc(t, "2026-10-25 00:59:59"), true},  // 01:59:59 BST
		{"shifted", utc(t, "2026-10-25 01:00:00"), false}, // 01:00 GMT, the repeat
		{"shifted", utc(t, "2026-10-25 01:29:59"), false}, // 01:29:59 GMT
		{"shifted", utc(t, "2026-10-25 01:30:00"), true},  // 01:30 GMT, again
		{"shifted", utc(t, "2026-10-25 02:29:59"), true},  // 02:29:59 GMT
		{"shifted", utc(t, "2026-10-25 02:30:00"), false},
		{"shifted", at(t, loc, "2026-10-25 01:45:00 BST"), true},
		{"shifted", at(t, loc, "2026-10-25 01:15:00 GMT"), false},
		{"gap", utc(t, "2026-10-25 00:00:00"), true}, // 01:00 BST
		{"gap", utc(t, "2026-10-25 01:00:00"), true}, // 01:00 GMT: the hour happens twice
		{"gap", utc(t, "2026-10-25 01:59:59"), true},
		{"gap", utc(t, "2026-10-25 02:00:00"), false},
		// School hours either side of the changes.
		{"weekdays", utc(t, "2026-03-30 07:40:00"), true}, // Monday 08:40 BST
		{"weekdays", utc(t, "2026-03-30 07:39:59"), false},
		{"weekdays", utc(t, "2026-10-26 08:40:00"), true}, // Monday 08:40 GMT
		{"weekdays", utc(t, "2026-10-26 07:40:00"), false},
		// Unknown period.
		{"nonexistent", at(t, loc, "2026-10-01 10:00:00"), false},
	}
	for _, tt := range tests {
		if got := s.Active(tt.period, tt.at); got != tt.want {
			t.Errorf("Active(%q, %s) = %v, want %v", tt.period, tt.at.In(loc).Format("Mon 2006-01-02 15:04:05.999 MST"), got, tt.want)
		}
	}
}

func TestSchedule_NextEdge(t *testing.T) {
	s := testSchedule(t)
	loc := s.Location()
	tests := []struct {
		name   string
		period string
		now    time.Time
		want   time.Time // zero: none within the horizon
	}{
		{"to lesson start", "lessons", at(t, loc, "2026-10-01 07:00:00"), at(t, loc, "2026-10-01 08:40:00")},
		{"sub-second before", "lessons", at(t, loc, "2026-10-01 08:39:59").Add(999 * time.Millisecond), at(t, loc, "2026-10-01 08:40:00")},
		{"exactly at an edge: the next one", "lessons", at(t, loc, "2026-10-01 08:40:00"), at(t, loc, "2026-10-01 15:20:00")},
		{"to lesson end", "lessons", at(t, loc, "2026-10-01 12:00:00"), at(t, loc, "2026-10-01 15:20:00")},
		{"evening to next morning", "lessons", at(t, loc, "2026-10-01 15:20:00"), at(t, loc, "2026-10-02 08:40:00")},
		{"over the weekend", "lessons", at(t, loc, "2026-10-02 15:20:00"), at(t, loc, "2026-10-05 08:40:00")},
		{"lunch", "lunch", at(t, loc, "2026-10-01 12:10:00"), at(t, loc, "2026-10-01 13:00:00")},
		{"over half term and an INSET day", "lessons", at(t, loc, "2026-10-23 15:20:00"), at(t, loc, "2026-11-03 08:40:00")},
		{"term ends: none within the horizon", "lessons", at(t, loc, "2026-12-18 15:20:00"), time.Time{}},
		{"before the first term", "lessons", at(t, loc, "2026-08-25 09:00:00"), at(t, loc, "2026-09-03 08:40:00")},
		{"midnight crossing start", "friday-night", at(t, loc, "2026-06-12 21:00:00"), at(t, loc, "2026-06-12 22:00:00")},
		{"midnight crossing end", "friday-night", at(t, loc, "2026-06-12 23:00:00"), at(t, loc, "2026-06-13 02:00:00")},
		{"no change at midnight", "friday-night", at(t, loc, "2026-06-12 23:59:59"), at(t, loc, "2026-06-13 02:00:00")},
		{"a week ahead", "friday-night", at(t, loc, "2026-06-13 02:00:00"), at(t, loc, "2026-06-19 22:00:00")},
		{"full day", "sunday-all-day", at(t, loc, "2026-06-13 12:00:00"), at(t, loc, "2026-06-14 00:00:00")},
		{"overlapping windows merge", "split", at(t, loc, "2026-06-13 10:30:00"), at(t, loc, "2026-06-13 14:00:00")},
		{"unknown period", "nonexistent", at(t, loc, "2026-06-13 10:30:00"), time.Time{}},
		// Across DST.
		{"Friday GMT to Monday BST", "weekdays", at(t, loc, "2026-03-27 16:00:00"), utc(t, "2026-03-30 07:40:00")},
		{"Friday BST to Monday GMT", "weekdays", at(t, loc, "2026-10-23 16:00:00"), utc(t, "2026-10-26 08:40:00")},
		{"spring: start moves to the jump", "shifted", utc(t, "2026-03-29 00:00:00"), utc(t, "2026-03-29 01:00:00")},
		{"spring: end after the jump", "shifted", utc(t, "2026-03-29 01:00:00"), utc(t, "2026-03-29 01:30:00")},
		{"spring: window in the gap skipped", "gap", utc(t, "2026-03-28 12:00:00"), utc(t, "2026-04-05 00:00:00")}, // next Sunday 01:00 BST
		{"fall: first pass", "shifted", utc(t, "2026-10-25 00:00:00"), utc(t, "2026-10-25 00:30:00")},
		{"fall: ends at the transition", "shifted", utc(t, "2026-10-25 00:30:00"), utc(t, "2026-10-25 01:00:00")},
		{"fall: second pass", "shifted", utc(t, "2026-10-25 01:00:00"), utc(t, "2026-10-25 01:30:00")},
		{"fall: second end", "shifted", utc(t, "2026-10-25 01:30:00"), utc(t, "2026-10-25 02:30:00")},
		{"fall: repeated hour stays active", "gap", utc(t, "2026-10-25 00:00:00"), utc(t, "2026-10-25 02:00:00")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := s.NextEdge(tt.period, tt.now)
			if !got.Equal(tt.want) {
				t.Errorf("NextEdge(%q, %s) = %s, want %s", tt.period, tt.now.In(loc).Format(time.DateTime+" MST"),
					got.In(loc).Format(time.DateTime+" MST"), tt.want.In(loc).Format(time.DateTime+" MST"))
			}
			if !got.IsZero() && got.Location() != loc {
				t.Errorf("NextEdge returned a time in %v, want %v", got.Location(), loc)
			}
		})
	}
}

// TestSchedule_NextEdge_bruteForce checks NextEdge against a minute-by-
// minute walk of Active from random instants, in zones with awkward
// transitions: London, Santiago (changes at midnight) and Lord Howe (a
// 30-minute DST shift).
func TestSchedule_NextEdge_bruteForce(t *testing.T) {
	periods := []Period{
		{Name: "lessons", Weekly: []Weekly{mustWeekly(t, "Mon-Fri 08:40-15:20")}, TermTimeOnly: true},
		{Name: "night", Weekly: []Weekly{mustWeekly(t, "Fri-Sun 23:30-00:30"), mustWeekly(t, "Sat-Sun 01:30-02:15")}},
		{Name: "midnight", Weekly: []Weekly{mustWeekly(t, "Sun 00:00-01:00"), mustWeekly(t, "Sat 23:00-24:00")}},
	}
	cal := &Calendar{
		Terms:    []DateRange{mustRange(t, "2026-01-05..2026-03-27"), mustRange(t, "2026-04-13..2026-07-22"), mustRange(t, "2026-09-02..2026-12-18")},
		Closures: []DateRange{mustRange(t, "2026-05-04"), mustRange(t, "2026-05-25..2026-05-29"), mustRange(t, "2026-10-26..2026-10-30")},
	}
	rng := rand.New(rand.NewPCG(1, 2))
	start := utc(t, "2026-01-01 00:00:00")
	for _, zone := range []string{"Europe/London", "America/Santiago", "Australia/Lord_Howe"} {
		loc, err := LoadTimeZone(zone)
		if err != nil {
			t.Fatal(err)
		}
		s, err := NewSchedule(loc, cal, periods)
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 60; i++ {
			now := start.Add(time.Duration(rng.Int64N(int64(365 * 24 * time.Hour))))
			now = now.Truncate(time.Second).Add(time.Duration(rng.IntN(3)-1) * 250 * time.Millisecond)
			for _, p := range periods {
				got := s.NextEdge(p.Name, now)
				want := bruteEdge(s, p.Name, now)
				if !got.Equal(want) {
					t.Errorf("%s: NextEdge(%q, %s) = %s, brute force %s", zone, p.Name, now.In(loc), got.In(loc), want.In(loc))
				}
			}
		}
	}
}

// bruteEdge steps whole minutes (every zone in the test changes offset on a
// minute) and returns the first at which Active differs from now.
func bruteEdge(s *Schedule, name string, now time.Time) time.Time {
	cur := s.Active(name, now)
	for m := now.Truncate(time.Minute).Add(time.Minute); !m.After(now.Add(EdgeHorizon)); m = m.Add(time.Minute) {
		if s.Active(name, m) != cur {
			return m
		}
	}
	return time.Time{}
}

func TestNewSchedule_errors(t *testing.T) {
	loc := london(t)
	lessons := []Weekly{mustWeekly(t, "Mon-Fri 08:40-15:20")}
	tests := []struct {
		name    string
		loc     *time.Location
		cal     *Calendar
		periods []Period
		wantErr string
	}{
		{"no zone", nil, nil, []Period{{Name: "a", Weekly: lessons}}, "no time zone"},
		{"no name", loc, nil, []Period{{Weekly: lessons}}, "no name"},
		{"duplicate", loc, nil, []Period{{Name: "a", Weekly: lessons}, {Name: "a", Weekly: lessons}}, `"a" defined twice`},
		{"no windows", loc, nil, []Period{{Name: "a"}}, "no weekly times"},
		{"no days", loc, nil, []Period{{Name: "a", Weekly: []Weekly{{From: 1, To: 2}}}}, "no valid days"},
		{"bad start", loc, nil, []Period{{Name: "a", Weekly: []Weekly{{Days: 1, From: 1440, To: 2}}}}, "before 24:00"},
		{"bad end", loc, nil, []Period{{Name: "a", Weekly: []Weekly{{Days: 1, From: 1, To: 1441}}}}, "after 24:00"},
		{"term only without terms", loc, nil, []Period{{Name: "a", Weekly: lessons, TermTimeOnly: true}}, "no term days"},
		{"term only, empty calendar", loc, &Calendar{}, []Period{{Name: "a", Weekly: lessons, TermTimeOnly: true}}, "no term days"},
		{"backwards term", loc, &Calendar{Terms: []DateRange{{From: 10, To: 9}}}, nil, "ends before it starts"},
		{"backwards closure", loc, &Calendar{Terms: []DateRange{{From: 1, To: 9}}, Closures: []DateRange{{From: 5, To: 4}}}, nil, "ends before it starts"},
		{"huge calendar", loc, &Calendar{Terms: []DateRange{{From: 0, To: 20000}}}, nil, "more than"},
	}
	for _, tt := range tests {
		_, err := NewSchedule(tt.loc, tt.cal, tt.periods)
		if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("%s: NewSchedule error = %v, want %q", tt.name, err, tt.wantErr)
		}
	}
	// A calendar wholly closed has no term days either.
	_, err := NewSchedule(loc, &Calendar{Terms: []DateRange{{From: 1, To: 9}}, Closures: []DateRange{{From: 0, To: 10}}},
		[]Period{{Name: "a", Weekly: lessons, TermTimeOnly: true}})
	if err != nil {
		// The bitmap exists but is empty: allowed (the period is simply never active).
		t.Errorf("fully closed calendar: %v", err)
	}
}

func TestCapTTL(t *testing.T) {
	now := utc(t, "2026-10-01 07:39:00")
	tests := []struct {
		ttl  uint32
		edge time.Time
		want uint32
	}{
		{300, time.Time{}, 300},                               // no edge within the horizon
		{300, now.Add(time.Hour), 300},                        // edge further than the TTL
		{300, now.Add(60 * time.Second), 60},                  // edge sooner: expire at it
		{300, now.Add(59*time.Second + time.Millisecond), 60}, // round up, not down to 59
		{300, now.Add(500 * time.Millisecond), 1},             // never 0
		{300, now, 1},
		{0, now.Add(time.Minute), 0},
		{30, now.Add(time.Minute), 30},
	}
	for _, tt := range tests {
		if got := CapTTL(tt.ttl, now, tt.edge); got != tt.want {
			t.Errorf("CapTTL(%d, edge in %v) = %d, want %d", tt.ttl, tt.edge.Sub(now), got, tt.want)
		}
	}
}

func TestSchedule_noAlloc(t *testing.T) {
	s := testSchedule(t)
	now := at(t, s.Location(), "2026-10-01 12:00:00")
	if n := testing.AllocsPerRun(100, func() {
		s.Active("lessons", now)
		s.Active("friday-night", now)
		s.Active("nonexistent", now)
	}); n != 0 {
		t.Errorf("Active allocates %v times, want 0", n)
	}
	if n := testing.AllocsPerRun(100, func() { s.NextEdge("lessons", now) }); n != 0 {
		t.Errorf("NextEdge allocates %v times, want 0", n)
	}
}

func BenchmarkSchedule_Active(b *testing.B) {
	s := testSchedule(b)
	now := at(b, s.Location(), "2026-10-01 12:00:00")
	b.ReportAllocs()
	for b.Loop() {
		s.Active("lessons", now)
	}
}

func BenchmarkSchedule_NextEdge(b *testing.B) {
	s := testSchedule(b)
	for _, bc := range []struct{ name, now string }{
		{"same day", "2026-10-01 12:00:00"},
		{"over half term", "2026-10-23 15:20:00"},
		{"holiday: whole horizon", "2026-12-18 15:20:00"},
	} {
		now := at(b, s.Location(), bc.now)
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				s.NextEdge("lessons", now)
			}
		})
	}
}
