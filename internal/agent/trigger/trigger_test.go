package trigger_test

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"testing"

	"connectrpc.com/connect"
	"github.com/google/go-cmp/cmp"

	ferryv1 "github.com/ferrycd/ferry/api/gen/ferry/v1"
	"github.com/ferrycd/ferry/internal/agent/controlplane"
	"github.com/ferrycd/ferry/internal/agent/discovery"
	"github.com/ferrycd/ferry/internal/agent/trigger"
	"github.com/ferrycd/ferry/internal/gitrepo"
	"github.com/ferrycd/ferry/internal/server/servertest"
	"github.com/ferrycd/ferry/internal/testenv"
)

// workRepo is a Git repository the test commits to.
type workRepo struct {
	t   *testing.T
	dir string
}

func newWorkRepo(t *testing.T) *workRepo {
	r := &workRepo{t: t, dir: t.TempDir()}
	r.git("init", "-q", "-b", "main")
	return r
}

func (r *workRepo) git(args ...string) {
	r.t.Helper()
	// alice: the author the triggers' tests expect.
	testenv.Git(r.t, r.dir, append([]string{"-c", "user.name=alice", "-c", "user.email=a@example.com"}, args...)...)
}

// commit writes files and commits them.
func (r *workRepo) commit(msg string, files map[string]string) {
	r.t.Helper()
	for name, body := range files {
		p := filepath.Join(r.dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			r.t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			r.t.Fatal(err)
		}
	}
	r.git("add", "-A")
	r.git("commit", "-q", "-m", msg)
}

// triggerEnv is a trigger of an agent registered on a control plane of
// the test's own, over a mirror of a work repository, with the discoverer
// that registers the repository's applications.
type triggerEnv struct {
	client     *controlplane.Client
	mirror     *gitrepo.Mirror
	discoverer *discovery.Discoverer
	trigger    *trigger.Trigger
}

// startTrigger starts a control plane, registers an agent and returns its
// trigger and discoverer over a mirror of repo as repository "apps"
// (branch main), not fetched yet. Both log to the test's log, debug
// included. The control plane and the mirror close when the test ends.
func startTrigger(t *testing.T, repo *workRepo) *triggerEnv {
	t.Helper()
	cp := servertest.Start(t)
	_, key := cp.RegisterAgent("dev")
	client := controlplane.New(cp.URL(), key, controlplane.Options{})
	mirror, err := gitrepo.Open(context.Background(), gitrepo.Config{RepoID: "apps", Remote: "file://" + repo.dir, CacheDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = mirror.Close() })
	r := discovery.Repo{ID: "apps", Remote: "file://" + repo.dir, Branch: "main", Mirror: mirror}
	logger := slog.New(slog.NewTextHandler(testenv.LogWriter(t), &slog.HandlerOptions{Level: slog.LevelDebug}))
	return &triggerEnv{
		client:     client,
		mirror:     mirror,
		discoverer: &discovery.Discoverer{Repos: []discovery.Repo{r}, Client: client, Logger: logger},
		trigger:    &trigger.Trigger{Client: client, Repos: map[string]discovery.Repo{"apps": r}, Logger: logger},
	}
}

func app(name, extra string) string {
	return "apiVersion: pipecd.dev/v1beta1\nkind: KubernetesApp\nspec:\n  name: " + name + "\n" + extra
}

func TestCommitsTriggerTheApplicationsTheyTouch(t *testing.T) {
	ctx := context.Background()
	repo := newWorkRepo(t)
	repo.commit("first", map[string]string{
		"apps/web/app.pipecd.yaml": app("web", "  trigger:\n    onCommit:\n      paths: [shared/**]\n      ignores: ['**/*.md']\n"),
		"apps/web/deploy.yaml":     "v: 1\n",
		"apps/api/app.pipecd.yaml": app("api", ""),
		"apps/off/app.pipecd.yaml": app("off", "  trigger: {onCommit: {disabled: true}}\n"),
	})

	e := startTrigger(t, repo)

	// step fetches, discovers and triggers, and returns the names of the
	// applications a deployment was created for.
	step := func() []string {
		t.Helper()
		if err := e.mirror.Fetch(ctx); err != nil {
			t.Fatal(err)
		}
		apps, err := e.discoverer.Scan(ctx)
		if err != nil {
			t.Fatal(err)
		}
		ds, err := e.trigger.OnCommit(ctx, apps)
		if err != nil {
			t.Fatal(err)
		}
		names := []string{}
		for _, d := range ds {
			names = append(names, d.GetApplicationName())
		}
		sort.Strings(names)
		return names
	}
	for _, s := range []struct {
		name  string
		files map[string]string
		want  []string
	}{
		{"the first look deploys every app that allows commits", nil, []string{"api", "web"}},
		{"nothing new deploys nothing", nil, []string{}},
		{"a change in one app deploys that app", map[string]string{"apps/web/deploy.yaml": "v: 2\n"}, []string{"web"}},
		{"a change outside every app deploys nothing", map[string]string{"README.txt": "hi\n"}, []string{}},
		{"a change under onCommit.paths deploys the app", map[string]string{"shared/base.yaml": "x: 1\n"}, []string{"web"}},
		{"an ignored file vetoes the commit", map[string]string{"apps/web/deploy.yaml": "v: 3\n", "apps/web/NOTES.md": "n\n"}, []string{}},
		{"a disabled trigger never deploys", map[string]string{"apps/off/x.yaml": "x: 1\n"}, []string{}},
	} {
		if s.files != nil {
			repo.commit(s.name, s.files)
		}
		if got := step(); !cmp.Equal(s.want, got) {
			t.Errorf("%s: deployed %v, want %v", s.name, got, s.want)
		}
	}

	// A SYNC command deploys the head with the commander and strategy.
	apps, err := e.client.ListApplications(ctx, connect.NewRequest(&ferryv1.AgentListApplicationsRequest{}))
	if err != nil {
		t.Fatal(err)
	}
	var api *ferryv1.Application
	for _, a := range apps.Msg.Applications {
		if a.Name == "api" {
			api = a
		}
	}
	cmd := &ferryv1.Command{Id: "c1", Commander: "alice", Args: &ferryv1.CommandArgs{SyncStrategy: ferryv1.SyncStrategy_SYNC_STRATEGY_QUICK_SYNC}}
	dep, err := e.trigger.OnCommand(ctx, api, cmd)
	if err != nil {
		t.Fatal(err)
	}
	got := dep.GetTrigger()
	if got.GetKind() != ferryv1.TriggerKind_TRIGGER_KIND_ON_COMMAND || got.GetCommander() != "alice" || got.GetStrategy() != ferryv1.SyncStrategy_SYNC_STRATEGY_QUICK_SYNC || got.GetCommit().GetAuthor() != "alice" {
		t.Errorf("command trigger = %v", got)
	}
	// The same command handled again (sent again after a reconnection, or
	// after an agent restart) deploys once.
	again, err := e.trigger.OnCommand(ctx, api, cmd)
	if err != nil {
		t.Fatal(err)
	}
	if again.GetId() != dep.GetId() {
		t.Errorf("the command handled twice created deployments %s and %s; want one", dep.GetId(), again.GetId())
	}
}
