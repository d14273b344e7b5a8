package cli

import (
	"context"
	"fmt"
	"strings"
	"time"

	"connectrpc.com/connect"
	"github.com/spf13/cobra"

	ferryv1 "github.com/ferrycd/ferry/api/gen/ferry/v1"
)

func newAppSyncCmd(g *globals) *cobra.Command {
	var (
		strategy string
		wait     time.Duration
	)
	cmd := &cobra.Command{
		Use:   "sync APP",
		Short: "Ask the application's agent to deploy the latest commit now",
		Long: `Queue a sync command for the application's agent, which deploys the head of
the application's branch. A connected agent receives it at once. With --wait
the command returns when the agent has handled it (or fails on timeout).`,
		Example: `  ferry app sync checkout
  ferry app sync checkout --strategy pipeline --wait 2m`,
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: g.completeApps,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.call(cmd)
			if err != nil {
				return err
			}
			st, err := parseEnum[ferryv1.SyncStrategy]("strategy", strategy)
			if err != nil {
				return err
			}
			res, err := c.client.SyncApplication(c.ctx, connect.NewRequest(&ferryv1.SyncApplicationRequest{Application: args[0], Strategy: st}))
			if err != nil {
				return err
			}
			id := res.Msg.GetCommandId()
			if wait <= 0 {
				return c.out.print(res.Msg, func(t *table) {
					fmt.Fprintf(t.tw, "Sync of %s requested (command %s).\n", args[0], id)
				})
			}
			command, err := waitCommand(c, id, wait)
			if err != nil {
				return err
			}
			if err := c.out.print(command, func(t *table) { commandDetail(t, command) }); err != nil {
				return err
			}
			if command.GetStatus() != ferryv1.CommandStatus_COMMAND_STATUS_SUCCEEDED {
				return fmt.Errorf("command %s %s: %s", id, strings.ToLower(enumName(command.GetStatus())), command.GetOutput())
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&strategy, "strategy", "auto", "how to deploy: "+strings.Join(enumNames[ferryv1.SyncStrategy](), ", "))
	cmd.Flags().DurationVar(&wait, "wait", 0, "wait up to this long for the agent to handle the command (0: do not wait)")
	_ = cmd.RegisterFlagCompletionFunc("strategy", cobra.FixedCompletions(enumNames[ferryv1.SyncStrategy](), cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

// commandPollInterval is how often --wait re-reads a command.
const commandPollInterval = 250 * time.Millisecond

// waitCommand reads the command until its agent has handled it.
func waitCommand(c *callCtx, id string, limit time.Duration) (*ferryv1.Command, error) {
	ctx, cancel := context.WithTimeout(c.ctx, limit)
	defer cancel()
	tick := time.NewTicker(commandPollInterval)
	defer tick.Stop()
	for {
		res, err := c.client.GetCommand(ctx, connect.NewRequest(&ferryv1.GetCommandRequest{CommandId: id}))
		if err != nil {
			if ctx.Err() != nil {
				return nil, fmt.Errorf("command %s was not handled within %s: is its agent connected? (ferry agent list)", id, limit)
			}
			return nil, err
		}
		if res.Msg.GetCommand().GetStatus() != ferryv1.CommandStatus_COMMAND_STATUS_NOT_HANDLED_YET {
			return res.Msg.GetCommand(), nil
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("command %s was not handled within %s: is its agent connected? (ferry agent list)", id, limit)
		case <-tick.C:
		}
	}
}

func commandDetail(t *table, c *ferryv1.Command) {
	t.fields(
		"Command", c.GetId(),
		"Kind", enumName(c.GetKind()),
		"Status", enumName(c.GetStatus()),
		"Application", c.GetApplicationId(),
		"Deployment", c.GetDeploymentId(),
		"Commander", c.GetCommander(),
		"Output", c.GetOutput(),
		"Handled", timestamp(c.GetHandledAt()),
	)
}
