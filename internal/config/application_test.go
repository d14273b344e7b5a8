package config

import (
	"os"
	"strings"
	"testing"
	"time"
)

func TestParseAppReadsAPipeCDCanaryUnchanged(t *testing.T) {
	data, err := os.ReadFile("testdata/apps/canary.pipecd.yaml")
	if err != nil {
		t.Fatal(err)
	}
	c, err := ParseApp("canary.pipecd.yaml", data)
	if err != nil {
		t.Fatal(err)
	}
	k := c.Kubernetes
	if c.Generic.Name != "helloworld" || k.Input.Manifests[1] != "service.yaml" || !c.Generic.OutOfSyncTriggerEnabled() ||
		c.Generic.Trigger.OnOutOfSync.MinWindow.Std() != 10*time.Minute || !c.AutoRollback() {
		t.Errorf("decoded %+v", c.Generic)
	}
	stages := c.Generic.Pipeline.Stages
	if len(stages) != 6 || stages[0].ID != "stage-0" {
		t.Fatalf("stages = %+v", stages)
	}
	opts, err := stages[0].StageOptions()
	if err != nil {
		t.Fatal(err)
	}
	if r := opts.(*K8sCanaryRolloutOptions).Replicas; !r.IsPercentage || r.Number != 20 || r.Calculate(10) != 2 {
		t.Errorf("canary replicas = %+v", r)
	}
	tr, _ := stages[3].StageOptions()
	if o := tr.(*K8sTrafficRoutingOptions); o.Primary != 90 || o.Canary != 10 {
		t.Errorf("traffic routing = %+v", o)
	}
	an, _ := stages[1].StageOptions()
	if m := an.(*AnalysisOptions).Metrics[0]; *m.Expected.Max != 0.01 || m.Interval.Std() != 2*time.Minute {
		t.Errorf("analysis metric = %+v", m)
	}
}

