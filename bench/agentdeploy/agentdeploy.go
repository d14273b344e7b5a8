// Package agentdeploy measures the deploy agent end to end on the local
// cluster: from a push webhook for a new commit to the deployment's
// SUCCESS in the control plane's API, each next to its floor measured in
// the same run on the same cluster:
//   - applications of N ConfigMaps, every one changed by the commit; floor:
//     client-go server-side apply of the same N objects with 32 workers;
//   - an application of 1,000 ConfigMaps of which the commit changes one;
//     floor: the apply of one object;
//   - a Deployment (2 replicas) whose image the commit changes; floor: the
//     same change applied with client-go to a twin Deployment and waited
//     for until its rollout completes (the bare rollout).
package agentdeploy

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"connectrpc.com/connect"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"sigs.k8s.io/yaml"

	ferryv1 "github.com/ferrycd/ferry/api/gen/ferry/v1"
	"github.com/ferrycd/ferry/api/gen/ferry/v1/ferryv1connect"
	"github.com/ferrycd/ferry/bench/internal/benchkit"
	"github.com/ferrycd/ferry/internal/agent"
	"github.com/ferrycd/ferry/internal/config"
	"github.com/ferrycd/ferry/internal/localcluster"
	"github.com/ferrycd/ferry/internal/platform"
	"github.com/ferrycd/ferry/internal/platform/kubernetes"
	"github.com/ferrycd/ferry/internal/server"
)

// FloorWorkers is the floor's apply parallelism.
const FloorWorkers = 32

// LabelledFloor makes the ConfigMap floors apply their objects with
// Ferry's ownership labels and annotations, as the agent's are: bigger
// objects, and each write also reaches the agent's informers (which watch
// Ferry's label), as the agent's own writes do. Off, the floor is a bare
// apply of the same data.
var LabelledFloor bool

// Row is one measured case.
type Row struct {
	// Case says what the commit changes.
	Case    string
	Objects int
	// Deploy and Floor are the medians over the repetitions.
	Deploy, Floor time.Duration
}

// Ratio is Deploy over Floor.
func (r Row) Ratio() float64 { return float64(r.Deploy) / float64(r.Floor) }

// webhookSecret authenticates the harness's push webhooks.
const webhookSecret = "bench-webhook-secret"

// partialSize is the application size of the one-object-changed case.
const partialSize = 1000

