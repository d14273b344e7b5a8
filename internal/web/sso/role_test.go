package sso

import (
	"testing"

	"github.com/ferrycd/ferry/internal/model"
)

func TestRoleFor(t *testing.T) {
	rules := []RoleRule{
		{Group: "acme/viewers", Role: model.RoleViewer},
		{Group: "acme/admins", Role: model.RoleAdmin},
		{Group: "acme/devs", Role: model.RoleEditor},
	}
	for _, tc := range []struct {
		name    string
		mapping RoleMapping
		groups  []string
		want    model.Role
		wantOK  bool
	}{
		{"one matching rule gives its role", RoleMapping{Rules: rules}, []string{"acme/devs"}, model.RoleEditor, true},
		{"the highest role of several matching rules wins, whatever their order", RoleMapping{Rules: rules}, []string{"acme/viewers", "acme/devs", "acme/admins"}, model.RoleAdmin, true},
		{"a lower rule after a higher one does not lower the role", RoleMapping{Rules: rules}, []string{"acme/admins", "acme/viewers"}, model.RoleAdmin, true},
		{"groups match without regard to case", RoleMapping{Rules: rules}, []string{"ACME/Devs"}, model.RoleEditor, true},
		{"no matching rule gives the default", RoleMapping{Rules: rules, Default: model.RoleViewer}, []string{"other"}, model.RoleViewer, true},
		{"a matching rule beats a higher default", RoleMapping{Rules: rules, Default: model.RoleAdmin}, []string{"acme/viewers"}, model.RoleViewer, true},
		{"no matching rule and no default refuses", RoleMapping{Rules: rules}, []string{"other"}, "", false},
		{"no groups and no default refuses", RoleMapping{Rules: rules}, nil, "", false},
		{"an invalid role in a rule is skipped", RoleMapping{Rules: []RoleRule{{Group: "g", Role: "owner"}}}, []string{"g"}, "", false},
		{"an empty mapping refuses everyone", RoleMapping{}, []string{"acme/admins"}, "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := tc.mapping.RoleFor(Identity{Name: "ann", Groups: tc.groups})
			if got != tc.want || ok != tc.wantOK {
				t.Errorf("RoleFor(%v) = %q, %v; want %q, %v", tc.groups, got, ok, tc.want, tc.wantOK)
			}
		})
	}
}

func TestWithAddsTheProjectsGroupsWithoutChangingTheMapping(t *testing.T) {
	m := RoleMapping{Rules: []RoleRule{{Group: "devs", Role: model.RoleEditor}}, Default: model.RoleViewer}
	got := m.With([]model.UserGroup{{SSOGroup: "ops", Role: model.RoleAdmin}, {SSOGroup: "devs", Role: model.RoleViewer}})
	for _, tc := range []struct {
		groups []string
		want   model.Role
	}{
		{[]string{"ops"}, model.RoleAdmin},
		{[]string{"devs"}, model.RoleEditor},
		{[]string{"others"}, model.RoleViewer},
	} {
		if role, ok := got.RoleFor(Identity{Groups: tc.groups}); !ok || role != tc.want {
			t.Errorf("RoleFor(%v) = %q, %v; want %q", tc.groups, role, ok, tc.want)
		}
	}
	if len(m.Rules) != 1 {
		t.Errorf("With changed the mapping it was called on: %+v", m.Rules)
	}
}
