package override

import (
	"fmt"
	"strings"
	"time"
)

// ParseUntil reads when an override should end, as a technician types it:
//
//	14:30             today at 14:30 local time (an error once it has passed)
//	2h, 90m, 1h30m    that long from now
//	today             the end of today (midnight local time)
//	tomorrow          the end of tomorrow
//	2026-11-23 14:30  that local date and time
//	RFC 3339          an exact instant (2026-11-23T14:30:00Z)
//
// loc is the school's time zone (config timezone).
func ParseUntil(s string, now time.Time, loc *time.Location) (time.Time, error) {
	s = strings.TrimSpace(s)
	local := now.In(loc)
	midnight := func(days int) time.Time {
		y, m, d := local.Date()
		return time.Date(y, m, d+days, 0, 0, 0, 0, loc)
	}
	switch strings.ToLower(s) {
	case "":
		return time.Time{}, fmt.Errorf("an end time is required (14:30, 2h, today)")
	case "today":
		return midnight(1), nil
	case "tomorrow":
		return midnight(2), nil
	}
	if d, err := time.ParseDuration(s); err == nil {
		if d <= 0 {
			return time.Time{}, fmt.Errorf("%q: the duration must be positive", s)
		}
		return now.Add(d), nil
	}
	if t, err := time.ParseInLocation("15:04", s, loc); err == nil {
		y, m, d := local.Date()
		at := time.Date(y, m, d, t.Hour(), t.Minute(), 0, 0, loc)
		if !at.After(now) {
			return time.Time{}, fmt.Errorf("%q has already passed today (give a date for another day: 2006-01-02 15:04)", s)
		}
		return at, nil
	}
	if t, err := time.ParseInLocation("2006-01-02 15:04", s, loc); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("%q is not an end time (want 14:30, 2h, today, tomorrow, 2006-01-02 15:04 or RFC 3339)", s)
}
