package agent_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"connectrpc.com/connect"

	ferryv1 "github.com/ferrycd/ferry/api/gen/ferry/v1"
	"github.com/ferrycd/ferry/internal/agent"
	"github.com/ferrycd/ferry/internal/config"
	"github.com/ferrycd/ferry/internal/platform"
	"github.com/ferrycd/ferry/internal/platform/kubernetes"
	"github.com/ferrycd/ferry/internal/server/servertest"
	"github.com/ferrycd/ferry/internal/testenv"
)

// countingProvider runs K8S_SYNC by counting, standing for a real platform
// so the agent's wiring is tested on its own (the Kubernetes provider is
// tested on the local cluster).
type countingProvider struct{ syncs atomic.Int64 }

func (p *countingProvider) Name() string { return "local" }
func (p *countingProvider) Kind() ferryv1.ApplicationKind {
	return ferryv1.ApplicationKind_APPLICATION_KIND_KUBERNETES
}
func (p *countingProvider) Executor(stage string) platform.StageExecutor {
	if stage != "K8S_SYNC" {
		return nil
	}
	return syncFunc(func(_ context.Context, in platform.StageInput) error {
		p.syncs.Add(1)
		in.Log.Success("synced")
		return nil
	})
}

type syncFunc func(context.Context, platform.StageInput) error

func (f syncFunc) Execute(ctx context.Context, in platform.StageInput) error { return f(ctx, in) }

func git(t *testing.T, dir string, args ...string) {
	t.Helper()
	testenv.Git(t, dir, append([]string{"-c", "user.name=alice", "-c", "user.email=a@x"}, args...)...)
}

func commit(t *testing.T, dir, file, body string) {
	t.Helper()
	p := filepath.Join(dir, file)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	git(t, dir, "add", "-A")
	git(t, dir, "commit", "-q", "-m", "change "+file)
}

// registerAgent registers the agent "dev" on cp and writes its key to a
// file; it returns the agent's id and the key file.
func registerAgent(t *testing.T, cp *servertest.ControlPlane) (id, keyFile string) {
	t.Helper()
	id, key := cp.RegisterAgent("dev")
	keyFile = filepath.Join(t.TempDir(), "key")
	if err := os.WriteFile(keyFile, []byte(key), 0o600); err != nil {
		t.Fatal(err)
	}
	return id, keyFile
}

// agentConfig registers an agent on cp and returns its config, watching
// the repository in repo (branch main). Its sync interval is an hour, so
// only notices and commands wake it.
func agentConfig(t *testing.T, cp *servertest.ControlPlane, repo string) *config.Agent {
	t.Helper()
	id, keyFile := registerAgent(t, cp)
	return &config.Agent{File: "agent.yaml", Spec: config.AgentSpec{
		ProjectID: "default", AgentID: id, AgentKeyFile: keyFile, APIAddress: cp.URL(),
		SyncInterval: config.Duration(time.Hour),
		Repositories: []config.AgentRepository{{RepoID: "apps", Remote: "file://" + repo, Branch: "main"}},
	}}
}

// startAgent runs an agent with cfg and opts until the test ends, and
// checks that it then stops without an error. opts gets a cache
// directory of the test's own and, unless it has one, a logger writing to
// the test's log.
func startAgent(t *testing.T, cfg *config.Agent, opts agent.Options) {
	t.Helper()
	runAgent(t, cfg, opts)
}

// runAgent is startAgent, returning a function that stops the agent at
// once, as a restart would (calling it again does nothing).
func runAgent(t *testing.T, cfg *config.Agent, opts agent.Options) (stop func()) {
	t.Helper()
	opts.CacheDir = t.TempDir()
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(testenv.LogWriter(t), nil))
	}
	a, err := agent.New(context.Background(), cfg, opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("agent: %v", err)
			}
			_ = a.Close()
		})
	}
	t.Cleanup(stop)
	return stop
}