func TestParseAppRefusesBadConfigsWithFileLineAndReason(t *testing.T) {
	const (
		head  = "apiVersion: pipecd.dev/v1beta1\nkind: KubernetesApp\nspec:\n"
		ferry = "apiVersion: ferry.dev/v1\nkind: KubernetesApp\nspec:\n"
	)
	for _, tc := range []struct{ name, body, want string }{
		{"a missing name", head + "  labels: {a: b}\n", "spec.name: is required"},
		{"an unknown field in a ferry.dev/v1 file", ferry + "  name: x\n  inputs: {}\n", `f.yaml:5:3: spec.inputs: unknown field "inputs"`},
		{"an unknown stage", head + "  name: x\n  pipeline:\n    stages:\n      - name: K8S_TELEPORT\n", `unknown stage "K8S_TELEPORT"`},
		{"an unknown stage option in a ferry.dev/v1 file", ferry + "  name: x\n  pipeline:\n    stages:\n      - name: WAIT\n        with: {duration: 1m, sleep: 2}\n",
			`f.yaml:8:30: spec.pipeline.stages[0].with.sleep: unknown field "sleep"`},
		{"options given to a stage that takes none, in a ferry.dev/v1 file", ferry + "  name: x\n  pipeline:\n    stages:\n      - name: K8S_CANARY_CLEAN\n        with: {all: true}\n",
			`spec.pipeline.stages[0].with.all: unknown field "all"`},
		{"a value of the wrong type, even in a PipeCD file", head + "  name: x\n  planner: {alwaysUsePipeline: maybe}\n",
			`f.yaml:5:32: spec.planner.alwaysUsePipeline: want true or false, not "maybe"`},
		{"a mapping where a list belongs", head + "  name: x\n  input: {manifests: {a: b}}\n", `spec.input.manifests: want a list, not a mapping`},
		{"an unknown patch op", head + "  name: x\n  pipeline:\n    stages:\n      - name: K8S_CANARY_ROLLOUT\n        with:\n          patches:\n            - target: {kind: ConfigMap, name: c}\n              ops: [{path: $.data.a, value: b}, {op: yaml-merge, path: $.data}]\n",
			`spec.pipeline.stages[0].with.patches[0].ops[1].op: unknown op "yaml-merge"`},
		{"a service kind that is not Service", head + "  name: x\n  service: {kind: Ingress, name: web}\n", `f.yaml:5:19: spec.service.kind: must be Service, not "Ingress"`},
		{"a virtual service kind that is not VirtualService", head + "  name: x\n  trafficRouting: {method: istio, istio: {virtualService: {kind: Gateway, name: web}}}\n",
			`spec.trafficRouting.istio.virtualService.kind: must be VirtualService, not "Gateway"`},
		{"PipeCD v1's Application without the kubernetes plugin", "apiVersion: pipecd.dev/v1beta1\nkind: Application\nspec:\n  name: x\n  plugins: {terraform: {}}\n",
			`f.yaml:5:12: spec.plugins: kind Application needs spec.plugins.kubernetes`},
		{"the multi-cluster plugin", head + "  name: x\n  plugins:\n    kubernetes_multicluster: {input: {manifests: [a.yaml]}}\n",
			`spec.plugins.kubernetes_multicluster: Ferry deploys an application to one cluster`},
		{"the Kubernetes fields both in spec and in the plugin", head + "  name: x\n  input: {manifests: [a.yaml]}\n  plugins:\n    kubernetes: {input: {manifests: [b.yaml]}}\n",
			`f.yaml:5:10: spec.input: is also set under spec.plugins.kubernetes`},
		{"a bad replicas value", head + "  name: x\n  pipeline:\n    stages:\n      - name: K8S_CANARY_ROLLOUT\n        with: {replicas: lots}\n", `replicas "lots"`},
		{"weights not adding up", head + "  name: x\n  pipeline:\n    stages:\n      - name: K8S_TRAFFIC_ROUTING\n        with: {primary: 50, canary: 20}\n", "add up to 70%"},
		{"a wait without duration", head + "  name: x\n  pipeline:\n    stages:\n      - name: WAIT\n", "duration is required"},
		{"a bad regex", head + "  name: x\n  commitMatcher: {pipeline: \"(\"}\n", "spec.commitMatcher.pipeline: is not a valid regular expression"},
		{"a negative minWindow", head + "  name: x\n  trigger: {onOutOfSync: {disabled: false, minWindow: -1m}}\n", "spec.trigger.onOutOfSync.minWindow: must not be negative"},
		{"an unknown kind", "apiVersion: pipecd.dev/v1beta1\nkind: NomadApp\nspec: {name: x}\n", `f.yaml:2:7: kind: unknown kind "NomadApp"`},
		{"a wrong apiVersion", "apiVersion: v1\nkind: KubernetesApp\nspec: {name: x}\n", "apiVersion: must be ferry.dev/v1 or pipecd.dev/v1beta1"},
		{"broken YAML", head + "  name: [x\n", "f.yaml:"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseApp("f.yaml", []byte(tc.body))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error = %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

func TestIsAppConfigFile(t *testing.T) {
	for name, want := range map[string]bool{
		"app.ferry.yaml": true, "a/b/app.pipecd.yaml": true, "canary.pipecd.yaml": true,
		"deployment.yaml": false, "app.ferry.yml": false,
	} {
		if got := IsAppConfigFile(name); got != want {
			t.Errorf("IsAppConfigFile(%q) = %v", name, got)
		}
	}
}

func TestAutoRollbackIsOnUnlessPlannerOrInputTurnsItOff(t *testing.T) {
	for _, tc := range []struct {
		spec string
		want bool
	}{
		{"", true},
		{"  planner: {autoRollback: false}\n", false},
		{"  input: {autoRollback: false}\n", false},
		{"  planner: {autoRollback: true}\n  input: {autoRollback: false}\n", true},
	} {
		c, err := ParseApp("app.pipecd.yaml", []byte("apiVersion: pipecd.dev/v1beta1\nkind: KubernetesApp\nspec:\n  name: web\n"+tc.spec))
		if err != nil {
			t.Fatal(err)
		}
		if got := c.AutoRollback(); got != tc.want {
			t.Errorf("%q: AutoRollback() = %v, want %v", tc.spec, got, tc.want)
		}
	}
}
