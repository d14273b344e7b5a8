package config

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
)

// KindAgent is the kind of the deploy agent's config file.
const KindAgent = "Agent"

// DefaultSyncInterval is how often an agent fetches its repositories when no
// push notice arrives.
const DefaultSyncInterval = time.Minute

// Agent is the `kind: Agent` file of `ferry agent --config`.
type Agent struct {
	APIVersion string    `yaml:"apiVersion"`
	Kind       string    `yaml:"kind"`
	Spec       AgentSpec `yaml:"spec"`
	// File is where the config was read from.
	File string `yaml:"-"`
	// envKey is the key taken from $FERRY_AGENT_KEY (see takeEnvKey).
	envKey string
}

// AgentSpec holds the agent's settings.
type AgentSpec struct {
	// ProjectID is the project the agent belongs to; default "default".
	ProjectID string `yaml:"projectID"`
	// AgentID is the id `ferry agent register` printed.
	AgentID string `yaml:"agentID"`
	// AgentKeyFile holds the agent's key; AgentKeyData is the key itself,
	// base64-encoded. One of them, or $FERRY_AGENT_KEY, is required.
	AgentKeyFile string `yaml:"agentKeyFile"`
	AgentKeyData string `yaml:"agentKeyData"`
	// APIAddress is the control plane's URL; host:port means https.
	APIAddress string `yaml:"apiAddress"`
	// SyncInterval is the safety-net fetch period; push notices make it
	// rarely matter. Default 1m.
	SyncInterval Duration `yaml:"syncInterval"`
	// Git holds the credentials and identity the agent uses with Git.
	Git AgentGit `yaml:"git"`
	// Repositories are the only repositories the agent watches.
	Repositories []AgentRepository `yaml:"repositories"`
	// PlatformProviders are the platforms (clusters, accounts) it deploys to.
	PlatformProviders []PlatformProvider `yaml:"platformProviders"`
	// ChartRepositories are the Helm chart repositories applications name
	// in helmChart.repository.
	ChartRepositories []ChartRepository `yaml:"chartRepositories"`
	// ChartRegistries are the OCI registries charts are pulled from with
	// credentials.
	ChartRegistries []ChartRegistry `yaml:"chartRegistries"`
	// AnalysisProviders are the metrics sources ANALYSIS stages query.
	AnalysisProviders []AnalysisProvider `yaml:"analysisProviders"`
	// Notifications route deployment events to receivers.
	Notifications Notifications `yaml:"notifications"`
	// SecretManagement decrypts secrets sealed in application configs.
	SecretManagement *SecretManagement `yaml:"secretManagement"`
	// EventWatcher updates Git when CI registers events.
	EventWatcher AgentEventWatcher `yaml:"eventWatcher"`
	// AppSelector keeps only the discovered applications whose labels
	// all match.
	AppSelector map[string]string `yaml:"appSelector"`
	// Stages turns off the stages that run code from the repository.
	Stages AgentStages `yaml:"stages"`
}

// AgentStages are the agent's switches for the stages that run a script
// an application config carries: whoever can push to a watched repository
// runs code on the agent's host through them. A deployment whose plan has
// a disabled stage fails at plan time, saying so.
type AgentStages struct {
	// ScriptRun turns off SCRIPT_RUN (and its SCRIPT_RUN_ROLLBACK).
	ScriptRun StageSwitch `yaml:"scriptRun"`
	// CustomSync turns off CUSTOM_SYNC.
	CustomSync StageSwitch `yaml:"customSync"`
}

// StageSwitch turns one stage off.
type StageSwitch struct {
	Disabled bool `yaml:"disabled"`
}

// DisabledStages maps each stage the config turns off to the reason a
// deployment that asks for it is given.
func (a *Agent) DisabledStages() map[string]string {
	out := map[string]string{}
	for name, sw := range map[string]struct {
		on    StageSwitch
		field string
	}{
		"SCRIPT_RUN":  {a.Spec.Stages.ScriptRun, "scriptRun"},
		"CUSTOM_SYNC": {a.Spec.Stages.CustomSync, "customSync"},
	} {
		if sw.on.Disabled {
			out[name] = fmt.Sprintf("%s is disabled on this agent (spec.stages.%s.disabled in its config %s)", name, sw.field, a.File)
		}
	}
	return out
}

