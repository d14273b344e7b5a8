// Package agentdeploy measures the deploy agent end to end on the local
// cluster: from a commit and a sync command to the deployment's SUCCESS in
// the control plane's API, for applications of N ConfigMaps, next to the
// floor measured in the same run on the same cluster: client-go
// server-side apply of the same N objects with 32 workers.
package agentdeploy

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"connectrpc.com/connect"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"

	ferryv1 "github.com/ferrycd/ferry/api/gen/ferry/v1"
	"github.com/ferrycd/ferry/api/gen/ferry/v1/ferryv1connect"
	"github.com/ferrycd/ferry/internal/agent"
	"github.com/ferrycd/ferry/internal/config"
	"github.com/ferrycd/ferry/internal/localcluster"
	"github.com/ferrycd/ferry/internal/platform"
	"github.com/ferrycd/ferry/internal/platform/kubernetes"
	"github.com/ferrycd/ferry/internal/server"
)

// FloorWorkers is the floor's apply parallelism.
const FloorWorkers = 32

// Row is one measured size.
type Row struct {
	Objects int
	// Deploy and Floor are the medians over the repetitions.
	Deploy, Floor time.Duration
}

// Ratio is Deploy over Floor.
func (r Row) Ratio() float64 { return float64(r.Deploy) / float64(r.Floor) }

