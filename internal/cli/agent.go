package cli

import (
	"fmt"
	"strings"

	"connectrpc.com/connect"
	"github.com/spf13/cobra"

	ferryv1 "github.com/ferrycd/ferry/api/gen/ferry/v1"
)

// newAgentCmd builds `ferry agent …`: register, list, get, disable,
// enable and rotate the keys of deploy agents.
func newAgentCmd(g *globals) *cobra.Command {
	var run agentRunFlags
	cmd := &cobra.Command{
		Use:   "agent [--config agent.yaml]",
		Short: "Run the deploy agent (--config), or register and manage agents",
		Long: `With --config, run the deploy agent: it connects to the control plane
(outbound only), mirrors the repositories of its config, registers every
application config it finds, deploys commits that touch them and SYNC
commands, and reports everything as it goes. SIGTERM or Ctrl-C stops it;
deployments in progress resume on the next start. Once started it gives
back the pages of this binary that only its start-up used (the server,
the CLI), so it stays small beside what it deploys.

The verbs register and manage the project's agents. An agent authenticates
with the key printed once when it is registered; agents are named by id or
by name.`,
		Example: `  ferry agent register dev-cluster          # prints the id and key once
  ferry agent --config /etc/ferry/agent.yaml`,
		Args: cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return usagef("unknown verb %q for \"ferry agent\": see ferry agent --help", args[0])
			}
			if run.config == "" {
				return cmd.Help()
			}
			return runAgent(cmd, &run)
		},
	}
	run.register(cmd)
	cmd.AddCommand(
		newAgentRegisterCmd(g),
		newAgentListCmd(g),
		newAgentGetCmd(g),
		objectAction(g, "Agent", "disable", "Disable an agent: its keys are refused until it is enabled again",
			func(c *callCtx, a string) (*ferryv1.Agent, error) {
				res, err := c.client.DisableAgent(c.ctx, connect.NewRequest(&ferryv1.DisableAgentRequest{Agent: a}))
				if err != nil {
					return nil, err
				}
				return res.Msg.GetAgent(), nil
			}),
		objectAction(g, "Agent", "enable", "Enable a disabled agent",
			func(c *callCtx, a string) (*ferryv1.Agent, error) {
				res, err := c.client.EnableAgent(c.ctx, connect.NewRequest(&ferryv1.EnableAgentRequest{Agent: a}))
				if err != nil {
					return nil, err
				}
				return res.Msg.GetAgent(), nil
			}),
		newAgentRotateKeyCmd(g),
	)
	return cmd
}

