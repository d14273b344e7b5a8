package cli

import (
	"context"
	"fmt"

	"connectrpc.com/connect"
	"github.com/spf13/cobra"
	"google.golang.org/protobuf/proto"

	ferryv1 "github.com/ferrycd/ferry/api/gen/ferry/v1"
	"github.com/ferrycd/ferry/api/gen/ferry/v1/ferryv1connect"
)

// callCtx is what a verb needs to call the control plane and print.
type callCtx struct {
	ctx    context.Context
	client ferryv1connect.UserServiceClient
	out    *printer
}

// call checks the output flag and resolves the control plane, before any
// request is made, so a bad flag fails fast with a usage error.
func (g *globals) call(cmd *cobra.Command) (*callCtx, error) {
	out, err := g.printer(cmd.OutOrStdout())
	if err != nil {
		return nil, err
	}
	client, err := g.userClient()
	if err != nil {
		return nil, err
	}
	return &callCtx{ctx: cmd.Context(), client: client, out: out}, nil
}

// completeAgents offers agent names for shell completion.
func (g *globals) completeAgents(cmd *cobra.Command, args []string, _ string) ([]string, cobra.ShellCompDirective) {
	if len(args) > 0 {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	client, err := g.userClient()
	if err != nil {
		return nil, cobra.ShellCompDirectiveError
	}
	res, err := client.ListAgents(cmd.Context(), connect.NewRequest(&ferryv1.ListAgentsRequest{IncludeDisabled: true}))
	if err != nil {
		return nil, cobra.ShellCompDirectiveError
	}
	var names []string
	for _, a := range res.Msg.GetAgents() {
		names = append(names, a.GetName())
	}
	return names, cobra.ShellCompDirectiveNoFileComp
}

// completeApps offers application names for shell completion, and
// REPO:PATH for the applications whose name is not unique.
func (g *globals) completeApps(cmd *cobra.Command, args []string, _ string) ([]string, cobra.ShellCompDirective) {
	if len(args) > 0 {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	client, err := g.userClient()
	if err != nil {
		return nil, cobra.ShellCompDirectiveError
	}
	res, err := client.ListApplications(cmd.Context(), connect.NewRequest(&ferryv1.ListApplicationsRequest{IncludeDisabled: true, PageSize: 1000}))
	if err != nil {
		return nil, cobra.ShellCompDirectiveError
	}
	apps := res.Msg.GetApplications()
	count := map[string]int{}
	for _, a := range apps {
		count[a.GetName()]++
	}
	var names []string
	for _, a := range apps {
		if count[a.GetName()] > 1 {
			names = append(names, configRef(a.GetGitPath())+"\t"+a.GetName())
			continue
		}
		names = append(names, a.GetName())
	}
	return names, cobra.ShellCompDirectiveNoFileComp
}

// agentNames maps agent ids to names, so tables show names; on error it
// returns an empty map and the tables show ids.
func (c *callCtx) agentNames() map[string]string {
	names := map[string]string{}
	if c.out.format != "table" {
		return names
	}
	res, err := c.client.ListAgents(c.ctx, connect.NewRequest(&ferryv1.ListAgentsRequest{IncludeDisabled: true}))
	if err != nil {
		return names
	}
	for _, a := range res.Msg.GetAgents() {
		names[a.GetId()] = a.GetName()
	}
	return names
}

// agentName returns the agent's name when known, else its id.
func agentName(names map[string]string, id string) string {
	if n, ok := names[id]; ok {
		return n
	}
	return id
}

// named is an API object with a name: an agent or an application.
type named interface {
	proto.Message
	GetName() string
}

// objectAction builds a verb that acts on one agent or application, named
// by id or name, and prints the object it returns.
func objectAction[T named](g *globals, noun, verb, short string, do func(c *callCtx, ref string) (T, error)) *cobra.Command {
	arg, complete := "APP", g.completeApps
	if noun == "Agent" {
		arg, complete = "AGENT", g.completeAgents
	}
	return &cobra.Command{
		Use:               verb + " " + arg,
		Short:             short,
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: complete,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.call(cmd)
			if err != nil {
				return err
			}
			obj, err := do(c, args[0])
			if err != nil {
				return err
			}
			return c.out.print(obj, func(t *table) { fmt.Fprintf(t.tw, "%s %s %sd.\n", noun, obj.GetName(), verb) })
		},
	}
}
