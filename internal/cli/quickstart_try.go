package cli

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/ferrycd/ferry/internal/localcluster"
)

// The quickstart prints commands to try from another terminal, and they
// must work as printed. After `go run ./cmd/ferry quickstart` there is no
// ferry on PATH, and the binary go run built is deleted when it exits, so
// the quickstart keeps a copy of its own binary in the data directory and
// prints that copy's path; it works from any directory, without Go or the
// checkout, and after the quickstart stopped. Building the binary again
// would need Go and the source, and printing `go run ./cmd/ferry` would
// work only from the checkout's root and compile on every call. When the
// ferry on PATH is this very binary, plain `ferry` is printed.

// ferryCommand returns the command that runs this ferry binary from a
// shell: "ferry" when that is it on PATH, else the path of a copy in
// <data-dir>/bin, made (or refreshed) now.
func (q *quickstart) ferryCommand() (string, error) {
	self, err := os.Executable()
	if err != nil {
		return "", fmt.Errorf("find the ferry binary: %w", err)
	}
	if onPath, err := exec.LookPath("ferry"); err == nil && sameFile(onPath, self) {
		return "ferry", nil
	}
	dst := filepath.Join(q.dataDir, "bin", "ferry")
	if sameFile(dst, self) {
		return shellQuote(dst), nil
	}
	if err := copyExecutable(self, dst); err != nil {
		return "", fmt.Errorf("keep the ferry binary in %s: %w", filepath.Dir(dst), err)
	}
	return shellQuote(dst), nil
}

// kubectlCommand returns the command that runs kubectl: "kubectl" when it
// is on PATH, else the one build.sh built beside the local cluster's
// binaries, else "kubectl" (the user's own cluster, the user's tools).
func kubectlCommand(cluster *localcluster.Cluster) string {
	if _, err := exec.LookPath("kubectl"); err == nil || cluster == nil {
		return "kubectl"
	}
	p := filepath.Join(cluster.BinDir(), "kubectl")
	if _, err := os.Stat(p); err != nil {
		return "kubectl"
	}
	return shellQuote(p)
}

// copyExecutable puts a copy of src at dst, replacing dst atomically: a
// hard link when both are on one file system, else a copy.
func copyExecutable(src, dst string) error {
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	tmp := dst + ".tmp"
	_ = os.Remove(tmp)
	if err := os.Link(src, tmp); err != nil {
		if err := copyFile(src, tmp); err != nil {
			_ = os.Remove(tmp)
			return err
		}
	}
	return os.Rename(tmp, dst)
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o755)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// sameFile reports whether a and b name the same existing file.
func sameFile(a, b string) bool {
	sa, err := os.Stat(a)
	if err != nil {
		return false
	}
	sb, err := os.Stat(b)
	return err == nil && os.SameFile(sa, sb)
}

// shellQuote quotes s for a POSIX shell when it needs it.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-./+:@%=,") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// printTry prints the commands to try from another terminal.
func printTry(w io.Writer, ferry, kubectl, kubeconfig, repoDir string) {
	fmt.Fprintf(w, `
Try, from another terminal:
  %[1]s app list
  %[1]s deployment list
  %[2]s --kubeconfig %[3]s get deployments -A
  cd %[4]s && ${EDITOR:-vi} guestbook/deployment.yaml && git commit -am "Scale the guestbook"

Press Ctrl-C to stop.
`, ferry, kubectl, shellQuote(kubeconfig), shellQuote(repoDir))
}
