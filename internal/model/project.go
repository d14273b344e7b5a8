package model

import (
	"strings"
	"time"
)

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
	// ConfigHash is the password hash last taken from the ControlPlane
	// file: a password changed through the API stays until the file's
	// hash changes.
	ConfigHash string
}

// Subject is the static admin's subject, as sessions and audit records
// name it.
func (a StaticAdmin) Subject() string { return "user:" + a.Username }

// Is reports whether subject is the static admin's.
func (a StaticAdmin) Is(subject string) bool { return a.Username != "" && subject == a.Subject() }

// UserGroup grants a role to the members of an SSO team or group.
type UserGroup struct {
	SSOGroup string
	Role     Role
}

// MaxUserGroups bounds a project's list of user groups, which every SSO
// sign-in reads.
const MaxUserGroups = 200

// ValidateUserGroups checks a project's list of user groups: each names a
// group (up to 200 characters, no surrounding spaces) with a valid role,
// and no group appears twice. Groups are compared without regard to case,
// as sign-in matches them. The error names the offending entry (1-based).
func ValidateUserGroups(gs []UserGroup) error {
	if len(gs) > MaxUserGroups {
		return Invalid("%d user groups is too many: at most %d", len(gs), MaxUserGroups)
	}
	seen := make(map[string]int, len(gs))
	for i, g := range gs {
		n := i + 1
		switch {
		case g.SSOGroup == "":
			return Invalid("user group %d: the SSO team or group is empty: name it as the provider sends it (e.g. my-org/ops)", n)
		case strings.TrimSpace(g.SSOGroup) != g.SSOGroup:
			return Invalid("user group %d (%q): remove the spaces around the name", n, g.SSOGroup)
		case len(g.SSOGroup) > 200:
			return Invalid("user group %d: the name is longer than 200 characters", n)
		case !g.Role.Valid():
			return Invalid("user group %d (%s): role must be viewer, editor or admin", n, g.SSOGroup)
		}
		key := strings.ToLower(g.SSOGroup)
		if first, ok := seen[key]; ok {
			return Invalid("user group %d (%s): the group is already listed as entry %d; keep one entry per group", n, g.SSOGroup, first)
		}
		seen[key] = n
	}
	return nil
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
