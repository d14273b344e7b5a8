package localcluster_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/ferrycd/ferry/internal/localcluster"
	"github.com/ferrycd/ferry/internal/testenv"
)

func TestPinnedVersionsMatchTheBuildScript(t *testing.T) {
	gomod, err := os.ReadFile("../../hack/kube/go.mod")
	if err != nil {
		t.Fatal(err)
	}
	if m := regexp.MustCompile(`(?m)^\s*k8s\.io/kubernetes (v\S+)`).FindSubmatch(gomod); m == nil || string(m[1]) != localcluster.KubernetesVersion {
		t.Errorf("hack/kube/go.mod pins k8s.io/kubernetes %q, KubernetesVersion is %s", m, localcluster.KubernetesVersion)
	}
	script, err := os.ReadFile("../../hack/kube/build.sh")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(script), "\nKWOK_VERSION="+localcluster.KwokVersion+"\n") {
		t.Errorf("hack/kube/build.sh does not set KWOK_VERSION=%s", localcluster.KwokVersion)
	}
}

func TestFindBinDirSaysHowToBuildTheBinaries(t *testing.T) {
	_, err := localcluster.FindBinDir(t.TempDir())
	if !errors.Is(err, localcluster.ErrNoBinaries) || !strings.Contains(err.Error(), "bash hack/kube/build.sh") {
		t.Fatalf("FindBinDir(empty dir) = %v, want ErrNoBinaries naming hack/kube/build.sh", err)
	}
}

func TestServerReportsThePinnedVersion(t *testing.T) {
	env := testenv.Kube(t)
	v, err := env.Clientset.Discovery().ServerVersion()
	if err != nil {
		t.Fatal(err)
	}
	if v.GitVersion != localcluster.KubernetesVersion || v.Major != "1" || v.Minor == "" {
		t.Errorf("server version = %+v, want %s", v, localcluster.KubernetesVersion)
	}
}

// A detached cluster outlives its handle: Open finds it again, a second
// Start in its directory is refused while it runs, and a crash of one of its
// processes does not keep the next Start from cleaning up and succeeding.
func TestDetachedClusterIsFoundAgainAndSurvivesACrash(t *testing.T) {
	bin := testenv.KubeBinDir(t)
	dir := filepath.Join(t.TempDir(), "cluster")
	ctx := context.Background()
	first, err := localcluster.Start(ctx, localcluster.Options{BinDir: bin, Dir: dir, Detach: true, Nodes: 2})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = first.Stop() })
	t.Logf("detached cluster with 2 nodes ready after %s", first.State().ReadyAfter)
	cs, err := first.Clientset()
	if err != nil {
		t.Fatal(err)
	}
	nodes, err := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil || len(nodes.Items) != 2 {
		t.Fatalf("nodes = %d, %v; want 2", len(nodes.Items), err)
	}

	found, err := localcluster.Open(dir)
	if err != nil || !found.Running() || found.Server() != first.Server() {
		t.Fatalf("Open(%s) = running %v, %v; want the running cluster at %s", dir, found != nil && found.Running(), err, first.Server())
	}
	if _, err := localcluster.Start(ctx, localcluster.Options{BinDir: bin, Dir: dir, Detach: true}); !errors.Is(err, localcluster.ErrRunning) {
		t.Fatalf("second Start in a running cluster's dir: %v, want ErrRunning", err)
	}

	etcd := found.State().Processes[0]
	if err := syscall.Kill(etcd.PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 10*time.Second, "the cluster to notice etcd died", func(context.Context) (bool, error) {
		return !found.Running(), nil
	})

	second, err := localcluster.Start(ctx, localcluster.Options{BinDir: bin, Dir: dir, Detach: true})
	if err != nil {
		t.Fatalf("Start after a crash: %v", err)
	}
	for _, p := range first.State().Processes {
		if p.Alive() {
			t.Errorf("%s (pid %d) of the crashed cluster still runs", p.Name, p.PID)
		}
	}
	if err := second.Stop(); err != nil {
		t.Fatal(err)
	}
	for _, p := range second.State().Processes {
		if p.Alive() {
			t.Errorf("%s (pid %d) still runs after Stop", p.Name, p.PID)
		}
	}
	if _, err := localcluster.Open(dir); !errors.Is(err, localcluster.ErrNotRunning) {
		t.Errorf("Open after Stop: %v, want ErrNotRunning", err)
	}
}
