package cli

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"connectrpc.com/connect"

	ferryv1 "github.com/ferrycd/ferry/api/gen/ferry/v1"
	"github.com/ferrycd/ferry/internal/agent"
	"github.com/ferrycd/ferry/internal/config"
)

// examples are the quickstart's example applications, committed to a
// local Git repository on the first run.
//
//go:embed all:examples
var examples embed.FS

// quickstartAgent is the name of the agent quickstart registers.
const quickstartAgent = "quickstart"

// exampleRepo creates the examples repository on the first run and returns
// its path. Later runs keep it as the user left it.
func (q *quickstart) exampleRepo(ctx context.Context) (string, error) {
	dir := filepath.Join(q.dataDir, "repo")
	if _, err := os.Stat(filepath.Join(dir, ".git")); err == nil {
		return dir, nil
	}
	if _, err := exec.LookPath("git"); err != nil {
		return "", errors.New("the quickstart needs git on PATH for its example repository")
	}
	err := fs.WalkDir(examples, "examples", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := examples.ReadFile(p)
		if err != nil {
			return err
		}
		out := filepath.Join(dir, strings.TrimPrefix(p, "examples/"))
		if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
			return err
		}
		return os.WriteFile(out, data, 0o644)
	})
	if err != nil {
		return "", fmt.Errorf("write the example repository: %w", err)
	}
	for _, args := range [][]string{
		{"init", "-q", "-b", "main"},
		{"add", "-A"},
		{"-c", "user.name=Ferry quickstart", "-c", "user.email=quickstart@ferry.dev", "commit", "-q", "-m", "Example applications"},
	} {
		cmd := exec.CommandContext(ctx, "git", args...)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			return "", fmt.Errorf("git %s: %w: %s", args[0], err, strings.TrimSpace(string(out)))
		}
	}
	// The commit the quickstart suggests must work for a user git knows no
	// name for: give the repository one of its own then.
	who := exec.CommandContext(ctx, "git", "config", "--get", "user.email")
	who.Dir = dir
	if err := who.Run(); err != nil {
		for _, kv := range [][2]string{{"user.name", "Ferry quickstart"}, {"user.email", "quickstart@ferry.dev"}} {
			cmd := exec.CommandContext(ctx, "git", "config", kv[0], kv[1])
			cmd.Dir = dir
			if out, err := cmd.CombinedOutput(); err != nil {
				return "", fmt.Errorf("git config: %w: %s", err, strings.TrimSpace(string(out)))
			}
		}
	}
	return dir, nil
}

// agentConfig registers the quickstart's agent (once; its key is kept,
// mode 0600, in the data directory) and returns its config.
func (q *quickstart) agentConfig(ctx context.Context, user cliContext, repoDir, kubeconfig string) (*config.Agent, error) {
	client := newUserClient(user, 30*time.Second)
	keyFile := filepath.Join(q.dataDir, "agent-key")
	key, keyErr := os.ReadFile(keyFile)
	res, err := client.GetAgent(ctx, connect.NewRequest(&ferryv1.GetAgentRequest{Agent: quickstartAgent}))
	var id string
	switch {
	case err == nil && keyErr == nil:
		id = res.Msg.GetAgent().GetId()
	case err == nil:
		// Registered, but its key is gone: give it a new one.
		rot, err := client.RotateAgentKey(ctx, connect.NewRequest(&ferryv1.RotateAgentKeyRequest{Agent: quickstartAgent}))
		if err != nil {
			return nil, fmt.Errorf("rotate the quickstart agent's key: %w", err)
		}
		id, key = rot.Msg.GetAgent().GetId(), []byte(rot.Msg.GetKey())
	case connect.CodeOf(err) == connect.CodeNotFound:
		reg, err := client.RegisterAgent(ctx, connect.NewRequest(&ferryv1.RegisterAgentRequest{Name: quickstartAgent, Description: "the quickstart's local agent"}))
		if err != nil {
			return nil, fmt.Errorf("register the quickstart agent: %w", err)
		}
		id, key = reg.Msg.GetAgent().GetId(), []byte(reg.Msg.GetKey())
	default:
		return nil, fmt.Errorf("read the quickstart agent: %w", err)
	}
	if err := os.WriteFile(keyFile, []byte(strings.TrimSpace(string(key))+"\n"), 0o600); err != nil {
		return nil, fmt.Errorf("keep the agent key: %w", err)
	}
	return &config.Agent{
		APIVersion: config.APIVersionFerry, Kind: config.KindAgent, File: "(quickstart)",
		Spec: config.AgentSpec{
			ProjectID: "default", AgentID: id, AgentKeyFile: keyFile, APIAddress: user.Address,
			// The repository is local: fetching it is cheap, so poll often.
			SyncInterval: config.Duration(5 * time.Second),
			Repositories: []config.AgentRepository{{RepoID: "examples", Remote: "file://" + repoDir, Branch: "main"}},
			PlatformProviders: []config.PlatformProvider{{
				Name: "local", Type: config.PlatformKubernetes,
				Kubernetes: &config.KubernetesProviderConfig{KubeConfigPath: kubeconfig},
			}},
		},
	}, nil
}

