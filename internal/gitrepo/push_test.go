package gitrepo

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/ferrycd/ferry/internal/model"
	"github.com/ferrycd/ferry/internal/testenv"
)

var bot = Signature{Name: "Ferry", Email: "ferry@example.com"}

// editWorktree fetches, checks out the remote's main in m, puts it on
// branch and writes file.
func editWorktree(t *testing.T, m *Mirror, r *testRemote, branch, file, content string) *Worktree {
	t.Helper()
	mustFetch(t, m)
	w, err := m.Worktree(context.Background(), r.head("main"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = w.Close() })
	if err := w.CheckoutBranch(context.Background(), branch); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(w.Dir(), file), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return w
}

func TestPushedCommitReachesTheRemote(t *testing.T) {
	ctx := context.Background()
	r := newRemote(t)
	base := r.commit("main", map[string]string{"app.yaml": "image: v1\n", "old": "x"}, "first")
	m, _ := openMirror(t, r.url, nil)
	mustFetch(t, m)

	w := editWorktree(t, m, r, "main", "app.yaml", "image: v2\n")
	if err := os.Remove(filepath.Join(w.Dir(), "old")); err != nil {
		t.Fatal(err)
	}
	hash, err := w.CommitAll(ctx, "update image to v2", bot)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Push(ctx, "main"); err != nil {
		t.Fatal(err)
	}
	if got := r.head("main"); got != hash {
		t.Fatalf("remote main = %s, want the pushed %s", got, hash)
	}
	if got := testenv.Git(t, r.dir, "show", "main:app.yaml"); got != "image: v2" {
		t.Errorf("remote app.yaml = %q", got)
	}

	mustFetch(t, m)
	c, err := m.Commit(ctx, hash)
	if err != nil {
		t.Fatal(err)
	}
	if c.Author != bot || c.Committer != bot || c.Message != "update image to v2" || c.Parents[0] != base {
		t.Errorf("pushed commit = %+v", c)
	}
	changed, err := m.ChangedFiles(ctx, base, hash)
	if err != nil || len(changed) != 2 {
		t.Errorf("ChangedFiles = %v, %v; want app.yaml and old", changed, err)
	}
}

func TestPushErrors(t *testing.T) {
	ctx := context.Background()
	r := newRemote(t)
	r.commit("main", map[string]string{"app.yaml": "image: v1\n"}, "first")
	m, _ := openMirror(t, r.url, nil)
	mustFetch(t, m)

	t.Run("a push to a branch that moved meanwhile is a conflict", func(t *testing.T) {
		w := editWorktree(t, m, r, "main", "app.yaml", "image: v2\n")
		if _, err := w.CommitAll(ctx, "v2", bot); err != nil {
			t.Fatal(err)
		}
		moved := r.commit("main", map[string]string{"other": "x"}, "someone else")
		wantKind(t, w.Push(ctx, "main"), model.KindConflict)
		if got := r.head("main"); got != moved {
			t.Errorf("remote main = %s after a refused push, want %s", got, moved)
		}
	})
	t.Run("a new branch can be pushed", func(t *testing.T) {
		w := editWorktree(t, m, r, "ferry/update", "app.yaml", "image: v3\n")
		hash, err := w.CommitAll(ctx, "v3", bot)
		if err != nil {
			t.Fatal(err)
		}
		if err := w.Push(ctx, "ferry/update"); err != nil {
			t.Fatal(err)
		}
		if got := r.head("ferry/update"); got != hash {
			t.Errorf("remote ferry/update = %s, want %s", got, hash)
		}
	})
	t.Run("a worktree without changes has nothing to commit", func(t *testing.T) {
		w := editWorktree(t, m, r, "main", "app.yaml", "image: v1\n")
		if _, err := w.CommitAll(ctx, "nothing", bot); !errors.Is(err, ErrNothingToCommit) {
			t.Fatalf("CommitAll without changes: err = %v, want ErrNothingToCommit", err)
		}
	})
	t.Run("a commit without an author is invalid", func(t *testing.T) {
		w := editWorktree(t, m, r, "main", "app.yaml", "image: v4\n")
		_, err := w.CommitAll(ctx, "v4", Signature{})
		wantKind(t, err, model.KindInvalid)
	})
	t.Run("a branch name git refuses is invalid", func(t *testing.T) {
		w := editWorktree(t, m, r, "main", "app.yaml", "image: v5\n")
		for _, b := range []string{"", "-f", "a..b", "with space", "refs/../x", "main~1", "@{-1}", "x.lock", "a//b", ".hidden"} {
			wantKind(t, w.CheckoutBranch(ctx, b), model.KindInvalid)
			wantKind(t, w.Push(ctx, b), model.KindInvalid)
		}
	})
}
