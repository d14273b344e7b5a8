// Package trigger decides when an application deploys and asks the control
// plane to create the deployment: on a commit that touches the application
// (its directory, or trigger.onCommit.paths; a commit touching any
// trigger.onCommit.ignores never triggers), on a SYNC command, and, when
// trigger.onOutOfSync enables it, on drift (a quick sync back to the commit
// last deployed). The deployment is created PENDING; planning and running
// it are the scheduler's.
package trigger

import (
	"context"
	"fmt"
	"log/slog"
	"path"
	"strings"
	"sync"

	"connectrpc.com/connect"
	"github.com/bmatcuk/doublestar/v4"
	"github.com/google/uuid"
	"google.golang.org/protobuf/types/known/timestamppb"

	ferryv1 "github.com/ferrycd/ferry/api/gen/ferry/v1"
	"github.com/ferrycd/ferry/internal/agent/controlplane"
	"github.com/ferrycd/ferry/internal/agent/discovery"
	"github.com/ferrycd/ferry/internal/config"
	"github.com/ferrycd/ferry/internal/gitrepo"
)

// Trigger creates deployments for the agent's applications. Its methods
// are safe for concurrent use.
type Trigger struct {
	Client *controlplane.Client
	// Repos are the watched repositories by id.
	Repos  map[string]discovery.Repo
	Logger *slog.Logger

	mu sync.Mutex
	// last is, per application, the newest commit already considered:
	// deployed, or found not to touch the application.
	last map[string]string

	// outOfSync serialises OnOutOfSync: its decision and the deployment
	// it creates are one step.
	outOfSync sync.Mutex
}

// OnCommit checks every application against the head of its branch and
// creates a deployment for each one the new commits touch. It returns the
// deployments created. An application whose config does not parse is
// skipped (discovery reports it INVALID_CONFIG).
func (t *Trigger) OnCommit(ctx context.Context, apps []*ferryv1.Application) ([]*ferryv1.Deployment, error) {
	// One pass reads each head, each diff and each repository's configs
	// once, however many applications share them: with a thousand
	// applications a push costs a few git processes, not thousands.
	p := &commitPass{t: t, apps: apps, heads: map[string]*gitrepo.Commit{}, diffs: map[[3]string][]string{}, configs: map[string]map[string][]byte{}}
	var out []*ferryv1.Deployment
	for _, app := range apps {
		if ctx.Err() != nil {
			return out, ctx.Err() // stopping: not a failure of each application
		}
		d, err := p.check(ctx, app)
		if err != nil {
			t.Logger.WarnContext(ctx, "trigger check failed", "app_id", app.GetId(), "error", err)
			continue
		}
		if d != nil {
			out = append(out, d)
		}
	}
	return out, nil
}

// commitPass is one OnCommit: what it read of the repositories, by
// repository id.
type commitPass struct {
	t     *Trigger
	heads map[string]*gitrepo.Commit
	// diffs by repository, from, to.
	diffs map[[3]string][]string
	// configs holds, by repository, the config files of the pass's
	// applications, read at the head in one go.
	configs map[string]map[string][]byte
	apps    []*ferryv1.Application
}

func (p *commitPass) head(ctx context.Context, repo discovery.Repo) (*gitrepo.Commit, error) {
	if h, ok := p.heads[repo.ID]; ok {
		return h, nil
	}
	h, err := repo.Mirror.Head(ctx, repo.Branch)
	if err != nil {
		return nil, err
	}
	p.heads[repo.ID] = &h
	return &h, nil
}

func (p *commitPass) changed(ctx context.Context, repo discovery.Repo, from, to string) ([]string, error) {
	key := [3]string{repo.ID, from, to}
	if c, ok := p.diffs[key]; ok {
		return c, nil
	}
	c, err := repo.Mirror.ChangedFiles(ctx, from, to)
	if err != nil {
		return nil, err
	}
	p.diffs[key] = c
	return c, nil
}

// config parses app's config at head, reading the configs of every
// application of the pass in that repository on first need.
func (p *commitPass) config(ctx context.Context, repo discovery.Repo, app *ferryv1.Application, head string) (*config.AppConfig, error) {
	files, ok := p.configs[repo.ID]
	if !ok {
		var want []string
		for _, a := range p.apps {
			if a.GetGitPath().GetRepoId() == repo.ID {
				want = append(want, configPath(a))
			}
		}
		var err error
		if files, err = repo.Mirror.ReadFiles(ctx, head, want); err != nil {
			return nil, err
		}
		p.configs[repo.ID] = files
	}
	file := configPath(app)
	data, ok := files[file]
	if !ok {
		return nil, fmt.Errorf("%s is not in commit %.8s", file, head)
	}
	return config.ParseApp(file, data)
}

