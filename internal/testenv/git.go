package testenv

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// Git runs git in dir as RunGit does and returns its trimmed standard
// output, failing t when git fails.
func Git(t testing.TB, dir string, args ...string) string {
	t.Helper()
	out, err := RunGit(dir, args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// RunGit runs git in dir with a clean environment (no GIT_* variables of
// the caller's, no system or global config) and a fixed identity, Tess Ter
// <tess@example.com>, that `-c user.name=… -c user.email=…` in args
// overrides. It returns the trimmed standard output, or an error with git's
// standard error; unlike Git, it is safe in any goroutine.
func RunGit(dir string, args ...string) (string, error) {
	cmd := exec.Command("git", append([]string{"-c", "user.name=Tess Ter", "-c", "user.email=tess@example.com"}, args...)...)
	cmd.Dir = dir
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "GIT_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("git %s: %w: %s", strings.Join(args, " "), err, stderr.String())
	}
	return strings.TrimSpace(string(out)), nil
}
