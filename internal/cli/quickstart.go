package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/ferrycd/ferry/internal/auth"
	"github.com/ferrycd/ferry/internal/config"
	"github.com/ferrycd/ferry/internal/localcluster"
	"github.com/ferrycd/ferry/internal/server"
)

// quickstartContext is the CLI context quickstart saves and makes current.
const quickstartContext = "quickstart"

// buildScript builds the local cluster's binaries when run from a checkout.
const buildScript = "hack/kube/build.sh"

// newQuickstartCmd builds `ferry quickstart`.
func newQuickstartCmd() *cobra.Command {
	var (
		dataDir, address, kubeconfig string
		reset                        bool
	)
	cmd := &cobra.Command{
		Use:   "quickstart",
		Short: "Run Ferry on this machine: control plane, local cluster, agent and two example apps",
		Long: `Start everything Ferry needs on one machine, with no external service:

  - the control plane on an embedded SQLite database and a local filestore
    in --data-dir, serving the API on --address;
  - a local Kubernetes control plane (etcd, kube-apiserver, controller
    manager, scheduler) with kwok nodes whose pods become Ready without
    running containers — or the cluster of --kubeconfig;
  - a local Git repository with two example applications (plain manifests,
    and Kustomize with a local base) and a deploy agent that deploys them,
    and every commit you make to it;
  - a CLI context "quickstart", made current, so ferry app list and the
    other verbs work from any terminal; when this binary is not the ferry
    on PATH (as after go run ./cmd/ferry quickstart), a copy of it is kept
    in --data-dir's bin folder and the commands it prints call that copy.

The first run in a Ferry checkout builds the cluster's binaries (about 15
minutes; cached after that). State is kept in --data-dir between runs; the
local cluster starts empty each time, so a later run syncs the example
applications again. --reset starts over. Ctrl-C stops everything.`,
		Example: `  ferry quickstart
  ferry quickstart --kubeconfig ~/.kube/config --address 127.0.0.1:9090`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			q := &quickstart{out: cmd.OutOrStdout(), errOut: cmd.ErrOrStderr(), dataDir: dataDir, address: address, kubeconfig: kubeconfig}
			if reset {
				if err := os.RemoveAll(dataDir); err != nil {
					return fmt.Errorf("reset %s: %w", dataDir, err)
				}
			}
			return q.run(ctx)
		},
	}
	f := cmd.Flags()
	f.StringVar(&dataDir, "data-dir", defaultQuickstartDir(), "where the quickstart keeps its database, files and cluster state")
	f.StringVar(&address, "address", "127.0.0.1:8080", "address of the control plane's API")
	f.StringVar(&kubeconfig, "kubeconfig", "", "deploy to this cluster instead of starting a local one")
	f.BoolVar(&reset, "reset", false, "delete --data-dir first and start from scratch")
	return cmd
}

func defaultQuickstartDir() string {
	if dir, err := os.UserCacheDir(); err == nil {
		return filepath.Join(dir, "ferry", "quickstart")
	}
	return "ferry-quickstart"
}

// quickstart runs the pieces and reports on them.
type quickstart struct {
	out, errOut                  io.Writer
	dataDir, address, kubeconfig string
}

