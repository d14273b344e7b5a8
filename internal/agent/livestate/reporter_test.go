package livestate_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	ferryv1 "github.com/ferrycd/ferry/api/gen/ferry/v1"
	"github.com/ferrycd/ferry/internal/agent/controlplane"
	"github.com/ferrycd/ferry/internal/agent/discovery"
	"github.com/ferrycd/ferry/internal/agent/livestate"
	"github.com/ferrycd/ferry/internal/agent/scheduler"
	"github.com/ferrycd/ferry/internal/config"
	"github.com/ferrycd/ferry/internal/gitrepo"
	"github.com/ferrycd/ferry/internal/platform"
	"github.com/ferrycd/ferry/internal/platform/kubernetes"
	"github.com/ferrycd/ferry/internal/server/servertest"
	"github.com/ferrycd/ferry/internal/testenv"
)

func TestMain(m *testing.M) { testenv.RunWithKube(m) }

// The application: a Deployment that leaves its strategy to the defaults,
// a Service and a ConfigMap.
var manifests = map[string]string{
	"deployment.yaml": `apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: web, image: "nginx:1.27"}]
`,
	"service.yaml":   "apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec:\n  selector: {app: web}\n  ports: [{port: 80}]\n",
	"configmap.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: web-config}\ndata: {mode: prod}\n",
}

// env is a control plane, an agent's client, a repository with the web
// application deployed to the test cluster by the real scheduler, and a
// Reporter over the Kubernetes provider (not started).
type env struct {
	t     *testing.T
	kube  *testenv.KubeEnv
	cp    *servertest.ControlPlane
	appID string
	// rep holds the reporter's settings; running is the one start runs.
	rep, running *livestate.Reporter
}

func newEnv(t *testing.T) *env {
	ctx := context.Background()
	kube := testenv.Kube(t)
	dir := t.TempDir()
	files := map[string]string{"web/app.pipecd.yaml": "apiVersion: pipecd.dev/v1beta1\nkind: KubernetesApp\nspec:\n  name: web\n  input: {namespace: " + kube.Namespace + "}\n"}
	for name, body := range manifests {
		files["web/"+name] = body
	}
	for name, body := range files {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	testenv.Git(t, dir, "init", "-q", "-b", "main")
	testenv.Git(t, dir, "add", "-A")
	testenv.Git(t, dir, "commit", "-q", "-m", "web")
	logger := slog.New(slog.NewTextHandler(testenv.LogWriter(t), nil))
	cp := servertest.Start(t)
	_, key := cp.RegisterAgent("dev")
	client := controlplane.New(cp.URL(), key, controlplane.Options{Logger: logger})
	mirror, err := gitrepo.Open(ctx, gitrepo.Config{RepoID: "apps", Remote: "file://" + dir, CacheDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { mirror.Close() })
	if err := mirror.Fetch(ctx); err != nil {
		t.Fatal(err)
	}
	repos := map[string]discovery.Repo{"apps": {ID: "apps", Remote: "file://" + dir, Branch: "main", Mirror: mirror}}
	d := &discovery.Discoverer{Repos: []discovery.Repo{repos["apps"]}, Client: client, Logger: logger,
		Providers: map[ferryv1.ApplicationKind]string{ferryv1.ApplicationKind_APPLICATION_KIND_KUBERNETES: "local"}}
	apps, err := d.Scan(ctx)
	if err != nil || len(apps) != 1 {
		t.Fatalf("scan = %v, %v", apps, err)
	}
	prov, err := kubernetes.NewProvider("local", &config.KubernetesProviderConfig{KubeConfigPath: kube.Kubeconfig}, kubernetes.HelmSettings{CacheDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	providers := map[string]platform.Provider{"local": prov}

	// Deploy it for real.
	head, err := mirror.Head(ctx, "main")
	if err != nil {
		t.Fatal(err)
	}
	created, err := client.CreateDeployment(ctx, connect.NewRequest(&ferryv1.CreateDeploymentRequest{
		ApplicationId: apps[0].GetId(), Trigger: &ferryv1.Trigger{Commit: &ferryv1.Commit{Hash: head.Hash, Message: "web"}},
	}))
	if err != nil {
		t.Fatal(err)
	}
	sched := &scheduler.Scheduler{Client: client, Repos: repos, Providers: providers, Logger: logger}
	if err := sched.Run(ctx, created.Msg.GetDeployment(), nil); err != nil {
		t.Fatal(err)
	}
	return &env{t: t, kube: kube, cp: cp, appID: apps[0].GetId(), rep: &livestate.Reporter{
		Client: client, Repos: repos, Providers: providers, Logger: logger, RefreshInterval: time.Hour,
	}}
}

// start runs a copy of the reporter (a fresh one, as after an agent
// restart) until stop is called or the test ends.
func (e *env) start() (stop func()) {
	rep := &livestate.Reporter{Client: e.rep.Client, Repos: e.rep.Repos, Providers: e.rep.Providers, Logger: e.rep.Logger,
		RefreshInterval: e.rep.RefreshInterval, DeployingFlushInterval: e.rep.DeployingFlushInterval, DriftInterval: e.rep.DriftInterval}
	e.running = rep
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- rep.Start(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				e.t.Errorf("reporter: %v", err)
			}
		})
	}
	e.t.Cleanup(stop)
	return stop
}

// waitFor polls the control plane until cond holds, and returns how long
// that took.
func waitFor(t *testing.T, what string, cond func() (bool, string)) time.Duration {
	t.Helper()
	begin := time.Now()
	deadline := begin.Add(30 * time.Second)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		ok, state := cond()
		if ok {
			return time.Since(begin)
		}
		if time.Now().After(deadline) {
			t.Fatalf("waiting for %s; last seen:\n%s", what, state)
		}
		<-tick.C
	}
}