// Run measures each size reps times (after one warm-up deployment), then,
// when rollout is set, the Deployment image change, and when sizes holds
// partialSize, the commit that changes one object of it.
func Run(ctx context.Context, sizes []int, reps int, rollout bool) ([]Row, error) {
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
	srv, err := server.New(server.Config{Address: "127.0.0.1:0", DataDir: filepath.Join(dir, "cp"), Logger: quiet,
		BootstrapAPIKeyFile: filepath.Join(dir, "admin"), WebhookSecret: webhookSecret})
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
	user := benchkit.UserClient(httpClient, srv.Addr(), strings.TrimSpace(string(admin)))
	reg, err := user.RegisterAgent(ctx, connect.NewRequest(&ferryv1.RegisterAgentRequest{Name: "bench"}))
	if err != nil {
		return nil, err
	}
	keyFile := filepath.Join(dir, "agent-key")
	if err := os.WriteFile(keyFile, []byte(reg.Msg.Key), 0o600); err != nil {
		return nil, err
	}
	repo := filepath.Join(dir, "repo")
	if _, err := benchkit.Git(repo, "init", "-q", "-b", "main"); err != nil {
		return nil, err
	}
	for _, n := range sizes {
		writeApp(repo, n, func(int) int { return 0 })
	}
	if rollout {
		writeRolloutApp(repo, 0)
	}
	if err := benchkit.Commit(repo, "apps"); err != nil {
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
	defer func() { _ = prov.Close() }()
	a, err := agent.New(ctx, cfg, agent.Options{Providers: []platform.Provider{prov}, CacheDir: filepath.Join(dir, "agent"), Logger: agentLog})
	if err != nil {
		return nil, err
	}
	defer func() { _ = a.Close() }()
	actx, stop := context.WithCancel(ctx)
	defer stop()
	go func() { _ = a.Run(actx) }()

	// measure commits the change write makes, sends the push webhook and
	// waits for the app's deployment of that commit to succeed.
	measure := func(app string, write func()) (time.Duration, error) {
		if err := waitSettled(ctx, user); err != nil {
			return 0, err
		}
		write()
		if err := benchkit.Commit(repo, app); err != nil {
			return 0, err
		}
		head, err := benchkit.Git(repo, "rev-parse", "HEAD")
		if err != nil {
			return 0, err
		}
		t0 := time.Now()
		agentLog.Debug("bench: push webhook", "app", app, "commit", head)
		if err := push(ctx, srv.Addr(), "file://"+repo, head); err != nil {
			return 0, err
		}
		if _, err := waitSuccess(ctx, user, app, head); err != nil {
			return 0, err
		}
		agentLog.Debug("bench: SUCCESS seen", "app", app)
		return time.Since(t0), nil
	}
	var rows []Row
	for _, n := range sizes {
		app := fmt.Sprintf("bench-%d", n)
		if _, err := waitSuccess(ctx, user, app, ""); err != nil { // the first deployment, a warm-up
			return nil, err
		}
		var deploys, floors []time.Duration
		for i := 1; i <= reps; i++ {
			d, err := measure(app, func() { writeApp(repo, n, func(int) int { return i }) })
			if err != nil {
				return nil, err
			}
			deploys = append(deploys, d)
			if err := waitSettled(ctx, user); err != nil {
				return nil, err
			}
			f, err := floor(ctx, dyn, "floor-"+app, n, i)
			if err != nil {
				return nil, err
			}
			floors = append(floors, f)
		}
		rows = append(rows, Row{Case: "every object changed", Objects: n, Deploy: median(deploys), Floor: median(floors)})
	}
	if slices.Contains(sizes, partialSize) {
		app := fmt.Sprintf("bench-%d", partialSize)
		var deploys, floors []time.Duration
		for i := 1; i <= reps; i++ {
			// cm-0 changes; the others keep the data of the last round.
			round := 1000 + i
			d, err := measure(app, func() {
				writeApp(repo, partialSize, func(j int) int {
					if j == 0 {
						return round
					}
					return reps
				})
			})
			if err != nil {
				return nil, err
			}
			deploys = append(deploys, d)
			if err := waitSettled(ctx, user); err != nil {
				return nil, err
			}
			f, err := floor(ctx, dyn, "floor-one", 1, round)
			if err != nil {
				return nil, err
			}
			floors = append(floors, f)
		}
		rows = append(rows, Row{Case: "one object changed", Objects: partialSize, Deploy: median(deploys), Floor: median(floors)})
	}
	if rollout {
		if _, err := waitSuccess(ctx, user, "bench-rollout", ""); err != nil {
			return nil, err
		}
		var deploys, floors []time.Duration
		for i := 1; i <= reps; i++ {
			d, err := measure("bench-rollout", func() { writeRolloutApp(repo, i) })
			if err != nil {
				return nil, err
			}
			deploys = append(deploys, d)
			if err := waitSettled(ctx, user); err != nil {
				return nil, err
			}
			f, err := bareRollout(ctx, dyn, i)
			if err != nil {
				return nil, err
			}
			floors = append(floors, f)
		}
		rows = append(rows, Row{Case: "Deployment image (rollout, 2 replicas)", Objects: 1, Deploy: median(deploys), Floor: median(floors)})
	}
	return rows, nil
}

// push sends the generic push webhook for commit.
func push(ctx context.Context, addr, remote, commit string) error {
	body := fmt.Sprintf(`{"repository": %q, "branch": "main", "commit": %q}`, remote, commit)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, addr+"/webhooks/generic", strings.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+webhookSecret)
	req.Header.Set("Content-Type", "application/json")
	res, err := httpClient.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("push webhook: %s", res.Status)
	}
	return nil
}

// writeApp writes app bench-N with N ConfigMaps; ConfigMap j's data
// carry round(j).
func writeApp(repo string, n int, round func(j int) int) {
	d := filepath.Join(repo, fmt.Sprintf("bench-%d", n))
	_ = os.MkdirAll(d, 0o755)
	_ = os.WriteFile(filepath.Join(d, "app.pipecd.yaml"), fmt.Appendf(nil,
		"apiVersion: pipecd.dev/v1beta1\nkind: KubernetesApp\nspec:\n  name: bench-%d\n  planner: {autoRollback: false}\n  input: {namespace: bench-%d, autoCreateNamespace: true}\n", n, n), 0o644)
	var b strings.Builder
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm-%d}\ndata: {round: \"%d\", k1: v1, k2: v2}\n", i, round(i))
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
				if LabelledFloor {
					obj.SetLabels(map[string]string{kubernetes.LabelManagedBy: kubernetes.ManagedByFerry, kubernetes.LabelApplication: "floor-" + ns})
					obj.SetAnnotations(map[string]string{kubernetes.AnnotationCommit: fmt.Sprintf("%040d", round), kubernetes.AnnotationResourceKey: kubernetes.KeyOf(obj).String()})
				}
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