func newAgentRegisterCmd(g *globals) *cobra.Command {
	var description string
	cmd := &cobra.Command{
		Use:   "register NAME",
		Short: "Register an agent and print its id and key (shown once)",
		Example: `  ferry agent register dev-cluster
  ferry agent register prod-eu --description "EKS eu-west-1" -o json > agent.json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.call(cmd)
			if err != nil {
				return err
			}
			res, err := c.client.RegisterAgent(c.ctx, connect.NewRequest(&ferryv1.RegisterAgentRequest{Name: args[0], Description: description}))
			if err != nil {
				return err
			}
			return c.out.print(res.Msg, func(t *table) {
				t.fields("ID", res.Msg.GetAgent().GetId(), "Name", res.Msg.GetAgent().GetName(), "Key", res.Msg.GetKey())
				fmt.Fprintln(t.tw, "\nSave the key now: it is not shown again. Give it to the agent as its agentKeyFile.")
			})
		},
	}
	cmd.Flags().StringVar(&description, "description", "", "what the agent deploys to")
	return cmd
}

func newAgentListCmd(g *globals) *cobra.Command {
	var all bool
	cmd := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List agents with their status and version",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := g.call(cmd)
			if err != nil {
				return err
			}
			res, err := c.client.ListAgents(c.ctx, connect.NewRequest(&ferryv1.ListAgentsRequest{IncludeDisabled: all}))
			if err != nil {
				return err
			}
			return c.out.print(res.Msg, func(t *table) {
				t.row("NAME", "ID", "STATUS", "VERSION", "PROVIDERS", "LAST SEEN", "AGE")
				for _, a := range res.Msg.GetAgents() {
					t.row(a.GetName(), a.GetId(), agentStatus(a), a.GetVersion(), providerNames(a), age(a.GetLastSeenAt()), age(a.GetCreatedAt()))
				}
			})
		},
	}
	cmd.Flags().BoolVar(&all, "all", false, "include disabled agents")
	return cmd
}

func newAgentGetCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:               "get AGENT",
		Short:             "Show one agent",
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: g.completeAgents,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.call(cmd)
			if err != nil {
				return err
			}
			res, err := c.client.GetAgent(c.ctx, connect.NewRequest(&ferryv1.GetAgentRequest{Agent: args[0]}))
			if err != nil {
				return err
			}
			return c.out.print(res.Msg, func(t *table) { agentDetail(t, res.Msg.GetAgent()) })
		},
	}
}

func newAgentRotateKeyCmd(g *globals) *cobra.Command {
	var finish bool
	cmd := &cobra.Command{
		Use:   "rotate-key AGENT",
		Short: "Add a new key to an agent (shown once), or drop its old one with --finish",
		Long: `Rotate an agent's key in two steps, with no downtime:

  1. ferry agent rotate-key AGENT            adds a new key and prints it once;
                                             the old key keeps working
  2. give the agent its new key and restart it
  3. ferry agent rotate-key AGENT --finish   drops the old key

An agent holds two keys at most.`,
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: g.completeAgents,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.call(cmd)
			if err != nil {
				return err
			}
			if finish {
				res, err := c.client.DeleteOldAgentKeys(c.ctx, connect.NewRequest(&ferryv1.DeleteOldAgentKeysRequest{Agent: args[0]}))
				if err != nil {
					return err
				}
				return c.out.print(res.Msg, func(t *table) {
					fmt.Fprintf(t.tw, "Old keys of agent %s dropped; %d key left.\n", res.Msg.GetAgent().GetName(), res.Msg.GetAgent().GetKeyCount())
				})
			}
			res, err := c.client.RotateAgentKey(c.ctx, connect.NewRequest(&ferryv1.RotateAgentKeyRequest{Agent: args[0]}))
			if err != nil {
				return err
			}
			return c.out.print(res.Msg, func(t *table) {
				t.fields("Agent", res.Msg.GetAgent().GetName(), "New key", res.Msg.GetKey())
				fmt.Fprintf(t.tw, "\nSave the key now: it is not shown again. Once the agent uses it, run:\n  ferry agent rotate-key %s --finish\n", res.Msg.GetAgent().GetName())
			})
		},
	}
	cmd.Flags().BoolVar(&finish, "finish", false, "drop the old key, keeping only the newest")
	return cmd
}

// agentStatus is ONLINE/OFFLINE, or DISABLED.
func agentStatus(a *ferryv1.Agent) string {
	if a.GetDisabled() {
		return "DISABLED"
	}
	return enumName(a.GetStatus())
}

func providerNames(a *ferryv1.Agent) string {
	var names []string
	for _, p := range a.GetPlatformProviders() {
		names = append(names, p.GetName()+"("+strings.ToLower(enumName(p.GetType()))+")")
	}
	return strings.Join(names, ",")
}

func agentDetail(t *table, a *ferryv1.Agent) {
	var repos []string
	for _, r := range a.GetRepositories() {
		repos = append(repos, r.GetId()+" "+r.GetRemote()+"@"+r.GetBranch())
	}
	t.fields(
		"Name", a.GetName(),
		"ID", a.GetId(),
		"Description", a.GetDescription(),
		"Status", agentStatus(a),
		"Version", a.GetVersion(),
		"Platform providers", providerNames(a),
		"Repositories", strings.Join(repos, ", "),
		"Keys", fmt.Sprint(a.GetKeyCount()),
		"Started", timestamp(a.GetStartedAt()),
		"Last seen", timestamp(a.GetLastSeenAt()),
		"Created", timestamp(a.GetCreatedAt()),
	)
}
