package agentscale

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"connectrpc.com/connect"
	"k8s.io/client-go/kubernetes"

	ferryv1 "github.com/ferrycd/ferry/api/gen/ferry/v1"
	"github.com/ferrycd/ferry/api/gen/ferry/v1/ferryv1connect"
	"github.com/ferrycd/ferry/bench/internal/benchkit"
	"github.com/ferrycd/ferry/internal/localcluster"
	"github.com/ferrycd/ferry/internal/server"
)

// rig is everything a run measures against: the local cluster, an
// in-process control plane, one Git repository and the agent process.
type rig struct {
	opts    Options
	log     *slog.Logger
	dir     string
	cluster *localcluster.Cluster
	kube    kubernetes.Interface
	srv     *server.Server
	user    ferryv1connect.UserServiceClient
	// agentID names the agent; webhook is the control plane's webhook
	// secret, to tell the agent of a push at once.
	agentID, webhook string
	ferry            string // the ferry binary
	agentConfig      string
	// agent is the running agent process; the RSS sampler reads it too.
	agent   atomic.Pointer[agentProcess]
	starts  int // agent processes started, to name their logs
	sampler *sampler
	repo    string
	// apps is how many applications the repository holds (the sampler
	// reads it too); ids maps "appNNNN" to the application's id.
	apps atomic.Int64
	ids  map[string]string
	// pprof is the agent's --admin-address with Options.Profile.
	pprof string
}

// newRig builds the ferry binary (or takes Options.Ferry), starts the
// cluster with nodes kwok nodes, the control plane and an idle agent,
// and waits until the agent is online.
func newRig(ctx context.Context, o Options, nodes int) (_ *rig, err error) {
	dir, err := os.MkdirTemp("", "ferry-bench-agentscale-")
	if err != nil {
		return nil, err
	}
	r := &rig{opts: o, log: o.Logger, dir: dir, ids: map[string]string{}}
	defer func() {
		if err != nil {
			r.close()
		}
	}()
	if r.ferry = o.Ferry; r.ferry == "" {
		if r.ferry, err = buildFerry(ctx, dir); err != nil {
			return nil, err
		}
	}
	r.log.Info("starting the local cluster", "nodes", nodes)
	quiet := slog.New(slog.DiscardHandler)
	if r.cluster, err = localcluster.Start(ctx, localcluster.Options{Nodes: nodes, Logger: quiet}); err != nil {
		return nil, fmt.Errorf("start the local cluster: %w", err)
	}
	if r.kube, err = r.cluster.Clientset(); err != nil {
		return nil, err
	}
	r.webhook = randomHex()
	r.srv, err = server.New(server.Config{
		Address: "127.0.0.1:0", DataDir: filepath.Join(dir, "cp"), Logger: quiet,
		BootstrapAPIKeyFile: filepath.Join(dir, "admin-key"), WebhookSecret: r.webhook,
	})
	if err != nil {
		return nil, err
	}
	if err := r.srv.Start(ctx); err != nil {
		return nil, fmt.Errorf("start the control plane: %w", err)
	}
	admin, err := os.ReadFile(filepath.Join(dir, "admin-key"))
	if err != nil {
		return nil, err
	}
	r.user = benchkit.UserClient(&http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 16}}, r.srv.Addr(), strings.TrimSpace(string(admin)))
	if r.repo, err = initRepo(filepath.Join(dir, "repo")); err != nil {
		return nil, err
	}
	if err := r.registerAgent(ctx); err != nil {
		return nil, err
	}
	if err := r.startAgent(); err != nil {
		return nil, err
	}
	r.sampler = startSampler(filepath.Join(dir, "agent-rss.csv"), r.currentPID, func() int { return int(r.apps.Load()) })
	return r, r.waitOnline(ctx)
}

// buildFerry builds ./cmd/ferry into dir once; the agent runs from it.
func buildFerry(ctx context.Context, dir string) (string, error) {
	bin := filepath.Join(dir, "ferry")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "github.com/ferrycd/ferry/cmd/ferry")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build ferry: %w\n%s", err, out)
	}
	// Written to disk, as an installed binary is: the page cache holds
	// no dirty pages of it, which the kernel would not drop when the agent
	// gives its pages back (package procmem).
	f, err := os.Open(bin)
	if err != nil {
		return "", err
	}
	defer f.Close()
	if err := f.Sync(); err != nil {
		return "", fmt.Errorf("sync %s: %w", bin, err)
	}
	return bin, nil
}

// registerAgent registers the agent and writes its key and config.
func (r *rig) registerAgent(ctx context.Context) error {
	reg, err := r.user.RegisterAgent(ctx, connect.NewRequest(&ferryv1.RegisterAgentRequest{Name: "bench"}))
	if err != nil {
		return fmt.Errorf("register the agent: %w", err)
	}
	r.agentID = reg.Msg.GetAgent().GetId()
	keyFile := filepath.Join(r.dir, "agent-key")
	if err := os.WriteFile(keyFile, []byte(reg.Msg.GetKey()), 0o600); err != nil {
		return err
	}
	r.agentConfig = filepath.Join(r.dir, "agent.yaml")
	cfg := fmt.Sprintf(`apiVersion: ferry.dev/v1
kind: Agent
spec:
  agentID: %s
  agentKeyFile: %s
  apiAddress: %s
  syncInterval: 1m
  repositories:
    - {repoId: bench, remote: "file://%s", branch: main}
  platformProviders:
    - {name: local, type: KUBERNETES, config: {kubeConfigPath: %s}}
`, r.agentID, keyFile, r.srv.Addr(), r.repo, r.cluster.Kubeconfig())
	return os.WriteFile(r.agentConfig, []byte(cfg), 0o600)
}

// waitOnline waits until the control plane shows the agent online with
// its repository reported (webhooks are routed by it).
func (r *rig) waitOnline(ctx context.Context) error {
	return benchkit.Poll(ctx, time.Minute, 20*time.Millisecond, func() (bool, error) {
		res, err := r.user.GetAgent(ctx, connect.NewRequest(&ferryv1.GetAgentRequest{Agent: r.agentID}))
		if err != nil {
			return false, nil //nolint:nilerr // not there yet: keep polling
		}
		a := res.Msg.GetAgent()
		return a.GetStatus() == ferryv1.ConnectionStatus_CONNECTION_STATUS_ONLINE && len(a.GetRepositories()) > 0, nil
	}, "the agent did not come online")
}

// close stops the agent, the control plane and the cluster, summarises the
// agent's logs and removes the work directory unless asked to keep it.
func (r *rig) close() LogSummary {
	if r.sampler != nil {
		r.sampler.stop()
	}
	if p := r.agent.Load(); p != nil {
		if err := p.stop(30 * time.Second); err != nil {
			r.log.Warn("stop the agent", "error", err)
		}
	}
	if r.srv != nil {
		_ = r.srv.Close()
	}
	if r.cluster != nil {
		_ = r.cluster.Stop()
	}
	logs := summariseLogs(filepath.Join(r.dir, "agent-*.log"))
	if !r.opts.Keep {
		_ = os.RemoveAll(r.dir)
	}
	return logs
}

func randomHex() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
