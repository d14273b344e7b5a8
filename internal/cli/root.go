// Package cli holds the ferry command line: one cobra verb per file, the
// client plumbing they share (contexts, output formats, error reporting).
// It is the only package that prints to the user.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"connectrpc.com/connect"
	"github.com/spf13/cobra"
)

// Exit codes of the ferry binary.
const (
	exitOK    = 0
	exitError = 1
	// exitUsage is for a bad invocation: unknown verb or flag, bad
	// arguments, a config file that does not parse.
	exitUsage = 2
)

// Main runs ferry with args (without the program name) and returns the
// process exit code. Errors are printed to stderr as one line.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	root := NewRootCmd()
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return exitOK
	}
	fmt.Fprintln(stderr, "ferry: "+oneLine(describeError(err)))
	var ue usageError
	if errors.As(err, &ue) || isCobraUsageError(err) {
		return exitUsage
	}
	return exitError
}

// NewRootCmd builds the ferry command tree.
func NewRootCmd() *cobra.Command {
	g := &globals{}
	root := &cobra.Command{
		Use:   "ferry",
		Short: "GitOps continuous delivery for every platform",
		Long: `Ferry deploys what Git holds to Kubernetes and other platforms.

  ferry quickstart  run it all on this machine: control plane, local cluster
  ferry server      run the control plane (API, health, metrics)
  ferry login       point this CLI at a control plane with an API key
  ferry app …       list, add, sync, disable and delete applications
  ferry deployment  follow, cancel, approve and skip deployments
  ferry project …   show the project; set the roles SSO groups give
  ferry dev cluster start and stop the local Kubernetes cluster
  ferry secret      encrypt a value for an application's encryptedSecrets

The CLI talks to the control plane named by the current context (ferry
login), by --address and --api-key, or by FERRY_ADDRESS and FERRY_API_KEY.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	g.register(root)
	root.AddCommand(
		newQuickstartCmd(),
		newServerCmd(),
		newLoginCmd(g),
		newContextCmd(g),
		newAgentCmd(g),
		newAppCmd(g),
		newDeploymentCmd(g),
		newAPIKeyCmd(g),
		newProjectCmd(g),
		newSessionCmd(g),
		newEventCmd(g),
		newCommandCmd(g),
		newVersionCmd(g),
		newDevCmd(),
		newSecretCmd(),
	)
	requireVerbs(root)
	return root
}

// requireVerbs makes every command that only groups verbs refuse an unknown
// verb with a usage error (cobra would print help and exit 0) and print its
// help when called alone.
func requireVerbs(cmd *cobra.Command) {
	for _, sub := range cmd.Commands() {
		requireVerbs(sub)
	}
	if !cmd.HasSubCommands() || cmd.Runnable() || cmd == cmd.Root() {
		return
	}
	cmd.Args = cobra.ArbitraryArgs
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if len(args) > 0 {
			return usagef("unknown verb %q for %q: see %s --help", args[0], cmd.CommandPath(), cmd.CommandPath())
		}
		return cmd.Help()
	}
}

// usageError marks an error caused by how ferry was invoked (bad flags,
// arguments or config): the command exits with code 2 instead of 1.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// usagef returns a usageError with a formatted message.
func usagef(format string, args ...any) error {
	return usageError{fmt.Errorf(format, args...)}
}

// isCobraUsageError recognises the errors cobra returns for unknown verbs
// and wrong argument counts, which it does not type.
func isCobraUsageError(err error) bool {
	m := err.Error()
	for _, p := range []string{"unknown command", "accepts ", "requires at least", "requires at most", "unknown flag", "unknown shorthand"} {
		if strings.Contains(m, p) {
			return true
		}
	}
	return false
}

// describeError turns an error into what a user reads: an API error shows its
// message (and a hint for the usual causes), anything else as it is.
func describeError(err error) string {
	var ce *connect.Error
	if !errors.As(err, &ce) {
		return err.Error()
	}
	msg := ce.Message()
	switch ce.Code() {
	case connect.CodeUnauthenticated:
		return msg + " (check the API key: ferry login --address URL --api-key KEY)"
	case connect.CodeUnavailable:
		if msg == "" {
			msg = "the control plane is unavailable"
		}
		return msg
	case connect.CodeUnknown, connect.CodeInternal:
		if msg == "" {
			msg = ce.Code().String()
		}
		return msg
	default:
		return msg
	}
}

// oneLine folds a message onto one line.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
