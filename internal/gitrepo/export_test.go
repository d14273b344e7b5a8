package gitrepo

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/ferrycd/ferry/internal/model"
	"github.com/ferrycd/ferry/internal/testenv"
)

func TestExportHoldsExactlyTheCommitsFiles(t *testing.T) {
	r := newRemote(t)
	first := r.commit("main", map[string]string{
		"app/app.pipecd.yaml": "v: 1\n",
		"app/deploy.sh":       "#!/bin/sh\n",
		// An export rule in the repository must not drop or rewrite files
		// the deployment reads.
		".gitattributes":  "app/secret.yaml export-ignore\napp/subst.txt export-subst\n",
		"app/secret.yaml": "kept\n",
		"app/subst.txt":   "$Format:%H$\n",
	}, "first")
	if err := os.Chmod(filepath.Join(r.work, "app/deploy.sh"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("app.pipecd.yaml", filepath.Join(r.work, "app/link.yaml")); err != nil {
		t.Fatal(err)
	}
	second := r.commit("main", map[string]string{"app/app.pipecd.yaml": "v: 2\n"}, "second")
	m, _ := openMirror(t, r.url, nil)
	mustFetch(t, m)
	ctx := context.Background()

	for _, c := range []struct {
		commit, want string
	}{{first, "v: 1\n"}, {second[:10], "v: 2\n"}} {
		w, err := m.Export(ctx, c.commit)
		if err != nil {
			t.Fatal(err)
		}
		if got, _ := os.ReadFile(filepath.Join(w.Dir(), "app/app.pipecd.yaml")); string(got) != c.want {
			t.Errorf("export of %.8s: app.pipecd.yaml = %q, want %q", c.commit, got, c.want)
		}
		if len(c.commit) == 10 && w.Commit() != second {
			t.Errorf("export of an abbreviated hash: Commit() = %s, want %s", w.Commit(), second)
		}
		if _, err := os.Stat(filepath.Join(w.Dir(), ".git")); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("export has a .git: %v", err)
		}
		if _, err := w.CommitAll(ctx, "x", Signature{Name: "a", Email: "a@b"}); model.KindOf(err) != model.KindInvalid {
			t.Errorf("CommitAll on an export: %v, want an invalid-argument error", err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(w.Dir()); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("export dir after Close: %v", err)
		}
	}

	w, err := m.Export(ctx, second)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if got, _ := os.ReadFile(filepath.Join(w.Dir(), "app/secret.yaml")); string(got) != "kept\n" {
		t.Errorf("export-ignore honoured: secret.yaml = %q", got)
	}
	if got, _ := os.ReadFile(filepath.Join(w.Dir(), "app/subst.txt")); string(got) != "$Format:%H$\n" {
		t.Errorf("export-subst honoured: subst.txt = %q", got)
	}
	if fi, err := os.Stat(filepath.Join(w.Dir(), "app/deploy.sh")); err != nil || fi.Mode().Perm()&0o100 == 0 {
		t.Errorf("deploy.sh: %v, mode %v; want executable", err, fi)
	}
	if target, err := os.Readlink(filepath.Join(w.Dir(), "app/link.yaml")); err != nil || target != "app.pipecd.yaml" {
		t.Errorf("link.yaml: %q, %v; want a link to app.pipecd.yaml", target, err)
	}

	_, err = m.Export(ctx, "0123456789abcdef0123456789abcdef01234567")
	wantKind(t, err, model.KindNotFound)
	_, err = m.Export(ctx, "not-a-hash")
	wantKind(t, err, model.KindInvalid)
}

func TestReadFilesReadsManyInOneGo(t *testing.T) {
	r := newRemote(t)
	c := r.commit("main", map[string]string{"a/app.pipecd.yaml": "a\n", "b/app.pipecd.yaml": "", "c/x": "line 1\nline 2\n"}, "apps")
	m, _ := openMirror(t, r.url, nil)
	mustFetch(t, m)
	ctx := context.Background()
	got, err := m.ReadFiles(ctx, c, []string{"a/app.pipecd.yaml", "missing.yaml", "b/app.pipecd.yaml", "c", "c/x"})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"a/app.pipecd.yaml": "a\n", "b/app.pipecd.yaml": "", "c/x": "line 1\nline 2\n"}
	if len(got) != len(want) {
		t.Errorf("ReadFiles = %q, want %q", got, want)
	}
	for p, w := range want {
		if string(got[p]) != w {
			t.Errorf("%s = %q, want %q", p, got[p], w)
		}
	}
	_, err = m.ReadFiles(ctx, "0123456789abcdef0123456789abcdef01234567", []string{"a/app.pipecd.yaml"})
	wantKind(t, err, model.KindNotFound)
	_, err = m.ReadFiles(ctx, c, []string{"../x"})
	wantKind(t, err, model.KindInvalid)
}

func TestSnapshotsOfACommitAreSharedAndRemovedAfterTheLast(t *testing.T) {
	r := newRemote(t)
	c := r.commit("main", map[string]string{"app/app.pipecd.yaml": "v: 1\n"}, "one")
	m, _ := openMirror(t, r.url, nil)
	mustFetch(t, m)
	ctx := context.Background()
	const n = 8
	snaps := make([]*Snapshot, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { snaps[i], errs[i] = m.Snapshot(ctx, c[:12]) })
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		if snaps[i].Dir() != snaps[0].Dir() || snaps[i].Commit() != c {
			t.Fatalf("snapshot %d: %s at %s, want %s at %s", i, snaps[i].Dir(), snaps[i].Commit(), snaps[0].Dir(), c)
		}
	}
	if got, _ := os.ReadFile(filepath.Join(snaps[0].Dir(), "app/app.pipecd.yaml")); string(got) != "v: 1\n" {
		t.Errorf("app.pipecd.yaml = %q", got)
	}
	for _, s := range snaps {
		s.Close()
		s.Close() // idempotent: one holder released once
	}
	// Released by all: kept for the next caller within the linger...
	again, err := m.Snapshot(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	if again.Dir() != snaps[0].Dir() {
		t.Errorf("a snapshot taken again within the linger is a new export")
	}
	again.Close()
	m.snapshotsMu.Lock()
	s := m.snapshots[c]
	s.linger.Reset(0) // ...and removed when it ends.
	m.snapshotsMu.Unlock()
	testenv.WaitFor(t, 10*time.Second, "the snapshot is removed", func() bool {
		_, err := os.Stat(again.Dir())
		return errors.Is(err, os.ErrNotExist)
	})

	_, err = m.Snapshot(ctx, "0123456789abcdef0123456789abcdef01234567")
	wantKind(t, err, model.KindNotFound)
	m.snapshotsMu.Lock()
	left := len(m.snapshots)
	m.snapshotsMu.Unlock()
	if left != 0 {
		t.Errorf("%d snapshots left after a failed one", left)
	}
}
