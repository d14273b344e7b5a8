package kubernetes

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"sigs.k8s.io/yaml"

	"github.com/ferrycd/ferry/internal/platform"
)

var update = flag.Bool("update", false, "rewrite golden files")

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Errorf("%s differs (-want +got), run with -update if intended:\n%s", path, diff)
	}
}

func readObject(t *testing.T, path string) map[string]any {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := yaml.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestTheDiffReadsFromGitToLive(t *testing.T) {
	desired := readObject(t, "testdata/drift/desired.yaml")
	live := readObject(t, "testdata/drift/live.yaml")
	drift := &platform.Drift{Resources: []platform.ResourceDrift{
		{Name: "apps/v1 Deployment shop/web", State: platform.DriftChanged, Fields: diffFields(desired, live, nil)},
		{Name: "v1 ConfigMap shop/web-config", State: platform.DriftMissing},
		{Name: "v1 Secret shop/old", State: platform.DriftNotInGit},
	}}
	golden(t, "drift/diff.golden", drift.String())
	golden(t, "drift/summary.golden", drift.Summary()+"\n")
}

func TestIgnoredFieldsAndEverythingBelowThemAreLeftOut(t *testing.T) {
	desired := readObject(t, "testdata/drift/desired.yaml")
	live := readObject(t, "testdata/drift/live.yaml")
	got := diffFields(desired, live, []string{"spec.replicas", "spec.template.spec.containers", "metadata.labels"})
	if len(got) != 0 {
		t.Errorf("diff = %+v, want none", got)
	}
}

func TestIgnoreFieldsParse(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     ignoreRule
		bad      bool
	}{
		{name: "a field of a namespaced object", in: "apps/v1:Deployment:web:front#spec.replicas",
			want: ignoreRule{apiVersion: "apps/v1", kind: "Deployment", namespace: "web", name: "front", path: "spec.replicas"}},
		{name: "list indexes in brackets read as dotted", in: "apps/v1:Deployment:web:front#spec.template.spec.containers[0].image",
			want: ignoreRule{apiVersion: "apps/v1", kind: "Deployment", namespace: "web", name: "front", path: "spec.template.spec.containers.0.image"}},
		{name: "a cluster-scoped object has an empty namespace", in: "v1:Namespace::web#metadata.labels",
			want: ignoreRule{apiVersion: "v1", kind: "Namespace", name: "web", path: "metadata.labels"}},
		{name: "no field path is an error", in: "apps/v1:Deployment:web:front", bad: true},
		{name: "too few parts is an error", in: "Deployment:web:front#spec.replicas", bad: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseIgnoreFields([]string{tc.in})
			if tc.bad {
				if err == nil {
					t.Fatalf("parse %q = %+v, want an error", tc.in, got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff([]ignoreRule{tc.want}, got, cmp.AllowUnexported(ignoreRule{})); diff != "" {
				t.Errorf("parse %q (-want +got):\n%s", tc.in, diff)
			}
		})
	}
}

func TestASecretsDiffShowsWhichKeysChangedButNoValue(t *testing.T) {
	plus := func(n int) string { return strings.Repeat("+", n) }
	// Placeholders go to distinct values in order: Git's side first, data
	// keys sorted, then the annotation; the unchanged user matches.
	desired := map[string]any{
		"apiVersion": "v1", "kind": "Secret",
		"metadata": map[string]any{"name": "db", "annotations": map[string]any{
			annotationLastApplied: `{"stringData":{"password":"hunter2-new"}}`,
		}},
		"data": map[string]any{"password": "aHVudGVyMi1uZXc=", "user": "YWRtaW4=", "added": "c2VjcmV0LWFkZGVk"},
	}
	live := map[string]any{
		"apiVersion": "v1", "kind": "Secret",
		"metadata": map[string]any{"name": "db", "annotations": map[string]any{
			annotationLastApplied: `{"stringData":{"password":"hunter2-old"}}`,
		}},
		"data": map[string]any{"password": "aHVudGVyMi1vbGQ=", "user": "YWRtaW4=", "gone": "c2VjcmV0LWdvbmU="},
	}
	got := diffFields(desired, live, nil)
	want := []platform.FieldDrift{
		{Path: "data.added", Desired: plus(8), InDesired: true},
		{Path: "data.gone", Live: plus(12), InLive: true},
		{Path: "data.password", Desired: plus(9), Live: plus(13), InDesired: true, InLive: true},
		{Path: "metadata.annotations." + annotationLastApplied, Desired: plus(11), Live: plus(14), InDesired: true, InLive: true},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Secret diff (-want +got):\n%s", diff)
	}
	for _, secret := range []string{"hunter2", "aHVudGVy", "YWRtaW4", "c2VjcmV0"} {
		for _, f := range got {
			if strings.Contains(f.Desired+f.Live, secret) {
				t.Errorf("%s shows %q", f.Path, secret)
			}
		}
	}
	// A Secret whose data appears or goes as a whole is masked too.
	delete(live, "data")
	for _, f := range diffFields(desired, live, nil) {
		if strings.Contains(f.Desired+f.Live, "aHVudGVy") {
			t.Errorf("%s shows a value: %s", f.Path, f.Desired)
		}
	}
	// The masking leaves the objects it was given as they were.
	if desired["data"].(map[string]any)["user"] != "YWRtaW4=" {
		t.Errorf("diffFields changed its input")
	}
}