// waitSettled polls until every application is SYNCED: the agent has
// checked drift after its last deployment and is idle, so a measurement
// (the agent's or a floor's) does not share the CPUs with the previous
// one's aftermath.
func waitSettled(ctx context.Context, user ferryv1connect.UserServiceClient) error {
	var last string
	err := benchkit.Poll(ctx, 2*time.Minute, 20*time.Millisecond, func() (bool, error) {
		res, err := user.ListApplications(ctx, connect.NewRequest(&ferryv1.ListApplicationsRequest{}))
		if err != nil {
			return false, nil //nolint:nilerr // the control plane is busy: ask again
		}
		for _, a := range res.Msg.GetApplications() {
			if st := a.GetSyncState().GetStatus(); st != ferryv1.SyncStatus_SYNC_STATUS_SYNCED {
				last = fmt.Sprintf("%s is %s", a.GetName(), st)
				return false, nil
			}
		}
		return true, nil
	}, "the applications settling (SYNCED)")
	if err != nil && last != "" {
		return fmt.Errorf("%w: %s", err, last)
	}
	return err
}

func median(ds []time.Duration) time.Duration {
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	return ds[len(ds)/2]
}

// rolloutDeployment is the Deployment of the rollout case and its floor;
// kwok runs its pods.
const rolloutDeployment = `apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: %s}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: web, image: "registry.local/web:v%d"}]
`

// writeRolloutApp writes app bench-rollout at image version v.
func writeRolloutApp(repo string, v int) {
	d := filepath.Join(repo, "bench-rollout")
	_ = os.MkdirAll(d, 0o755)
	_ = os.WriteFile(filepath.Join(d, "app.pipecd.yaml"), []byte(
		"apiVersion: pipecd.dev/v1beta1\nkind: KubernetesApp\nspec:\n  name: bench-rollout\n  planner: {autoRollback: false}\n  input: {namespace: bench-rollout, autoCreateNamespace: true}\n"), 0o644)
	_ = os.WriteFile(filepath.Join(d, "deployment.yaml"), fmt.Appendf(nil, rolloutDeployment, "bench-rollout", v), 0o644)
}

// bareRollout changes the floor Deployment's image to version v with
// client-go server-side apply and returns the time until its rollout is
// complete (every replica updated and available, no old one left). The
// first call creates the Deployment and waits for it, untimed.
func bareRollout(ctx context.Context, dyn dynamic.Interface, v int) (time.Duration, error) {
	const ns = "floor-rollout"
	deployments := dyn.Resource(schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}).Namespace(ns)
	apply := func(v int) error {
		var obj unstructured.Unstructured
		if err := yaml.Unmarshal(fmt.Appendf(nil, rolloutDeployment, ns, v), &obj.Object); err != nil {
			return err
		}
		_, err := deployments.Apply(ctx, "web", &obj, metav1.ApplyOptions{FieldManager: "floor", Force: true})
		return err
	}
	complete := func() error {
		for {
			d, err := deployments.Get(ctx, "web", metav1.GetOptions{})
			if err != nil {
				return err
			}
			gen, _, _ := unstructured.NestedInt64(d.Object, "metadata", "generation")
			st, _, _ := unstructured.NestedMap(d.Object, "status")
			if st["observedGeneration"] == gen && st["updatedReplicas"] == int64(2) && st["availableReplicas"] == int64(2) && st["replicas"] == int64(2) {
				return nil
			}
			time.Sleep(5 * time.Millisecond) // the polling interval bounds the measurement's resolution
		}
	}
	if v == 1 {
		nsObj := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": ns}}}
		if _, err := dyn.Resource(schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}).Apply(ctx, ns, nsObj, metav1.ApplyOptions{FieldManager: "floor", Force: true}); err != nil {
			return 0, err
		}
		if err := apply(0); err != nil {
			return 0, err
		}
		if err := complete(); err != nil {
			return 0, err
		}
	}
	t0 := time.Now()
	if err := apply(v); err != nil {
		return 0, err
	}
	if err := complete(); err != nil {
		return 0, err
	}
	return time.Since(t0), nil
}
