package schedule

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	// Embedded zone data (~450 kB), so LoadLocation works on a minimal Pi
	// image with no /usr/share/zoneinfo.
	_ "time/tzdata"
)

// DefaultTimeZone is the zone used when the config names none.
const DefaultTimeZone = "Europe/London"

// EdgeHorizon bounds how far ahead NextEdge looks.
const EdgeHorizon = 14 * 24 * time.Hour

// maxCalendarDays bounds a calendar's span from its first term day to its
// last (about ten years), which bounds the compiled term bitmap.
const maxCalendarDays = 3660

// LoadTimeZone loads an IANA zone by name, DefaultTimeZone when name is
// empty. Zone data is embedded, so this works without a system zoneinfo.
func LoadTimeZone(name string) (*time.Location, error) {
	if name == "" {
		name = DefaultTimeZone
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, fmt.Errorf("loading time zone %q: %w", name, err)
	}
	return loc, nil
}

// ClockTime is a local wall-clock time of day in minutes since midnight,
// 0 (00:00) to 1440 (24:00, only meaningful as a window's end).
type ClockTime uint16

// Clock returns the ClockTime h:m.
func Clock(h, m int) ClockTime { return ClockTime(h*60 + m) }

func (c ClockTime) String() string { return fmt.Sprintf("%02d:%02d", c/60, c%60) }

// ParseClock parses "HH:MM" (24-hour; the hour may have one digit; "24:00"
// is the end of the day).
func ParseClock(s string) (ClockTime, error) {
	hs, ms, ok := strings.Cut(s, ":")
	if !ok || len(hs) < 1 || len(hs) > 2 || len(ms) != 2 {
		return 0, fmt.Errorf("parsing clock time %q: want HH:MM", s)
	}
	h, err1 := strconv.ParseUint(hs, 10, 8)
	m, err2 := strconv.ParseUint(ms, 10, 8)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("parsing clock time %q: want HH:MM", s)
	}
	if m > 59 || h > 24 || h == 24 && m != 0 {
		return 0, fmt.Errorf("parsing clock time %q: out of range 00:00 to 24:00", s)
	}
	return ClockTime(h*60 + m), nil
}

// Weekdays is a set of days of the week, bit i for time.Weekday(i).
type Weekdays uint8

// Days returns the set of the given days.
func Days(days ...time.Weekday) Weekdays {
	var w Weekdays
	for _, d := range days {
		w |= 1 << uint(d)
	}
	return w
}

// Has reports whether d is in the set.
func (w Weekdays) Has(d time.Weekday) bool { return w&(1<<uint(d)) != 0 }

var dayNames = [7]string{"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"}

// String writes the set Monday first, with runs as ranges: "Mon-Fri",
// "Sat-Sun", "Mon,Wed,Fri".
func (w Weekdays) String() string {
	if w == 0 {
		return "none"
	}
	var parts []string
	for i := 0; i < 7; {
		d := time.Weekday((i + 1) % 7) // Monday first
		if !w.Has(d) {
			i++
			continue
		}
		j := i
		for j+1 < 7 && w.Has(time.Weekday((j+2)%7)) {
			j++
		}
		if j > i {
			parts = append(parts, dayNames[d]+"-"+dayNames[(j+1)%7])
		} else {
			parts = append(parts, dayNames[d])
		}
		i = j + 1
	}
	return strings.Join(parts, ",")
}

// ParseWeekdays parses a comma-separated list of days and ranges: "Mon-Fri",
// "Mon,Wed,Fri", "Sat-Sun", "Fri-Mon" (a range may wrap past Sunday). Days
// are three-letter abbreviations or full English names, in any case.
func ParseWeekdays(s string) (Weekdays, error) {
	var w Weekdays
	for item := range strings.SplitSeq(s, ",") {
		item = strings.TrimSpace(item)
		from, to, isRange := strings.Cut(item, "-")
		a, err := parseDay(from)
		if err != nil {
			return 0, fmt.Errorf("parsing weekdays %q: %w", s, err)
		}
		b := a
		if isRange {
			if b, err = parseDay(to); err != nil {
				return 0, fmt.Errorf("parsing weekdays %q: %w", s, err)
			}
		}
		for d := a; ; d = (d + 1) % 7 {
			w |= 1 << uint(d)
			if d == b {
				break
			}
		}
	}
	return w, nil
}

