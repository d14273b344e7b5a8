package cli

import (
	"fmt"
	"strings"

	"connectrpc.com/connect"
	"github.com/spf13/cobra"

	ferryv1 "github.com/ferrycd/ferry/api/gen/ferry/v1"
)

// newProjectCmd builds `ferry project …`.
func newProjectCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "project",
		Short: "Show the project and manage the roles its SSO user groups give",
		Long: `A project holds the agents, applications and keys of one team. Its user
groups give roles to the members of SSO teams or groups when they sign in to
the web console, together with the ControlPlane file's spec.sso.roleMappings:
a person gets the highest role any of their teams or groups has in either.`,
	}
	groups := &cobra.Command{
		Use:     "user-groups",
		Aliases: []string{"user-group", "groups"},
		Short:   "List or replace the SSO teams or groups that give roles",
	}
	groups.AddCommand(newUserGroupsListCmd(g), newUserGroupsSetCmd(g))
	cmd.AddCommand(newProjectGetCmd(g), groups, newStaticAdminCmd(g))
	return cmd
}

func newProjectGetCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "get",
		Short: "Show the project: its static admin and user groups",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := g.call(cmd)
			if err != nil {
				return err
			}
			res, err := c.client.GetProject(c.ctx, connect.NewRequest(&ferryv1.GetProjectRequest{}))
			if err != nil {
				return err
			}
			return c.out.print(res.Msg, func(t *table) {
				p := res.Msg.GetProject()
				admin := p.GetStaticAdminUsername()
				if p.GetStaticAdminDisabled() {
					admin += " (disabled)"
				}
				t.fields("ID", p.GetId(), "Description", p.GetDescription(), "Static admin", admin, "User groups", fmt.Sprint(len(p.GetUserGroups())), "Created", age(p.GetCreatedAt()))
			})
		},
	}
}

func newUserGroupsListCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List the project's SSO teams or groups and their roles",
		Long: `List the project's SSO teams or groups and their roles. The ControlPlane
file's spec.sso.roleMappings are not listed: they are in that file.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := g.call(cmd)
			if err != nil {
				return err
			}
			res, err := c.client.GetProject(c.ctx, connect.NewRequest(&ferryv1.GetProjectRequest{}))
			if err != nil {
				return err
			}
			return c.out.print(res.Msg, func(t *table) { userGroupRows(t, res.Msg.GetProject().GetUserGroups()) })
		},
	}
}

func newUserGroupsSetCmd(g *globals) *cobra.Command {
	var none bool
	cmd := &cobra.Command{
		Use:   "set GROUP=ROLE... | --none",
		Short: "Replace the project's SSO teams or groups and their roles (admin)",
		Long: `Replace the whole list of the project's SSO teams or groups with the ones
given, each as GROUP=ROLE with ROLE viewer, editor or admin; a group may be
listed once (names compare without regard to case). Groups left out no longer
get a role from this list; --none empties it. A change applies at once, to
console sessions already open too. Needs the admin role.`,
		Example: `  ferry project user-groups set my-org/ops=admin my-org/devs=editor
  ferry project user-groups set --none`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if none == (len(args) > 0) {
				return usagef("give the new list as GROUP=ROLE arguments, or --none to remove every group")
			}
			groups := make([]*ferryv1.UserGroup, 0, len(args))
			for _, a := range args {
				i := strings.LastIndex(a, "=")
				if i <= 0 {
					return usagef("%q is not GROUP=ROLE: write e.g. my-org/ops=admin", a)
				}
				role, err := parseRole(a[i+1:])
				if err != nil {
					return usagef("%q: role %q is not known: use one of %s", a, a[i+1:], strings.Join(roleNames, ", "))
				}
				groups = append(groups, &ferryv1.UserGroup{SsoGroup: a[:i], Role: role})
			}
			c, err := g.call(cmd)
			if err != nil {
				return err
			}
			res, err := c.client.UpdateProjectUserGroups(c.ctx, connect.NewRequest(&ferryv1.UpdateProjectUserGroupsRequest{UserGroups: groups}))
			if err != nil {
				return err
			}
			return c.out.print(res.Msg, func(t *table) { userGroupRows(t, res.Msg.GetProject().GetUserGroups()) })
		},
	}
	cmd.Flags().BoolVar(&none, "none", false, "remove every group from the list")
	return cmd
}

func userGroupRows(t *table, gs []*ferryv1.UserGroup) {
	if len(gs) == 0 {
		fmt.Fprintln(t.tw, "The project gives no SSO team or group a role.")
		return
	}
	t.row("GROUP", "ROLE")
	for _, g := range gs {
		t.row(g.GetSsoGroup(), strings.ToLower(enumName(g.GetRole())))
	}
}