// runKubeAgent runs an agent with cfg and a Kubernetes provider of its own
// on the local cluster; stop stops both.
func runKubeAgent(t *testing.T, kube *testenv.KubeEnv, cfg *config.Agent) (stop func()) {
	t.Helper()
	prov, err := kubernetes.NewProvider("local", &config.KubernetesProviderConfig{KubeConfigPath: kube.Kubeconfig}, kubernetes.HelmSettings{CacheDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	stopAgent := runAgent(t, cfg, agent.Options{Providers: []platform.Provider{prov}})
	return func() { stopAgent(); _ = prov.Close() }
}

// startKubeAgent starts a control plane and a real agent, with the
// Kubernetes provider on the local cluster, watching the repository in
// repo (branch main); opts is as startAgent takes it. The agent, its
// provider and the control plane stop when the test ends.
func startKubeAgent(t *testing.T, kube *testenv.KubeEnv, repo string, opts agent.Options) *servertest.ControlPlane {
	t.Helper()
	return startKubeAgentWith(t, kube, repo, opts, nil)
}

// startKubeAgentWith is startKubeAgent with the agent's config changed by
// edit first, when not nil.
func startKubeAgentWith(t *testing.T, kube *testenv.KubeEnv, repo string, opts agent.Options, edit func(*config.Agent)) *servertest.ControlPlane {
	t.Helper()
	cp := servertest.Start(t)
	prov, err := kubernetes.NewProvider("local", &config.KubernetesProviderConfig{KubeConfigPath: kube.Kubeconfig}, kubernetes.HelmSettings{CacheDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	// Cleanups run last first: the provider closes once the agent stopped.
	t.Cleanup(func() { _ = prov.Close() })
	opts.Providers = []platform.Provider{prov}
	cfg := agentConfig(t, cp, repo)
	if edit != nil {
		edit(cfg)
	}
	startAgent(t, cfg, opts)
	return cp
}

// waitDeployments waits until the app web has n successful deployments.
func waitDeployments(t *testing.T, cp *servertest.ControlPlane, n int) []*ferryv1.Deployment {
	t.Helper()
	return waitAppDeployments(t, cp, "web", n)
}

// waitAppDeployments waits until app has n successful deployments and
// returns them, newest first.
func waitAppDeployments(t *testing.T, cp *servertest.ControlPlane, app string, n int) []*ferryv1.Deployment {
	t.Helper()
	var ds []*ferryv1.Deployment
	testenv.WaitFor(t, 20*time.Second, fmt.Sprintf("%s has %d successful deployments", app, n), func() bool {
		res, err := cp.User().ListDeployments(context.Background(), connect.NewRequest(&ferryv1.ListDeploymentsRequest{
			Application: app, Statuses: []ferryv1.DeploymentStatus{ferryv1.DeploymentStatus_DEPLOYMENT_STATUS_SUCCESS},
		}))
		if err != nil && connect.CodeOf(err) != connect.CodeNotFound { // not found: not discovered yet
			t.Fatal(err)
		}
		if err == nil {
			ds = res.Msg.Deployments
		}
		return len(ds) >= n
	})
	return ds
}

func TestTheAgentDeploysCommitsAndSyncCommands(t *testing.T) {
	repo := t.TempDir()
	git(t, repo, "init", "-q", "-b", "main")
	commit(t, repo, "web/app.pipecd.yaml", "apiVersion: pipecd.dev/v1beta1\nkind: KubernetesApp\nspec:\n  name: web\n")

	cp := servertest.Start(t)
	prov := &countingProvider{}
	startAgent(t, agentConfig(t, cp, repo), agent.Options{Providers: []platform.Provider{prov}})
	ctx := context.Background()

	// On start it discovers the app and deploys it.
	first := waitDeployments(t, cp, 1)
	if first[0].Trigger.Kind != ferryv1.TriggerKind_TRIGGER_KIND_ON_COMMIT {
		t.Errorf("first deployment trigger = %v", first[0].Trigger)
	}
	// A SYNC command deploys again, at once.
	if _, err := cp.User().SyncApplication(ctx, connect.NewRequest(&ferryv1.SyncApplicationRequest{Application: "web"})); err != nil {
		t.Fatal(err)
	}
	if ds := waitDeployments(t, cp, 2); ds[0].Trigger.Kind != ferryv1.TriggerKind_TRIGGER_KIND_ON_COMMAND {
		t.Errorf("second deployment trigger = %v", ds[0].Trigger)
	}
	// A new commit arrives with the next sync, here the one a stream
	// reconnection or push notice would start: commit, then sync by command.
	commit(t, repo, "web/deploy.yaml", "v: 2\n")
	if _, err := cp.User().SyncApplication(ctx, connect.NewRequest(&ferryv1.SyncApplicationRequest{Application: "web"})); err != nil {
		t.Fatal(err)
	}
	waitDeployments(t, cp, 3)
	if got := prov.syncs.Load(); got < 3 {
		t.Errorf("K8S_SYNC ran %d times, want 3", got)
	}
	agentRes, err := cp.User().GetAgent(ctx, connect.NewRequest(&ferryv1.GetAgentRequest{Agent: "dev"}))
	if err != nil || agentRes.Msg.Agent.Status != ferryv1.ConnectionStatus_CONNECTION_STATUS_ONLINE || len(agentRes.Msg.Agent.Repositories) != 1 {
		t.Errorf("agent = %v, %v; want ONLINE with its repository", agentRes.Msg.Agent, err)
	}
}