func parseDay(s string) (time.Weekday, error) {
	s = strings.TrimSpace(s)
	for d := time.Sunday; d <= time.Saturday; d++ {
		if strings.EqualFold(s, dayNames[d]) || strings.EqualFold(s, d.String()) {
			return d, nil
		}
	}
	if s == "" {
		return 0, errors.New("empty day")
	}
	return 0, fmt.Errorf("unknown day %q (want Mon, Tue, Wed, Thu, Fri, Sat, Sun or a full name)", s)
}

// Weekly is a window of wall-clock time on some days of the week:
// [From, To) on each day in Days. To <= From crosses midnight (the window
// belongs to the day it starts on); From == To is 24 hours.
type Weekly struct {
	Days     Weekdays
	From, To ClockTime
}

func (w Weekly) String() string { return w.Days.String() + " " + w.From.String() + "-" + w.To.String() }

// ParseWeekly parses "DAYS HH:MM-HH:MM", e.g. "Mon-Fri 08:40-15:20".
func ParseWeekly(s string) (Weekly, error) {
	f := strings.Fields(s)
	if len(f) != 2 {
		return Weekly{}, fmt.Errorf("parsing weekly time %q: want DAYS HH:MM-HH:MM", s)
	}
	days, err := ParseWeekdays(f[0])
	if err != nil {
		return Weekly{}, err
	}
	fs, ts, ok := strings.Cut(f[1], "-")
	if !ok {
		return Weekly{}, fmt.Errorf("parsing weekly time %q: want DAYS HH:MM-HH:MM", s)
	}
	from, err := ParseClock(fs)
	if err != nil {
		return Weekly{}, err
	}
	to, err := ParseClock(ts)
	if err != nil {
		return Weekly{}, err
	}
	w := Weekly{Days: days, From: from, To: to}
	return w, w.validate()
}

func (w Weekly) validate() error {
	switch {
	case w.Days == 0 || w.Days >= 1<<7:
		return fmt.Errorf("weekly time %s: no valid days", w)
	case w.From >= 1440:
		return fmt.Errorf("weekly time %s: start must be before 24:00", w)
	case w.To > 1440:
		return fmt.Errorf("weekly time %s: end after 24:00", w)
	}
	return nil
}

// Date is a civil date (no time, no zone) as days since 1970-01-01.
type Date int32

// DateOf returns the Date y-m-d.
func DateOf(y int, m time.Month, d int) Date {
	return Date(floorDiv(time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Unix(), 86400))
}

// ParseDate parses "YYYY-MM-DD".
func ParseDate(s string) (Date, error) {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return 0, fmt.Errorf("parsing date %q: want YYYY-MM-DD: %w", s, err)
	}
	return DateOf(t.Date()), nil
}

func (d Date) String() string { return time.Unix(int64(d)*86400, 0).UTC().Format(time.DateOnly) }

// Weekday returns d's day of the week.
func (d Date) Weekday() time.Weekday { return time.Weekday(floorMod(int64(d)+4, 7)) } // 1970-01-01 was a Thursday

// DateRange is the dates From to To, inclusive at both ends.
type DateRange struct{ From, To Date }

// Contains reports whether d is in r.
func (r DateRange) Contains(d Date) bool { return r.From <= d && d <= r.To }

func (r DateRange) String() string {
	if r.From == r.To {
		return r.From.String()
	}
	return r.From.String() + ".." + r.To.String()
}