// AgentGit is how the agent talks to Git.
type AgentGit struct {
	Username string `yaml:"username"`
	Email    string `yaml:"email"`
	// SSHKeyFile is a private key for SSH remotes.
	SSHKeyFile string `yaml:"sshKeyFile"`
	// KnownHostsFile, when set, is the only source of SSH host keys.
	KnownHostsFile string `yaml:"knownHostsFile"`
	// PasswordFile holds a token for HTTPS remotes.
	PasswordFile string `yaml:"passwordFile"`
	// URLRewrites replace the start of every remote the agent fetches (its
	// repositories, helmChart.gitRemote, Kustomize remote bases), as git's
	// url.<to>.insteadOf = <from>: the longest matching from wins. An
	// air-gapped site points https://github.com/ at its mirror.
	URLRewrites []URLRewrite `yaml:"urlRewrites"`
}

// URLRewrite is one of spec.git.urlRewrites.
type URLRewrite struct {
	// From is the prefix to replace, e.g. https://github.com/.
	From string `yaml:"from"`
	// To replaces it, e.g. https://git.mirror.local/.
	To string `yaml:"to"`
}

// AgentRepository is one watched repository.
type AgentRepository struct {
	RepoID string `yaml:"repoId"`
	Remote string `yaml:"remote"`
	Branch string `yaml:"branch"`
}

// Chart repository and registry types.
const (
	ChartRepositoryHTTP = "HTTP"
	ChartRepositoryGit  = "GIT"
	ChartRegistryOCI    = "OCI"
)

// ChartRepository is a Helm chart repository, as PipeCD's piped config
// has it: HTTP (a repository index at Address) or GIT (a chart repository
// kept in the Git repository GitRemote, which also lends its SSHKeyFile to
// helmChart.gitRemote with the same remote).
type ChartRepository struct {
	// Type is HTTP (the default) or GIT.
	Type string `yaml:"type"`
	// Name is what helmChart.repository refers to. Required, unique.
	Name string `yaml:"name"`
	// Address is the HTTP repository's URL. Required for HTTP.
	Address string `yaml:"address"`
	// Username and Password are sent with HTTP basic authentication (for
	// GIT, the HTTPS Git credentials).
	Username string `yaml:"username"`
	Password string `yaml:"password"`
	// Insecure skips TLS certificate verification.
	Insecure bool `yaml:"insecure"`
	// GitRemote is the GIT repository's remote. Required for GIT.
	GitRemote string `yaml:"gitRemote"`
	// SSHKeyFile is the private key for an SSH GitRemote.
	SSHKeyFile string `yaml:"sshKeyFile"`
}

// ChartRegistry is an OCI registry charts are pulled from with credentials
// (PipeCD's chartRegistries: `helm registry login` at startup).
type ChartRegistry struct {
	// Type is OCI, the default and only one.
	Type string `yaml:"type"`
	// Address is the registry's host, optionally with a path prefix
	// (registry.example.com/team), with or without oci://. Required.
	Address  string `yaml:"address"`
	Username string `yaml:"username"`
	Password string `yaml:"password"`
}

// String describes the repository without its password, so printing or
// logging a config never shows it.
func (r ChartRepository) String() string {
	return fmt.Sprintf("{type: %s, name: %s, address: %s, username: %s, password: %s, insecure: %t, gitRemote: %s, sshKeyFile: %s}",
		r.Type, r.Name, r.Address, r.Username, masked(r.Password), r.Insecure, r.GitRemote, r.SSHKeyFile)
}

// String describes the registry without its password.
func (r ChartRegistry) String() string {
	return fmt.Sprintf("{type: %s, address: %s, username: %s, password: %s}", r.Type, r.Address, r.Username, masked(r.Password))
}

// masked stands for a secret in descriptions.
func masked(secret string) string {
	if secret == "" {
		return ""
	}
	return "******"
}

