package model

import "time"

// DefaultProjectID is the project created on a control plane's first start.
const DefaultProjectID = "default"

// Project is a tenant: every agent, application, deployment and key belongs
// to exactly one.
type Project struct {
	ID          string
	Description string
	// StaticAdmin is the bootstrap user that signs in with a password.
	StaticAdmin StaticAdmin
	// UserGroups maps SSO teams or groups to roles.
	UserGroups []UserGroup
	CreatedAt  time.Time
	UpdatedAt  time.Time
	// Revision increases on every write; updates carrying a stale revision
	// are refused so no write is lost.
	Revision int64
}

// StaticAdmin is a password user kept for bootstrap and break-glass access.
type StaticAdmin struct {
	Username     string
	PasswordHash string // bcrypt
	Disabled     bool
}

// UserGroup grants a role to the members of an SSO team or group.
type UserGroup struct {
	SSOGroup string
	Role     Role
}

// Role is what a caller may do within a project. Roles are ordered: an
// admin may do all an editor may, an editor all a viewer may.
type Role string

// The built-in roles.
const (
	RoleViewer Role = "viewer"
	RoleEditor Role = "editor"
	RoleAdmin  Role = "admin"
)

var roleRank = map[Role]int{RoleViewer: 1, RoleEditor: 2, RoleAdmin: 3}

// Valid reports whether r is a known role.
func (r Role) Valid() bool { return roleRank[r] > 0 }

// Allows reports whether a caller holding r may do what needs the role want.
func (r Role) Allows(want Role) bool { return roleRank[r] > 0 && roleRank[r] >= roleRank[want] }

// ParseRole returns the role named s, or a KindInvalid error listing the
// valid ones.
func ParseRole(s string) (Role, error) {
	r := Role(s)
	if !r.Valid() {
		return "", Invalid("unknown role %q: use viewer, editor or admin", s)
	}
	return r, nil
}
