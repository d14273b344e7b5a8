package kubernetes

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/ferrycd/ferry/internal/config"
	"github.com/ferrycd/ferry/internal/gitrepo"
)

func TestRemoteBaseURLsReadAsKustomizeReadsThem(t *testing.T) {
	for in, want := range map[string]remoteBase{
		"https://github.com/org/repo//deploy/base?ref=v1.2": {repo: "https://github.com/org/repo", dir: "deploy/base", ref: "v1.2"},
		"github.com/org/repo/deploy/base?version=v1":        {repo: "https://github.com/org/repo", dir: "deploy/base", ref: "v1"},
		"git@github.com:org/repo.git/deploy?ref=main":       {repo: "git@github.com:org/repo.git", dir: "deploy", ref: "main"},
		"ssh://git@git.example.com/org/repo.git//x":         {repo: "ssh://git@git.example.com/org/repo.git", dir: "x"},
		"git::https://git.example.com/org/repo.git":         {repo: "https://git.example.com/org/repo.git"},
		"https://dev.azure.com/o/p/_git/repo/dir?ref=r":     {repo: "https://dev.azure.com/o/p/_git/repo", dir: "dir", ref: "r"},
		"file:///srv/git/repo//base":                        {repo: "file:///srv/git/repo", dir: "base"},
		"https://gitlab.example.com/org/repo/base?ref=v1":   {repo: "https://gitlab.example.com/org/repo", dir: "base", ref: "v1"},
	} {
		got, ok := parseRemoteBase(in)
		if !ok || got != want {
			t.Errorf("parseRemoteBase(%q) = %+v, %t; want %+v", in, got, ok, want)
		}
	}
	for _, local := range []string{"../base", "base", "deployment.yaml", "/abs/path", "gitlab.com/org/repo", "https://github.com/org/repo//../escape", "https://example.com/org/deploy.yaml"} {
		if got, ok := parseRemoteBase(local); ok {
			t.Errorf("parseRemoteBase(%q) = %+v, want a local path", local, got)
		}
	}
}

// bareMirror makes a bare repository at dir of what fill writes in a
// work tree, tagged v1, as an air-gapped site's mirror of a public
// repository.
func bareMirror(t *testing.T, dir string, fill func(work string)) {
	t.Helper()
	work := t.TempDir()
	runGit(t, work, "init", "-q", "-b", "main")
	fill(work)
	runGit(t, work, "add", "-A")
	runGit(t, work, "commit", "-q", "-m", "platform")
	runGit(t, work, "tag", "v1")
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		t.Fatal(err)
	}
	runGit(t, work, "clone", "-q", "--bare", work, dir)
}

func TestRemoteBasesAndGitChartsComeThroughTheAgentsURLRewrites(t *testing.T) {
	mirrors := t.TempDir()
	bareMirror(t, filepath.Join(mirrors, "ferry-test", "platform"), func(work string) {
		writeTree(t, work, map[string]string{
			"base/kustomization.yaml": "resources: [configmap.yaml]\n",
			"base/configmap.yaml":     "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: platform}\ndata: {from: mirror}\n",
			"component/kustomization.yaml": "apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\n" +
				"labels: [{pairs: {component: added}}]\n",
		})
	})
	bareMirror(t, filepath.Join(mirrors, "ferry-test", "charts.git"), func(work string) {
		copyDir(t, "testdata/helm/chart", filepath.Join(work, "charts", "hello"))
	})

	repo := t.TempDir()
	writeTree(t, repo, map[string]string{
		"app/kustomization.yaml": "namePrefix: web-\n" +
			"resources: [\"https://github.com/ferry-test/platform//base?ref=v1\"]\n" +
			"components: [\"github.com/ferry-test/platform/component?ref=main\"]\n",
	})
	// github.com is out of reach here: only the rewrite leads to the
	// mirrors.
	settings := HelmSettings{CacheDir: t.TempDir(), URLRewrites: []gitrepo.URLRewrite{{From: "https://github.com/", To: "file://" + mirrors + "/"}}}
	objs, err := Render(context.Background(), RenderInput{RepoDir: repo, AppDir: "app", AppName: "web", Helm: settings})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, o := range objs {
		from, _, _ := unstructured.NestedString(o.Object, "data", "from")
		got = append(got, o.GetName()+" "+from+" "+o.GetLabels()["component"])
	}
	if diff := cmp.Diff([]string{"web-platform mirror added"}, got); diff != "" {
		t.Errorf("rendered (-want +got):\n%s", diff)
	}
	// The chart remote too.
	hc := config.HelmChart{GitRemote: "https://github.com/ferry-test/charts.git", Ref: "v1", Path: "charts/hello"}
	if v, err := renderChartVersion(t, settings, hc); err != nil || v != "0.1.0" {
		t.Errorf("chart through the rewrite: %s, %v", v, err)
	}

	// A link in a remote base that leads out of it is refused.
	secret := filepath.Join(t.TempDir(), "key.yaml")
	if err := os.WriteFile(secret, []byte("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: leak}\ndata: {key: agent-secret}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	bareMirror(t, filepath.Join(mirrors, "ferry-test", "evil"), func(work string) {
		writeTree(t, work, map[string]string{"base/kustomization.yaml": "resources: [leak.yaml]\n", "base/leak.yaml": "->" + secret})
	})
	writeTree(t, repo, map[string]string{"evil/kustomization.yaml": "resources: [\"https://github.com/ferry-test/evil//base\"]\n"})
	_, err = Render(context.Background(), RenderInput{RepoDir: repo, AppDir: "evil", AppName: "web", Helm: settings})
	t.Log(err)
	if err == nil || !strings.Contains(err.Error(), "base/leak.yaml of a remote base") || !strings.Contains(err.Error(), "outside its repository") || strings.Contains(err.Error(), "agent-secret") {
		t.Errorf("a remote base linking out: err = %v, want base/leak.yaml refused as a link out of its repository", err)
	}

	// Without the rewrite the remote is github.com itself, out of reach:
	// the error names the base and says what to check.
	_, err = Render(context.Background(), RenderInput{RepoDir: repo, AppDir: "app", AppName: "web", Helm: HelmSettings{CacheDir: t.TempDir()}})
	t.Log(err)
	if err == nil || !strings.Contains(err.Error(), "remote base https://github.com/ferry-test/platform") || !strings.Contains(err.Error(), "spec.git.urlRewrites") {
		t.Errorf("error without the rewrite = %v, want it to name the remote base and spec.git.urlRewrites", err)
	}
}
