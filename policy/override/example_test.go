package override_test

import (
	"fmt"
	"time"

	_ "time/tzdata" // Europe/London whatever the machine has

	"gatehouse/policy/override"
)

// A technician types when an override should end; ParseUntil turns it into
// an instant in the school's time zone.
func ExampleParseUntil() {
	london, _ := time.LoadLocation("Europe/London")
	now := time.Date(2026, 11, 23, 10, 5, 0, 0, london) // a Monday morning
	for _, s := range []string{"14:30", "90m", "today", "2026-11-24 08:40"} {
		t, err := override.ParseUntil(s, now, london)
		if err != nil {
			fmt.Println(s, "->", err)
			continue
		}
		fmt.Println(s, "->", t.In(london).Format("Mon 2 Jan 15:04"))
	}
	_, err := override.ParseUntil("09:00", now, london)
	fmt.Println(err)
	// Output:
	// 14:30 -> Mon 23 Nov 14:30
	// 90m -> Mon 23 Nov 11:35
	// today -> Tue 24 Nov 00:00
	// 2026-11-24 08:40 -> Tue 24 Nov 08:40
	// "09:00" has already passed today (give a date for another day: 2006-01-02 15:04)
}
