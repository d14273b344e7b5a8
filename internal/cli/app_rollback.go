package cli

import (
	"fmt"
	"time"

	"connectrpc.com/connect"
	"github.com/spf13/cobra"

	ferryv1 "github.com/ferrycd/ferry/api/gen/ferry/v1"
)

func newAppRollbackCmd(g *globals) *cobra.Command {
	var (
		to   string
		wait time.Duration
	)
	cmd := &cobra.Command{
		Use:   "rollback APP [--to DEPLOYMENT_ID]",
		Short: "Deploy the commit of an earlier successful deployment again",
		Long: `Queue a quick sync of the commit an earlier successful deployment deployed:
by default the success before the most recent one, or the one --to names.
Git is not changed: the next commit that touches the application deploys as
usual. With --wait the command returns when the agent has started the
rollback's deployment.`,
		Example: `  ferry app rollback checkout
  ferry app rollback checkout --to 0193c2… --wait 1m`,
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: g.completeApps,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.call(cmd)
			if err != nil {
				return err
			}
			res, err := c.client.RollbackApplication(c.ctx, connect.NewRequest(&ferryv1.RollbackApplicationRequest{Application: args[0], ToDeploymentId: to}))
			if err != nil {
				return err
			}
			m := res.Msg
			if wait > 0 {
				command, err := waitCommand(c, m.GetCommandId(), wait)
				if err != nil {
					return err
				}
				if command.GetStatus() != ferryv1.CommandStatus_COMMAND_STATUS_SUCCEEDED {
					return fmt.Errorf("rollback command %s failed: %s", m.GetCommandId(), command.GetOutput())
				}
			}
			return c.out.print(m, func(t *table) {
				fmt.Fprintf(t.tw, "Rollback of %s to commit %s (deployment %s) requested (command %s).\n",
					args[0], shortCommit(m.GetCommitHash()), m.GetTargetDeploymentId(), m.GetCommandId())
			})
		},
	}
	cmd.Flags().StringVar(&to, "to", "", "the successful deployment whose commit to deploy (default: the one before the latest success)")
	cmd.Flags().DurationVar(&wait, "wait", 0, "wait up to this long for the agent to start the rollback")
	return cmd
}