// ParseDateRange parses "YYYY-MM-DD..YYYY-MM-DD" (inclusive) or a single
// date "YYYY-MM-DD" (one day, e.g. an INSET day).
func ParseDateRange(s string) (DateRange, error) {
	fs, ts, isRange := strings.Cut(s, "..")
	from, err := ParseDate(strings.TrimSpace(fs))
	if err != nil {
		return DateRange{}, err
	}
	to := from
	if isRange {
		if to, err = ParseDate(strings.TrimSpace(ts)); err != nil {
			return DateRange{}, err
		}
	}
	if to < from {
		return DateRange{}, fmt.Errorf("parsing date range %q: ends before it starts", s)
	}
	return DateRange{From: from, To: to}, nil
}

// Calendar is a school's year: term dates and the closures (holidays,
// INSET days) inside them. Dates are civil dates in the schedule's zone.
type Calendar struct {
	Terms    []DateRange
	Closures []DateRange
}

// InTerm reports whether d is a term day: in some term and in no closure.
func (c *Calendar) InTerm(d Date) bool {
	if c == nil {
		return false
	}
	in := false
	for _, r := range c.Terms {
		in = in || r.Contains(d)
	}
	for _, r := range c.Closures {
		in = in && !r.Contains(d)
	}
	return in
}

// Period is a named set of weekly windows, e.g. "lessons" (Mon-Fri
// 08:40-15:20, term time only) or "evenings".
type Period struct {
	Name         string
	Weekly       []Weekly
	TermTimeOnly bool
}

// Schedule answers "is this period in force now?" for a fixed set of named
// periods of the school week (lessons, lunch, evenings), a term calendar and
// a time zone. It is a pure value: immutable after NewSchedule, safe for
// concurrent use, no goroutines or timers; callers pass now.
//
// Semantics, spelled out because they are easy to get subtly wrong:
//
//   - Wall clock. A Weekly window [From, To) is active while the local wall
//     clock reads a time in it, on one of its days. To <= From means the
//     window crosses midnight and belongs to the day it starts on: "Fri
//     22:00-02:00" is active from Friday 22:00 to Saturday 02:00, and not
//     in the early hours of Friday. From == To is a full 24 hours.
//   - Spring forward (Europe/London: last Sunday of March, 01:00 GMT becomes
//     02:00 BST). Wall times 01:00-01:59 do not exist that day, so a window
//     01:30-02:30 is active only from 02:00 to 02:30 BST, and a window lying
//     wholly in the gap (01:00-02:00) is not active at all that day.
//   - Fall back (last Sunday of October, 02:00 BST becomes 01:00 GMT). Wall
//     times 01:00-01:59 happen twice, and a window covering them is active
//     both times: 01:30-02:30 is active 01:30-02:00 BST, inactive for the
//     first half of the repeated hour (01:00-01:30 GMT), then active again
//     01:30-02:30 GMT.
//   - Term time. Term and closure ranges are civil dates in the schedule's
//     zone, inclusive at both ends. A day is a term day if some term contains
//     it and no closure (holiday, INSET day) does: closures override terms.
//     A TermTimeOnly period is active only in windows that start on a term
//     day (so a Friday-night window on the last day of term runs into
//     Saturday); outside any term it is inactive.
type Schedule struct {
	loc     *time.Location
	periods map[string]*period
	term    termDays
}

type period struct {
	windows  []window
	termOnly bool
	// bounds lists, sorted and without repeats, the seconds after local
	// midnight where some window starts or ends: the only wall times at
	// which Active can change (besides zone transitions).
	bounds []int64
}

type window struct {
	days     Weekdays
	from, to int64 // seconds after local midnight; to in (0, 86400]
	wraps    bool  // crosses midnight: [from, 86400) on day d, [0, to) on d+1
}

// termDays is a bitmap of term days from first onwards.
type termDays struct {
	first Date
	bits  []uint64
}

func (t *termDays) has(d Date) bool {
	i := int64(d) - int64(t.first)
	return i >= 0 && i < int64(len(t.bits))*64 && t.bits[i/64]&(1<<(i%64)) != 0
}

