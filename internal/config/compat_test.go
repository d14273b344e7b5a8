package config

import (
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// warned returns the fields of c's warnings, in order.
func warned(c *AppConfig) []string {
	var out []string
	for _, w := range c.Warnings {
		out = append(out, w.Field)
	}
	return out
}

func TestParseAppAcceptsWhatPipeCDAccepts(t *testing.T) {
	const head = "apiVersion: pipecd.dev/v1beta1\nkind: KubernetesApp\nspec:\n  name: x\n"
	for _, tc := range []struct {
		name, body string
		// warnings are the fields warned of, in file order.
		warnings []string
	}{
		{"an option PipeCD ignores in an analysis (threshold)",
			head + "  pipeline:\n    stages:\n      - name: ANALYSIS\n        with: {duration: 1m, threshold: 2, https: [{url: http://x, expectedCode: 200}]}\n",
			[]string{"spec.pipeline.stages[0].with.threshold"}},
		{"an option PipeCD ignores in an HTTP check (expected)",
			"apiVersion: pipecd.dev/v1beta1\nkind: CloudRunApp\nspec:\n  name: x\n  pipeline:\n    stages:\n      - name: ANALYSIS\n        with:\n          duration: 1m\n          https:\n            - {url: http://x, expected: 200, expectedCode: 200}\n",
			[]string{"spec.pipeline.stages[0].with.https[0].expected"}},
		{"an option PipeCD ignores in a custom sync (env)",
			"apiVersion: pipecd.dev/v1beta1\nkind: LambdaApp\nspec:\n  name: x\n  pipeline:\n    stages:\n      - name: CUSTOM_SYNC\n        with:\n          run: sam deploy\n          env: {AWS_REGION: eu-west-1}\n",
			[]string{"spec.pipeline.stages[0].with.env"}},
		{"several unknown options, warned of in file order",
			head + "  pipeline:\n    stages:\n      - name: WAIT\n        with: {zeta: 1, duration: 1m, alpha: 2, mid: 3}\n",
			[]string{"spec.pipeline.stages[0].with.zeta", "spec.pipeline.stages[0].with.alpha", "spec.pipeline.stages[0].with.mid"}},
		{"an unknown field outside a stage", head + "  inputs: {manifests: [a.yaml]}\n", []string{"spec.inputs"}},
		{"a chain trigger left off", head + "  trigger: {onChain: {disabled: true}}\n", nil},
		{"the service's kind", head + "  service: {kind: Service, name: web}\n", nil},
		{"the virtual service's kind", head + "  trafficRouting: {method: istio, istio: {virtualService: {kind: VirtualService, name: web}}}\n", nil},
		{"a patch without op", head + "  pipeline:\n    stages:\n      - name: K8S_CANARY_ROLLOUT\n        with:\n          patches: [{target: {kind: ConfigMap, name: c}, ops: [{path: $.data.a, value: b}]}]\n", nil},
		{"the kubernetes plugin under a KubernetesApp", head + "  plugins:\n    kubernetes: {input: {manifests: [a.yaml], kubectlVersion: 1.32.2}}\n",
			[]string{"spec.plugins.kubernetes.input.kubectlVersion"}},
		{"another plugin's key", head + "  plugins:\n    wait: {}\n", []string{"spec.plugins.wait"}},
		{"Terraform's version", "apiVersion: pipecd.dev/v1beta1\nkind: TerraformApp\nspec:\n  name: x\n  input: {terraformVersion: 1.9.0}\n",
			[]string{"spec.input.terraformVersion"}},
		{"options given to a stage that takes none",
			head + "  pipeline:\n    stages:\n      - name: K8S_CANARY_CLEAN\n        with: {all: true}\n",
			[]string{"spec.pipeline.stages[0].with.all"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := ParseApp("app.pipecd.yaml", []byte(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.warnings, warned(c)); diff != "" {
				t.Errorf("warnings (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseAppDefaultsAPatchOpToYAMLReplaceWhenReadingTheFile(t *testing.T) {
	data, err := os.ReadFile("testdata/apps/baseline.pipecd.yaml")
	if err != nil {
		t.Fatal(err)
	}
	c, err := ParseApp("baseline.pipecd.yaml", data)
	if err != nil {
		t.Fatal(err)
	}
	opts, err := c.Generic.Pipeline.Stages[0].StageOptions()
	if err != nil {
		t.Fatal(err)
	}
	if op := opts.(*K8sCanaryRolloutOptions).Patches[0].Ops[0]; op.Op != PatchYAMLReplace || op.Path != "$.mode" {
		t.Errorf("op = %+v, want yaml-replace of $.mode", op)
	}
	if c.Kubernetes.Service.Kind != "Service" || c.Kubernetes.Service.Name != "shop" {
		t.Errorf("service = %+v", c.Kubernetes.Service)
	}
	if diff := cmp.Diff([]string{"spec.input.kubectlVersion", "spec.pipeline.stages[2].with.threshold"}, warned(c)); diff != "" {
		t.Errorf("warnings (-want +got):\n%s", diff)
	}
}

func TestParseAppReadsPipeCDV1PluginsForm(t *testing.T) {
	data, err := os.ReadFile("testdata/apps/plugins.pipecd.yaml")
	if err != nil {
		t.Fatal(err)
	}
	c, err := ParseApp("plugins.pipecd.yaml", data)
	if err != nil {
		t.Fatal(err)
	}
	k := c.Kubernetes
	if c.Kind != KindKubernetesApp || k.Input.Namespace != "shop" || k.Input.Manifests[0] != "deployment.yaml" ||
		k.Service.Name != "shop" || k.TrafficRouting.Istio.VirtualService.Name != "shop" {
		t.Errorf("decoded kind %s, %+v", c.Kind, k.KubernetesPlugin)
	}
	if diff := cmp.Diff([]string{"spec.plugins.kubernetes.input.kubectlVersion"}, warned(c)); diff != "" {
		t.Errorf("warnings (-want +got):\n%s", diff)
	}
}

func TestParseAppWarnsOfEveryFieldWithoutEffect(t *testing.T) {
	const head = "apiVersion: ferry.dev/v1\nkind: KubernetesApp\nspec:\n  name: x\n"
	for _, tc := range []struct{ name, spec, field, says string }{
		{"sealed secrets", "  encryption: {encryptedSecrets: {password: AQB}, decryptionTargets: [secret.yaml]}\n", "spec.encryption", "this agent has no secretManagement"},
		{"attachments", "  attachment: {sources: {config: config.yaml}, targets: [cm.yaml]}\n", "spec.attachment", "does not attach files"},
		{"notification mentions", "  notification: {mentions: [{event: DEPLOYMENT_TRIGGERED, slackUsers: [U1]}]}\n", "spec.notification.mentions", "sends no notifications"},
		{"an event watcher", "  eventWatcher: [{matcher: {name: image}, handler: {type: GIT_UPDATE}}]\n", "spec.eventWatcher", "no event watcher"},
		{"a deployment chain", "  postSync: {chain: {applications: [{name: next}]}}\n", "spec.postSync.chain", "no deployment chains"},
		{"a chain trigger turned on", "  trigger: {onChain: {disabled: false}}\n", "spec.trigger.onChain", "no deployment chains"},
		{"kubectl's version", "  input: {kubectlVersion: 1.32.2}\n", "spec.input.kubectlVersion", "no kubectl"},
		{"Kustomize's version", "  input: {kustomizeVersion: 5.4.3}\n", "spec.input.kustomizeVersion", "the Kustomize it is built with"},
		{"Helm's version", "  input: {helmVersion: 3.16.1}\n", "spec.input.helmVersion", "the Helm it is built with"},
		{"a second deploy target", "  deployTargets: {names: [east, west, north]}\n", "spec.deployTargets.names[1]", "first deploy target only (east); west, north are not deployed to"},
		{"log analysis", "  pipeline:\n    stages:\n      - name: ANALYSIS\n        with: {duration: 1m, logs: [{provider: stackdriver, query: x}]}\n",
			"spec.pipeline.stages[0].with.logs", "refused when it is planned"},
		{"an analysis restart threshold", "  pipeline:\n    stages:\n      - name: ANALYSIS\n        with: {duration: 1m, restartThreshold: 3}\n",
			"spec.pipeline.stages[0].with.restartThreshold", "neither Ferry nor PipeCD uses it"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := ParseApp("app.ferry.yaml", []byte(head+tc.spec))
			if err != nil {
				t.Fatal(err)
			}
			if len(c.Warnings) != 1 {
				t.Fatalf("warnings = %v, want one", c.Warnings)
			}
			w := c.Warnings[0]
			if w.Field != tc.field || w.Line < 5 || !strings.Contains(w.Message, tc.says) {
				t.Errorf("warning = %s, want one at %s, saying %q", w, tc.field, tc.says)
			}
		})
	}
}

func TestParseAppNamesTheFirstUnknownFieldTheSameEveryRun(t *testing.T) {
	// Five unknown keys in one mapping and more further down: the YAML
	// library's strict mode picked one by map iteration, without its path.
	body := "apiVersion: ferry.dev/v1\nkind: KubernetesApp\nspec:\n  name: x\n  input:\n    manifests: [a.yaml]\n" +
		"    kubectlVersions: 1\n    helmVersions: 1\n    namespaces: 1\n    chart: 1\n    options: 1\n  other: 1\n"
	const want = `app.ferry.yaml:7:5: spec.input.kubectlVersions: unknown field "kubectlVersions"`
	for range 100 {
		_, err := ParseApp("app.ferry.yaml", []byte(body))
		if err == nil || err.Error() != want {
			t.Fatalf("error = %v, want %s", err, want)
		}
	}
	lenient := strings.Replace(body, "ferry.dev/v1", "pipecd.dev/v1beta1", 1)
	wantWarned := []string{"spec.input.kubectlVersions", "spec.input.helmVersions", "spec.input.namespaces", "spec.input.chart", "spec.input.options", "spec.other"}
	for range 100 {
		c, err := ParseApp("app.pipecd.yaml", []byte(lenient))
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(wantWarned, warned(c)); diff != "" {
			t.Fatalf("warnings (-want +got):\n%s", diff)
		}
	}
}
