package cli

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"connectrpc.com/connect"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	ferryv1 "github.com/ferrycd/ferry/api/gen/ferry/v1"
)

// newSessionCmd builds `ferry session …`: the web console's sign-ins.
func newSessionCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "session",
		Short: "List and sign out the web console's sessions",
		Long: `Every sign-in to the web console is a session kept in the datastore; signing
one out ends it on every control-plane replica at once. Anyone may list and end
their own sessions; admins may list everyone's in the project (--all) and end
anyone's. An API key has no sessions of its own.`,
	}
	cmd.AddCommand(newSessionListCmd(g), newSessionRevokeCmd(g))
	return cmd
}

func newSessionListCmd(g *globals) *cobra.Command {
	var all bool
	cmd := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List console sessions, newest first",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := g.call(cmd)
			if err != nil {
				return err
			}
			res, err := c.client.ListConsoleSessions(c.ctx, connect.NewRequest(&ferryv1.ListConsoleSessionsRequest{All: all}))
			if err != nil {
				return err
			}
			return c.out.print(res.Msg, func(t *table) {
				if len(res.Msg.GetSessions()) == 0 {
					fmt.Fprintln(t.tw, "No console sessions.")
					return
				}
				t.row("ID", "NAME", "SUBJECT", "ROLE", "SIGNED IN", "ENDS")
				for _, s := range res.Msg.GetSessions() {
					t.row(s.GetId(), s.GetName(), s.GetSubject(), strings.ToLower(enumName(s.GetRole())), age(s.GetCreatedAt()), s.GetExpiresAt().AsTime().Local().Format("2006-01-02 15:04"))
				}
			})
		},
	}
	cmd.Flags().BoolVar(&all, "all", false, "list everyone's sessions in the project (admin)")
	return cmd
}

func newSessionRevokeCmd(g *globals) *cobra.Command {
	var subject string
	cmd := &cobra.Command{
		Use:   "revoke (ID... | --subject SUBJECT)",
		Short: "Sign console sessions out, on every replica at once",
		Example: `  ferry session revoke 0193f2c4-…
  ferry session revoke --subject user:github:12345`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if (subject == "") == (len(args) == 0) {
				return usagef("give session IDs (ferry session list --all shows them) or --subject, not both")
			}
			c, err := g.call(cmd)
			if err != nil {
				return err
			}
			res, err := c.client.RevokeConsoleSessions(c.ctx, connect.NewRequest(&ferryv1.RevokeConsoleSessionsRequest{Ids: args, Subject: subject}))
			if err != nil {
				return err
			}
			return c.out.print(res.Msg, func(t *table) { fmt.Fprintf(t.tw, "%d session(s) signed out.\n", res.Msg.GetRevoked()) })
		},
	}
	cmd.Flags().StringVar(&subject, "subject", "", "sign out every session of this person (user:NAME, user:PROVIDER:ID)")
	return cmd
}

// newStaticAdminCmd builds `ferry project static-admin …`.
func newStaticAdminCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "static-admin",
		Short: "Change, disable or enable the static admin's password sign-in (admin)",
	}
	password := &cobra.Command{
		Use:   "set-password",
		Short: "Set the static admin's password; its console sessions are signed out",
		Long: `Set the static admin's password. It is read from the terminal (typed twice,
not shown) or, when standard input is not a terminal, from its first line.
Every console session of the static admin is signed out. The password lasts
until the ControlPlane file's spec.staticAdmin.passwordHash changes. Needs the
admin role.`,
		Example: `  ferry project static-admin set-password
  printf '%s\n' "$NEW_PASSWORD" | ferry project static-admin set-password`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			pw, err := readNewPassword(cmd.InOrStdin(), cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			c, err := g.call(cmd)
			if err != nil {
				return err
			}
			res, err := c.client.ChangeStaticAdminPassword(c.ctx, connect.NewRequest(&ferryv1.ChangeStaticAdminPasswordRequest{NewPassword: pw}))
			if err != nil {
				return err
			}
			return c.out.print(res.Msg, func(t *table) {
				fmt.Fprintf(t.tw, "Static admin password changed; %d console session(s) signed out.\n", res.Msg.GetSessionsEnded())
			})
		},
	}
	toggle := func(use, short string, disabled bool) *cobra.Command {
		return &cobra.Command{
			Use:   use,
			Short: short,
			Args:  cobra.NoArgs,
			RunE: func(cmd *cobra.Command, _ []string) error {
				c, err := g.call(cmd)
				if err != nil {
					return err
				}
				res, err := c.client.SetStaticAdminDisabled(c.ctx, connect.NewRequest(&ferryv1.SetStaticAdminDisabledRequest{Disabled: disabled}))
				if err != nil {
					return err
				}
				return c.out.print(res.Msg, func(t *table) {
					state := "enabled"
					if disabled {
						state = "disabled, and its console sessions are signed out"
					}
					fmt.Fprintf(t.tw, "Static admin %s is %s.\n", res.Msg.GetProject().GetStaticAdminUsername(), state)
				})
			},
		}
	}
	cmd.AddCommand(password,
		toggle("disable", "Refuse the static admin's password and sign its sessions out", true),
		toggle("enable", "Accept the static admin's password again", false))
	return cmd
}

// readNewPassword reads a new password: typed twice without echo on a
// terminal, else the first line of in.
func readNewPassword(in io.Reader, prompt io.Writer) (string, error) {
	if f, ok := in.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		fmt.Fprint(prompt, "New password: ")
		a, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(prompt)
		if err != nil {
			return "", fmt.Errorf("read the password: %w", err)
		}
		fmt.Fprint(prompt, "New password again: ")
		b, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(prompt)
		if err != nil {
			return "", fmt.Errorf("read the password: %w", err)
		}
		if string(a) != string(b) {
			return "", usagef("the two passwords differ: run the command again")
		}
		return string(a), nil
	}
	line, err := bufio.NewReader(in).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("read the password from standard input: %w", err)
	}
	pw := strings.TrimRight(line, "\r\n")
	if pw == "" {
		return "", usagef("no password on standard input: pipe it in, or run the command in a terminal to type it")
	}
	return pw, nil
}