// Run measures each size reps times (after one warm-up deployment).
func Run(ctx context.Context, sizes []int, reps int) ([]Row, error) {
	dir, err := os.MkdirTemp("", "ferry-bench-agent-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	quiet := slog.New(slog.DiscardHandler)
	agentLog := quiet
	if f := os.Getenv("FERRY_BENCH_AGENT_LOG"); f != "" { // for finding where the time goes
		out, err := os.Create(f)
		if err != nil {
			return nil, err
		}
		defer out.Close()
		agentLog = slog.New(slog.NewTextHandler(out, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	cluster, err := localcluster.Start(ctx, localcluster.Options{Logger: quiet})
	if err != nil {
		return nil, err
	}
	defer func() { _ = cluster.Stop() }()
	rc, err := cluster.RESTConfig()
	if err != nil {
		return nil, err
	}
	dyn, err := dynamic.NewForConfig(rc)
	if err != nil {
		return nil, err
	}
	srv, err := server.New(server.Config{Address: "127.0.0.1:0", DataDir: filepath.Join(dir, "cp"), Logger: quiet, BootstrapAPIKeyFile: filepath.Join(dir, "admin")})
	if err != nil {
		return nil, err
	}
	if err := srv.Start(ctx); err != nil {
		return nil, err
	}
	defer func() { _ = srv.Close() }()
	admin, err := os.ReadFile(filepath.Join(dir, "admin"))
	if err != nil {
		return nil, err
	}
	user := userClient(srv.Addr(), strings.TrimSpace(string(admin)))
	reg, err := user.RegisterAgent(ctx, connect.NewRequest(&ferryv1.RegisterAgentRequest{Name: "bench"}))
	if err != nil {
		return nil, err
	}
	keyFile := filepath.Join(dir, "agent-key")
	if err := os.WriteFile(keyFile, []byte(reg.Msg.Key), 0o600); err != nil {
		return nil, err
	}
	repo := filepath.Join(dir, "repo")
	if err := git(repo, "init", "-q", "-b", "main"); err != nil {
		return nil, err
	}
	for _, n := range sizes {
		writeApp(repo, n, 0)
	}
	if err := commit(repo, "apps"); err != nil {
		return nil, err
	}
	cfg := &config.Agent{File: "(bench)", Spec: config.AgentSpec{
		ProjectID: "default", AgentID: reg.Msg.Agent.Id, AgentKeyFile: keyFile, APIAddress: srv.Addr(),
		SyncInterval: config.Duration(time.Hour),
		Repositories: []config.AgentRepository{{RepoID: "bench", Remote: "file://" + repo, Branch: "main"}},
	}}
	prov, err := kubernetes.NewProvider("local", &config.KubernetesProviderConfig{KubeConfigPath: cluster.Kubeconfig()}, kubernetes.HelmSettings{CacheDir: filepath.Join(dir, "helm")})
	if err != nil {
		return nil, err
	}
	a, err := agent.New(ctx, cfg, agent.Options{Providers: []platform.Provider{prov}, CacheDir: filepath.Join(dir, "agent"), Logger: agentLog})
	if err != nil {
		return nil, err
	}
	defer func() { _ = a.Close() }()
	actx, stop := context.WithCancel(ctx)
	defer stop()
	go func() { _ = a.Run(actx) }()

	var rows []Row
	for _, n := range sizes {
		app := fmt.Sprintf("bench-%d", n)
		if _, err := waitSuccess(ctx, user, app, ""); err != nil { // the first deployment, a warm-up
			return nil, err
		}
		var deploys, floors []time.Duration
		for i := 1; i <= reps; i++ {
			writeApp(repo, n, i)
			if err := commit(repo, fmt.Sprintf("%s round %d", app, i)); err != nil {
				return nil, err
			}
			head, err := headCommit(repo)
			if err != nil {
				return nil, err
			}
			t0 := time.Now()
			if _, err := user.SyncApplication(ctx, connect.NewRequest(&ferryv1.SyncApplicationRequest{Application: app})); err != nil {
				return nil, err
			}
			if _, err := waitSuccess(ctx, user, app, head); err != nil {
				return nil, err
			}
			deploys = append(deploys, time.Since(t0))
			f, err := floor(ctx, dyn, "floor-"+app, n, i)
			if err != nil {
				return nil, err
			}
			floors = append(floors, f)
		}
		rows = append(rows, Row{Objects: n, Deploy: median(deploys), Floor: median(floors)})
	}
	return rows, nil
}

// writeApp writes app bench-N with N ConfigMaps whose data carry round.
func writeApp(repo string, n, round int) {
	d := filepath.Join(repo, fmt.Sprintf("bench-%d", n))
	_ = os.MkdirAll(d, 0o755)
	_ = os.WriteFile(filepath.Join(d, "app.pipecd.yaml"), fmt.Appendf(nil,
		"apiVersion: pipecd.dev/v1beta1\nkind: KubernetesApp\nspec:\n  name: bench-%d\n  planner: {autoRollback: false}\n  input: {namespace: bench-%d, autoCreateNamespace: true}\n", n, n), 0o644)
	var b strings.Builder
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm-%d}\ndata: {round: \"%d\", k1: v1, k2: v2}\n", i, round)
	}
	_ = os.WriteFile(filepath.Join(d, "configmaps.yaml"), []byte(b.String()), 0o644)
}

// floor applies the same N ConfigMaps with client-go server-side apply, 32
// workers, and returns the time taken.
func floor(ctx context.Context, dyn dynamic.Interface, ns string, n, round int) (time.Duration, error) {
	gvr := schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}
	nsObj := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": ns}}}
	if _, err := dyn.Resource(schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}).Apply(ctx, ns, nsObj, metav1.ApplyOptions{FieldManager: "floor", Force: true}); err != nil {
		return 0, err
	}
	jobs := make(chan int)
	errs := make(chan error, FloorWorkers)
	var wg sync.WaitGroup
	t0 := time.Now()
	for w := 0; w < FloorWorkers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				obj := &unstructured.Unstructured{Object: map[string]any{
					"apiVersion": "v1", "kind": "ConfigMap",
					"metadata": map[string]any{"name": fmt.Sprintf("cm-%d", i), "namespace": ns},
					"data":     map[string]any{"round": fmt.Sprint(round), "k1": "v1", "k2": "v2"},
				}}
				if _, err := dyn.Resource(gvr).Namespace(ns).Apply(ctx, obj.GetName(), obj, metav1.ApplyOptions{FieldManager: "floor", Force: true}); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	for i := 0; i < n; i++ {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	elapsed := time.Since(t0)
	select {
	case err := <-errs:
		return 0, err
	default:
		return elapsed, nil
	}
}

// waitSuccess polls until the app's newest successful deployment is at
// commit (any commit when empty), failing on a failed deployment.
func waitSuccess(ctx context.Context, user ferryv1connect.UserServiceClient, app, commit string) (*ferryv1.Deployment, error) {
	deadline := time.Now().Add(5 * time.Minute)
	for time.Now().Before(deadline) {
		res, err := user.ListDeployments(ctx, connect.NewRequest(&ferryv1.ListDeploymentsRequest{Application: app, PageSize: 1}))
		if err == nil && len(res.Msg.Deployments) == 1 {
			d := res.Msg.Deployments[0]
			switch {
			case d.Status == ferryv1.DeploymentStatus_DEPLOYMENT_STATUS_FAILURE:
				return nil, fmt.Errorf("deployment %s of %s failed: %s", d.Id, app, d.StatusReason)
			case d.Status == ferryv1.DeploymentStatus_DEPLOYMENT_STATUS_SUCCESS && (commit == "" || d.Trigger.Commit.Hash == commit):
				return d, nil
			}
		}
		time.Sleep(5 * time.Millisecond) // the polling interval bounds the measurement's resolution
	}
	return nil, fmt.Errorf("%s was not deployed within 5 minutes", app)
}

func median(ds []time.Duration) time.Duration {
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	return ds[len(ds)/2]
}

func git(dir string, args ...string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	cmd := exec.Command("git", append([]string{"-c", "user.name=bench", "-c", "user.email=bench@ferry.dev"}, args...)...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("git %v: %w: %s", args, err, out)
	}
	return nil
}

func commit(dir, msg string) error {
	if err := git(dir, "add", "-A"); err != nil {
		return err
	}
	return git(dir, "commit", "-q", "-m", msg)
}

func headCommit(dir string) (string, error) {
	out, err := exec.Command("git", "-C", dir, "rev-parse", "HEAD").Output()
	return strings.TrimSpace(string(out)), err
}

func userClient(addr, key string) ferryv1connect.UserServiceClient {
	return ferryv1connect.NewUserServiceClient(httpClient, addr, connect.WithInterceptors(connect.UnaryInterceptorFunc(
		func(next connect.UnaryFunc) connect.UnaryFunc {
			return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
				req.Header().Set("Authorization", "Bearer "+key)
				return next(ctx, req)
			}
		})))
}