func (q *quickstart) run(ctx context.Context) error {
	if err := os.MkdirAll(q.dataDir, 0o700); err != nil {
		return fmt.Errorf("create %s: %w", q.dataDir, err)
	}
	logFile, err := os.OpenFile(filepath.Join(q.dataDir, "ferry.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("open log: %w", err)
	}
	defer logFile.Close()
	logger := slog.New(slog.NewTextHandler(logFile, nil))

	kubeconfig := q.kubeconfig
	var cluster *localcluster.Cluster
	if kubeconfig == "" {
		fmt.Fprintln(q.errOut, "Starting the local Kubernetes cluster…")
		cluster, err = q.startCluster(ctx, logger)
		if err != nil {
			return err
		}
		defer func() {
			if err := cluster.Stop(); err != nil {
				fmt.Fprintln(q.errOut, "ferry:", err)
			}
		}()
		kubeconfig = cluster.Kubeconfig()
	} else if _, err := os.Stat(kubeconfig); err != nil {
		return usagef("--kubeconfig %s: %v", kubeconfig, err)
	}

	fmt.Fprintln(q.errOut, "Starting the control plane…")
	password, err := q.adminPassword()
	if err != nil {
		return err
	}
	hash, err := auth.HashPassword(password)
	if err != nil {
		return err
	}
	keyFile := filepath.Join(q.dataDir, "admin-api-key")
	srv, err := server.New(server.Config{
		Address: q.address, DataDir: filepath.Join(q.dataDir, "data"),
		StaticAdmin: config.StaticAdminConfig{Username: "admin", PasswordHash: hash},
		Logger:      logger, BootstrapAPIKeyFile: keyFile,
		ShutdownTimeout: 10 * time.Second,
	})
	if err != nil {
		return err
	}
	if err := srv.Start(ctx); err != nil {
		return fmt.Errorf("start the control plane (a busy port? try --address 127.0.0.1:0): %w", err)
	}
	defer srv.Close()
	key, err := os.ReadFile(keyFile)
	if err != nil {
		return fmt.Errorf("read the admin API key (--reset starts over): %w", err)
	}
	user := cliContext{Name: quickstartContext, Address: srv.Addr(), APIKey: strings.TrimSpace(string(key))}
	cfgPath, err := saveContext(user)
	if err != nil {
		return err
	}
	ferry, err := q.ferryCommand()
	if err != nil {
		return err
	}

	repoDir, err := q.exampleRepo(ctx)
	if err != nil {
		return err
	}
	agentCfg, err := q.agentConfig(ctx, user, repoDir, kubeconfig)
	if err != nil {
		return err
	}
	since := time.Now()
	if cluster != nil {
		// The local cluster starts empty on every run: deploy again what
		// an earlier run deployed, as no new commit would.
		if err := syncExisting(ctx, user); err != nil {
			return err
		}
	}
	agentCtx, stopAgent := context.WithCancel(ctx)
	waitAgent, err := q.startAgent(agentCtx, agentCfg, logger)
	if err != nil {
		stopAgent()
		return err
	}
	defer func() {
		stopAgent()
		waitAgent()
	}()
	fmt.Fprintln(q.errOut, "Deploying the example applications…")
	if err := waitDeployed(ctx, user, ferry, 2, since, 3*time.Minute); err != nil {
		return err
	}

	fmt.Fprintf(q.out, `
Ferry is running.

  Control plane   %s   (log: %s)
  Web console     %s/   (sign in as the admin)
  Admin           admin / %s
  Kubernetes      KUBECONFIG=%s
  Git repository  %s   (agent %q deploys what you commit)
  CLI context     %q in %s (current)
  CLI             %s

`, srv.Addr(), logFile.Name(), srv.Addr(), password, kubeconfig, repoDir, quickstartAgent, quickstartContext, cfgPath, ferry)
	list := NewRootCmd()
	list.SetArgs([]string{"app", "list", "--address", user.Address, "--api-key", user.APIKey})
	list.SetOut(q.out)
	list.SetErr(q.errOut)
	if err := list.ExecuteContext(ctx); err != nil {
		return err
	}
	printTry(q.out, ferry, kubectlCommand(cluster), kubeconfig, repoDir)
	<-ctx.Done()
	fmt.Fprintln(q.errOut, "\nStopping…")
	return nil
}

// startCluster starts the local cluster, building its binaries first when
// they are missing and this is a Ferry checkout.
func (q *quickstart) startCluster(ctx context.Context, logger *slog.Logger) (*localcluster.Cluster, error) {
	opts := localcluster.Options{Dir: filepath.Join(q.dataDir, "cluster"), Logger: logger, Timeout: 3 * time.Minute}
	if _, err := localcluster.FindBinDir(""); errors.Is(err, localcluster.ErrNoBinaries) {
		if _, statErr := os.Stat(buildScript); statErr != nil {
			return nil, err
		}
		fmt.Fprintln(q.errOut, "Building the local cluster's binaries once (about 15 minutes; cached after that)…")
		build := exec.CommandContext(ctx, "bash", buildScript)
		var bin bytes.Buffer
		build.Stdout, build.Stderr = &bin, q.errOut
		if err := build.Run(); err != nil {
			return nil, fmt.Errorf("build the local cluster: %w", err)
		}
		lines := strings.Split(strings.TrimSpace(bin.String()), "\n")
		opts.BinDir = lines[len(lines)-1]
	}
	c, err := localcluster.Start(ctx, opts)
	if err != nil {
		return nil, fmt.Errorf("start the local cluster (or give --kubeconfig): %w", err)
	}
	return c, nil
}

// adminPassword returns the static admin's password, kept (mode 0600) in
// the data directory so every run of the same quickstart has the same one.
func (q *quickstart) adminPassword() (string, error) {
	path := filepath.Join(q.dataDir, "admin-password")
	if pw, err := os.ReadFile(path); err == nil {
		return strings.TrimSpace(string(pw)), nil
	}
	pw := auth.NewPassword()
	if err := os.WriteFile(path, []byte(pw+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("keep the admin password: %w", err)
	}
	return pw, nil
}

// saveContext stores ctx in the CLI config and makes it current; it returns
// the config's path.
func saveContext(ctx cliContext) (string, error) {
	cfg, err := loadCLIConfig()
	if err != nil {
		return "", err
	}
	cfg.upsert(ctx)
	cfg.CurrentContext = ctx.Name
	return cfg.path, cfg.save()
}
