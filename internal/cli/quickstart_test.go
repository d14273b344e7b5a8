package cli

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	ferryv1 "github.com/ferrycd/ferry/api/gen/ferry/v1"
	"github.com/ferrycd/ferry/internal/localcluster"
	"github.com/ferrycd/ferry/internal/testenv"
)

// signalWriter collects output and closes ready when want appears in it.
type signalWriter struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	want  string
	ready chan struct{}
	once  sync.Once
}

func (w *signalWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	if strings.Contains(w.buf.String(), w.want) {
		w.once.Do(func() { close(w.ready) })
	}
	return len(p), nil
}

func (w *signalWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

// runQuickstart starts `ferry quickstart` and returns once it says it is
// running, with a function that stops it (as Ctrl-C does) and returns its
// error.
func runQuickstart(t *testing.T, dataDir string) (string, func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	out := &signalWriter{want: "Press Ctrl-C to stop.", ready: make(chan struct{})}
	cmd := newQuickstartCmd()
	cmd.SetOut(out)
	cmd.SetErr(testenv.LogWriter(t))
	cmd.SetArgs([]string{"--data-dir", dataDir, "--address", "127.0.0.1:0"})
	done := make(chan error, 1)
	go func() { done <- cmd.ExecuteContext(ctx) }()
	select {
	case <-out.ready:
	case err := <-done:
		cancel()
		t.Fatalf("quickstart ended before it was ready: %v\n%s", err, out)
	case <-time.After(3 * time.Minute):
		cancel()
		t.Fatalf("quickstart not ready after 3 minutes:\n%s", out)
	}
	return out.String(), func() error {
		cancel()
		return <-done
	}
}

func runCLI(t *testing.T, args ...string) string {
	t.Helper()
	var out, errOut bytes.Buffer
	if code := Main(context.Background(), args, &out, &errOut); code != 0 {
		t.Fatalf("ferry %s: exit %d: %s", strings.Join(args, " "), code, errOut.String())
	}
	return out.String()
}

func TestQuickstartRunsTheControlPlaneAndACluster(t *testing.T) {
	t.Setenv(localcluster.BinEnv, testenv.KubeBinDir(t))
	t.Setenv(envConfig, filepath.Join(t.TempDir(), "config.yaml"))
	t.Setenv(envAddress, "")
	t.Setenv(envAPIKey, "")
	// A new user after `go run ./cmd/ferry quickstart`: no ferry on PATH
	// (testscript's TestMain put this test binary there as ferry), and git
	// knows no name for them.
	t.Setenv("PATH", pathWithout(t, "ferry"))
	t.Setenv("GIT_CONFIG_GLOBAL", os.DevNull)
	t.Setenv("GIT_CONFIG_NOSYSTEM", "1")
	dataDir := filepath.Join(t.TempDir(), "qs")

	out, stop := runQuickstart(t, dataDir)
	for _, want := range []string{"Control plane   http://127.0.0.1:", "Web console     http://127.0.0.1:", "Admin           admin / ", `CLI context     "quickstart"`,
		"guestbook  KUBERNETES  quickstart  SYNCED  -         SUCCESS", "shop       KUBERNETES  quickstart  SYNCED  -         SUCCESS"} {
		if !strings.Contains(out, want) {
			t.Errorf("quickstart output lacks %q:\n%s", want, out)
		}
	}
	// The CLI is signed in through the saved context.
	if got := runCLI(t, "context", "list"); !strings.Contains(got, "*        quickstart") {
		t.Errorf("context list = %q, want quickstart current", got)
	}
	runCLI(t, "agent", "register", "kept")
	// The cluster is real and has a Ready node.
	cfg, err := clientcmd.BuildConfigFromFlags("", filepath.Join(dataDir, "cluster", "kubeconfig"))
	if err != nil {
		t.Fatal(err)
	}
	cs := kubernetes.NewForConfigOrDie(cfg)
	nodes, err := cs.CoreV1().Nodes().List(context.Background(), metav1.ListOptions{})
	if err != nil || len(nodes.Items) != 1 {
		t.Fatalf("nodes = %v, %v; want one", nodes, err)
	}
	// Both example applications run: plain manifests and Kustomize.
	for ns, replicas := range map[string]int32{"guestbook": 2, "shop": 3} {
		d, err := cs.AppsV1().Deployments(ns).Get(context.Background(), ns, metav1.GetOptions{})
		if err != nil || d.Status.AvailableReplicas != replicas {
			t.Errorf("deployment %s/%s: %v available, %v; want %d", ns, ns, d.Status.AvailableReplicas, err, replicas)
		}
	}
	tryCommands(t, out, cs)
	if err := stop(); err != nil {
		t.Fatalf("quickstart after Ctrl-C: %v", err)
	}
	if c, err := localcluster.Open(filepath.Join(dataDir, "cluster")); err == nil && c.Running() {
		t.Error("the cluster still runs after quickstart stopped")
	}

	// A second run keeps the state and the admin password.
	password := between(out, "admin / ", "\n")
	out2, stop2 := runQuickstart(t, dataDir)
	defer func() {
		if err := stop2(); err != nil {
			t.Errorf("second quickstart: %v", err)
		}
	}()
	if got := between(out2, "admin / ", "\n"); got != password {
		t.Errorf("second run's admin password %q, want the first's %q", got, password)
	}
	if got := runCLI(t, "agent", "list"); !strings.Contains(got, "kept") {
		t.Errorf("agent list after restart = %q, want the agent registered before", got)
	}
	// Its cluster starts empty and the examples are deployed again, the
	// guestbook as the suggested commit scaled it.
	cfg, err = clientcmd.BuildConfigFromFlags("", filepath.Join(dataDir, "cluster", "kubeconfig"))
	if err != nil {
		t.Fatal(err)
	}
	cs = kubernetes.NewForConfigOrDie(cfg)
	for ns, replicas := range map[string]int32{"guestbook": 3, "shop": 3} {
		d, err := cs.AppsV1().Deployments(ns).Get(context.Background(), ns, metav1.GetOptions{})
		if err != nil || d.Status.AvailableReplicas != replicas {
			t.Errorf("deployment %s/%s after restart: %v available, %v; want %d", ns, ns, d.Status.AvailableReplicas, err, replicas)
		}
	}
}

// tryCommands runs the commands the quickstart's output suggests, as
// printed, in a shell in another directory (this test binary is not on
// PATH as ferry, so the printed ferry must be the copy the quickstart
// keeps), with an $EDITOR that scales the guestbook to 3 replicas; the
// agent then deploys that commit.
func tryCommands(t *testing.T, out string, cs kubernetes.Interface) {
	t.Helper()
	editor := filepath.Join(t.TempDir(), "scale")
	if err := os.WriteFile(editor, []byte("#!/bin/sh\nsed -i 's/replicas: 2/replicas: 3/' \"$1\"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	repo := between(out, "Git repository  ", " ")
	try := between(out, "Try, from another terminal:\n", "\n\n")
	t.Logf("the quickstart suggests:\n%s", try)
	wants := []string{"guestbook", "guestbook", "guestbook", "Scale the guestbook"}
	lines := strings.Split(try, "\n")
	if len(lines) != len(wants) {
		t.Fatalf("the quickstart suggests %d commands, want %d:\n%s", len(lines), len(wants), try)
	}
	for i, line := range lines {
		cmd := exec.Command("bash", "-c", strings.TrimSpace(line))
		cmd.Dir = t.TempDir()
		cmd.Env = append(os.Environ(), "EDITOR="+editor)
		got, err := cmd.CombinedOutput()
		if err != nil || !strings.Contains(string(got), wants[i]) {
			t.Fatalf("%s: %v; output lacks %q:\n%s", line, err, wants[i], got)
		}
	}
	var last int32
	err := wait.PollUntilContextTimeout(context.Background(), 250*time.Millisecond, 2*time.Minute, true, func(ctx context.Context) (bool, error) {
		d, err := cs.AppsV1().Deployments("guestbook").Get(ctx, "guestbook", metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		last = d.Status.AvailableReplicas
		return *d.Spec.Replicas == 3 && last == 3, nil
	})
	if err != nil {
		t.Fatalf("the guestbook was not scaled to 3 available replicas after the suggested commit: %v (%d available)", err, last)
	}
	// Ferry records that deployment's success.
	head, err := exec.Command("git", "-C", repo, "rev-parse", "HEAD").Output()
	if err != nil {
		t.Fatal(err)
	}
	var app ferryv1.GetApplicationResponse
	err = wait.PollUntilContextTimeout(context.Background(), 250*time.Millisecond, 2*time.Minute, true, func(context.Context) (bool, error) {
		if err := protojson.Unmarshal([]byte(runCLI(t, "app", "get", "guestbook", "-o", "json")), &app); err != nil {
			return false, err
		}
		d := app.GetApplication().GetMostRecentDeployment()
		return d.GetCommitHash() == strings.TrimSpace(string(head)) && d.GetStatus() == ferryv1.DeploymentStatus_DEPLOYMENT_STATUS_SUCCESS, nil
	})
	if err != nil {
		t.Fatalf("the suggested commit's deployment did not succeed: %v; the application: %v", err, app.GetApplication())
	}
}

// pathWithout returns $PATH without the directories that hold name.
func pathWithout(t *testing.T, name string) string {
	t.Helper()
	var keep []string
	for _, dir := range filepath.SplitList(os.Getenv("PATH")) {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			keep = append(keep, dir)
		}
	}
	return strings.Join(keep, string(os.PathListSeparator))
}

func between(s, from, to string) string {
	_, rest, _ := strings.Cut(s, from)
	v, _, _ := strings.Cut(rest, to)
	return v
}
