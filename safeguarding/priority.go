package safeguarding

import (
	"fmt"
	"strings"
	"time"

	"gatehouse/config"
)

// Priority is how urgent a concern is. The zero value is None: the
// category raises no concerns.
type Priority uint8

// Priorities, least urgent first, so they compare with < and >.
const (
	None Priority = iota
	Low
	Medium
	High
	Critical
	numPriorities
)

var priorityNames = [numPriorities]string{"none", "low", "medium", "high", "critical"}

// Priorities lists the priorities that raise concerns, most urgent first:
// the order of the queue.
func Priorities() []Priority { return []Priority{Critical, High, Medium, Low} }

// String returns the priority's name, e.g. "critical".
func (p Priority) String() string {
	if p < numPriorities {
		return priorityNames[p]
	}
	return fmt.Sprintf("priority(%d)", uint8(p))
}

// ParsePriority is the inverse of String.
func ParsePriority(s string) (Priority, error) {
	for p := None; p < numPriorities; p++ {
		if priorityNames[p] == s {
			return p, nil
		}
	}
	return None, fmt.Errorf("unknown priority %q (want one of %s)", s, strings.Join(priorityNames[:], ", "))
}

// MarshalText implements encoding.TextMarshaler.
func (p Priority) MarshalText() ([]byte, error) {
	if p >= numPriorities {
		return nil, fmt.Errorf("invalid priority %d", uint8(p))
	}
	return []byte(p.String()), nil
}

// UnmarshalText implements encoding.TextUnmarshaler.
func (p *Priority) UnmarshalText(b []byte) error {
	v, err := ParsePriority(string(b))
	if err != nil {
		return err
	}
	*p = v
	return nil
}

// Duration is a time.Duration written as text ("10m", "7d") in settings,
// so the stored JSON and the audit log read as people write them.
type Duration time.Duration

// MarshalText implements encoding.TextMarshaler.
func (d Duration) MarshalText() ([]byte, error) {
	return []byte(config.FormatDuration(time.Duration(d))), nil
}

// UnmarshalText implements encoding.TextUnmarshaler.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := config.ParseDuration(string(b))
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

// Speed is how soon a route delivers.
type Speed string

// Speeds.
const (
	Immediate Speed = "immediate"
	Hourly    Speed = "hourly" // one digest per recipient and channel every hour
	Daily     Speed = "daily"  // one digest per recipient and channel every day
)

// When says in which hours a route applies.
type When string

// Route times.
const (
	Always      When = "always"
	SchoolHours When = "school-hours"
	OutOfHours  When = "out-of-hours"
)

// Team is what a recipient does: safeguarding team, technicians or
// pastoral staff.
type Team string

// Teams.
const (
	TeamSafeguarding Team = "safeguarding" // the DSL and deputies
	TeamTechnician   Team = "technician"
	TeamPastoral     Team = "pastoral"
)

// OnCallRecipient is the recipient name a route uses for whoever the
// on-call rota names at the time.
const OnCallRecipient = "on-call"
