package deliver

import (
	"strings"
	"unicode"
)

// Message is one thing to tell someone, in a form every channel can
// render.
type Message struct {
	// Key is the idempotency key: the same key means the same message.
	Key string `json:"key"`
	// Kind is alert, digest, escalation, report or test.
	Kind     string `json:"kind"`
	Priority string `json:"priority,omitempty"`
	Subject  string `json:"subject"`
	// Facts are the labelled values a card shows (Device, Group, ...).
	Facts []Fact `json:"facts,omitempty"`
	// Body is the full plain text (email, the JSON webhook).
	Body string `json:"body"`
	// Notice is the caveat every alert carries: a DNS lookup is an
	// indicator, not proof.
	Notice   string  `json:"notice"`
	Concerns []int64 `json:"concerns,omitempty"`
}

// Fact is one labelled value.
type Fact struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// oneLine replaces control characters (CR, LF, NUL...) with spaces: for
// header values, syslog and single-line fields.
func oneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
}
