package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/ferrycd/ferry/internal/localcluster"
)

// newDevCmd builds `ferry dev`, tools for working on Ferry and trying it
// out; for now the local Kubernetes cluster.
func newDevCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "dev",
		Short: "Developer tools: a local Kubernetes cluster to deploy to",
	}
	cmd.AddCommand(newDevClusterCmd())
	return cmd
}

// newDevClusterCmd builds `ferry dev cluster` and its verbs.
func newDevClusterCmd() *cobra.Command {
	var stateDir string
	cmd := &cobra.Command{
		Use:   "cluster",
		Short: "Run a local Kubernetes cluster in the background (pods are simulated)",
		Long: `Run a real Kubernetes control plane on 127.0.0.1 — etcd, kube-apiserver,
kube-controller-manager and kube-scheduler — with kwok playing the kubelet
for fake nodes. Objects go through the real API server and controllers
(Deployments roll out, Services get endpoints objects, namespaces finalise),
but no container ever runs: kwok marks scheduled pods Running and Ready.

The binaries come from hack/kube/build.sh in Ferry's source tree, which
builds them once into the user cache (about 15 minutes) and prints their
directory; set FERRY_KUBE_BIN to it, or leave it unset to use the default
cache folder. See docs/local-cluster.md.

To deploy to a real cluster instead, give Ferry any kubeconfig.`,
	}
	cmd.PersistentFlags().StringVar(&stateDir, "state-dir", defaultDevClusterDir(),
		"directory for the cluster's data, logs, kubeconfig and pids")
	cmd.AddCommand(newDevClusterUpCmd(&stateDir), newDevClusterDownCmd(&stateDir),
		newDevClusterStatusCmd(&stateDir), newDevClusterKubeconfigCmd(&stateDir))
	return cmd
}

// defaultDevClusterDir is $XDG_STATE_HOME/ferry/dev-cluster, falling back to
// ~/.local/state as the XDG base directory specification says.
func defaultDevClusterDir() string {
	base := os.Getenv("XDG_STATE_HOME")
	if base == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return filepath.Join(os.TempDir(), "ferry-dev-cluster")
		}
		base = filepath.Join(home, ".local", "state")
	}
	return filepath.Join(base, "ferry", "dev-cluster")
}

func newDevClusterUpCmd(stateDir *string) *cobra.Command {
	var (
		nodes   int
		binDir  string
		timeout time.Duration
	)
	cmd := &cobra.Command{
		Use:   "up",
		Short: "Start the local cluster and print its kubeconfig path",
		Long: `Start the local cluster in the background and wait until it is ready: the
API server answers, the default service account exists, the scheduler runs
and every node is Ready. The processes keep running after this command
exits, until ` + "`ferry dev cluster down`" + `. Prints the admin kubeconfig's path on
stdout. If the cluster already runs, prints the path and changes nothing; if
an earlier cluster in --state-dir died, cleans up after it first.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if c, err := localcluster.Open(*stateDir); err == nil && c.Running() {
				fmt.Fprintf(cmd.ErrOrStderr(), "local cluster already running at %s\n", c.Server())
				fmt.Fprintln(cmd.OutOrStdout(), c.Kubeconfig())
				return nil
			}
			bin, err := localcluster.FindBinDir(binDir)
			if err != nil {
				return fmt.Errorf("ferry dev cluster up: %w", err)
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "starting local cluster (Kubernetes %s, %d kwok node(s)) in %s\n",
				localcluster.KubernetesVersion, nodes, *stateDir)
			begin := time.Now()
			c, err := localcluster.Start(cmd.Context(), localcluster.Options{
				BinDir: bin, Dir: *stateDir, Nodes: nodes, Detach: true, Timeout: timeout,
				Logger: slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: slog.LevelWarn})),
			})
			if err != nil {
				return fmt.Errorf("ferry dev cluster up: %w", err)
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "ready in %s at %s; use it with:\n  export KUBECONFIG=%s\n",
				time.Since(begin).Round(100*time.Millisecond), c.Server(), c.Kubeconfig())
			fmt.Fprintln(cmd.OutOrStdout(), c.Kubeconfig())
			return nil
		},
	}
	cmd.Flags().IntVar(&nodes, "nodes", 1, "number of kwok nodes")
	cmd.Flags().StringVar(&binDir, "bin-dir", "",
		"directory of the binaries hack/kube/build.sh built (default $"+localcluster.BinEnv+", else the default cache folder)")
	cmd.Flags().DurationVar(&timeout, "timeout", 2*time.Minute, "how long to wait for the cluster to become ready")
	return cmd
}

func newDevClusterDownCmd(stateDir *string) *cobra.Command {
	return &cobra.Command{
		Use:   "down",
		Short: "Stop the local cluster and delete its data",
		Long: `Stop every process ` + "`ferry dev cluster up`" + ` started (SIGTERM, then SIGKILL
after 10 seconds) and remove the cluster's data, logs and kubeconfig from
--state-dir. Succeeds, saying so, when no cluster is there.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := localcluster.Open(*stateDir)
			if errors.Is(err, localcluster.ErrNotRunning) {
				fmt.Fprintf(cmd.OutOrStdout(), "no local cluster in %s\n", *stateDir)
				return nil
			}
			if err != nil {
				return fmt.Errorf("ferry dev cluster down: %w", err)
			}
			if err := c.Stop(); err != nil {
				return fmt.Errorf("ferry dev cluster down: %w", err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "stopped local cluster %s\n", c.Server())
			return nil
		},
	}
}

