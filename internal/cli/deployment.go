package cli

import (
	"fmt"
	"strings"

	"connectrpc.com/connect"
	"github.com/spf13/cobra"

	ferryv1 "github.com/ferrycd/ferry/api/gen/ferry/v1"
)

// newDeploymentCmd builds `ferry deployment …`.
func newDeploymentCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "deployment",
		Aliases: []string{"deployments", "deploy"},
		Short:   "List, follow, cancel, approve and skip deployments",
	}
	cmd.AddCommand(
		newDeploymentListCmd(g),
		newDeploymentGetCmd(g),
		newDeploymentLogsCmd(g),
		newDeploymentCancelCmd(g),
		newStageOperationCmd(g, "approve", "Approve a WAIT_APPROVAL stage, as the API key: apikey:<id> must be on the stage's approvers list when it has one (approvals match subjects, never names), and approvals count once per subject",
			func(c *callCtx, d, st string) (string, error) {
				res, err := c.client.ApproveStage(c.ctx, connect.NewRequest(&ferryv1.ApproveStageRequest{DeploymentId: d, StageId: st}))
				if err != nil {
					return "", err
				}
				return res.Msg.GetCommandId(), nil
			}),
		newStageOperationCmd(g, "skip", "Skip a running WAIT, WAIT_APPROVAL, ANALYSIS or SCRIPT_RUN stage: it ends SKIPPED and the pipeline goes on",
			func(c *callCtx, d, st string) (string, error) {
				res, err := c.client.SkipStage(c.ctx, connect.NewRequest(&ferryv1.SkipStageRequest{DeploymentId: d, StageId: st}))
				if err != nil {
					return "", err
				}
				return res.Msg.GetCommandId(), nil
			}),
	)
	return cmd
}

func newDeploymentListCmd(g *globals) *cobra.Command {
	var (
		app, agent, kind string
		statuses, labels []string
		pg               pageFlags
	)
	cmd := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List deployments, newest first",
		Example: `  ferry deployment list --app checkout --limit 10
  ferry deployment list --status running --status planned`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := g.call(cmd)
			if err != nil {
				return err
			}
			req := &ferryv1.ListDeploymentsRequest{Application: app, Agent: agent}
			if kind != "" {
				if req.Kind, err = parseEnum[ferryv1.ApplicationKind]("kind", kind); err != nil {
					return err
				}
			}
			for _, s := range statuses {
				st, err := parseEnum[ferryv1.DeploymentStatus]("status", s)
				if err != nil {
					return err
				}
				req.Statuses = append(req.Statuses, st)
			}
			if req.Labels, err = parseLabels("label", labels); err != nil {
				return err
			}
			out := &ferryv1.ListDeploymentsResponse{}
			err = pg.each(cmd, func(size int32, token string) (string, error) {
				req.PageSize, req.PageToken = size, token
				res, err := c.client.ListDeployments(c.ctx, connect.NewRequest(req))
				if err != nil {
					return "", err
				}
				out.Deployments = append(out.Deployments, res.Msg.GetDeployments()...)
				out.NextPageToken = res.Msg.GetNextPageToken()
				return out.NextPageToken, nil
			})
			if err != nil {
				return err
			}
			return c.out.print(out, func(t *table) {
				t.row("ID", "APPLICATION", "STATUS", "STRATEGY", "COMMIT", "TRIGGER", "SUMMARY", "AGE")
				for _, d := range out.GetDeployments() {
					tr := d.GetTrigger()
					t.row(d.GetId(), d.GetApplicationName(), enumName(d.GetStatus()), enumName(tr.GetStrategy()),
						shortCommit(tr.GetCommit().GetHash()), triggerBy(tr), d.GetSummary(), age(d.GetCreatedAt()))
				}
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&app, "app", "", "only deployments of this application (id or name)")
	f.StringVar(&agent, "agent", "", "only deployments run by this agent (id or name)")
	f.StringVar(&kind, "kind", "", "only this application kind: "+strings.Join(enumNames[ferryv1.ApplicationKind](), ", "))
	f.StringArrayVar(&statuses, "status", nil, "only this status (repeatable): "+strings.Join(enumNames[ferryv1.DeploymentStatus](), ", "))
	f.StringArrayVar(&labels, "label", nil, "only deployments of applications with this label, key=value (repeatable)")
	pg.register(cmd)
	_ = cmd.RegisterFlagCompletionFunc("app", g.completeApps)
	_ = cmd.RegisterFlagCompletionFunc("agent", g.completeAgents)
	_ = cmd.RegisterFlagCompletionFunc("status", cobra.FixedCompletions(enumNames[ferryv1.DeploymentStatus](), cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

func newDeploymentGetCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "get DEPLOYMENT_ID",
		Short: "Show one deployment with its stages",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.call(cmd)
			if err != nil {
				return err
			}
			res, err := c.client.GetDeployment(c.ctx, connect.NewRequest(&ferryv1.GetDeploymentRequest{DeploymentId: args[0]}))
			if err != nil {
				return err
			}
			return c.out.print(res.Msg, func(t *table) { deploymentDetail(t, res.Msg.GetDeployment()) })
		},
	}
}

func newDeploymentCancelCmd(g *globals) *cobra.Command {
	var rollback, noRollback bool
	cmd := &cobra.Command{
		Use:   "cancel DEPLOYMENT_ID",
		Short: "Cancel a running deployment, rolling back as its config says unless told otherwise",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.call(cmd)
			if err != nil {
				return err
			}
			res, err := c.client.CancelDeployment(c.ctx, connect.NewRequest(&ferryv1.CancelDeploymentRequest{
				DeploymentId: args[0], ForceRollback: rollback, ForceNoRollback: noRollback,
			}))
			if err != nil {
				return err
			}
			return c.out.print(res.Msg, func(t *table) {
				fmt.Fprintf(t.tw, "Cancel of deployment %s requested (command %s).\n", args[0], res.Msg.GetCommandId())
			})
		},
	}
	cmd.Flags().BoolVar(&rollback, "rollback", false, "roll back after cancelling even where the rollback would not run (needs the rollback stage autoRollback plans)")
	cmd.Flags().BoolVar(&noRollback, "no-rollback", false, "do not roll back after cancelling")
	cmd.MarkFlagsMutuallyExclusive("rollback", "no-rollback")
	return cmd
}

