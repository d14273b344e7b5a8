package cli

import (
	"fmt"
	"strings"

	"connectrpc.com/connect"
	"github.com/spf13/cobra"

	ferryv1 "github.com/ferrycd/ferry/api/gen/ferry/v1"
)

func newAppGetCmd(g *globals) *cobra.Command {
	var diff bool
	cmd := &cobra.Command{
		Use:   "get APP [--diff]",
		Short: "Show one application with its sync state and latest deployments",
		Long: `Show one application: where its config lives, its sync state, health,
latest deployments, and the fields of its config that have no effect (an
unknown field of a PipeCD file, a field Ferry does not implement yet), each
with its file, line and why. An OUT_OF_SYNC application shows one line
saying what drifted; --diff prints the whole diff its agent reported, from
Git (the commit the application last deployed successfully) to what runs,
one resource per header and one field per line:

  apps/v1 Deployment shop/web
    spec.replicas: 2 → 5
    - spec.template.spec.containers.0.args: ["--debug"]
    + metadata.labels.team: blue
  v1 ConfigMap shop/settings
    missing

"f: x → y": Git sets x, y runs. "- f: x": Git sets f, the live object lacks
it. "+ f: y": the live object has f, Git does not set it. "missing": in Git,
not running; "not in Git": running, and the next deployment would prune it.

-o json and -o yaml always print the application as the API returns it,
the diff included (syncState.reason, the same text), with or without
--diff: scripts read one shape. --diff changes only the table.`,
		Example: `  ferry app get web
  ferry app get web --diff
  ferry app get web -o json | jq -r .application.syncState.reason`,
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: g.completeApps,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.call(cmd)
			if err != nil {
				return err
			}
			res, err := c.client.GetApplication(c.ctx, connect.NewRequest(&ferryv1.GetApplicationRequest{Application: args[0]}))
			if err != nil {
				return err
			}
			agents := c.agentNames()
			return c.out.print(res.Msg, func(t *table) {
				appDetail(t, res.Msg.GetApplication(), agents, diff)
			})
		},
	}
	cmd.Flags().BoolVar(&diff, "diff", false, "print the drift diff, Git → live, resource by resource and field by field")
	return cmd
}

// appDetail writes an application's fields; with diff, the drift diff
// after them.
func appDetail(t *table, a *ferryv1.Application, agents map[string]string, diff bool) {
	gp := a.GetGitPath()
	t.fields(
		"Name", a.GetName(),
		"ID", a.GetId(),
		"Kind", enumName(a.GetKind()),
		"Agent", agentName(agents, a.GetAgentId()),
		"Platform provider", a.GetPlatformProvider(),
		"Repository", gp.GetRepoId(),
		"Path", strings.TrimSuffix(gp.GetPath(), "/")+"/"+gp.GetConfigFilename(),
		"Labels", labelString(a.GetLabels()),
		"Disabled", fmt.Sprint(a.GetDisabled()),
		"Sync", syncLine(a.GetSyncState(), diff),
		"Health", enumName(a.GetHealth()),
		"Deploying", fmt.Sprint(a.GetDeploying()),
		"Last deployment", deploymentRef(a.GetMostRecentDeployment()),
		"Last success", deploymentRef(a.GetMostRecentSuccessfulDeployment()),
		"Created", timestamp(a.GetCreatedAt()),
		"Warnings", warningCount(a),
	)
	if ws := a.GetConfigWarnings(); len(ws) > 0 {
		fmt.Fprintf(t.tw, "\nConfig warnings (these fields have no effect):\n")
		for _, w := range ws {
			fmt.Fprintf(t.tw, "  %s\n", configWarning(w))
		}
	}
	s := a.GetSyncState()
	switch {
	case s.GetStatus() == ferryv1.SyncStatus_SYNC_STATUS_INVALID_CONFIG && s.GetReason() != "":
		// Not a diff: the file, line and reason, which the user needs to
		// fix anything at all.
		fmt.Fprintf(t.tw, "\nConfig error:\n%s\n", strings.TrimSuffix(s.GetReason(), "\n"))
	case !diff:
	case s.GetStatus() == ferryv1.SyncStatus_SYNC_STATUS_OUT_OF_SYNC && s.GetReason() != "":
		fmt.Fprintf(t.tw, "\n%s:\n%s\n", diffHeader(a), strings.TrimSuffix(s.GetReason(), "\n"))
	default:
		fmt.Fprintf(t.tw, "\nNo diff: %s.\n", noDiff(s))
	}
}

// configWarning formats a warning as "file:line: field: message".
func configWarning(w *ferryv1.ConfigWarning) string {
	at := w.GetFile()
	if w.GetLine() > 0 {
		at += fmt.Sprintf(":%d", w.GetLine())
	}
	if at != "" {
		at += ": "
	}
	return at + w.GetField() + ": " + w.GetMessage()
}

// syncLine is the Sync field: the status and its one-line reason, and a
// pointer to --diff when there is a diff it does not show.
func syncLine(s *ferryv1.SyncState, diff bool) string {
	line := enumName(s.GetStatus())
	if line == "" {
		line = "UNKNOWN"
	}
	if r := s.GetShortReason(); r != "" {
		line += ": " + r
	}
	if !diff && s.GetStatus() == ferryv1.SyncStatus_SYNC_STATUS_OUT_OF_SYNC && s.GetReason() != "" {
		line += "; see --diff"
	}
	return line
}

// diffHeader says what the diff compares: Git at the commit last deployed
// successfully (when the sync state was checked against it) and live, and
// when.
func diffHeader(a *ferryv1.Application) string {
	s := a.GetSyncState()
	from := "Git"
	if d := a.GetMostRecentSuccessfulDeployment(); d.GetCommitHash() != "" && d.GetDeploymentId() == s.GetHeadDeploymentId() {
		from = "Git at " + shortCommit(d.GetCommitHash()) + " (deployment " + d.GetDeploymentId() + ")"
	}
	h := "Diff, " + from + " → live"
	if ago := age(s.GetTimestamp()); ago != "" {
		h += ", checked " + ago + " ago"
	}
	return h
}

// noDiff says why --diff has nothing to print.
func noDiff(s *ferryv1.SyncState) string {
	switch s.GetStatus() {
	case ferryv1.SyncStatus_SYNC_STATUS_SYNCED:
		return "what runs matches Git"
	case ferryv1.SyncStatus_SYNC_STATUS_DEPLOYING:
		return "a deployment is running; drift is checked after it"
	case ferryv1.SyncStatus_SYNC_STATUS_OUT_OF_SYNC:
		return "the agent reported no details"
	}
	return "no drift check has been reported (the application has not deployed yet, or its platform cannot tell)"
}