func newDevClusterStatusCmd(stateDir *string) *cobra.Command {
	return &cobra.Command{
		Use:   "status",
		Short: "Say whether the local cluster runs, with its API address and nodes",
		Long: `Print "running" with the API server's address, the number of nodes (and how
many are Ready) and the kubeconfig path. Exits non-zero, saying why, when
the cluster is not running or its API server does not answer.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := runningDevCluster(*stateDir)
			if err != nil {
				return err
			}
			cs, err := c.Clientset()
			if err != nil {
				return fmt.Errorf("ferry dev cluster status: %w", err)
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), 5*time.Second)
			defer cancel()
			nodes, err := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
			if err != nil {
				return fmt.Errorf("local cluster processes run but its API server %s does not answer: %w", c.Server(), err)
			}
			ready := 0
			for i := range nodes.Items {
				for _, cond := range nodes.Items[i].Status.Conditions {
					if cond.Type == corev1.NodeReady && cond.Status == corev1.ConditionTrue {
						ready++
					}
				}
			}
			out := cmd.OutOrStdout()
			fmt.Fprintln(out, "running")
			fmt.Fprintf(out, "  api server:  %s\n", c.Server())
			fmt.Fprintf(out, "  nodes:       %d (%d ready)\n", len(nodes.Items), ready)
			fmt.Fprintf(out, "  kubeconfig:  %s\n", c.Kubeconfig())
			fmt.Fprintf(out, "  started at:  %s\n", c.State().StartedAt.Local().Format(time.RFC3339))
			return nil
		},
	}
}

func newDevClusterKubeconfigCmd(stateDir *string) *cobra.Command {
	var contents bool
	cmd := &cobra.Command{
		Use:   "kubeconfig",
		Short: "Print the local cluster's admin kubeconfig path (or contents)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := runningDevCluster(*stateDir)
			if err != nil {
				return err
			}
			if !contents {
				fmt.Fprintln(cmd.OutOrStdout(), c.Kubeconfig())
				return nil
			}
			b, err := os.ReadFile(c.Kubeconfig())
			if err != nil {
				return fmt.Errorf("ferry dev cluster kubeconfig: %w", err)
			}
			_, err = cmd.OutOrStdout().Write(b)
			return err
		},
	}
	cmd.Flags().BoolVar(&contents, "contents", false, "print the kubeconfig itself instead of its path")
	return cmd
}

// runningDevCluster opens the cluster in stateDir, with a one-line error
// when it is not running.
func runningDevCluster(stateDir string) (*localcluster.Cluster, error) {
	c, err := localcluster.Open(stateDir)
	if errors.Is(err, localcluster.ErrNotRunning) {
		return nil, fmt.Errorf("local cluster not running (no cluster in %s); start it with `ferry dev cluster up`", stateDir)
	}
	if err != nil {
		return nil, err
	}
	if !c.Running() {
		for _, p := range c.State().Processes {
			if !p.Alive() {
				return nil, fmt.Errorf("local cluster not running: %s (pid %d) exited, see %s; `ferry dev cluster down` cleans up", p.Name, p.PID, p.Log)
			}
		}
		return nil, fmt.Errorf("local cluster not running: no processes recorded in %s; `ferry dev cluster down` cleans up", stateDir)
	}
	return c, nil
}
