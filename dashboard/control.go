package dashboard

import (
	"context"

	"gatehouse/policy/override"
)

// Control changes the running site: the buttons of the lists and policy
// page. It is the contract shared with the control plane (package
// policy/override and the site's methods in cmd/gatehouse); the CLI's
// "gatehouse override" and "gatehouse lists reload" reach the same
// methods over the control socket.
type Control interface {
	ReloadLists(ctx context.Context) error
	ListOverrides(ctx context.Context) ([]override.Override, error)
	CreateOverride(ctx context.Context, r override.Request) (override.Override, error)
	CancelOverride(ctx context.Context, id, by string) error
}

// ListAccepter is the optional part of Control behind the status page's
// "Accept" button: it puts a downloaded list's held download (one the
// sanity checks rejected as far smaller than the copy in force) in force.
// by names the account, for the log. "gatehouse lists accept" reaches the
// same method over the control socket.
type ListAccepter interface {
	AcceptList(ctx context.Context, name, by string) error
}
