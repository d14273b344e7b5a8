package cli

import (
	"connectrpc.com/connect"
	"github.com/spf13/cobra"

	ferryv1 "github.com/ferrycd/ferry/api/gen/ferry/v1"
)

// newCommandCmd builds `ferry command get`, to see what became of a command
// a verb queued for an agent (sync, cancel, approve, skip).
func newCommandCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "command",
		Short: "Show what became of a command queued for an agent",
	}
	cmd.AddCommand(&cobra.Command{
		Use:   "get COMMAND_ID",
		Short: "Show one command: its kind, status and the agent's output",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.call(cmd)
			if err != nil {
				return err
			}
			res, err := c.client.GetCommand(c.ctx, connect.NewRequest(&ferryv1.GetCommandRequest{CommandId: args[0]}))
			if err != nil {
				return err
			}
			return c.out.print(res.Msg, func(t *table) { commandDetail(t, res.Msg.GetCommand()) })
		},
	})
	return cmd
}