// newStageOperationCmd builds approve and skip, which act on one stage.
func newStageOperationCmd(g *globals, verb, short string, do func(c *callCtx, deployment, stage string) (string, error)) *cobra.Command {
	var stage string
	cmd := &cobra.Command{
		Use:   verb + " DEPLOYMENT_ID [--stage STAGE]",
		Short: short,
		Long: short + `.

--stage names the stage by id or by name; without it the deployment's one
running stage is meant.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.call(cmd)
			if err != nil {
				return err
			}
			res, err := c.client.GetDeployment(c.ctx, connect.NewRequest(&ferryv1.GetDeploymentRequest{DeploymentId: args[0]}))
			if err != nil {
				return err
			}
			st, err := findStage(res.Msg.GetDeployment(), stage)
			if err != nil {
				return err
			}
			id, err := do(c, args[0], st.GetId())
			if err != nil {
				return err
			}
			return c.out.print(&ferryv1.Command{Id: id, DeploymentId: args[0], StageId: st.GetId()}, func(t *table) {
				fmt.Fprintf(t.tw, "%s of stage %s (%s) requested (command %s).\n", strings.ToUpper(verb[:1])+verb[1:], st.GetName(), st.GetId(), id)
			})
		},
	}
	cmd.Flags().StringVar(&stage, "stage", "", "the stage, by id or name (default: the running stage)")
	return cmd
}

// findStage picks a stage by id or name, or the running stage when ref is
// empty; it refuses an ambiguous choice with the candidates listed.
func findStage(d *ferryv1.Deployment, ref string) (*ferryv1.Stage, error) {
	var found []*ferryv1.Stage
	for _, s := range d.GetStages() {
		switch {
		case ref == "" && s.GetStatus() == ferryv1.StageStatus_STAGE_STATUS_RUNNING:
			found = append(found, s)
		case ref != "" && (s.GetId() == ref || s.GetName() == ref):
			found = append(found, s)
		}
	}
	if len(found) == 1 {
		return found[0], nil
	}
	var names []string
	for _, s := range d.GetStages() {
		names = append(names, fmt.Sprintf("%s (%s, %s)", s.GetName(), s.GetId(), enumName(s.GetStatus())))
	}
	switch {
	case len(found) > 1:
		return nil, usagef("several stages match %q: name one by id with --stage; stages: %s", ref, strings.Join(names, "; "))
	case ref == "":
		return nil, usagef("deployment %s has no running stage: name one with --stage; stages: %s", d.GetId(), strings.Join(names, "; "))
	default:
		return nil, usagef("deployment %s has no stage %q; stages: %s", d.GetId(), ref, strings.Join(names, "; "))
	}
}

// triggerBy says who or what started a deployment.
func triggerBy(tr *ferryv1.Trigger) string {
	kind := strings.ToLower(strings.ReplaceAll(enumName(tr.GetKind()), "_", "-"))
	if tr.GetCommander() != "" {
		return kind + " by " + tr.GetCommander()
	}
	return kind
}

func deploymentDetail(t *table, d *ferryv1.Deployment) {
	tr := d.GetTrigger()
	status := enumName(d.GetStatus())
	if d.GetStatusReason() != "" {
		status += ": " + d.GetStatusReason()
	}
	t.fields(
		"ID", d.GetId(),
		"Application", d.GetApplicationName()+" ("+d.GetApplicationId()+")",
		"Agent", d.GetAgentId(),
		"Status", status,
		"Summary", d.GetSummary(),
		"Strategy", strings.TrimSuffix(enumName(tr.GetStrategy())+": "+tr.GetStrategySummary(), ": "),
		"Trigger", triggerBy(tr),
		"Commit", tr.GetCommit().GetHash()+" "+firstLine(tr.GetCommit().GetMessage()),
		"Author", tr.GetCommit().GetAuthor(),
		"Created", timestamp(d.GetCreatedAt()),
		"Completed", timestamp(d.GetCompletedAt()),
	)
	if len(d.GetStages()) == 0 {
		return
	}
	fmt.Fprintln(t.tw, "\nStages:")
	t.row("  #", "NAME", "ID", "STATUS", "STARTED", "COMPLETED", "REASON")
	for _, s := range d.GetStages() {
		if !s.GetVisible() && s.GetStatus() == ferryv1.StageStatus_STAGE_STATUS_NOT_STARTED_YET {
			continue
		}
		t.row(fmt.Sprintf("  %d", s.GetIndex()), s.GetName(), s.GetId(), enumName(s.GetStatus()),
			timestamp(s.GetStartedAt()), timestamp(s.GetCompletedAt()), s.GetStatusReason())
	}
	if len(d.GetOperations()) == 0 {
		return
	}
	fmt.Fprintln(t.tw, "\nOperations:")
	t.row("  WHEN", "WHAT", "STAGE", "BY", "NOTE")
	for _, op := range d.GetOperations() {
		t.row("  "+timestamp(op.GetAt()), enumName(op.GetKind()), op.GetStageId(), op.GetActor(), op.GetNote())
	}
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}
