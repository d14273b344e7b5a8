package cli

import (
	"fmt"
	"strings"

	"connectrpc.com/connect"
	"github.com/spf13/cobra"

	ferryv1 "github.com/ferrycd/ferry/api/gen/ferry/v1"
)

// newAPIKeyCmd builds `ferry apikey …`.
func newAPIKeyCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "apikey",
		Aliases: []string{"apikeys", "api-key"},
		Short:   "Create, list and revoke API keys for the CLI and CI",
		Long: `API keys authenticate the CLI and CI. Each carries a role: viewer (read),
editor (also sync, cancel, approve, register events) or admin (also agents and
API keys). The key is printed once, as <id>.<secret>; only a hash is stored.`,
	}
	cmd.AddCommand(newAPIKeyCreateCmd(g), newAPIKeyListCmd(g), newAPIKeyRevokeCmd(g))
	return cmd
}

// roleNames are the roles an API key can carry.
var roleNames = []string{"viewer", "editor", "admin"}

func newAPIKeyCreateCmd(g *globals) *cobra.Command {
	var role string
	cmd := &cobra.Command{
		Use:     "create NAME --role viewer|editor|admin",
		Short:   "Create an API key and print it (shown once)",
		Example: `  ferry apikey create ci-deployer --role editor -o json | jq -r .key`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.call(cmd)
			if err != nil {
				return err
			}
			r, err := parseRole(role)
			if err != nil {
				return err
			}
			res, err := c.client.CreateAPIKey(c.ctx, connect.NewRequest(&ferryv1.CreateAPIKeyRequest{Name: args[0], Role: r}))
			if err != nil {
				return err
			}
			return c.out.print(res.Msg, func(t *table) {
				k := res.Msg.GetApiKey()
				t.fields("ID", k.GetId(), "Name", k.GetName(), "Role", strings.ToLower(enumName(k.GetRole())), "Key", res.Msg.GetKey())
				fmt.Fprintln(t.tw, "\nSave the key now: it is not shown again.")
			})
		},
	}
	cmd.Flags().StringVar(&role, "role", "", "the key's role: "+strings.Join(roleNames, ", "))
	_ = cmd.MarkFlagRequired("role")
	_ = cmd.RegisterFlagCompletionFunc("role", cobra.FixedCompletions(roleNames, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

// parseRole accepts the roles an API key may have; the agent role is not
// one of them.
func parseRole(s string) (ferryv1.Role, error) {
	for _, n := range roleNames {
		if strings.EqualFold(s, n) {
			return parseEnum[ferryv1.Role]("role", n)
		}
	}
	return 0, usagef("--role %q is not known: use one of %s", s, strings.Join(roleNames, ", "))
}

func newAPIKeyListCmd(g *globals) *cobra.Command {
	var all bool
	cmd := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List API keys (never their secrets)",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := g.call(cmd)
			if err != nil {
				return err
			}
			res, err := c.client.ListAPIKeys(c.ctx, connect.NewRequest(&ferryv1.ListAPIKeysRequest{IncludeRevoked: all}))
			if err != nil {
				return err
			}
			return c.out.print(res.Msg, func(t *table) {
				t.row("ID", "NAME", "ROLE", "CREATOR", "REVOKED", "LAST USED", "AGE")
				for _, k := range res.Msg.GetApiKeys() {
					t.row(k.GetId(), k.GetName(), strings.ToLower(enumName(k.GetRole())), k.GetCreator(), fmt.Sprint(k.GetRevoked()), age(k.GetLastUsedAt()), age(k.GetCreatedAt()))
				}
			})
		},
	}
	cmd.Flags().BoolVar(&all, "all", false, "include revoked keys")
	return cmd
}

func newAPIKeyRevokeCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "revoke ID",
		Short: "Revoke an API key: it is refused from then on",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.call(cmd)
			if err != nil {
				return err
			}
			res, err := c.client.RevokeAPIKey(c.ctx, connect.NewRequest(&ferryv1.RevokeAPIKeyRequest{Id: args[0]}))
			if err != nil {
				return err
			}
			return c.out.print(res.Msg, func(t *table) { fmt.Fprintf(t.tw, "API key %s revoked.\n", args[0]) })
		},
	}
}
