// Package discovery finds the applications in the agent's repositories:
// every app.ferry.yaml and *.pipecd.yaml at the head of each watched branch
// becomes an application, registered with the control plane, filtered by
// the agent's appSelector. A config that does not parse is registered too,
// as INVALID_CONFIG with the file, line and reason, so the mistake shows
// where people look instead of silently hiding the app. A valid config's
// warnings (fields that have no effect) are registered with it, to be shown
// on the application.
package discovery

import (
	"context"
	"crypto/sha256"
	"fmt"
	"log/slog"
	"maps"
	"path"
	"slices"
	"strings"
	"sync"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/proto"

	ferryv1 "github.com/ferrycd/ferry/api/gen/ferry/v1"
	"github.com/ferrycd/ferry/internal/agent/controlplane"
	"github.com/ferrycd/ferry/internal/config"
	"github.com/ferrycd/ferry/internal/gitrepo"
	"github.com/ferrycd/ferry/internal/model"
)

// Repo is a watched repository.
type Repo struct {
	ID     string
	Remote string
	Branch string
	Mirror *gitrepo.Mirror
}

// Found is one application config found at a commit.
type Found struct {
	Spec *ferryv1.ApplicationSpec
	// Config is the parsed config; nil when it is invalid (see
	// Spec.InvalidConfigReason).
	Config *config.AppConfig
}

// Discoverer registers the applications found in Repos.
type Discoverer struct {
	Repos  []Repo
	Client *controlplane.Client
	// Selector keeps only applications whose labels all match.
	Selector map[string]string
	// Providers maps an application kind to the name of the agent's
	// platform provider that deploys it by default.
	Providers map[ferryv1.ApplicationKind]string
	Logger    *slog.Logger
	// DecryptsSecrets is whether the agent has secretManagement: then an
	// application's encryption takes effect and is not warned about.
	DecryptsSecrets bool

	mu sync.Mutex
	// last is what was found in each repository at its last head;
	// registered the checksum of each spec last registered, by config file.
	last       map[string]scanned
	registered map[string][sha256.Size]byte
}

// Scan reads every repository at the head of its branch (fetching is the
// caller's business), registers what it finds and returns the agent's
// applications as the control plane now knows them. An application the
// control plane refuses is logged and tried again on the next Scan; it
// does not stop the others. An application whose config is no longer in
// its repository is reported removed, and the control plane disables it.
func (d *Discoverer) Scan(ctx context.Context) ([]*ferryv1.Application, error) {
	var specs []*ferryv1.ApplicationSpec
	present := map[string]bool{}
	for _, r := range d.Repos {
		found, err := d.find(ctx, r)
		if err != nil {
			return nil, fmt.Errorf("discover apps in %s: %w", r.ID, err)
		}
		for _, f := range found {
			present[configKey(f.Spec.GetGitPath())] = true
			if !matches(d.Selector, f.Spec.Labels) {
				continue
			}
			if f.Spec.PlatformProvider == "" {
				f.Spec.PlatformProvider = d.Providers[f.Spec.Kind]
			}
			specs = append(specs, f.Spec)
		}
	}
	apps, err := d.list(ctx)
	if err != nil {
		return nil, err
	}
	// Only what changed since this Discoverer last registered it: with
	// thousands of applications a push registers the few it touched.
	changed, sums := d.unregistered(specs)
	removed := d.removed(apps, present)
	if len(changed) == 0 && len(removed) == 0 {
		return apps, nil
	}
	res, err := d.Client.RegisterApplications(ctx, connect.NewRequest(&ferryv1.RegisterApplicationsRequest{Applications: changed, Removed: removed}))
	if err != nil {
		return nil, fmt.Errorf("register applications: %w", err)
	}
	for _, f := range res.Msg.GetFailures() {
		key := configKey(f.GetGitPath())
		delete(sums, key) // not registered: try again next time
		d.Logger.WarnContext(ctx, "application not registered", "app", f.GetName(), "repo_id", f.GetGitPath().GetRepoId(),
			"config", path.Join(f.GetGitPath().GetPath(), f.GetGitPath().GetConfigFilename()), "error", f.GetReason())
	}
	d.mu.Lock()
	if d.registered == nil {
		d.registered = map[string][sha256.Size]byte{}
	}
	maps.Copy(d.registered, sums)
	for _, g := range removed {
		// A config that comes back at the same place registers again.
		delete(d.registered, configKey(g))
	}
	d.mu.Unlock()
	return d.list(ctx)
}

