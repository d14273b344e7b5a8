package sso

import (
	"strings"

	"github.com/ferrycd/ferry/internal/model"
)

// RoleFor returns the role of the person id: the highest role of the rules
// whose Group is one of id.Groups, else Default. It returns false when no
// rule matches and Default is empty: the person may not sign in. Groups
// are compared without regard to case, as GitHub's team slugs and most
// providers' group names are case-insensitive. Rules with a role that is
// not valid are skipped.
func (m RoleMapping) RoleFor(id Identity) (model.Role, bool) {
	var best model.Role
	for _, r := range m.Rules {
		if !r.Role.Valid() || !memberOf(id.Groups, r.Group) {
			continue
		}
		if !best.Valid() || !best.Allows(r.Role) {
			best = r.Role
		}
	}
	if best.Valid() {
		return best, true
	}
	if m.Default.Valid() {
		return m.Default, true
	}
	return "", false
}

// ForProject returns the mapping that counts for a sign-in to project: the
// config's rules and default role are the default project's; another
// project gives roles only through its own user groups (With).
func (m RoleMapping) ForProject(project string) RoleMapping {
	if project == model.DefaultProjectID {
		return m
	}
	return RoleMapping{}
}

// With returns m with a rule for each of a project's user groups added
// after m's own: sign-in gives the highest role that the config's rules and
// the project's groups together give. m is not changed.
func (m RoleMapping) With(groups []model.UserGroup) RoleMapping {
	rules := make([]RoleRule, 0, len(m.Rules)+len(groups))
	rules = append(rules, m.Rules...)
	for _, g := range groups {
		rules = append(rules, RoleRule{Group: g.SSOGroup, Role: g.Role})
	}
	return RoleMapping{Rules: rules, Default: m.Default}
}

func memberOf(groups []string, group string) bool {
	for _, g := range groups {
		if strings.EqualFold(g, group) {
			return true
		}
	}
	return false
}
