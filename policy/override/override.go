package override

import (
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
	"time"

	"gatehouse/blocklists"
)

// Action is what an override does to the names it covers.
type Action string

// Actions.
const (
	Allow Action = "allow"
	Block Action = "block"
)

// MaxDuration bounds how long an override may last: it is a temporary
// exception, not a way round the configuration (which is reviewed and
// versioned).
const MaxDuration = 7 * 24 * time.Hour

// MaxReason bounds the reason's length; it is shown in logs and pages.
const MaxReason = 500

// Override is one temporary exception to a group's policy. Exactly one of
// Category and Domain is set. Domain is canonical without the trailing dot
// ("www.youtube.com") and covers the name and every name under it.
type Override struct {
	ID        string    `json:"id"`
	Group     string    `json:"group"`
	Action    Action    `json:"action"`
	Category  string    `json:"category,omitempty"`
	Domain    string    `json:"domain,omitempty"`
	Until     time.Time `json:"until"`
	Reason    string    `json:"reason"`
	CreatedBy string    `json:"created_by"`
	Created   time.Time `json:"created"`
	// Cancelled is when it was cancelled (zero: not cancelled), and
	// CancelledBy by whom.
	Cancelled   time.Time `json:"cancelled,omitzero"`
	CancelledBy string    `json:"cancelled_by,omitempty"`
}

// Active reports whether o is in force at now: created, not cancelled, and
// not yet expired.
func (o Override) Active(now time.Time) bool {
	return o.Cancelled.IsZero() && now.Before(o.Until) && !now.Before(o.Created)
}

// Ended is when o stopped being in force: when it was cancelled or expired,
// whichever came first.
func (o Override) Ended() time.Time {
	if !o.Cancelled.IsZero() && o.Cancelled.Before(o.Until) {
		return o.Cancelled
	}
	return o.Until
}

// Target is what o covers, for people: "category gaming" or
// "domain www.youtube.com".
func (o Override) Target() string {
	if o.Category != "" {
		return "category " + o.Category
	}
	return "domain " + o.Domain
}

// String describes o in one line.
func (o Override) String() string {
	return fmt.Sprintf("override %s: %s %s for group %s until %s (%s, by %s)",
		o.ID, o.Action, o.Target(), o.Group, o.Until.Format(time.RFC3339), o.Reason, o.CreatedBy)
}

// Request asks for a new override. By names who asks (an OS or dashboard
// user); Until is absolute (see ParseUntil for "14:30", "2h", "today").
type Request struct {
	Group    string    `json:"group"`
	Action   Action    `json:"action"`
	Category string    `json:"category,omitempty"`
	Domain   string    `json:"domain,omitempty"`
	Until    time.Time `json:"until"`
	Reason   string    `json:"reason"`
	By       string    `json:"by"`
}

// Policy is what validation needs to know of the policy in force. The
// policy package's Snapshot implements it.
type Policy interface {
	// HasGroup reports whether a group of that name is configured.
	HasGroup(name string) bool
	// LockedListed returns the name of a locked list (iwf, ctiru) that
	// lists domain (canonical, with the trailing dot) or a name above it,
	// and whether there is one.
	LockedListed(domain string) (list string, ok bool)
}

// Errors callers can tell apart (the control API maps them to HTTP status
// codes).
var (
	// ErrInvalid: the request is malformed or not allowed.
	ErrInvalid = errors.New("invalid override")
	// ErrLocked: the request touches a locked category or a name a
	// locked list holds. It wraps blocklists.ErrLocked too.
	ErrLocked = blocklists.ErrLocked
	// ErrNotFound: no override with that ID.
	ErrNotFound = errors.New("no such override")
)

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
}

// Validate checks r against p at now and returns it normalised: category
// and domain canonical, reason trimmed. It never returns a request that
// would relax a locked category.
func Validate(r Request, p Policy, now time.Time) (Request, error) {
	r.Group = strings.TrimSpace(r.Group)
	r.Reason = strings.TrimSpace(r.Reason)
	r.By = strings.TrimSpace(r.By)
	r.Category = strings.TrimSpace(strings.ToLower(r.Category))
	r.Domain = strings.TrimSpace(r.Domain)
	switch {
	case r.Group == "":
		return r, invalid("a group is required")
	case p == nil || !p.HasGroup(r.Group):
		return r, invalid("no group %q is configured", r.Group)
	case r.Action != Allow && r.Action != Block:
		return r, invalid("action must be %q or %q, not %q", Allow, Block, r.Action)
	case (r.Category == "") == (r.Domain == ""):
		return r, invalid("give exactly one of a category or a domain")
	case r.Reason == "":
		return r, invalid("a reason is required (it is recorded with who asked)")
	case len(r.Reason) > MaxReason:
		return r, invalid("the reason is longer than %d bytes", MaxReason)
	case strings.ContainsAny(r.Reason, "\x00\r\n"):
		return r, invalid("the reason must be one line")
	case r.By == "":
		return r, invalid("who asks is required")
	case r.Until.IsZero():
		return r, invalid("an end time is required")
	case !r.Until.After(now):
		return r, invalid("the end time %s is not in the future", r.Until.Format(time.RFC3339))
	case r.Until.Sub(now) > MaxDuration:
		return r, invalid("an override may last at most %s; %s is too far ahead", MaxDuration, r.Until.Format(time.RFC3339))
	}
	if r.Category != "" {
		c, err := blocklists.ParseCategory(r.Category)
		if err != nil {
			return r, fmt.Errorf("%w: %w", ErrInvalid, err)
		}
		if err := blocklists.CheckOverride(c); err != nil {
			return r, fmt.Errorf("override refused: %w", err)
		}
		r.Category = c.String()
		return r, nil
	}
	name, err := blocklists.Canonical(r.Domain)
	if err != nil {
		return r, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	if strings.HasPrefix(name, "*") {
		return r, invalid("domain %q: give the domain itself; an override covers every name under it", r.Domain)
	}
	if r.Action == Allow {
		if list, ok := p.LockedListed(name); ok {
			return r, fmt.Errorf("override refused: %s is in the locked list %s: %w", strings.TrimSuffix(name, "."), list, blocklists.ErrLocked)
		}
	}
	r.Domain = strings.TrimSuffix(name, ".")
	return r, nil
}

// idAlphabet has no characters people confuse when reading an ID aloud or
// copying it from a screen (no 0/o, 1/l/i).
const idAlphabet = "abcdefghjkmnpqrstuvwxyz23456789"

// idLen gives 31^6 (about 887 million) IDs: collisions are checked anyway.
const idLen = 6

// newID returns a random short ID such as "k7q2xm".
func newID() (string, error) {
	var b [idLen]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("override id: %w", err)
	}
	for i := range b {
		b[i] = idAlphabet[int(b[i])%len(idAlphabet)]
	}
	return string(b[:]), nil
}