func (d *Discoverer) list(ctx context.Context) ([]*ferryv1.Application, error) {
	res, err := d.Client.ListApplications(ctx, connect.NewRequest(&ferryv1.AgentListApplicationsRequest{}))
	if err != nil {
		return nil, fmt.Errorf("list applications: %w", err)
	}
	return res.Msg.GetApplications(), nil
}

// removed returns where the configs of apps were that are no longer in
// their repository, among the repositories this Discoverer reads. apps are
// the agent's enabled applications: one already disabled as removed is not
// reported again. Only a config that was there counts: one this
// Discoverer registered, or of an application that has deployed. An
// application added by hand before its config was pushed is left alone.
func (d *Discoverer) removed(apps []*ferryv1.Application, present map[string]bool) []*ferryv1.GitPath {
	scanned := map[string]bool{}
	for _, r := range d.Repos {
		scanned[r.ID] = true
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []*ferryv1.GitPath
	for _, a := range apps {
		g := a.GetGitPath()
		key := configKey(g)
		if !scanned[g.GetRepoId()] || present[key] {
			continue
		}
		if _, seen := d.registered[key]; seen || a.GetMostRecentDeployment() != nil {
			out = append(out, g)
		}
	}
	return out
}

// configKey identifies an application config: repository, path, file.
func configKey(g *ferryv1.GitPath) string {
	return g.GetRepoId() + "\x00" + g.GetPath() + "\x00" + g.GetConfigFilename()
}

// Forget makes the next Scan register every application again, whatever
// it registered before: the periodic safety net, for a control plane that
// lost or deleted what it was told.
func (d *Discoverer) Forget() {
	d.mu.Lock()
	d.registered = nil
	d.mu.Unlock()
}

// unregistered returns the specs that differ from what this Discoverer
// last registered for their config file, and their checksums by file.
func (d *Discoverer) unregistered(specs []*ferryv1.ApplicationSpec) ([]*ferryv1.ApplicationSpec, map[string][sha256.Size]byte) {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []*ferryv1.ApplicationSpec
	sums := map[string][sha256.Size]byte{}
	for _, spec := range specs {
		b, err := proto.MarshalOptions{Deterministic: true}.Marshal(spec)
		if err != nil {
			out = append(out, spec) // cannot tell: send it
			continue
		}
		key := configKey(spec.GetGitPath())
		sum := sha256.Sum256(b)
		if prev, ok := d.registered[key]; ok && prev == sum {
			continue
		}
		out = append(out, spec)
		sums[key] = sum
	}
	return out, sums
}

// find returns the application configs at the head of r's branch, read
// again only when the head moved.
func (d *Discoverer) find(ctx context.Context, r Repo) ([]Found, error) {
	head, err := r.Mirror.HeadHash(ctx, r.Branch)
	if err != nil {
		return nil, err
	}
	d.mu.Lock()
	last, ok := d.last[r.ID]
	d.mu.Unlock()
	if ok && last.head == head {
		return last.found, nil
	}
	found, err := Find(ctx, r, head)
	if err != nil {
		return nil, err
	}
	// Only the specs are kept: thousands of parsed configs are not worth
	// holding until the next push.
	for i := range found {
		found[i].Config = nil
		if d.DecryptsSecrets {
			found[i].Spec.ConfigWarnings = slices.DeleteFunc(found[i].Spec.ConfigWarnings, func(w *ferryv1.ConfigWarning) bool {
				return w.GetField() == config.NoSecretManagementField
			})
		}
	}
	d.mu.Lock()
	if d.last == nil {
		d.last = map[string]scanned{}
	}
	d.last[r.ID] = scanned{head: head, found: found}
	d.mu.Unlock()
	return found, nil
}

// scanned is what find read of a repository at one head.
type scanned struct {
	head  string
	found []Found
}

// Find returns the application configs of repo r at commit.
func Find(ctx context.Context, r Repo, commit string) ([]Found, error) {
	files, err := r.Mirror.ListFiles(ctx, commit, "")
	if err != nil {
		return nil, err
	}
	var configs []string
	for _, f := range files {
		if config.IsAppConfigFile(f) {
			configs = append(configs, f)
		}
	}
	data, err := r.Mirror.ReadFiles(ctx, commit, configs)
	if err != nil {
		return nil, err
	}
	out := make([]Found, 0, len(configs))
	for _, f := range configs {
		out = append(out, parse(r, f, data[f]))
	}
	return out, nil
}

// parse turns one config file into a Found, invalid or not.
func parse(r Repo, file string, data []byte) Found {
	dir := path.Dir(file)
	if dir == "." {
		dir = ""
	}
	spec := &ferryv1.ApplicationSpec{
		GitPath: &ferryv1.GitPath{RepoId: r.ID, Remote: model.RedactRemote(r.Remote), Branch: r.Branch, Path: dir, ConfigFilename: path.Base(file)},
	}
	cfg, err := config.ParseApp(file, data)
	if err != nil {
		spec.Name = fallbackName(dir, file)
		spec.InvalidConfigReason = err.Error()
		return Found{Spec: spec}
	}
	g := cfg.Generic
	spec.Name, spec.Labels, spec.Description = g.Name, g.Labels, g.Description
	spec.Kind = Kind(cfg.Kind)
	if spec.Name == "" {
		spec.Name = fallbackName(dir, file)
	}
	if cfg.Kubernetes != nil && cfg.Kubernetes.Deploy != nil && len(cfg.Kubernetes.Deploy.Names) > 0 {
		spec.PlatformProvider = cfg.Kubernetes.Deploy.Names[0]
	}
	for _, w := range cfg.Warnings {
		spec.ConfigWarnings = append(spec.ConfigWarnings, &ferryv1.ConfigWarning{Field: w.Field, File: w.File, Line: int32(w.Line), Message: w.Message})
	}
	return Found{Spec: spec, Config: cfg}
}

// fallbackName names an application whose config gives no name: after its
// directory, or its file when it sits at the repository root.
func fallbackName(dir, file string) string {
	if dir != "" {
		return path.Base(dir)
	}
	return strings.TrimSuffix(strings.TrimSuffix(path.Base(file), ".yaml"), ".pipecd")
}

// Kind maps a config kind (KubernetesApp…) to the API's application kind.
func Kind(k string) ferryv1.ApplicationKind {
	switch k {
	case config.KindKubernetesApp:
		return ferryv1.ApplicationKind_APPLICATION_KIND_KUBERNETES
	case config.KindTerraformApp:
		return ferryv1.ApplicationKind_APPLICATION_KIND_TERRAFORM
	case config.KindCloudRunApp:
		return ferryv1.ApplicationKind_APPLICATION_KIND_CLOUDRUN
	case config.KindLambdaApp:
		return ferryv1.ApplicationKind_APPLICATION_KIND_LAMBDA
	case config.KindECSApp:
		return ferryv1.ApplicationKind_APPLICATION_KIND_ECS
	}
	return ferryv1.ApplicationKind_APPLICATION_KIND_UNSPECIFIED
}

// matches reports whether labels hold every selector pair.
func matches(selector, labels map[string]string) bool {
	for k, v := range selector {
		if labels[k] != v {
			return false
		}
	}
	return true
}
