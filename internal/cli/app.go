package cli

import (
	"fmt"
	"strings"

	"connectrpc.com/connect"
	"github.com/spf13/cobra"

	ferryv1 "github.com/ferrycd/ferry/api/gen/ferry/v1"
	"github.com/ferrycd/ferry/internal/model"
)

// newAppCmd builds `ferry app …`.
func newAppCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "app",
		Aliases: []string{"application"},
		Short:   "List, add, sync, disable and delete applications",
		Long: `Work with the project's applications. Agents register the applications they
find in their repositories; ferry app add registers one by hand. An
application is named by its id; by REPO:PATH, the repository id and the
directory of its config (with the config file, apps:web/canary.pipecd.yaml,
when the directory holds several); or by its name when no other application
has it. Names repeat (two agents, or two folders, with a "web"): a name
several applications share is refused with the list of them, by id, kind,
agent and REPO:PATH, to pick from.

An application whose config left its repository (its folder was moved or
deleted) is disabled by its agent, shown with the sync reason "application
config removed from Git", and keeps its history; a moved folder is a new
application. Delete the old one, or put its config back to enable it.`,
	}
	cmd.AddCommand(
		newAppListCmd(g),
		newAppGetCmd(g),
		newAppAddCmd(g),
		newAppSyncCmd(g),
		newAppRollbackCmd(g),
		objectAction(g, "Application", "disable", "Disable an application: nothing deploys it until it is enabled", func(c *callCtx, app string) (*ferryv1.Application, error) {
			res, err := c.client.DisableApplication(c.ctx, connect.NewRequest(&ferryv1.DisableApplicationRequest{Application: app}))
			if err != nil {
				return nil, err
			}
			return res.Msg.GetApplication(), nil
		}),
		objectAction(g, "Application", "enable", "Enable a disabled application", func(c *callCtx, app string) (*ferryv1.Application, error) {
			res, err := c.client.EnableApplication(c.ctx, connect.NewRequest(&ferryv1.EnableApplicationRequest{Application: app}))
			if err != nil {
				return nil, err
			}
			return res.Msg.GetApplication(), nil
		}),
		newAppDeleteCmd(g),
	)
	return cmd
}