// Platform provider types.
const (
	PlatformKubernetes = "KUBERNETES"
	PlatformTerraform  = "TERRAFORM"
	PlatformCloudRun   = "CLOUDRUN"
	PlatformLambda     = "LAMBDA"
	PlatformECS        = "ECS"
)

// PlatformProvider is one deploy target. Config is decoded, strictly, by
// Type: Kubernetes holds the KUBERNETES settings; other types keep theirs
// in Other until their providers exist.
type PlatformProvider struct {
	Name       string
	Type       string
	Kubernetes *KubernetesProviderConfig
	Other      map[string]any
}

// KubernetesProviderConfig is the config of a KUBERNETES provider.
type KubernetesProviderConfig struct {
	// MasterURL overrides the kubeconfig's server.
	MasterURL string `yaml:"masterURL"`
	// KubeConfigPath is the kubeconfig to use; empty means in-cluster.
	KubeConfigPath string `yaml:"kubeConfigPath"`
	// KubectlVersion is accepted for PipeCD compatibility and ignored.
	KubectlVersion string `yaml:"kubectlVersion"`
	// AppStateInformer limits what live state watches.
	AppStateInformer struct {
		Namespace        string             `yaml:"namespace"`
		IncludeResources []ResourceSelector `yaml:"includeResources"`
		ExcludeResources []ResourceSelector `yaml:"excludeResources"`
	} `yaml:"appStateInformer"`
}

// ResourceSelector names resources by apiVersion and kind (kind optional).
type ResourceSelector struct {
	APIVersion string `yaml:"apiVersion"`
	Kind       string `yaml:"kind"`
}

// UnmarshalYAML decodes a provider, then its config by type, keeping the
// config's lines in errors.
func (p *PlatformProvider) UnmarshalYAML(ctx context.Context, node ast.Node) error {
	var raw struct {
		Name   string  `yaml:"name"`
		Type   string  `yaml:"type"`
		Config rawNode `yaml:"config"`
	}
	if err := decodeNode(node, &raw, ""); err != nil {
		return err
	}
	p.Name, p.Type = raw.Name, strings.ToUpper(raw.Type)
	switch p.Type {
	case PlatformKubernetes:
		p.Kubernetes = &KubernetesProviderConfig{}
		if raw.Config.node != nil {
			return decodeNode(raw.Config.node, p.Kubernetes, "config")
		}
	case PlatformTerraform, PlatformCloudRun, PlatformLambda, PlatformECS:
		if raw.Config.node != nil {
			return yaml.NodeToValue(raw.Config.node, &p.Other)
		}
	}
	return nil
}

// rawNode keeps a YAML node to decode later.
type rawNode struct{ node ast.Node }

// UnmarshalYAML keeps the node.
func (r *rawNode) UnmarshalYAML(_ context.Context, node ast.Node) error {
	r.node = node
	return nil
}

// AnalysisProvider is a metrics source, such as PROMETHEUS.
type AnalysisProvider struct {
	Name   string         `yaml:"name"`
	Type   string         `yaml:"type"`
	Config map[string]any `yaml:"config"`
}

// Notifications routes events to receivers.
type Notifications struct {
	Routes    []map[string]any `yaml:"routes"`
	Receivers []map[string]any `yaml:"receivers"`
}

// SecretManagement says how sealed secrets are decrypted.
type SecretManagement struct {
	Type   string         `yaml:"type"`
	Config map[string]any `yaml:"config"`
}

// AgentEventWatcher configures the agent's event watcher.
type AgentEventWatcher struct {
	CheckInterval Duration `yaml:"checkInterval"`
	GitRepos      []struct {
		RepoID        string   `yaml:"repoId"`
		CommitMessage string   `yaml:"commitMessage"`
		Includes      []string `yaml:"includes"`
		Excludes      []string `yaml:"excludes"`
	} `yaml:"gitRepos"`
}

// AgentKeyEnv names the variable that may hold the agent's key instead of
// the config file.
const AgentKeyEnv = "FERRY_AGENT_KEY"