// NewSchedule validates and compiles a schedule. cal may be nil when no
// period is TermTimeOnly.
func NewSchedule(loc *time.Location, cal *Calendar, periods []Period) (*Schedule, error) {
	if loc == nil {
		return nil, errors.New("compiling schedule: no time zone")
	}
	s := &Schedule{loc: loc, periods: make(map[string]*period, len(periods))}
	needTerms := false
	for _, p := range periods {
		if p.Name == "" {
			return nil, errors.New("compiling schedule: a period has no name")
		}
		if _, dup := s.periods[p.Name]; dup {
			return nil, fmt.Errorf("compiling schedule: period %q defined twice", p.Name)
		}
		if len(p.Weekly) == 0 {
			return nil, fmt.Errorf("compiling schedule: period %q has no weekly times", p.Name)
		}
		cp := &period{termOnly: p.TermTimeOnly}
		needTerms = needTerms || p.TermTimeOnly
		seen := map[int64]bool{}
		for _, w := range p.Weekly {
			if err := w.validate(); err != nil {
				return nil, fmt.Errorf("compiling schedule: period %q: %w", p.Name, err)
			}
			cw := window{days: w.Days, from: int64(w.From) * 60, to: int64(w.To) * 60, wraps: w.To <= w.From}
			cp.windows = append(cp.windows, cw)
			for _, b := range []int64{cw.from, cw.to % 86400} {
				if !seen[b] {
					seen[b] = true
					cp.bounds = append(cp.bounds, b)
				}
			}
		}
		slices.Sort(cp.bounds)
		s.periods[p.Name] = cp
	}
	if cal != nil {
		if err := s.term.compile(cal); err != nil {
			return nil, fmt.Errorf("compiling schedule: %w", err)
		}
	}
	if needTerms && len(s.term.bits) == 0 {
		return nil, errors.New("compiling schedule: a period is term-time only but the calendar has no term days")
	}
	return s, nil
}

func (t *termDays) compile(cal *Calendar) error {
	for _, rs := range [][]DateRange{cal.Terms, cal.Closures} {
		for _, r := range rs {
			if r.To < r.From {
				return fmt.Errorf("date range %s..%s ends before it starts", r.From, r.To)
			}
		}
	}
	if len(cal.Terms) == 0 {
		return nil
	}
	first, last := cal.Terms[0].From, cal.Terms[0].To
	for _, r := range cal.Terms {
		first, last = min(first, r.From), max(last, r.To)
	}
	if n := int64(last) - int64(first) + 1; n > maxCalendarDays {
		return fmt.Errorf("calendar spans %d days from %s to %s, more than %d", n, first, last, maxCalendarDays)
	}
	t.first = first
	t.bits = make([]uint64, (int64(last)-int64(first))/64+1)
	set := func(r DateRange, on bool) {
		for d := max(r.From, first); d <= min(r.To, last); d++ {
			i := int64(d) - int64(first)
			if on {
				t.bits[i/64] |= 1 << (i % 64)
			} else {
				t.bits[i/64] &^= 1 << (i % 64)
			}
		}
	}
	for _, r := range cal.Terms {
		set(r, true)
	}
	for _, r := range cal.Closures {
		set(r, false)
	}
	return nil
}

// Location returns the schedule's time zone.
func (s *Schedule) Location() *time.Location { return s.loc }

// Has reports whether a period of that name exists.
func (s *Schedule) Has(name string) bool { _, ok := s.periods[name]; return ok }

// Active reports whether the named period is in force at now (false for an
// unknown name). It does not allocate.
func (s *Schedule) Active(name string, now time.Time) bool {
	p := s.periods[name]
	if p == nil {
		return false
	}
	return s.active(p, now)
}

// wall returns now's local civil day and seconds into it.
func (s *Schedule) wall(now time.Time) (Date, int64, int) {
	_, off := now.In(s.loc).Zone()
	w := now.Unix() + int64(off)
	day := floorDiv(w, 86400)
	return Date(day), w - day*86400, off
}

