package gitrepo

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/ferrycd/ferry/internal/model"
	"github.com/ferrycd/ferry/internal/testenv"
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
	testenv.Git(t, root, "init", "--quiet", "--bare", "--initial-branch=main", r.dir)
	testenv.Git(t, root, "init", "--quiet", "--initial-branch=main", r.work)
	testenv.Git(t, r.work, "remote", "add", "origin", r.dir)
	return r
}

// commit writes files (path to content, or deleted) on branch, commits and
// pushes, and returns the new commit's hash.
func (r *testRemote) commit(branch string, files map[string]string, msg string) string {
	r.t.Helper()
	if testenv.Git(r.t, r.work, "symbolic-ref", "--short", "HEAD") != branch {
		if testenv.Git(r.t, r.work, "branch", "--list", branch) != "" {
			testenv.Git(r.t, r.work, "checkout", "--quiet", branch)
		} else {
			testenv.Git(r.t, r.work, "checkout", "--quiet", "-b", branch)
		}
	}
	for p, content := range files {
		full := filepath.Join(r.work, filepath.FromSlash(p))
		if content == deleted {
			testenv.Git(r.t, r.work, "rm", "--quiet", "--", p)
			continue
		}
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			r.t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
			r.t.Fatal(err)
		}
	}
	testenv.Git(r.t, r.work, "add", "--all")
	testenv.Git(r.t, r.work, "commit", "--quiet", "--allow-empty", "-m", msg)
	testenv.Git(r.t, r.work, "push", "--quiet", "--force", "origin", "HEAD:refs/heads/"+branch)
	return testenv.Git(r.t, r.work, "rev-parse", "HEAD")
}

// head returns the remote's tip of branch.
func (r *testRemote) head(branch string) string {
	r.t.Helper()
	return testenv.Git(r.t, r.dir, "rev-parse", "refs/heads/"+branch)
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
