package config

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

const fullAgent = `apiVersion: ferry.dev/v1
kind: Agent
spec:
  projectID: default
  agentID: 0193-agent
  agentKeyFile: /etc/ferry/agent-key
  apiAddress: ferry.example.com:443
  syncInterval: 30s
  git:
    username: ferry
    email: ferry@example.com
    sshKeyFile: /etc/ferry/ssh-key
    urlRewrites: [{from: https://github.com/, to: https://git.mirror.local/}]
  repositories:
    - {repoId: apps, remote: git@github.com:org/apps.git, branch: main}
    - {repoId: infra, remote: https://git.example.com/infra.git}
  platformProviders:
    - name: dev-cluster
      type: KUBERNETES
      config:
        kubeConfigPath: ~/.kube/config
        appStateInformer: {namespace: apps}
    - {name: infra, type: TERRAFORM, config: {vars: [project=dev]}}
  analysisProviders:
    - {name: prometheus-dev, type: PROMETHEUS, config: {address: http://prometheus:9090}}
  notifications: {routes: [{name: all, receiver: ops}], receivers: [{name: ops, slack: {hookURL: https://hooks.example.com/x}}]}
  secretManagement: {type: KEY_PAIR, config: {privateKeyFile: /k, publicKeyFile: /k.pub}}
  eventWatcher: {checkInterval: 1m, gitRepos: [{repoId: apps, includes: [checkout]}]}
  appSelector: {env: prod}
`

func TestReadAgentAcceptsTheDesignExample(t *testing.T) {
	a, err := ReadAgent(writeFile(t, fullAgent))
	if err != nil {
		t.Fatal(err)
	}
	s := a.Spec
	if s.SyncInterval.Std() != 30*time.Second || s.Repositories[1].Branch != "main" || s.AppSelector["env"] != "prod" {
		t.Errorf("spec = %+v", s)
	}
	k := s.PlatformProviders[0]
	if k.Type != PlatformKubernetes || k.Kubernetes == nil || k.Kubernetes.KubeConfigPath != "~/.kube/config" || k.Kubernetes.AppStateInformer.Namespace != "apps" {
		t.Errorf("kubernetes provider = %+v (%+v)", k, k.Kubernetes)
	}
	if tf := s.PlatformProviders[1]; tf.Type != PlatformTerraform || tf.Other["vars"] == nil {
		t.Errorf("terraform provider = %+v", tf)
	}
	if diff := cmp.Diff([]URLRewrite{{From: "https://github.com/", To: "https://git.mirror.local/"}}, s.Git.URLRewrites); diff != "" {
		t.Errorf("git.urlRewrites (-want +got):\n%s", diff)
	}
	if u, _ := APIURL(s.APIAddress); u != "https://ferry.example.com:443" {
		t.Errorf("APIURL = %q", u)
	}
}

func TestReadAgentNamesFileLineAndField(t *testing.T) {
	base := "apiVersion: ferry.dev/v1\nkind: Agent\nspec:\n  agentID: a\n  apiAddress: http://127.0.0.1:8080\n"
	for _, tc := range []struct{ name, body, want string }{
		{"an unknown field in a provider's config is refused at its line",
			base + "  platformProviders:\n    - name: k\n      type: KUBERNETES\n      config: {kubeconfigPath: x, masterurl: y}\n", `:9:16: spec.platformProviders[0].config.kubeconfigPath: unknown field "kubeconfigPath"`},
		{"an unknown provider type is refused",
			base + "  platformProviders:\n    - {name: k, type: NOMAD}\n", `type "NOMAD" is not known`},
		{"a missing agent id is refused",
			"apiVersion: ferry.dev/v1\nkind: Agent\nspec:\n  apiAddress: http://x\n", "spec.agentID: is required"},
		{"a repository without remote is refused",
			base + "  repositories:\n    - {repoId: apps}\n", "remote is required"},
		{"duplicate repository ids are refused",
			base + "  repositories:\n    - {repoId: apps, remote: a}\n    - {repoId: apps, remote: b}\n", `repoId "apps" is used twice`},
		{"a bad API address is refused",
			"apiVersion: ferry.dev/v1\nkind: Agent\nspec:\n  agentID: a\n  apiAddress: ftp://x\n", "spec.apiAddress"},
		{"an unknown top-level field is refused",
			base + "  pipedID: x\n", `unknown field "pipedID"`},
		{"a URL rewrite without its target is refused",
			base + "  git:\n    urlRewrites: [{from: https://github.com/}]\n", "spec.git.urlRewrites[0]: needs from"},
		{"both key sources are refused",
			base + "  agentKeyFile: /k\n  agentKeyData: aGk=\n", "not both"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := writeFile(t, tc.body)
			_, err := ReadAgent(p)
			if err == nil || !strings.Contains(err.Error(), p) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error = %v, want it to name %s and contain %q", err, p, tc.want)
			}
		})
	}
}