// syncState returns the application's sync state from the user's side.
func (e *env) syncState() *ferryv1.SyncState {
	e.t.Helper()
	res, err := e.cp.User().GetApplication(context.Background(), connect.NewRequest(&ferryv1.GetApplicationRequest{Application: e.appID}))
	if err != nil {
		e.t.Fatal(err)
	}
	return res.Msg.GetApplication().GetSyncState()
}

// waitSync waits for the sync status and returns how long it took.
func (e *env) waitSync(want ferryv1.SyncStatus, reasonHas string) time.Duration {
	e.t.Helper()
	return waitFor(e.t, want.String(), func() (bool, string) {
		st := e.syncState()
		return st.GetStatus() == want && strings.Contains(st.GetReason(), reasonHas), st.GetStatus().String() + ": " + st.GetShortReason() + "\n" + st.GetReason()
	})
}

// tree draws the reported live state as indented "Kind HEALTH" lines,
// children under their parents.
func (e *env) tree() string {
	e.t.Helper()
	res, err := e.cp.User().GetApplicationLiveState(context.Background(), connect.NewRequest(&ferryv1.GetApplicationLiveStateRequest{Application: e.appID}))
	if err != nil {
		e.t.Fatal(err)
	}
	byParent := map[string][]*ferryv1.ResourceState{}
	for _, r := range res.Msg.GetLiveState().GetResources() {
		parent := ""
		if len(r.GetParentIds()) > 0 {
			parent = r.GetParentIds()[0]
		}
		byParent[parent] = append(byParent[parent], r)
	}
	var b strings.Builder
	var draw func(parent string, depth int)
	draw = func(parent string, depth int) {
		level := byParent[parent]
		sort.Slice(level, func(i, j int) bool {
			return level[i].GetKind()+level[i].GetName() < level[j].GetKind()+level[j].GetName()
		})
		for _, r := range level {
			fmt.Fprintf(&b, "%s%s %s\n", strings.Repeat("  ", depth), r.GetKind(), strings.TrimPrefix(r.GetHealth().String(), "HEALTH_STATUS_"))
			draw(r.GetId(), depth+1)
		}
	}
	draw("", 0)
	return b.String()
}

func (e *env) waitTree(want string) {
	e.t.Helper()
	waitFor(e.t, "the live tree", func() (bool, string) {
		got := e.tree()
		return got == want, got
	})
}

// patch merge-patches the web Deployment, out of band.
func (e *env) patch(patch string) {
	e.t.Helper()
	_, err := e.kube.Clientset.AppsV1().Deployments(e.kube.Namespace).Patch(context.Background(), "web", types.MergePatchType, []byte(patch), metav1.PatchOptions{})
	if err != nil {
		e.t.Fatal(err)
	}
}
