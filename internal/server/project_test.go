package server_test

import (
	"context"
	"strings"
	"testing"

	"connectrpc.com/connect"
	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/testing/protocmp"

	ferryv1 "github.com/ferrycd/ferry/api/gen/ferry/v1"
)

func TestAdminsReplaceTheProjectsUserGroups(t *testing.T) {
	s := startServer(t)
	ctx := context.Background()
	groups := []*ferryv1.UserGroup{
		{SsoGroup: "my-org/ops", Role: ferryv1.Role_ROLE_ADMIN},
		{SsoGroup: "my-org/dev", Role: ferryv1.Role_ROLE_EDITOR},
	}
	set := func(key string, gs ...*ferryv1.UserGroup) error {
		_, err := s.user(key).UpdateProjectUserGroups(ctx, connect.NewRequest(&ferryv1.UpdateProjectUserGroupsRequest{UserGroups: gs}))
		return err
	}

	t.Run("an editor may not", func(t *testing.T) {
		wantCode(t, set(s.apiKey(t, ferryv1.Role_ROLE_EDITOR), groups...), connect.CodePermissionDenied)
	})

	t.Run("an admin may, and GetProject returns the list", func(t *testing.T) {
		res, err := s.user(s.adminKey).UpdateProjectUserGroups(ctx, connect.NewRequest(&ferryv1.UpdateProjectUserGroupsRequest{UserGroups: groups}))
		if err != nil {
			t.Fatal(err)
		}
		if d := cmp.Diff(groups, res.Msg.Project.UserGroups, protocmp.Transform()); d != "" {
			t.Errorf("response's groups (-want +got):\n%s", d)
		}
		got, err := s.user(s.apiKey(t, ferryv1.Role_ROLE_VIEWER)).GetProject(ctx, connect.NewRequest(&ferryv1.GetProjectRequest{}))
		if err != nil {
			t.Fatal(err)
		}
		if d := cmp.Diff(groups, got.Msg.Project.UserGroups, protocmp.Transform()); d != "" {
			t.Errorf("stored groups (-want +got):\n%s", d)
		}
	})

	for _, c := range []struct {
		name   string
		groups []*ferryv1.UserGroup
		want   string
	}{
		{"an empty group is refused", []*ferryv1.UserGroup{{SsoGroup: "", Role: ferryv1.Role_ROLE_VIEWER}}, "user group 1: the SSO team or group is empty"},
		{"a missing role is refused", []*ferryv1.UserGroup{{SsoGroup: "a", Role: ferryv1.Role_ROLE_VIEWER}, {SsoGroup: "b"}}, "user group 2 (b): role must be viewer, editor or admin"},
		{"the agent role is refused", []*ferryv1.UserGroup{{SsoGroup: "a", Role: ferryv1.Role_ROLE_AGENT}}, "user group 1 (a): role must be"},
		{"a group twice, in any case, is refused", []*ferryv1.UserGroup{{SsoGroup: "Org/Ops", Role: ferryv1.Role_ROLE_VIEWER}, {SsoGroup: "org/ops", Role: ferryv1.Role_ROLE_ADMIN}}, "user group 2 (org/ops): the group is already listed as entry 1"},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := set(s.adminKey, c.groups...)
			wantCode(t, err, connect.CodeInvalidArgument)
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("error = %v, want it to say %q", err, c.want)
			}
		})
	}

	t.Run("an update naming a stale revision is refused", func(t *testing.T) {
		got, err := s.user(s.adminKey).GetProject(ctx, connect.NewRequest(&ferryv1.GetProjectRequest{}))
		if err != nil {
			t.Fatal(err)
		}
		_, err = s.user(s.adminKey).UpdateProjectUserGroups(ctx, connect.NewRequest(&ferryv1.UpdateProjectUserGroupsRequest{UserGroups: groups[:1], ExpectedRevision: got.Msg.Project.Revision - 1}))
		wantCode(t, err, connect.CodeFailedPrecondition)
		if !strings.Contains(err.Error(), "read them again") {
			t.Errorf("error = %v, want it to say what to do", err)
		}
		if _, err := s.user(s.adminKey).UpdateProjectUserGroups(ctx, connect.NewRequest(&ferryv1.UpdateProjectUserGroupsRequest{UserGroups: groups, ExpectedRevision: got.Msg.Project.Revision})); err != nil {
			t.Errorf("update at the current revision: %v", err)
		}
	})

	t.Run("a refused list leaves the stored one, and an empty list clears it", func(t *testing.T) {
		got, err := s.user(s.adminKey).GetProject(ctx, connect.NewRequest(&ferryv1.GetProjectRequest{}))
		if err != nil {
			t.Fatal(err)
		}
		if len(got.Msg.Project.UserGroups) != 2 {
			t.Errorf("groups after refused updates = %v, want the 2 stored", got.Msg.Project.UserGroups)
		}
		if err := set(s.adminKey); err != nil {
			t.Fatal(err)
		}
		got, err = s.user(s.adminKey).GetProject(ctx, connect.NewRequest(&ferryv1.GetProjectRequest{}))
		if err != nil {
			t.Fatal(err)
		}
		if len(got.Msg.Project.UserGroups) != 0 {
			t.Errorf("groups after clearing = %v, want none", got.Msg.Project.UserGroups)
		}
	})
}

func TestAdminsDisableAndEnableTheStaticAdmin(t *testing.T) {
	s := startServer(t)
	ctx := context.Background()
	set := func(key string, disabled bool) (*ferryv1.Project, error) {
		res, err := s.user(key).SetStaticAdminDisabled(ctx, connect.NewRequest(&ferryv1.SetStaticAdminDisabledRequest{Disabled: disabled}))
		if err != nil {
			return nil, err
		}
		return res.Msg.GetProject(), nil
	}
	_, err := set(s.apiKey(t, ferryv1.Role_ROLE_EDITOR), true)
	wantCode(t, err, connect.CodePermissionDenied)
	for _, disabled := range []bool{true, false} {
		p, err := set(s.adminKey, disabled)
		if err != nil {
			t.Fatal(err)
		}
		got, err := s.user(s.adminKey).GetProject(ctx, connect.NewRequest(&ferryv1.GetProjectRequest{}))
		if err != nil {
			t.Fatal(err)
		}
		if p.StaticAdminDisabled != disabled || got.Msg.Project.StaticAdminDisabled != disabled || got.Msg.Project.StaticAdminUsername == "" {
			t.Errorf("after setting disabled=%v: response %v, stored %v", disabled, p.StaticAdminDisabled, got.Msg.Project)
		}
	}
}