// ReadAgent reads and checks an agent config file.
func ReadAgent(path string) (*Agent, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, &Error{File: path, Message: err.Error()}
	}
	var a Agent
	if err := Decode(path, data, &a); err != nil {
		return nil, err
	}
	a.File = path
	if err := a.validate(path, data); err != nil {
		return nil, err
	}
	a.takeEnvKey()
	return &a, nil
}

// takeEnvKey moves the key out of $FERRY_AGENT_KEY into a, and out of the
// agent's environment: what the agent starts (git, helm, scripts) must not
// inherit it, and a script that prints its environment must not show it.
func (a *Agent) takeEnvKey() {
	if k := strings.TrimSpace(os.Getenv(AgentKeyEnv)); k != "" {
		a.envKey = k
	}
	_ = os.Unsetenv(AgentKeyEnv)
}

func (a *Agent) validate(file string, data []byte) error {
	if a.APIVersion != APIVersionFerry {
		return FieldError(file, data, "apiVersion", "must be %q, not %q", APIVersionFerry, a.APIVersion)
	}
	if a.Kind != KindAgent {
		return FieldError(file, data, "kind", "must be %s, not %q", KindAgent, a.Kind)
	}
	s := &a.Spec
	if s.ProjectID == "" {
		s.ProjectID = "default"
	}
	if s.AgentID == "" {
		return FieldError(file, data, "spec.agentID", "is required: the id `ferry agent register` printed")
	}
	if s.AgentKeyFile != "" && s.AgentKeyData != "" {
		return FieldError(file, data, "spec.agentKeyData", "give agentKeyFile or agentKeyData, not both")
	}
	if s.AgentKeyData != "" {
		if _, err := base64.StdEncoding.DecodeString(s.AgentKeyData); err != nil {
			return FieldError(file, data, "spec.agentKeyData", "must be base64: %v", err)
		}
	}
	if s.APIAddress == "" {
		return FieldError(file, data, "spec.apiAddress", "is required: the control plane's URL, such as https://ferry.example.com")
	}
	if _, err := APIURL(s.APIAddress); err != nil {
		return FieldError(file, data, "spec.apiAddress", "%v", err)
	}
	if s.SyncInterval < 0 {
		return FieldError(file, data, "spec.syncInterval", "must not be negative")
	}
	if s.SyncInterval == 0 {
		s.SyncInterval = Duration(DefaultSyncInterval)
	}
	for i, r := range s.Git.URLRewrites {
		if r.From == "" || r.To == "" {
			return FieldError(file, data, fmt.Sprintf("spec.git.urlRewrites[%d]", i), "needs from (the URL prefix to replace) and to (what replaces it)")
		}
	}
	repos := map[string]bool{}
	for i, r := range s.Repositories {
		at := fmt.Sprintf("spec.repositories[%d]", i)
		switch {
		case r.RepoID == "":
			return FieldError(file, data, at, "repoId is required")
		case repos[r.RepoID]:
			return FieldError(file, data, at, "repoId %q is used twice", r.RepoID)
		case r.Remote == "":
			return FieldError(file, data, at, "remote is required")
		}
		repos[r.RepoID] = true
		if r.Branch == "" {
			s.Repositories[i].Branch = "main"
		}
	}
	if err := s.validateCharts(file, data); err != nil {
		return err
	}
	names := map[string]bool{}
	for i, p := range s.PlatformProviders {
		at := fmt.Sprintf("spec.platformProviders[%d]", i)
		switch {
		case p.Name == "":
			return FieldError(file, data, at, "name is required")
		case names[p.Name]:
			return FieldError(file, data, at, "name %q is used twice", p.Name)
		}
		switch p.Type {
		case PlatformKubernetes, PlatformTerraform, PlatformCloudRun, PlatformLambda, PlatformECS:
		default:
			return FieldError(file, data, at, "type %q is not known: use KUBERNETES, TERRAFORM, CLOUDRUN, LAMBDA or ECS", p.Type)
		}
		names[p.Name] = true
	}
	return nil
}

