package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ferrycd/ferry/internal/localcluster"
	"github.com/ferrycd/ferry/internal/testenv"
)

// runDev runs `ferry dev args...` and returns its stdout and error.
func runDev(t *testing.T, args ...string) (string, error) {
	t.Helper()
	cmd := newDevCmd()
	var out, errOut bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	cmd.SetArgs(args)
	err := cmd.Execute()
	t.Logf("ferry dev %s: %s%s", strings.Join(args, " "), out.String(), errOut.String())
	return out.String(), err
}

func TestDevClusterUpStatusKubeconfigDown(t *testing.T) {
	bin := testenv.KubeBinDir(t)
	dir := filepath.Join(t.TempDir(), "state")
	t.Cleanup(func() {
		if c, err := localcluster.Open(dir); err == nil {
			_ = c.Stop()
		}
	})

	out, err := runDev(t, "cluster", "up", "--state-dir", dir, "--bin-dir", bin)
	if err != nil {
		t.Fatal(err)
	}
	kubeconfig := strings.TrimSpace(out)
	if kubeconfig != filepath.Join(dir, "kubeconfig") {
		t.Fatalf("up printed %q, want the kubeconfig path", out)
	}
	if out, err := runDev(t, "cluster", "up", "--state-dir", dir, "--bin-dir", bin); err != nil || strings.TrimSpace(out) != kubeconfig {
		t.Fatalf("second up = %q, %v; want the same kubeconfig path", out, err)
	}

	out, err = runDev(t, "cluster", "status", "--state-dir", dir)
	if err != nil || !strings.HasPrefix(out, "running\n") || !strings.Contains(out, "1 (1 ready)") || !strings.Contains(out, "https://127.0.0.1:") {
		t.Fatalf("status = %q, %v; want running with one ready node", out, err)
	}
	if out, err := runDev(t, "cluster", "kubeconfig", "--state-dir", dir); err != nil || strings.TrimSpace(out) != kubeconfig {
		t.Fatalf("kubeconfig = %q, %v; want %s", out, err, kubeconfig)
	}
	out, err = runDev(t, "cluster", "kubeconfig", "--contents", "--state-dir", dir)
	if err != nil || !strings.Contains(out, "current-context: "+localcluster.ContextName) {
		t.Fatalf("kubeconfig --contents = %q, %v", out, err)
	}

	if out, err := runDev(t, "cluster", "down", "--state-dir", dir); err != nil || !strings.HasPrefix(out, "stopped local cluster https://127.0.0.1:") {
		t.Fatalf("down = %q, %v", out, err)
	}
	if _, err := os.Stat(kubeconfig); !os.IsNotExist(err) {
		t.Errorf("kubeconfig still there after down: %v", err)
	}
	if _, err := runDev(t, "cluster", "status", "--state-dir", dir); err == nil || !strings.Contains(err.Error(), "not running") {
		t.Errorf("status after down: %v, want a not running error", err)
	}
	if out, err := runDev(t, "cluster", "down", "--state-dir", dir); err != nil || !strings.HasPrefix(out, "no local cluster in ") {
		t.Errorf("second down = %q, %v; want it to say there is none", out, err)
	}
}

func TestDevClusterUpWithoutBinariesSaysHowToBuildThem(t *testing.T) {
	_, err := runDev(t, "cluster", "up", "--state-dir", t.TempDir(), "--bin-dir", t.TempDir())
	if err == nil || !strings.Contains(err.Error(), "bash hack/kube/build.sh") || strings.Contains(err.Error(), "\n") {
		t.Fatalf("up without binaries: %v, want one line naming hack/kube/build.sh", err)
	}
}
