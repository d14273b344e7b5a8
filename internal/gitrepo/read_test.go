package gitrepo

import (
	"context"
	"strings"
	"testing"

	"github.com/ferrycd/ferry/internal/model"
	"github.com/ferrycd/ferry/internal/testenv"
	"github.com/google/go-cmp/cmp"
)

// history is a remote with three commits on main and a mirror fetched after
// them.
type history struct {
	remote     *testRemote
	mirror     *Mirror
	c1, c2, c3 string
}

func newHistory(t *testing.T) history {
	t.Helper()
	r := newRemote(t)
	h := history{remote: r}
	h.c1 = r.commit("main", map[string]string{
		"README.md":            "hello\n",
		"apps/web/app.yaml":    "name: web\n",
		"apps/api/app.yaml":    "name: api\n",
		"apps2/other/app.yaml": "name: other\n",
	}, "first")
	h.c2 = r.commit("main", map[string]string{
		"apps/web/app.yaml": "name: web\nreplicas: 2\n",
		"apps/new/app.yaml": "name: new\n",
		"apps/api/app.yaml": deleted,
	}, "second\n\nwith a body")
	testenv.Git(t, r.work, "mv", "README.md", "docs.md")
	h.c3 = r.commit("main", nil, "rename")
	h.mirror, _ = openMirror(t, r.url, nil)
	mustFetch(t, h.mirror)
	return h
}

func TestFetchPicksUpNewCommitsAndDeletedBranches(t *testing.T) {
	r := newRemote(t)
	first := r.commit("main", map[string]string{"a": "1"}, "first")
	r.commit("feature", map[string]string{"b": "2"}, "feature")
	m, _ := openMirror(t, r.url, nil)

	if _, err := m.Head(context.Background(), "main"); !model.IsKind(err, model.KindNotFound) {
		t.Fatalf("Head before the first Fetch: err = %v, want not found", err)
	}
	mustFetch(t, m)
	if c, err := m.Head(context.Background(), "main"); err != nil || c.Hash != first {
		t.Fatalf("Head = %v, %v; want %s", c.Hash, err, first)
	}

	testenv.Git(t, r.dir, "branch", "-D", "feature")
	second := r.commit("main", map[string]string{"a": "2"}, "second")
	mustFetch(t, m)
	if c, err := m.Head(context.Background(), "main"); err != nil || c.Hash != second {
		t.Fatalf("Head after the second Fetch = %v, %v; want %s", c.Hash, err, second)
	}
	if _, err := m.Head(context.Background(), "feature"); !model.IsKind(err, model.KindNotFound) {
		t.Fatalf("Head of a branch deleted on the remote: err = %v, want not found", err)
	}
	if _, err := m.Head(context.Background(), "main~1"); !model.IsKind(err, model.KindInvalid) {
		t.Fatalf("Head of a revision expression: err = %v, want invalid", err)
	}
}

func TestCommitDescribesTheCommit(t *testing.T) {
	h := newHistory(t)
	c, err := h.mirror.Commit(context.Background(), h.c2[:10])
	if err != nil {
		t.Fatal(err)
	}
	if c.Hash != h.c2 || c.Subject() != "second" || c.Message != "second\n\nwith a body" ||
		c.Author != (Signature{"Tess Ter", "tess@example.com"}) || c.Committer != c.Author ||
		c.AuthorTime.IsZero() || c.CommitTime.IsZero() || !cmp.Equal(c.Parents, []string{h.c1}) {
		t.Fatalf("Commit = %+v", c)
	}
}

func TestChangedFiles(t *testing.T) {
	h := newHistory(t)
	tests := []struct {
		name     string
		from, to string
		want     []string
		kind     model.ErrorKind
	}{
		{name: "modified, added and deleted files are listed", from: h.c1, to: h.c2,
			want: []string{"apps/api/app.yaml", "apps/new/app.yaml", "apps/web/app.yaml"}},
		{name: "a rename lists both paths", from: h.c2, to: h.c3, want: []string{"README.md", "docs.md"}},
		{name: "an empty from lists every file", from: "", to: h.c1,
			want: []string{"README.md", "apps/api/app.yaml", "apps/web/app.yaml", "apps2/other/app.yaml"}},
		{name: "a commit against itself changes nothing", from: h.c2, to: h.c2, want: []string{}},
		{name: "an unknown from is not found", from: strings.Repeat("ab", 20), to: h.c2, kind: model.KindNotFound},
		{name: "a from that is no hash is invalid", from: "main", to: h.c2, kind: model.KindInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := h.mirror.ChangedFiles(context.Background(), tt.from, tt.to)
			if tt.want == nil {
				wantKind(t, err, tt.kind)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tt.want, got); d != "" {
				t.Errorf("ChangedFiles (-want +got):\n%s", d)
			}
		})
	}
}

func TestReadFile(t *testing.T) {
	h := newHistory(t)
	tests := []struct {
		name         string
		commit, path string
		want         string
		kind         model.ErrorKind
	}{
		{name: "a file has its content at that commit", commit: h.c1, path: "apps/web/app.yaml", want: "name: web\n"},
		{name: "the same file has its later content later", commit: h.c2, path: "apps/web/app.yaml", want: "name: web\nreplicas: 2\n"},
		{name: "a leading ./ or / is ignored", commit: h.c1, path: "./README.md", want: "hello\n"},
		{name: "an abbreviated hash works", commit: h.c1[:7], path: "/README.md", want: "hello\n"},
		{name: "a file deleted later is not found", commit: h.c2, path: "apps/api/app.yaml", kind: model.KindNotFound},
		{name: "a directory is not found", commit: h.c1, path: "apps", kind: model.KindNotFound},
		{name: "an unknown commit is not found", commit: "0123456789abcdef0123456789abcdef01234567", path: "README.md", kind: model.KindNotFound},
		{name: "a path leaving the repository is invalid", commit: h.c1, path: "../etc/passwd", kind: model.KindInvalid},
		{name: "an option as the commit is invalid", commit: "--output=/tmp/x", path: "README.md", kind: model.KindInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := h.mirror.ReadFile(context.Background(), tt.commit, tt.path)
			if tt.want == "" {
				wantKind(t, err, tt.kind)
				if tt.kind == model.KindNotFound && !strings.Contains(err.Error(), "not found in repo apps") {
					t.Errorf("error %q does not say what is missing where", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Errorf("ReadFile = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestListFiles(t *testing.T) {
	h := newHistory(t)
	tests := []struct {
		name string
		dir  string
		want []string
	}{
		{name: "the root lists every file", dir: "", want: []string{"README.md", "apps/api/app.yaml", "apps/web/app.yaml", "apps2/other/app.yaml"}},
		{name: "a directory lists the files below it", dir: "apps", want: []string{"apps/api/app.yaml", "apps/web/app.yaml"}},
		{name: "a trailing slash changes nothing", dir: "apps/web/", want: []string{"apps/web/app.yaml"}},
		{name: "a missing directory lists nothing", dir: "nope", want: []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := h.mirror.ListFiles(context.Background(), h.c1, tt.dir)
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tt.want, got); d != "" {
				t.Errorf("ListFiles (-want +got):\n%s", d)
			}
		})
	}
}
