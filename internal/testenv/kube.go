package testenv

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/ferrycd/ferry/internal/localcluster"
)

// KubeconfigEnv names the variable that points the tests at a running
// cluster's kubeconfig (for instance `ferry dev cluster kubeconfig`'s) instead
// of starting one per package.
const KubeconfigEnv = "FERRY_TEST_KUBECONFIG"

// RequireKubeEnv names the variable that, set to 1, makes tests that need
// Kubernetes fail rather than skip when no cluster can be had (CI sets it).
const RequireKubeEnv = "FERRY_TEST_REQUIRE_KUBE"

// kube is the package's shared cluster: started by the first Kube call,
// stopped by RunWithKube when the tests are done.
var kube struct {
	enabled bool // RunWithKube runs the package
	once    sync.Once
	cluster *localcluster.Cluster // nil when reusing FERRY_TEST_KUBECONFIG
	config  *rest.Config
	path    string
	err     error
}

// RunWithKube runs the package's tests, m.Run, with one local Kubernetes
// cluster shared by all of them, and exits with their result. Call it from
// TestMain:
//
//	func TestMain(m *testing.M) { testenv.RunWithKube(m) }
//
// The cluster starts when a test first calls Kube, so a run that selects no
// such test pays nothing, and stops when m.Run returns.
func RunWithKube(m *testing.M) {
	kube.enabled = true
	code := m.Run()
	if kube.cluster != nil {
		if err := kube.cluster.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "testenv:", err)
			code = 1
		}
	}
	os.Exit(code)
}

// KubeEnv is one test's view of the shared cluster.
type KubeEnv struct {
	// Config is an admin client configuration; tests may copy and adjust it.
	Config *rest.Config
	// Kubeconfig is the path of a kubeconfig for the same cluster and user.
	Kubeconfig string
	// Clientset and Dynamic are clients built from Config.
	Clientset *kubernetes.Clientset
	Dynamic   *dynamic.DynamicClient
	// Namespace is a new namespace for this test alone, deleted when it ends.
	Namespace string
}

// Kube returns the package's shared cluster with a fresh namespace for t.
// The package's TestMain must call RunWithKube. When the cluster's binaries
// are missing the test is skipped, saying how to build them, or fails when
// FERRY_TEST_REQUIRE_KUBE=1; any other start-up failure fails the test.
func Kube(t testing.TB) *KubeEnv {
	t.Helper()
	if !kube.enabled {
		t.Fatal("testenv.Kube needs the package's TestMain to call testenv.RunWithKube(m)")
	}
	kube.once.Do(startKube)
	if kube.err != nil {
		if errors.Is(kube.err, localcluster.ErrNoBinaries) {
			if os.Getenv(RequireKubeEnv) != "1" {
				t.Skipf("skipping, this test needs Kubernetes: %v (or point %s at a running cluster's kubeconfig; %s=1 fails instead of skipping)",
					kube.err, KubeconfigEnv, RequireKubeEnv)
			}
			t.Fatalf("this test needs Kubernetes and %s=1 forbids skipping: %v", RequireKubeEnv, kube.err)
		}
		t.Fatalf("local Kubernetes cluster: %v", kube.err)
	}
	env := &KubeEnv{Config: rest.CopyConfig(kube.config), Kubeconfig: kube.path}
	var err error
	if env.Clientset, err = kubernetes.NewForConfig(env.Config); err != nil {
		t.Fatalf("kubernetes clientset: %v", err)
	}
	if env.Dynamic, err = dynamic.NewForConfig(env.Config); err != nil {
		t.Fatalf("kubernetes dynamic client: %v", err)
	}
	env.Namespace = newNamespace(t, env.Clientset)
	return env
}

// startKube starts the shared cluster, or loads FERRY_TEST_KUBECONFIG's.
func startKube() {
	if path := os.Getenv(KubeconfigEnv); path != "" {
		kube.path = path
		kube.config, kube.err = clientcmd.BuildConfigFromFlags("", path)
		if kube.err != nil {
			kube.err = fmt.Errorf("%s: %w", KubeconfigEnv, kube.err)
			return
		}
		kube.config.QPS, kube.config.Burst = 1000, 2000
		return
	}
	begin := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	kube.cluster, kube.err = localcluster.Start(ctx, localcluster.Options{Logger: logger})
	if kube.err != nil {
		return
	}
	kube.path = kube.cluster.Kubeconfig()
	kube.config, kube.err = kube.cluster.RESTConfig()
	if testing.Verbose() {
		fmt.Fprintf(os.Stderr, "testenv: local Kubernetes cluster %s ready in %s\n",
			kube.cluster.Server(), time.Since(begin).Round(time.Millisecond))
	}
}

// newNamespace creates a namespace named after t and deletes it when t ends
// (without waiting for the namespace controller to finish).
func newNamespace(t testing.TB, cs kubernetes.Interface) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ns, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{
		GenerateName: namespacePrefix(t.Name()),
		Labels:       map[string]string{"ferry.dev/test": "true"},
	}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create test namespace: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		err := cs.CoreV1().Namespaces().Delete(ctx, ns.Name, metav1.DeleteOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			t.Errorf("delete test namespace %s: %v", ns.Name, err)
		}
	})
	return ns.Name
}

// namespacePrefix turns a test name into a DNS label prefix for
// GenerateName: lower case, other characters as dashes, short enough for the
// five random characters the API server appends.
func namespacePrefix(name string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(name) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
		} else {
			b.WriteByte('-')
		}
	}
	s := strings.Trim(b.String(), "-")
	if len(s) > 50 {
		s = strings.TrimRight(s[:50], "-")
	}
	if s == "" || s[0] < 'a' {
		s = "t-" + s
	}
	return s + "-"
}

// KubeBinDir returns the directory of the local cluster's binaries, for
// tests that start clusters of their own (localcluster.Start). Missing
// binaries skip or fail the test as in Kube.
func KubeBinDir(t testing.TB) string {
	t.Helper()
	dir, err := localcluster.FindBinDir("")
	if err != nil {
		skipMissing(t, "the local cluster's binaries", RequireKubeEnv, err)
	}
	return dir
}