func (s *Schedule) active(p *period, now time.Time) bool {
	day, sec, _ := s.wall(now)
	for i := range p.windows {
		w := &p.windows[i]
		if !w.wraps {
			if w.from <= sec && sec < w.to && w.days.Has(day.Weekday()) && s.dayOK(p, day) {
				return true
			}
			continue
		}
		if sec >= w.from && w.days.Has(day.Weekday()) && s.dayOK(p, day) {
			return true
		}
		if sec < w.to && w.days.Has((day - 1).Weekday()) && s.dayOK(p, day-1) {
			return true
		}
	}
	return false
}

func (s *Schedule) dayOK(p *period, d Date) bool { return !p.termOnly || s.term.has(d) }

// NextEdge returns the first instant after now at which Active(name)
// changes, in the schedule's zone; the zero Time if it does not change
// within EdgeHorizon or the name is unknown. Callers cap answer TTLs with
// it (see CapTTL). It does not allocate.
//
// The search walks the instants where a change is possible: each window
// boundary on the local wall clock, mapped to an instant with the UTC
// offset in force, and each zone transition (where the wall clock jumps),
// evaluating Active exactly at each. So it honours the DST semantics of
// Active: a boundary inside the spring-forward gap moves to the jump, and
// a boundary in the repeated fall-back hour happens twice.
func (s *Schedule) NextEdge(name string, now time.Time) time.Time {
	p := s.periods[name]
	if p == nil || len(p.bounds) == 0 {
		return time.Time{}
	}
	cur := s.active(p, now)
	limit := now.Add(EdgeHorizon)
	t := now
	for {
		day, sec, off := s.wall(t)
		// The next boundary strictly after the wall time sec (whole seconds:
		// a fractional now has already passed the boundary at its second).
		next := int64(-1)
		for _, b := range p.bounds {
			if b > sec {
				next = int64(day)*86400 + b
				break
			}
		}
		if next < 0 {
			next = int64(day+1)*86400 + p.bounds[0]
		}
		c := time.Unix(next-int64(off), 0)
		// If the zone changes first, the wall clock jumps there: that
		// instant is a candidate, and boundaries are recomputed after it.
		if _, end := t.In(s.loc).ZoneBounds(); !end.IsZero() && !end.After(c) {
			c = end
		}
		if c.After(limit) {
			return time.Time{}
		}
		if s.active(p, c) != cur {
			return c.In(s.loc)
		}
		t = c
	}
}

// CapTTL caps ttl (seconds) so that an answer given at now expires by edge,
// the next schedule edge that can change its decision: at most the whole
// seconds to edge rounded up, and at least 1. A zero edge (none within the
// horizon) leaves ttl unchanged. With this cap no client holds a decision
// made before an edge for more than a second past it.
func CapTTL(ttl uint32, now, edge time.Time) uint32 {
	if edge.IsZero() {
		return ttl
	}
	d := edge.Sub(now)
	if d <= time.Second {
		return min(ttl, 1)
	}
	secs := (d + time.Second - 1) / time.Second
	if secs < time.Duration(ttl) {
		return uint32(secs)
	}
	return ttl
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && (a < 0) != (b < 0) {
		q--
	}
	return q
}

func floorMod(a, b int64) int64 { return a - floorDiv(a, b)*b }

// MarshalText and UnmarshalText let config files hold weekly windows and
// date ranges in the same text form ParseWeekly and ParseDateRange read.

// MarshalText implements encoding.TextMarshaler.
func (w Weekly) MarshalText() ([]byte, error) { return []byte(w.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (w *Weekly) UnmarshalText(b []byte) error {
	x, err := ParseWeekly(string(b))
	if err != nil {
		return err
	}
	*w = x
	return nil
}

// MarshalText implements encoding.TextMarshaler.
func (r DateRange) MarshalText() ([]byte, error) { return []byte(r.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (r *DateRange) UnmarshalText(b []byte) error {
	x, err := ParseDateRange(string(b))
	if err != nil {
		return err
	}
	*r = x
	return nil
}
