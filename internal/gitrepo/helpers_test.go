package gitrepo

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/ferrycd/ferry/internal/model"
)

// deleted, as a file's content in testRemote.commit, removes the file.
const deleted = "\x00deleted"

// testRemote is a bare repository standing in for the Git host, and a clone
// of it that tests commit in and push from.
type testRemote struct {
	t    *testing.T
	dir  string // the bare repository
	work string
	url  string // file:// URL of dir
}

func newRemote(t *testing.T) *testRemote {
	t.Helper()
	root := t.TempDir()
	r := &testRemote{t: t, dir: filepath.Join(root, "remote.git"), work: filepath.Join(root, "work")}
	r.url = "file://" + r.dir
	testGit(t, root, "init", "--quiet", "--bare", "--initial-branch=main", r.dir)
	testGit(t, root, "init", "--quiet", "--initial-branch=main", r.work)
	testGit(t, r.work, "remote", "add", "origin", r.dir)
	return r
}

// commit writes files (path to content, or deleted) on branch, commits and
// pushes, and returns the new commit's hash.
func (r *testRemote) commit(branch string, files map[string]string, msg string) string {
	r.t.Helper()
	if testGit(r.t, r.work, "symbolic-ref", "--short", "HEAD") != branch {
		if testGit(r.t, r.work, "branch", "--list", branch) != "" {
			testGit(r.t, r.work, "checkout", "--quiet", branch)
		} else {
			testGit(r.t, r.work, "checkout", "--quiet", "-b", branch)
		}
	}
	for p, content := range files {
		full := filepath.Join(r.work, filepath.FromSlash(p))
		if content == deleted {
			testGit(r.t, r.work, "rm", "--quiet", "--", p)
			continue
		}
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			r.t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
			r.t.Fatal(err)
		}
	}
	testGit(r.t, r.work, "add", "--all")
	testGit(r.t, r.work, "commit", "--quiet", "--allow-empty", "-m", msg)
	testGit(r.t, r.work, "push", "--quiet", "--force", "origin", "HEAD:refs/heads/"+branch)
	return testGit(r.t, r.work, "rev-parse", "HEAD")
}

// head returns the remote's tip of branch.
func (r *testRemote) head(branch string) string {
	r.t.Helper()
	return testGit(r.t, r.dir, "rev-parse", "refs/heads/"+branch)
}

// testGit runs git in dir with a clean config and a fixed identity and
// returns its trimmed stdout, failing the test on error.
func testGit(t testing.TB, dir string, args ...string) string {
	t.Helper()
	out, err := runTestGit(dir, args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// runTestGit is testGit for goroutines other than the test's.
func runTestGit(dir string, args ...string) (string, error) {
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "GIT_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null",
		"GIT_AUTHOR_NAME=Tess Ter", "GIT_AUTHOR_EMAIL=tess@example.com",
		"GIT_COMMITTER_NAME=Tess Ter", "GIT_COMMITTER_EMAIL=tess@example.com")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("git %s: %w: %s", strings.Join(args, " "), err, stderr.String())
	}
	return strings.TrimSpace(string(out)), nil
}

// openMirror opens a mirror of remote in a fresh cache dir, applying edit
// to the config first, and closes it when the test ends.
func openMirror(t *testing.T, remote string, edit func(*Config)) (*Mirror, *logBuffer) {
	t.Helper()
	logs := &logBuffer{t: t}
	cfg := Config{
		RepoID:   "apps",
		Remote:   remote,
		CacheDir: t.TempDir(),
		Logger:   slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	if edit != nil {
		edit(&cfg)
	}
	m, err := Open(context.Background(), cfg)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = m.Close() })
	return m, logs
}

// logBuffer sends log lines to t.Log and keeps them for assertions. (Not
// testenv.LogWriter: testenv pulls in client-go, minutes of -race build.)
type logBuffer struct {
	t   *testing.T
	mu  sync.Mutex
	buf bytes.Buffer
}

// Write implements io.Writer.
func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.t.Log(strings.TrimSuffix(string(p), "\n"))
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// wantKind fails the test unless err has kind k.
func wantKind(t *testing.T, err error, k model.ErrorKind) {
	t.Helper()
	if err == nil {
		t.Fatalf("err = nil, want kind %v", k)
	}
	if got := model.KindOf(err); got != k {
		t.Fatalf("kind of %q = %v, want %v", err, got, k)
	}
}

// mustFetch fetches and fails the test on error.
func mustFetch(t *testing.T, m *Mirror) {
	t.Helper()
	if err := m.Fetch(context.Background()); err != nil {
		t.Fatalf("Fetch: %v", err)
	}
}