func configPath(app *ferryv1.Application) string {
	return path.Join(app.GetGitPath().GetPath(), app.GetGitPath().GetConfigFilename())
}

func (p *commitPass) check(ctx context.Context, app *ferryv1.Application) (*ferryv1.Deployment, error) {
	t := p.t
	if app.GetDisabled() {
		return nil, nil
	}
	repo, ok := t.Repos[app.GetGitPath().GetRepoId()]
	if !ok {
		return nil, fmt.Errorf("repository %q is not in the agent's config", app.GetGitPath().GetRepoId())
	}
	head, err := p.head(ctx, repo)
	if err != nil {
		return nil, err
	}
	last := t.lastCommit(app)
	if last == head.Hash {
		return nil, nil
	}
	cfg, err := p.config(ctx, repo, app, head.Hash)
	if err != nil || cfg.Generic.Trigger.OnCommit.Disabled {
		return nil, nil //nolint:nilerr // invalid configs are reported by discovery
	}
	if last != "" {
		changed, err := p.changed(ctx, repo, last, head.Hash)
		if err != nil {
			return nil, err
		}
		on := cfg.Generic.Trigger.OnCommit
		if !Touched(app.GetGitPath().GetPath(), on.Paths, on.Ignores, changed) {
			t.setLast(app.GetId(), head.Hash)
			return nil, nil
		}
	}
	d, err := t.create(ctx, app, "", &ferryv1.Trigger{
		Kind:   ferryv1.TriggerKind_TRIGGER_KIND_ON_COMMIT,
		Commit: commitOf(*head, repo.Branch),
	}, "")
	if err != nil {
		return nil, err
	}
	t.setLast(app.GetId(), head.Hash)
	return d, nil
}

// OnCommand creates the deployment a SYNC command asks for and returns it:
// at the head of the application's branch, or, for a rollback (the command
// names a target deployment), at that deployment's commit.
func (t *Trigger) OnCommand(ctx context.Context, app *ferryv1.Application, cmd *ferryv1.Command) (*ferryv1.Deployment, error) {
	repo, ok := t.Repos[app.GetGitPath().GetRepoId()]
	if !ok {
		return nil, fmt.Errorf("repository %q is not in the agent's config", app.GetGitPath().GetRepoId())
	}
	var head gitrepo.Commit
	var err error
	if target := cmd.GetArgs().GetTargetDeploymentId(); target != "" {
		res, err := t.Client.GetDeployment(ctx, connect.NewRequest(&ferryv1.AgentGetDeploymentRequest{DeploymentId: target}))
		if err != nil {
			return nil, fmt.Errorf("read rollback target %s: %w", target, err)
		}
		head, err = repo.Mirror.Commit(ctx, res.Msg.GetDeployment().GetTrigger().GetCommit().GetHash())
		if err != nil {
			return nil, fmt.Errorf("rollback target %s: %w", target, err)
		}
	} else if head, err = repo.Mirror.Head(ctx, repo.Branch); err != nil {
		return nil, err
	}
	cfg, err := loadConfig(ctx, repo, app, head.Hash)
	if err != nil {
		return nil, err
	}
	if cfg.Generic.Trigger.OnCommand.Disabled {
		return nil, fmt.Errorf("trigger.onCommand is disabled in %s", cfg.File)
	}
	// The command's id names the request: a command handled twice (sent
	// again across a reconnection, or after an agent restart) deploys once.
	requestID := ""
	if cmd.GetId() != "" {
		requestID = "command:" + cmd.GetId()
	}
	d, err := t.create(ctx, app, requestID, &ferryv1.Trigger{
		Kind:      ferryv1.TriggerKind_TRIGGER_KIND_ON_COMMAND,
		Commit:    commitOf(head, repo.Branch),
		Commander: cmd.GetCommander(),
		Strategy:  cmd.GetArgs().GetSyncStrategy(),
	}, rollbackSummary(app, cmd, head))
	if err != nil {
		return nil, err
	}
	if cmd.GetArgs().GetTargetDeploymentId() == "" {
		t.setLast(app.GetId(), head.Hash)
	} else if h, err := repo.Mirror.Head(ctx, repo.Branch); err == nil {
		// After a rollback, only a new commit deploys again; the branch
		// head that was rolled back from does not.
		t.setLast(app.GetId(), h.Hash)
	}
	return d, nil
}

