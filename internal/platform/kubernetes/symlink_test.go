package kubernetes

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ferrycd/ferry/internal/config"
)

// writeTree writes files (path → content; content "->target" makes a
// symbolic link to target) under dir.
func writeTree(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, body := range files {
		path := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		var err error
		if target, ok := strings.CutPrefix(body, "->"); ok {
			err = os.Symlink(target, path)
		} else {
			err = os.WriteFile(path, []byte(body), 0o644)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

func TestASymlinkOutOfTheRepositoryIsRefused(t *testing.T) {
	base := t.TempDir()
	secretDir := filepath.Join(base, "agent")
	writeTree(t, secretDir, map[string]string{
		"key":         "the-agent-key",
		"leak.yaml":   "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: leak}\ndata: {key: the-agent-key}\n",
		"dir/ok.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: leak-dir}\ndata: {key: the-agent-key}\n",
	})
	repo := filepath.Join(base, "repo")
	cm := `apiVersion: v1
kind: ConfigMap
metadata: {name: files}
data:
  key: {{ .Files.Get "files/key" | quote }}
`
	writeTree(t, repo, map[string]string{
		// A chart whose file is a link out: Helm's loader would read it.
		"chart/Chart.yaml":           "apiVersion: v2\nname: web\nversion: 0.1.0\n",
		"chart/templates/cm.yaml":    cm,
		"chart/files/key":            "->" + filepath.Join(secretDir, "key"),
		"dirchart/Chart.yaml":        "apiVersion: v2\nname: web\nversion: 0.1.0\n",
		"dirchart/templates/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n",
		"dirchart/templates/more":    "->" + filepath.Join(secretDir, "dir"),
		// A Kustomize tree generating a ConfigMap from a link out.
		"kust/kustomization.yaml": "configMapGenerator:\n  - name: files\n    files: [key]\n",
		"kust/key":                "->" + filepath.Join(secretDir, "key"),
		// A manifest set with a link out, listed and found by the directory.
		"plain/leak.yaml":  "->" + filepath.Join(secretDir, "leak.yaml"),
		"listed/leak.yaml": "->" + filepath.Join(secretDir, "leak.yaml"),
		// Links that stay inside the repository are fine.
		"shared/key":                "inside",
		"okchart/Chart.yaml":        "apiVersion: v2\nname: web\nversion: 0.1.0\n",
		"okchart/templates/cm.yaml": cm,
		"okchart/files/key":         "->../../shared/key",
	})
	for _, tc := range []struct {
		name  string
		dir   string
		input config.KubernetesInput
		want  string // the path the error must name; "" for success
	}{
		{name: "a chart file", dir: "chart", input: config.KubernetesInput{HelmChart: &config.HelmChart{Path: "."}}, want: "chart/files/key"},
		{name: "a chart's linked directory", dir: "dirchart", input: config.KubernetesInput{HelmChart: &config.HelmChart{Path: "."}}, want: "dirchart/templates/more"},
		{name: "a kustomize generator's file", dir: "kust", want: "kust/key"},
		{name: "a manifest found in the directory", dir: "plain", want: "plain/leak.yaml"},
		{name: "a listed manifest", dir: "listed", input: config.KubernetesInput{Manifests: []string{"leak.yaml"}}, want: "listed/leak.yaml"},
		{name: "a link inside the repository", dir: "okchart", input: config.KubernetesInput{HelmChart: &config.HelmChart{Path: "."}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			objs, err := Render(context.Background(), RenderInput{RepoDir: repo, AppDir: tc.dir, AppName: "web", Input: tc.input})
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Render succeeded with %d objects, want it refused (%v)", len(objs), objs)
			}
			t.Log(err)
			if !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "outside the repository") {
				t.Errorf("error does not name %s as outside the repository: %v", tc.want, err)
			}
			if strings.Contains(err.Error(), "the-agent-key") {
				t.Errorf("error shows the file's content: %v", err)
			}
		})
	}
}
