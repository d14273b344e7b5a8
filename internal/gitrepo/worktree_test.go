package gitrepo

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/ferrycd/ferry/internal/model"
	"github.com/ferrycd/ferry/internal/testenv"
)

func TestConcurrentWorktreesHaveTheirCommitsFiles(t *testing.T) {
	const n = 8
	r := newRemote(t)
	commits := make([]string, n)
	for i := range commits {
		commits[i] = r.commit("main", map[string]string{
			"app.yaml":            fmt.Sprintf("version: %d\n", i),
			fmt.Sprintf("f%d", i): "only from here on\n",
		}, fmt.Sprintf("commit %d", i))
	}
	m, _ := openMirror(t, r.url, nil)
	mustFetch(t, m)

	// While the worktrees are created, the remote gets new branches and the
	// mirror fetches them. The commits are made beforehand (the helper
	// pushes them; they are taken off the remote again) because the test's
	// helpers may fail only on the test's goroutine.
	for i := range n {
		branch := fmt.Sprintf("later-%d", i)
		r.commit(branch, map[string]string{"later": fmt.Sprint(i)}, "later")
		testenv.Git(t, r.dir, "update-ref", "-d", "refs/heads/"+branch)
	}
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, 2*n+1)
	for i := range n {
		wg.Go(func() { errs <- checkWorktree(ctx, m, commits[i], i) })
	}
	wg.Go(func() {
		for i := range n {
			branch := fmt.Sprintf("later-%d", i)
			if _, err := testenv.RunGit(r.work, "push", "--quiet", "origin", branch); err != nil {
				errs <- err
				return
			}
			errs <- m.Fetch(ctx)
		}
	})
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if _, err := m.Head(ctx, fmt.Sprintf("later-%d", n-1)); err != nil {
		t.Errorf("Head of the last branch pushed meanwhile: %v", err)
	}
	entries, err := os.ReadDir(m.worktrees)
	if err != nil || len(entries) != 0 {
		t.Errorf("worktrees dir after Close: %v entries, err %v; want empty", len(entries), err)
	}
}

// checkWorktree checks out commit i and verifies its files.
func checkWorktree(ctx context.Context, m *Mirror, commit string, i int) error {
	w, err := m.Worktree(ctx, commit)
	if err != nil {
		return err
	}
	got, err := os.ReadFile(filepath.Join(w.Dir(), "app.yaml"))
	if err != nil {
		return err
	}
	if want := fmt.Sprintf("version: %d\n", i); string(got) != want {
		return fmt.Errorf("worktree of commit %d: app.yaml = %q, want %q", i, got, want)
	}
	if _, err := os.Stat(filepath.Join(w.Dir(), fmt.Sprintf("f%d", i+1))); !os.IsNotExist(err) {
		return fmt.Errorf("worktree of commit %d has a file of a later commit (stat: %w)", i, err)
	}
	if w.Commit() != commit {
		return fmt.Errorf("Commit() = %s, want %s", w.Commit(), commit)
	}
	if err := w.Close(); err != nil {
		return err
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("second Close: %w", err)
	}
	if _, err := os.Stat(w.Dir()); !os.IsNotExist(err) {
		return fmt.Errorf("worktree dir after Close: stat err %w, want not exist", err)
	}
	return nil
}

func TestWorktreeErrors(t *testing.T) {
	r := newRemote(t)
	r.commit("main", map[string]string{"a": "1"}, "first")
	m, _ := openMirror(t, r.url, nil)
	mustFetch(t, m)
	tests := []struct {
		name   string
		commit string
		kind   model.ErrorKind
	}{
		{name: "an unknown commit is not found", commit: "0123456789abcdef0123456789abcdef01234567", kind: model.KindNotFound},
		{name: "a branch name is no commit hash", commit: "main", kind: model.KindInvalid},
		{name: "an option is no commit hash", commit: "--upload-pack=touch", kind: model.KindInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := m.Worktree(context.Background(), tt.commit)
			wantKind(t, err, tt.kind)
		})
	}
	if entries, _ := os.ReadDir(m.worktrees); len(entries) != 0 {
		t.Errorf("failed checkouts left %d entries", len(entries))
	}
}

func TestWorktreeSurvivesARecloneOfTheMirror(t *testing.T) {
	r := newRemote(t)
	c := r.commit("main", map[string]string{"a": "1"}, "first")
	m, _ := openMirror(t, r.url, nil)
	mustFetch(t, m)
	w, err := m.Worktree(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()

	if err := os.RemoveAll(filepath.Join(m.dir, "objects")); err != nil {
		t.Fatal(err)
	}
	mustFetch(t, m)
	if got := testenv.Git(t, w.Dir(), "rev-parse", "HEAD"); got != c {
		t.Fatalf("worktree HEAD after re-clone = %s, want %s", got, c)
	}
	if got := testenv.Git(t, w.Dir(), "status", "--porcelain"); got != "" {
		t.Fatalf("worktree status after re-clone = %q, want clean", got)
	}
}

func TestAWorktreeOfACommitNoBranchReachesAnyMoreWorks(t *testing.T) {
	r := newRemote(t)
	r.commit("main", map[string]string{"a": "1"}, "first")
	gone := r.commit("force-pushed", map[string]string{"a": "gone"}, "later force-pushed away")
	m, _ := openMirror(t, r.url, nil)
	mustFetch(t, m)
	testenv.Git(t, r.dir, "branch", "-D", "force-pushed")
	mustFetch(t, m)

	w, err := m.Worktree(context.Background(), gone)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if b, err := os.ReadFile(filepath.Join(w.Dir(), "a")); err != nil || string(b) != "gone" {
		t.Fatalf("file a = %q, %v; want %q", b, err, "gone")
	}
}