func TestAgentKeyComesFromFileDataOrEnvironment(t *testing.T) {
	a := &Agent{File: "agent.yaml"}
	t.Setenv(AgentKeyEnv, "")
	if _, err := a.Key(); err == nil || !strings.Contains(err.Error(), "no agent key") {
		t.Errorf("no key: %v", err)
	}
	t.Setenv(AgentKeyEnv, " id.env \n")
	if k, err := a.Key(); err != nil || k != "id.env" {
		t.Errorf("env key = %q, %v", k, err)
	}
	a.Spec.AgentKeyData = "aWQuZGF0YQ==" // id.data
	if k, err := a.Key(); err != nil || k != "id.data" {
		t.Errorf("data key = %q, %v", k, err)
	}
	a.Spec.AgentKeyFile = writeFile(t, "id.file\n")
	if k, err := a.Key(); err != nil || k != "id.file" {
		t.Errorf("file key = %q, %v", k, err)
	}
}

func TestReadAgentReadsChartRepositoriesAndRegistries(t *testing.T) {
	a, err := ReadAgent(writeFile(t, `apiVersion: ferry.dev/v1
kind: Agent
spec:
  agentID: a
  apiAddress: http://127.0.0.1:8080
  chartRepositories:
    - {name: fantastic, address: https://charts.example.com}
    - {type: HTTP, name: private, address: https://private.example.com, username: u, password: hunter2, insecure: true}
    - {type: git, name: in-git, gitRemote: git@github.com:org/charts.git, sshKeyFile: /etc/ferry/charts-key}
  chartRegistries:
    - {address: registry.example.com, username: u, password: hunter2}
`))
	if err != nil {
		t.Fatal(err)
	}
	want := []ChartRepository{
		{Type: "HTTP", Name: "fantastic", Address: "https://charts.example.com"},
		{Type: "HTTP", Name: "private", Address: "https://private.example.com", Username: "u", Password: "hunter2", Insecure: true},
		{Type: "GIT", Name: "in-git", GitRemote: "git@github.com:org/charts.git", SSHKeyFile: "/etc/ferry/charts-key"},
	}
	if diff := cmp.Diff(want, a.Spec.ChartRepositories); diff != "" {
		t.Errorf("chartRepositories (-want +got):\n%s", diff)
	}
	wantReg := []ChartRegistry{{Type: "OCI", Address: "registry.example.com", Username: "u", Password: "hunter2"}}
	if diff := cmp.Diff(wantReg, a.Spec.ChartRegistries); diff != "" {
		t.Errorf("chartRegistries (-want +got):\n%s", diff)
	}
	if s := fmt.Sprintf("%v %+v", a.Spec.ChartRepositories, a.Spec.ChartRegistries); strings.Contains(s, "hunter2") {
		t.Errorf("printed config shows a password: %s", s)
	}
}

func TestReadAgentChecksChartRepositories(t *testing.T) {
	base := "apiVersion: ferry.dev/v1\nkind: Agent\nspec:\n  agentID: a\n  apiAddress: http://127.0.0.1:8080\n"
	for _, tc := range []struct{ name, body, want string }{
		{"a repository without a name is refused",
			base + "  chartRepositories:\n    - {address: https://x}\n", `:7:7: spec.chartRepositories[0]: name is required`},
		{"a name used twice is refused at the second",
			base + "  chartRepositories:\n    - {name: a, address: https://x}\n    - {name: a, address: https://y}\n", `:8:14: spec.chartRepositories[1].name: "a" is used twice`},
		{"an unknown type is refused",
			base + "  chartRepositories:\n    - {type: S3, name: a, address: https://x}\n", `spec.chartRepositories[0].type: "S3" is not known: use HTTP or GIT`},
		{"an HTTP repository needs an address",
			base + "  chartRepositories:\n    - {name: a}\n", "address is required for an HTTP repository"},
		{"an HTTP repository's address is an http URL",
			base + "  chartRepositories:\n    - {name: a, address: oci://r.example.com}\n", "OCI registries go in chartRegistries"},
		{"a GIT repository needs a gitRemote",
			base + "  chartRepositories:\n    - {type: GIT, name: a}\n", "gitRemote is required for a GIT repository"},
		{"an unknown field is refused at its line",
			base + "  chartRepositories:\n    - name: a\n      adress: https://x\n", `:8:`},
		{"a registry without address is refused",
			base + "  chartRegistries:\n    - {username: u, password: p}\n", "spec.chartRegistries[0]: address is required"},
		{"a registry of an unknown type is refused",
			base + "  chartRegistries:\n    - {type: HTTP, address: r.example.com}\n", `"HTTP" is not known: use OCI`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := writeFile(t, tc.body)
			_, err := ReadAgent(p)
			if err == nil || !strings.Contains(err.Error(), p) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error = %v, want it to name %s and contain %q", err, p, tc.want)
			}
		})
	}
}