// validateCharts checks chartRepositories and chartRegistries and fills in
// their default types.
func (s *AgentSpec) validateCharts(file string, data []byte) error {
	names := map[string]bool{}
	for i := range s.ChartRepositories {
		r := &s.ChartRepositories[i]
		at := fmt.Sprintf("spec.chartRepositories[%d]", i)
		r.Type = strings.ToUpper(r.Type)
		if r.Type == "" {
			r.Type = ChartRepositoryHTTP
		}
		switch {
		case r.Name == "":
			return FieldError(file, data, at, "name is required: applications refer to the repository by it in helmChart.repository")
		case names[r.Name]:
			return FieldError(file, data, at+".name", "%q is used twice", r.Name)
		case strings.Contains(r.Name, "://"):
			return FieldError(file, data, at+".name", "%q is a URL; give the repository a plain name and its URL as address", r.Name)
		}
		names[r.Name] = true
		switch r.Type {
		case ChartRepositoryHTTP:
			if r.Address == "" {
				return FieldError(file, data, at, "address is required for an HTTP repository: the URL its index.yaml is under")
			}
			if u, err := url.Parse(r.Address); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				return FieldError(file, data, at+".address", "must be an http:// or https:// URL (OCI registries go in chartRegistries)")
			}
			if r.GitRemote != "" || r.SSHKeyFile != "" {
				return FieldError(file, data, at, "gitRemote and sshKeyFile are for type GIT")
			}
		case ChartRepositoryGit:
			if r.GitRemote == "" {
				return FieldError(file, data, at, "gitRemote is required for a GIT repository: the Git remote holding the charts")
			}
			if r.Address != "" {
				return FieldError(file, data, at+".address", "is for type HTTP; a GIT repository has gitRemote")
			}
		default:
			return FieldError(file, data, at+".type", "%q is not known: use HTTP or GIT", r.Type)
		}
	}
	for i := range s.ChartRegistries {
		r := &s.ChartRegistries[i]
		at := fmt.Sprintf("spec.chartRegistries[%d]", i)
		r.Type = strings.ToUpper(r.Type)
		if r.Type == "" {
			r.Type = ChartRegistryOCI
		}
		switch {
		case r.Type != ChartRegistryOCI:
			return FieldError(file, data, at+".type", "%q is not known: use OCI", r.Type)
		case r.Address == "":
			return FieldError(file, data, at, "address is required: the registry's host, such as registry.example.com")
		case r.Password != "" && r.Username == "":
			return FieldError(file, data, at, "password needs a username")
		}
	}
	return nil
}

// Key returns the agent's key: from agentKeyFile, agentKeyData or
// $FERRY_AGENT_KEY, in that order. The variable is removed from the
// process's environment once read (by ReadAgent, or here).
func (a *Agent) Key() (string, error) {
	s := a.Spec
	switch {
	case s.AgentKeyFile != "":
		b, err := os.ReadFile(s.AgentKeyFile)
		if err != nil {
			return "", fmt.Errorf("read agent key: %w", err)
		}
		return strings.TrimSpace(string(b)), nil
	case s.AgentKeyData != "":
		b, err := base64.StdEncoding.DecodeString(s.AgentKeyData)
		if err != nil {
			return "", fmt.Errorf("decode agentKeyData: %w", err)
		}
		return strings.TrimSpace(string(b)), nil
	}
	if a.takeEnvKey(); a.envKey != "" {
		return a.envKey, nil
	}
	return "", fmt.Errorf("%s: no agent key: set spec.agentKeyFile, spec.agentKeyData or $%s", a.File, AgentKeyEnv)
}

// APIURL turns an apiAddress into a base URL: "host:port" means https.
func APIURL(addr string) (string, error) {
	if !strings.Contains(addr, "://") {
		addr = "https://" + addr
	}
	u, err := url.Parse(addr)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return "", fmt.Errorf("%q is not a control plane URL: write it like https://ferry.example.com or http://127.0.0.1:8080", addr)
	}
	return strings.TrimRight(u.String(), "/"), nil
}