// startAgent runs the agent in this process until ctx ends; the returned
// function waits for it to stop.
func (q *quickstart) startAgent(ctx context.Context, cfg *config.Agent, logger *slog.Logger) (func(), error) {
	providers, err := buildProviders(cfg, filepath.Join(q.dataDir, "agent"))
	if err != nil {
		return nil, err
	}
	a, err := agent.New(ctx, cfg, agent.Options{Providers: providers, CacheDir: filepath.Join(q.dataDir, "agent"), Logger: logger})
	if err != nil {
		closeProviders(providers)
		return nil, err
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := a.Run(ctx); err != nil {
			fmt.Fprintln(q.errOut, "ferry: agent:", err)
		}
		_ = a.Close()
		closeProviders(providers)
	}()
	return func() { <-done }, nil
}

// syncExisting queues a SYNC command for each application of the
// quickstart's agent, for the agent to take when it connects.
func syncExisting(ctx context.Context, user cliContext) error {
	client := newUserClient(user, 30*time.Second)
	res, err := client.ListApplications(ctx, connect.NewRequest(&ferryv1.ListApplicationsRequest{Agent: quickstartAgent}))
	if err != nil {
		return fmt.Errorf("list the example applications: %w", err)
	}
	for _, a := range res.Msg.GetApplications() {
		if _, err := client.SyncApplication(ctx, connect.NewRequest(&ferryv1.SyncApplicationRequest{Application: a.GetId()})); err != nil {
			return fmt.Errorf("sync %s: %w", a.GetName(), err)
		}
	}
	return nil
}

// waitDeployed waits until every application of the agent has a
// deployment that succeeded after since and live state shows it SYNCED, and
// fails with the reason of a failed one; its errors name ferry, the command
// that runs the CLI.
func waitDeployed(ctx context.Context, user cliContext, ferry string, want int, since time.Time, timeout time.Duration) error {
	client := newUserClient(user, 30*time.Second)
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for {
		res, err := client.ListApplications(ctx, connect.NewRequest(&ferryv1.ListApplicationsRequest{Agent: quickstartAgent}))
		if err == nil {
			done := 0
			for _, a := range res.Msg.GetApplications() {
				last := a.GetMostRecentDeployment()
				switch {
				case a.GetSyncState().GetStatus() == ferryv1.SyncStatus_SYNC_STATUS_INVALID_CONFIG:
					return fmt.Errorf("application %s: %s", a.GetName(), a.GetSyncState().GetReason())
				case last.GetStatus() == ferryv1.DeploymentStatus_DEPLOYMENT_STATUS_FAILURE && !last.GetStartedAt().AsTime().Before(since):
					return fmt.Errorf("the deployment of %s failed: %s deployment get %s says why", a.GetName(), ferry, last.GetDeploymentId())
				case !a.GetMostRecentSuccessfulDeployment().GetCompletedAt().AsTime().Before(since) &&
					a.GetSyncState().GetStatus() == ferryv1.SyncStatus_SYNC_STATUS_SYNCED:
					done++
				}
			}
			if done >= want {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("the example applications were not deployed within %s (%s deployment list shows why)", timeout, ferry)
		case <-tick.C:
		}
	}
}
