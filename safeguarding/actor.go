package safeguarding

import (
	"errors"
	"slices"
)

// Actor is the account doing something, as the dashboard (or CLI)
// authenticated it. The engine trusts the caller for who the actor is and
// checks what the actor's roles allow.
type Actor struct {
	Name  string
	Roles []string
}

// Roles. Admin, technician, safeguarding and viewer are the dashboard's
// account roles; approver is a capability added to an account (usually a
// senior leader or the DSL, never the same person as every proposer) that
// lets it approve or reject proposed changes to safeguarding settings.
const (
	RoleAdmin        = "admin"
	RoleTechnician   = "technician"
	RoleSafeguarding = "safeguarding"
	RoleViewer       = "viewer"
	RoleApprover     = "approver"
)

// Has reports whether the actor holds role.
func (a Actor) Has(role string) bool { return slices.Contains(a.Roles, role) }

// Errors the API returns (wrapped with details).
var (
	ErrForbidden = errors.New("not allowed")
	ErrNotFound  = errors.New("not found")
	ErrConflict  = errors.New("conflict")
	ErrInvalid   = errors.New("invalid")
)

func (a Actor) valid() error {
	if a.Name == "" {
		return errors.Join(ErrForbidden, errors.New("no actor name"))
	}
	return nil
}
