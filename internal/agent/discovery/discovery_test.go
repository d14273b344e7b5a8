package discovery_test

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	ferryv1 "github.com/ferrycd/ferry/api/gen/ferry/v1"
	"github.com/ferrycd/ferry/internal/agent/controlplane"
	"github.com/ferrycd/ferry/internal/agent/discovery"
	"github.com/ferrycd/ferry/internal/gitrepo"
	"github.com/ferrycd/ferry/internal/server/servertest"
	"github.com/ferrycd/ferry/internal/testenv"
)

// gitRepo makes a repository with files committed on main and returns its
// file:// URL.
func gitRepo(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	testenv.Git(t, dir, "init", "-q", "-b", "main")
	testenv.Git(t, dir, "add", "-A")
	testenv.Git(t, dir, "commit", "-q", "-m", "apps")
	return "file://" + dir
}

const (
	webApp = `apiVersion: pipecd.dev/v1beta1
kind: KubernetesApp
spec:
  name: web
  labels: {env: dev}
  input: {manifests: [deployment.yaml]}
  inptu: {}
`
	apiApp = `apiVersion: ferry.dev/v1
kind: KubernetesApp
spec:
  name: api
  labels: {env: prod}
`
	// brokenApp is a ferry.dev/v1 file: there an unknown field is an
	// error (in a pipecd.dev/v1beta1 file, a warning).
	brokenApp = `apiVersion: ferry.dev/v1
kind: KubernetesApp
spec:
  name: broken
  inptu: {}
`
)

func TestScanRegistersEveryConfigAndMarksInvalidOnes(t *testing.T) {
	ctx := context.Background()
	remote := gitRepo(t, map[string]string{
		"apps/web/app.pipecd.yaml":    webApp,
		"apps/web/deployment.yaml":    "kind: Deployment\n",
		"apps/api/app.ferry.yaml":     apiApp,
		"apps/broken/app.pipecd.yaml": brokenApp,
		"README.md":                   "not an app\n",
	})
	for _, tc := range []struct {
		name     string
		selector map[string]string
		want     []string
	}{
		{"without a selector every config is an application", nil, []string{"api", "broken", "web"}},
		{"the selector keeps matching applications only", map[string]string{"env": "dev"}, []string{"web"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cp := servertest.Start(t)
			_, key := cp.RegisterAgent("dev")
			mirror, err := gitrepo.Open(ctx, gitrepo.Config{RepoID: "apps", Remote: remote, CacheDir: t.TempDir()})
			if err != nil {
				t.Fatal(err)
			}
			defer mirror.Close()
			if err := mirror.Fetch(ctx); err != nil {
				t.Fatal(err)
			}
			d := &discovery.Discoverer{
				Repos:     []discovery.Repo{{ID: "apps", Remote: remote, Branch: "main", Mirror: mirror}},
				Client:    controlplane.New(cp.URL(), key, controlplane.Options{}),
				Selector:  tc.selector,
				Providers: map[ferryv1.ApplicationKind]string{ferryv1.ApplicationKind_APPLICATION_KIND_KUBERNETES: "local"},
				Logger:    slog.New(slog.NewTextHandler(testenv.LogWriter(t), nil)),
			}
			apps, err := d.Scan(ctx)
			if err != nil {
				t.Fatal(err)
			}
			again, err := d.Scan(ctx) // a second scan updates, never duplicates
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, a := range again {
				names = append(names, a.Name)
			}
			if diff := cmp.Diff(tc.want, names); diff != "" || len(apps) != len(again) {
				t.Errorf("applications (-want +got):\n%s", diff)
			}
			for _, a := range again {
				switch a.Name {
				case "web":
					if a.GitPath.Path != "apps/web" || a.GitPath.ConfigFilename != "app.pipecd.yaml" || a.PlatformProvider != "local" || a.Labels["env"] != "dev" {
						t.Errorf("web = %v", a)
					}
					if w := a.GetConfigWarnings(); len(w) != 1 || w[0].GetField() != "spec.inptu" || w[0].GetFile() != "apps/web/app.pipecd.yaml" || w[0].GetLine() != 7 {
						t.Errorf("web's config warnings = %v, want spec.inptu at apps/web/app.pipecd.yaml:7", w)
					}
				case "broken":
					r := a.SyncState.GetReason()
					if a.SyncState.GetStatus() != ferryv1.SyncStatus_SYNC_STATUS_INVALID_CONFIG || !strings.Contains(r, "apps/broken/app.pipecd.yaml:5") || !strings.Contains(r, "inptu") {
						t.Errorf("broken sync state = %v, want INVALID_CONFIG naming file, line and field", a.SyncState)
					}
				}
			}
		})
	}
}
