package gitrepo

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ferrycd/ferry/internal/model"
	"github.com/ferrycd/ferry/internal/testenv"
)

func TestACorruptedMirrorIsReclonedOnFetch(t *testing.T) {
	tests := []struct {
		name    string
		corrupt func(dir string) error
	}{
		{name: "the objects directory is removed", corrupt: func(dir string) error {
			return os.RemoveAll(filepath.Join(dir, "objects"))
		}},
		{name: "HEAD holds garbage", corrupt: func(dir string) error {
			return os.WriteFile(filepath.Join(dir, "HEAD"), []byte("\x00\x01garbage"), 0o644)
		}},
		{name: "HEAD is missing", corrupt: func(dir string) error {
			return os.Remove(filepath.Join(dir, "HEAD"))
		}},
		{name: "a killed git left a ref lock", corrupt: func(dir string) error {
			return os.WriteFile(filepath.Join(dir, "refs", "heads", "main.lock"), nil, 0o644)
		}},
		{name: "a killed git left a packed-refs lock", corrupt: func(dir string) error {
			return os.WriteFile(filepath.Join(dir, "packed-refs.lock"), nil, 0o644)
		}},
		{name: "every object file is truncated", corrupt: func(dir string) error {
			return filepath.WalkDir(filepath.Join(dir, "objects"), func(p string, d os.DirEntry, err error) error {
				if err != nil || d.IsDir() {
					return err
				}
				return os.Truncate(p, 0)
			})
		}},
		{name: "the mirror directory is removed", corrupt: os.RemoveAll},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRemote(t)
			r.commit("main", map[string]string{"a": "1"}, "first")
			r.commit("other", map[string]string{"b": "1"}, "other")
			m, logs := openMirror(t, r.url, nil)
			mustFetch(t, m)

			if err := tt.corrupt(m.dir); err != nil {
				t.Fatal(err)
			}
			second := r.commit("main", map[string]string{"a": "2"}, "second")
			testenv.Git(t, r.dir, "branch", "-D", "other") // the fetch must prune it
			mustFetch(t, m)

			c, err := m.Head(context.Background(), "main")
			if err != nil || c.Hash != second {
				t.Fatalf("Head after the re-clone = %v, %v; want %s", c.Hash, err, second)
			}
			if _, err := m.Head(context.Background(), "other"); !model.IsKind(err, model.KindNotFound) {
				t.Fatalf("Head of a branch deleted on the remote: err = %v, want not found", err)
			}
			if _, err := m.ReadFile(context.Background(), second, "a"); err != nil {
				t.Fatalf("ReadFile after the re-clone: %v", err)
			}
			if !strings.Contains(logs.String(), `msg="mirror corrupted, re-cloning" repo_id=apps`) {
				t.Errorf("no log line for the re-clone in:\n%s", logs)
			}
			if _, err := os.Stat(m.dir + ".old"); !os.IsNotExist(err) {
				t.Errorf("the broken mirror was left behind (stat err %v)", err)
			}
		})
	}
}

func TestOpenRecreatesAMirrorGitNoLongerRecognises(t *testing.T) {
	r := newRemote(t)
	head := r.commit("main", map[string]string{"a": "1"}, "first")
	m, _ := openMirror(t, r.url, nil)
	mustFetch(t, m)
	leftover := filepath.Join(m.worktrees, "wt-left-by-a-crash")
	if err := os.MkdirAll(leftover, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(m.dir, "HEAD"), []byte("garbage"), 0o644); err != nil {
		t.Fatal(err)
	}
	_ = m.Close()

	m2, logs := openMirror(t, r.url, func(c *Config) { c.CacheDir = filepath.Dir(filepath.Dir(m.dir)) })
	if !strings.Contains(logs.String(), "mirror corrupted, recreating") {
		t.Errorf("no log line for the recreation in:\n%s", logs)
	}
	if _, err := os.Stat(leftover); !os.IsNotExist(err) {
		t.Errorf("a checkout left by an earlier process survived Open (stat err %v)", err)
	}
	mustFetch(t, m2)
	if c, err := m2.Head(context.Background(), "main"); err != nil || c.Hash != head {
		t.Fatalf("Head = %v, %v; want %s", c.Hash, err, head)
	}
}
