package gitrepo

import (
	"context"
	"testing"

	"github.com/ferrycd/ferry/internal/model"
	"github.com/ferrycd/ferry/internal/testenv"
)

func TestResolveRefFindsBranchesTagsAndCommits(t *testing.T) {
	r := newRemote(t)
	first := r.commit("main", map[string]string{"a": "1"}, "first")
	testenv.Git(t, r.work, "tag", "v1", first)
	testenv.Git(t, r.work, "push", "--quiet", "origin", "v1")
	second := r.commit("main", map[string]string{"a": "2"}, "second")
	m, _ := openMirror(t, r.url, nil)
	ctx := context.Background()
	if m.HasCommit(ctx, first) {
		t.Error("HasCommit before the first fetch = true")
	}
	mustFetch(t, m)
	for _, tt := range []struct{ name, ref, want string }{
		{"a branch resolves to its tip", "main", second},
		{"a tag resolves to its commit", "v1", first},
		{"a full hash resolves to itself", first, first},
		{"an abbreviated hash resolves to the full one", first[:10], first},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := m.ResolveRef(ctx, tt.ref)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("ResolveRef(%s) = %s, want %s", tt.ref, got, tt.want)
			}
		})
	}
	if !m.HasCommit(ctx, first[:12]) {
		t.Error("HasCommit of a fetched commit = false")
	}
	_, err := m.ResolveRef(ctx, "nope")
	wantKind(t, err, model.KindNotFound)
	_, err = m.ResolveRef(ctx, "main~1")
	wantKind(t, err, model.KindInvalid)
}

func TestDefaultBranchAsksTheRemote(t *testing.T) {
	r := newRemote(t)
	r.commit("main", map[string]string{"a": "1"}, "first")
	r.commit("trunk", map[string]string{"a": "2"}, "second")
	testenv.Git(t, r.dir, "symbolic-ref", "HEAD", "refs/heads/trunk")
	m, _ := openMirror(t, r.url, nil)
	got, err := m.DefaultBranch(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if got != "trunk" {
		t.Errorf("DefaultBranch = %q, want trunk", got)
	}
}
