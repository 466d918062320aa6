package dashboard

import (
	"context"
	"time"
)

// Control changes the running site: the buttons of the lists and policy
// page. The agreed contract with the control plane (package
// policy/override); until that package lands the override types are
// mirrored here with the same fields.
type Control interface {
	ReloadLists(ctx context.Context) error
	ListOverrides(ctx context.Context) ([]Override, error)
	CreateOverride(ctx context.Context, r OverrideRequest) (Override, error)
	CancelOverride(ctx context.Context, id, by string) error
}

// OverrideAction is "allow" or "block".
type OverrideAction string

// Override actions.
const (
	OverrideAllow OverrideAction = "allow"
	OverrideBlock OverrideAction = "block"
)

// Override is a temporary change to one group's policy.
type Override struct {
	ID, Group   string
	Action      OverrideAction
	Category    string
	Domain      string
	Until       time.Time
	Reason      string
	CreatedBy   string
	Created     time.Time
	Cancelled   time.Time
	CancelledBy string
}

// OverrideRequest asks for an override.
type OverrideRequest struct {
	Group    string
	Action   OverrideAction
	Category string
	Domain   string
	Until    time.Time
	Reason   string
	By       string
}
