package config

import (
	"strings"
	"testing"
	"time"
)

const fullAgent = `apiVersion: ferry.dev/v1
kind: Agent
spec:
  projectID: default
  agentID: 0193-agent
  agentKeyFile: /etc/ferry/agent-key
  apiAddress: ferry.example.com:443
  syncInterval: 30s
  git: {username: ferry, email: ferry@example.com, sshKeyFile: /etc/ferry/ssh-key}
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
	if u, _ := APIURL(s.APIAddress); u != "https://ferry.example.com:443" {
		t.Errorf("APIURL = %q", u)
	}
}

func TestReadAgentNamesFileLineAndField(t *testing.T) {
	base := "apiVersion: ferry.dev/v1\nkind: Agent\nspec:\n  agentID: a\n  apiAddress: http://127.0.0.1:8080\n"
	for _, tc := range []struct{ name, body, want string }{
		{"an unknown field in a provider's config is refused at its line",
			base + "  platformProviders:\n    - name: k\n      type: KUBERNETES\n      config: {kubeconfigPath: x}\n", `:9:`},
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
