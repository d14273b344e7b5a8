package cli

import (
	"bufio"
	"fmt"
	"io"
	"strings"

	"connectrpc.com/connect"
	"github.com/spf13/cobra"

	ferryv1 "github.com/ferrycd/ferry/api/gen/ferry/v1"
)

// newLoginCmd builds `ferry login`, which checks an API key against a control
// plane and saves both as a context.
func newLoginCmd(g *globals) *cobra.Command {
	var (
		name     string
		keyStdin bool
	)
	cmd := &cobra.Command{
		Use:   "login --address URL (--api-key KEY | --api-key-stdin)",
		Short: "Save a control plane and an API key as a context and make it current",
		Long: `Check an API key against a control plane and save both as a context in the
CLI's config file ($FERRY_CONFIG, default ~/.config/ferry/config.yaml, mode
0600). The context becomes the current one; later verbs use it unless
--context, --address/--api-key or FERRY_ADDRESS/FERRY_API_KEY say otherwise.`,
		Example: `  ferry login --address http://localhost:8080 --api-key "$KEY"
  echo "$KEY" | ferry login --address https://ferry.example.com --api-key-stdin --name prod`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if g.address == "" {
				return usagef("--address is required: the control plane URL, such as http://localhost:8080")
			}
			key := g.apiKey
			if keyStdin {
				k, err := readKey(cmd.InOrStdin())
				if err != nil {
					return err
				}
				key = k
			}
			if key == "" {
				return usagef("an API key is required: --api-key KEY or --api-key-stdin (ferry server prints one on first start)")
			}
			addr, err := normalizeAddress(g.address)
			if err != nil {
				return err
			}
			ctx := cliContext{Name: name, Address: addr, APIKey: key}
			res, err := newUserClient(ctx, g.timeout).GetMe(cmd.Context(), connect.NewRequest(&ferryv1.GetMeRequest{}))
			if err != nil {
				return err
			}
			cfg, err := loadCLIConfig()
			if err != nil {
				return err
			}
			cfg.upsert(ctx)
			cfg.CurrentContext = name
			if err := cfg.save(); err != nil {
				return err
			}
			me := res.Msg
			fmt.Fprintf(cmd.OutOrStdout(), "Logged in to %s as %s (%s) in project %s; context %q saved to %s\n",
				addr, me.GetSubject(), strings.ToLower(enumName(me.GetRole())), me.GetProjectId(), name, cfg.path)
			return nil
		},
	}
	cmd.Flags().StringVar(&name, "name", "default", "name of the context to save")
	cmd.Flags().BoolVar(&keyStdin, "api-key-stdin", false, "read the API key from standard input")
	return cmd
}

// readKey reads one line from r, trimmed.
func readKey(r io.Reader) (string, error) {
	line, err := bufio.NewReader(r).ReadString('\n')
	if err != nil && err != io.EOF {
		return "", fmt.Errorf("read API key from stdin: %w", err)
	}
	return strings.TrimSpace(line), nil
}

// newContextCmd builds `ferry context`, which lists and switches saved
// contexts.
func newContextCmd(_ *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "context",
		Short: "List, switch and delete the saved control-plane contexts",
	}
	list := &cobra.Command{
		Use:   "list",
		Short: "List the saved contexts; the current one is marked with *",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadCLIConfig()
			if err != nil {
				return err
			}
			p := &printer{w: cmd.OutOrStdout(), format: "table"}
			return p.print(nil, func(t *table) {
				t.row("CURRENT", "NAME", "ADDRESS")
				for _, c := range cfg.Contexts {
					mark := " "
					if c.Name == cfg.CurrentContext {
						mark = "*"
					}
					t.row(mark, c.Name, c.Address)
				}
			})
		},
	}
	use := &cobra.Command{
		Use:   "use NAME",
		Short: "Make a saved context the current one",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := loadCLIConfig()
			if err != nil {
				return err
			}
			if cfg.find(args[0]) == nil {
				return usagef("context %q is not saved: ferry context list shows the saved ones", args[0])
			}
			cfg.CurrentContext = args[0]
			if err := cfg.save(); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Current context is now %q\n", args[0])
			return nil
		},
	}
	del := &cobra.Command{
		Use:   "delete NAME",
		Short: "Delete a saved context and its API key",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := loadCLIConfig()
			if err != nil {
				return err
			}
			if !cfg.remove(args[0]) {
				return usagef("context %q is not saved: ferry context list shows the saved ones", args[0])
			}
			if err := cfg.save(); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Context %q deleted\n", args[0])
			return nil
		},
	}
	cmd.AddCommand(list, use, del)
	return cmd
}
