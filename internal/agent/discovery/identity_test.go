package discovery_test

import (
	"context"
	"log/slog"
	"slices"
	"strings"
	"testing"

	"connectrpc.com/connect"

	ferryv1 "github.com/ferrycd/ferry/api/gen/ferry/v1"
	"github.com/ferrycd/ferry/internal/agent/controlplane"
	"github.com/ferrycd/ferry/internal/agent/discovery"
	"github.com/ferrycd/ferry/internal/gitrepo"
	"github.com/ferrycd/ferry/internal/model"
	"github.com/ferrycd/ferry/internal/server/servertest"
	"github.com/ferrycd/ferry/internal/testenv"
)

func simpleApp(kind string) string {
	return "apiVersion: pipecd.dev/v1beta1\nkind: " + kind + "\nspec:\n  name: simple\n"
}

// git runs git in the repository at remote (a file:// URL).
func git(t *testing.T, remote string, args ...string) {
	t.Helper()
	testenv.Git(t, strings.TrimPrefix(remote, "file://"), args...)
}

// TestScanRegistersRepeatedNamesAndDisablesMovedApps is PipeCD's example
// repository in small: a "simple" per platform, all registered; then one
// folder moves, and the application left behind stops deploying.
func TestScanRegistersRepeatedNamesAndDisablesMovedApps(t *testing.T) {
	ctx := context.Background()
	remote := gitRepo(t, map[string]string{
		"kubernetes/simple/app.pipecd.yaml": simpleApp("KubernetesApp"),
		"cloudrun/simple/app.pipecd.yaml":   simpleApp("CloudRunApp"),
		"lambda/simple/app.pipecd.yaml":     simpleApp("LambdaApp"),
	})
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
	// The remote as the agent's config wrote it, with a token in it.
	withToken := "https://bot:ghp_s3cr3t@git.example.com/org/apps.git"
	d := &discovery.Discoverer{
		Repos:  []discovery.Repo{{ID: "apps", Remote: withToken, Branch: "main", Mirror: mirror}},
		Client: controlplane.New(cp.URL(), key, controlplane.Options{}),
		Logger: slog.New(slog.NewTextHandler(testenv.LogWriter(t), nil)),
	}
	// Added by hand before its config is pushed: not "removed".
	if _, err := cp.User().AddApplication(ctx, connect.NewRequest(&ferryv1.AddApplicationRequest{
		Name: "handmade", Agent: "dev", GitPath: &ferryv1.GitPath{RepoId: "apps", Path: "handmade"},
	})); err != nil {
		t.Fatal(err)
	}
	apps, err := d.Scan(ctx)
	if err != nil {
		t.Fatal(err)
	}
	paths := map[string]string{}
	for _, a := range apps {
		paths[a.GitPath.Path] = a.Id
		if a.Name != "handmade" && a.GitPath.Remote != "https://git.example.com/org/apps.git" {
			t.Errorf("%s: remote = %q, want it without user info", a.GitPath.Path, a.GitPath.Remote)
		}
	}
	if len(paths) != 4 || paths["handmade"] == "" {
		t.Fatalf("the agent's applications = %v, want the three simple apps and the one added by hand", paths)
	}

	git(t, remote, "mv", "lambda/simple", "lambda/simple-v2")
	git(t, remote, "commit", "-q", "-m", "move")
	if err := mirror.Fetch(ctx); err != nil {
		t.Fatal(err)
	}
	apps, err = d.Scan(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, a := range apps {
		got = append(got, a.GitPath.Path)
	}
	if strings.Join(got, ",") == "" || slices.Contains(got, "lambda/simple") || !slices.Contains(got, "lambda/simple-v2") {
		t.Errorf("the agent's applications after the move = %v; want lambda/simple-v2 and not lambda/simple", got)
	}
	old, err := cp.User().GetApplication(ctx, connect.NewRequest(&ferryv1.GetApplicationRequest{Application: paths["lambda/simple"]}))
	if err != nil {
		t.Fatal(err)
	}
	if a := old.Msg.Application; !a.Disabled || a.SyncState.GetShortReason() != model.ConfigRemovedReason {
		t.Errorf("the application left behind = disabled %v, %v; want disabled as removed", a.Disabled, a.SyncState)
	}

	// Moved back, the old application is enabled again.
	git(t, remote, "mv", "lambda/simple-v2", "lambda/simple")
	git(t, remote, "commit", "-q", "-m", "move back")
	if err := mirror.Fetch(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Scan(ctx); err != nil {
		t.Fatal(err)
	}
	old, err = cp.User().GetApplication(ctx, connect.NewRequest(&ferryv1.GetApplicationRequest{Application: paths["lambda/simple"]}))
	if err != nil || old.Msg.Application.Disabled {
		t.Errorf("the application whose config came back = %v, %v; want enabled", old, err)
	}
}