// create asks the control plane for a deployment. requestID names the
// request (a random one when empty), so the client's retries after a
// timeout return the deployment the first attempt created.
func (t *Trigger) create(ctx context.Context, app *ferryv1.Application, requestID string, tr *ferryv1.Trigger, summary string) (*ferryv1.Deployment, error) {
	if requestID == "" {
		requestID = uuid.NewString()
	}
	tr.Timestamp = timestamppb.Now()
	if summary == "" {
		summary = fmt.Sprintf("Deploy %s at %.8s: %s", app.GetName(), tr.GetCommit().GetHash(), firstLine(tr.GetCommit().GetMessage()))
	}
	res, err := t.Client.CreateDeployment(ctx, connect.NewRequest(&ferryv1.CreateDeploymentRequest{
		ApplicationId: app.GetId(),
		Trigger:       tr,
		Summary:       summary,
		RequestId:     requestID,
	}))
	if err != nil {
		return nil, fmt.Errorf("create deployment of %s: %w", app.GetName(), err)
	}
	d := res.Msg.GetDeployment()
	t.Logger.InfoContext(ctx, "deployment triggered", "app_id", app.GetId(), "deployment_id", d.GetId(),
		"commit", tr.GetCommit().GetHash(), "trigger", tr.GetKind().String())
	return d, nil
}

// lastCommit is the newest commit already considered for app: remembered
// here, or else the commit of its most recent deployment.
func (t *Trigger) lastCommit(app *ferryv1.Application) string {
	t.mu.Lock()
	defer t.mu.Unlock()
	if c, ok := t.last[app.GetId()]; ok {
		return c
	}
	return app.GetMostRecentDeployment().GetCommitHash()
}

func (t *Trigger) setLast(appID, commit string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.last == nil {
		t.last = map[string]string{}
	}
	t.last[appID] = commit
}

// loadConfig parses the application's config at commit.
func loadConfig(ctx context.Context, repo discovery.Repo, app *ferryv1.Application, commit string) (*config.AppConfig, error) {
	file := path.Join(app.GetGitPath().GetPath(), app.GetGitPath().GetConfigFilename())
	data, err := repo.Mirror.ReadFile(ctx, commit, file)
	if err != nil {
		return nil, err
	}
	return config.ParseApp(file, data)
}

// Touched reports whether changed files (paths from the repository root)
// concern an application in appDir: never when any of them matches an
// ignores pattern (a veto on the whole commit, as PipeCD does), else when
// any matches a paths pattern or lies under appDir. Patterns are globs
// with ** from the repository root.
func Touched(appDir string, paths, ignores, changed []string) bool {
	for _, f := range changed {
		if MatchAny(ignores, f) {
			return false
		}
	}
	dir := strings.Trim(appDir, "/")
	for _, f := range changed {
		if MatchAny(paths, f) || dir == "" || dir == "." || strings.HasPrefix(f, dir+"/") {
			return true
		}
	}
	return false
}

// MatchAny reports whether file (a path from the repository root) matches
// any of the patterns: globs with **, a directory matching what is under
// it.
func MatchAny(patterns []string, file string) bool {
	for _, p := range patterns {
		p = strings.TrimPrefix(p, "/")
		if ok, _ := doublestar.Match(p, file); ok {
			return true
		}
		// A directory pattern matches what is under it.
		if ok, _ := doublestar.Match(strings.TrimSuffix(p, "/")+"/**", file); ok {
			return true
		}
	}
	return false
}

// rollbackSummary describes a rollback command's deployment; "" for a sync.
func rollbackSummary(app *ferryv1.Application, cmd *ferryv1.Command, to gitrepo.Commit) string {
	target := cmd.GetArgs().GetTargetDeploymentId()
	if target == "" {
		return ""
	}
	return fmt.Sprintf("Roll back %s to %.8s (deployment %s): %s", app.GetName(), to.Hash, target, firstLine(to.Message))
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}