func newAppListCmd(g *globals) *cobra.Command {
	var (
		kind, syncStatus, agent, name string
		labels                        []string
		all                           bool
		pg                            pageFlags
	)
	cmd := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List applications, filtered by kind, sync status, agent, name or labels",
		Long: `List applications. WARNINGS counts the fields of an application's config
that have no effect (ferry app get APP lists them).`,
		Example: `  ferry app list
  ferry app list --kind kubernetes --sync-status out-of-sync --label env=prod
  ferry app list -o json | jq -r '.applications[].name'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := g.call(cmd)
			if err != nil {
				return err
			}
			req := &ferryv1.ListApplicationsRequest{Agent: agent, Name: name, IncludeDisabled: all}
			if kind != "" {
				if req.Kind, err = parseEnum[ferryv1.ApplicationKind]("kind", kind); err != nil {
					return err
				}
			}
			if syncStatus != "" {
				if req.SyncStatus, err = parseEnum[ferryv1.SyncStatus]("sync-status", syncStatus); err != nil {
					return err
				}
			}
			if req.Labels, err = parseLabels("label", labels); err != nil {
				return err
			}
			out := &ferryv1.ListApplicationsResponse{}
			err = pg.each(cmd, func(size int32, token string) (string, error) {
				req.PageSize, req.PageToken = size, token
				res, err := c.client.ListApplications(c.ctx, connect.NewRequest(req))
				if err != nil {
					return "", err
				}
				out.Applications = append(out.Applications, res.Msg.GetApplications()...)
				out.NextPageToken = res.Msg.GetNextPageToken()
				return out.NextPageToken, nil
			})
			if err != nil {
				return err
			}
			agents := c.agentNames()
			return c.out.print(out, func(t *table) {
				t.row("NAME", "KIND", "AGENT", "SYNC", "WARNINGS", "LAST DEPLOYMENT", "COMMIT", "LABELS", "AGE", "CONFIG")
				for _, a := range out.GetApplications() {
					name := a.GetName()
					if a.GetDisabled() {
						name += " (disabled)"
					}
					d := a.GetMostRecentDeployment()
					t.row(name, enumName(a.GetKind()), agentName(agents, a.GetAgentId()), enumName(a.GetSyncState().GetStatus()),
						warningCount(a), enumName(d.GetStatus()), shortCommit(d.GetCommitHash()), labelString(a.GetLabels()), age(a.GetCreatedAt()),
						configRef(a.GetGitPath()))
				}
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&kind, "kind", "", "only this kind: "+strings.Join(enumNames[ferryv1.ApplicationKind](), ", "))
	f.StringVar(&syncStatus, "sync-status", "", "only this sync status: "+strings.Join(enumNames[ferryv1.SyncStatus](), ", "))
	f.StringVar(&agent, "agent", "", "only applications of this agent (id or name)")
	f.StringVar(&name, "name", "", "only the application with this name")
	f.StringArrayVar(&labels, "label", nil, "only applications with this label, key=value (repeatable; all must match)")
	f.BoolVar(&all, "all", false, "include disabled applications")
	pg.register(cmd)
	_ = cmd.RegisterFlagCompletionFunc("kind", cobra.FixedCompletions(enumNames[ferryv1.ApplicationKind](), cobra.ShellCompDirectiveNoFileComp))
	_ = cmd.RegisterFlagCompletionFunc("sync-status", cobra.FixedCompletions(enumNames[ferryv1.SyncStatus](), cobra.ShellCompDirectiveNoFileComp))
	_ = cmd.RegisterFlagCompletionFunc("agent", g.completeAgents)
	return cmd
}

func newAppAddCmd(g *globals) *cobra.Command {
	var (
		kind, agent, provider, description string
		gp                                 ferryv1.GitPath
		labels                             []string
	)
	cmd := &cobra.Command{
		Use:   "add NAME --agent AGENT --repo REPO_ID --path DIR",
		Short: "Register an application by hand",
		Long: `Register an application by hand. Agents also register every application
config they find in their repositories (app.ferry.yaml or *.pipecd.yaml), so
this is for apps outside that discovery or with a config file of another name.`,
		Example: `  ferry app add checkout --agent dev-cluster --repo apps --path checkout \
    --config-file app.pipecd.yaml --label env=dev`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.call(cmd)
			if err != nil {
				return err
			}
			req := &ferryv1.AddApplicationRequest{Name: args[0], Agent: agent, PlatformProvider: provider, GitPath: &gp, Description: description}
			if req.Kind, err = parseEnum[ferryv1.ApplicationKind]("kind", kind); err != nil {
				return err
			}
			if req.Labels, err = parseLabels("label", labels); err != nil {
				return err
			}
			res, err := c.client.AddApplication(c.ctx, connect.NewRequest(req))
			if err != nil {
				return err
			}
			return c.out.print(res.Msg, func(t *table) {
				fmt.Fprintf(t.tw, "Application %s added (id %s).\n", res.Msg.GetApplication().GetName(), res.Msg.GetApplication().GetId())
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&kind, "kind", "kubernetes", "platform kind: "+strings.Join(enumNames[ferryv1.ApplicationKind](), ", "))
	f.StringVar(&agent, "agent", "", "the agent that deploys it (id or name)")
	f.StringVar(&provider, "platform-provider", "", "the agent's platform provider to deploy to (default: the agent's first of this kind)")
	f.StringVar(&gp.RepoId, "repo", "", "id of the repository in the agent's config")
	f.StringVar(&gp.Path, "path", "", "directory of the application in the repository")
	f.StringVar(&gp.ConfigFilename, "config-file", "app.ferry.yaml", "name of the application config file in that directory")
	f.StringVar(&description, "description", "", "a description")
	f.StringArrayVar(&labels, "label", nil, "a label, key=value (repeatable)")
	_ = cmd.MarkFlagRequired("agent")
	_ = cmd.MarkFlagRequired("repo")
	_ = cmd.MarkFlagRequired("path")
	_ = cmd.RegisterFlagCompletionFunc("agent", g.completeAgents)
	_ = cmd.RegisterFlagCompletionFunc("kind", cobra.FixedCompletions(enumNames[ferryv1.ApplicationKind](), cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

func newAppDeleteCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:               "delete APP",
		Short:             "Delete an application (its deployments stay in the history; nothing is removed from the cluster)",
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: g.completeApps,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.call(cmd)
			if err != nil {
				return err
			}
			if _, err := c.client.DeleteApplication(c.ctx, connect.NewRequest(&ferryv1.DeleteApplicationRequest{Application: args[0]})); err != nil {
				return err
			}
			return c.out.print(&ferryv1.DeleteApplicationResponse{}, func(t *table) {
				fmt.Fprintf(t.tw, "Application %s deleted.\n", args[0])
			})
		},
	}
}

// configRef is REPO:PATH, how an application is named when its name is
// not unique.
func configRef(g *ferryv1.GitPath) string {
	return model.GitPath{RepoID: g.GetRepoId(), Path: g.GetPath(), ConfigFilename: g.GetConfigFilename()}.Ref()
}

// warningCount is the WARNINGS cell of an application: how many fields of
// its config have no effect; empty when none.
func warningCount(a *ferryv1.Application) string {
	if n := len(a.GetConfigWarnings()); n > 0 {
		return fmt.Sprint(n)
	}
	return ""
}

func deploymentRef(d *ferryv1.DeploymentRef) string {
	if d.GetDeploymentId() == "" {
		return ""
	}
	return fmt.Sprintf("%s %s at %s (%s)", d.GetDeploymentId(), enumName(d.GetStatus()), shortCommit(d.GetCommitHash()), age(d.GetStartedAt())+" ago")
}
