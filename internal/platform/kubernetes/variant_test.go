package kubernetes

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/ferrycd/ferry/internal/config"
	"github.com/ferrycd/ferry/internal/platform"
)

// manifests parses the files of webFiles-like maps into objects.
func manifests(t *testing.T, files map[string]string) []*unstructured.Unstructured {
	t.Helper()
	var out []*unstructured.Unstructured
	for _, name := range keysOf(files) {
		objs, err := parseManifests(name, []byte(files[name]))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, objs...)
	}
	return out
}

func TestCanaryReplicasAreANumberOrAPercentageOfThePrimary(t *testing.T) {
	for _, tc := range []struct {
		name     string
		primary  int
		replicas string
		want     int64
	}{
		{"unset is one replica", 4, "", 1},
		{"a number is that many replicas", 4, "3", 3},
		{"a percentage of the primary's replicas, rounded up", 3, "50%", 2},
		{"10% of ten is one", 10, "10%", 1},
		{"100% is as many as the primary", 7, "100%", 7},
		{"a percentage is at least one replica", 1, "1%", 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var r config.Replicas
			if tc.replicas != "" {
				if err := r.UnmarshalText([]byte(tc.replicas)); err != nil {
					t.Fatal(err)
				}
			}
			objs := manifests(t, webFiles("web:v1", tc.primary, "info"))
			out, err := makeVariant(objs, &config.KubernetesSpec{}, variantOptions{variant: variantCanary, suffix: "canary", replicas: r})
			if err != nil {
				t.Fatal(err)
			}
			for _, o := range out {
				if o.GetKind() == "Deployment" {
					got, _, _ := unstructured.NestedInt64(o.Object, "spec", "replicas")
					if got != tc.want {
						t.Errorf("replicas = %d, want %d", got, tc.want)
					}
					return
				}
			}
			t.Fatal("no canary Deployment")
		})
	}
}

func TestMakeVariantFollowsTheApplicationsVariantLabelAndWorkloads(t *testing.T) {
	files := webFiles("web:v1", 2, "info")
	files["worker.yaml"] = `apiVersion: apps/v1
kind: StatefulSet
metadata: {name: worker}
spec:
  replicas: 4
  selector: {matchLabels: {app: worker}}
  template:
    metadata: {labels: {app: worker}}
    spec:
      containers:
        - name: worker
          image: worker:v1
          envFrom: [{configMapRef: {name: web-config}}]
`
	spec := &config.KubernetesSpec{KubernetesPlugin: config.KubernetesPlugin{
		Workloads:    []config.KubernetesWorkload{{Kind: "StatefulSet", Name: "worker"}},
		VariantLabel: config.KubernetesVariantLabel{Key: "example.com/track", CanaryValue: "next"},
	}}
	out, err := makeVariant(manifests(t, files), spec, variantOptions{variant: variantCanary, suffix: "try", replicas: config.Replicas{Number: 50, IsPercentage: true}})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, o := range out {
		got = append(got, o.GetKind()+" "+o.GetName()+" "+o.GetLabels()["example.com/track"])
	}
	if diff := cmp.Diff([]string{"ConfigMap web-config-try next", "StatefulSet worker-try next"}, got); diff != "" {
		t.Errorf("variant objects (-want +got):\n%s", diff)
	}
	sts := out[1]
	if ref, _, _ := unstructured.NestedSlice(sts.Object, "spec", "template", "spec", "containers"); ref[0].(map[string]any)["envFrom"].([]any)[0].(map[string]any)["configMapRef"].(map[string]any)["name"] != "web-config-try" {
		t.Errorf("envFrom not rewritten: %v", ref)
	}
	if sel, _, _ := unstructured.NestedStringMap(sts.Object, "spec", "selector", "matchLabels"); sel["example.com/track"] != "next" {
		t.Errorf("selector = %v", sel)
	}

	if _, err := makeVariant(manifests(t, map[string]string{"c.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n"}), &config.KubernetesSpec{}, variantOptions{variant: variantCanary}); err == nil || !strings.Contains(err.Error(), "no workloads") {
		t.Errorf("a variant of no workloads: err = %v", err)
	}
}

func TestCanaryPatchesEditTheCanarysManifests(t *testing.T) {
	for _, tc := range []struct {
		name   string
		patch  string
		check  func(objs []*unstructured.Unstructured) string
		errHas string
	}{{
		name: "yaml-replace sets a field",
		patch: `target: {kind: Deployment, name: web}
ops: [{op: yaml-replace, path: "$.spec.template.spec.containers[0].image", value: "web:canary"}]`,
		check: field("Deployment", "web", "web:canary", "spec", "template", "spec", "containers", "0", "image"),
	}, {
		name: "yaml-replace of a missing field is an error",
		patch: `target: {kind: Deployment, name: web}
ops: [{op: yaml-replace, path: "$.spec.paused", value: "true"}]`,
		errHas: "$.spec.paused does not exist",
	}, {
		name: "yaml-add creates a field; the value is YAML",
		patch: `target: {kind: Deployment, name: web}
ops: [{op: yaml-add, path: "$.spec.template.metadata.annotations.'example.com/canary'", value: "yes"}]`,
		check: field("Deployment", "web", "yes", "spec", "template", "metadata", "annotations", "example.com/canary"),
	}, {
		name: "yaml-remove deletes a list item",
		patch: `target: {kind: Deployment, name: web}
ops: [{op: yaml-remove, path: "$.spec.template.spec.containers[0].env[0]"}]`,
		check: field("Deployment", "web", "[]", "spec", "template", "spec", "containers", "0", "env"),
	}, {
		name: "yaml-replace inside a documentRoot edits the embedded file",
		patch: `target: {kind: ConfigMap, name: web-config, documentRoot: "$.data.'envoy.yaml'"}
ops: [{op: yaml-replace, path: "$.timeout", value: "1s"}]`,
		check: field("ConfigMap", "web-config", "listener:\n  port: 8080\ntimeout: 1s\n", "data", "envoy.yaml"),
	}, {
		name: "json-replace writes the embedded document back as JSON",
		patch: `target: {kind: ConfigMap, name: web-config, documentRoot: "$.data.level"}
ops: [{op: text-regex, path: "info", value: '{"x": 1, "y": "a"}'}, {op: json-replace, path: "$.x", value: "2"}]`,
		check: field("ConfigMap", "web-config", "{\n  \"x\": 2,\n  \"y\": \"a\"\n}", "data", "level"),
	}, {
		name: "json-replace of a missing field is an error",
		patch: `target: {kind: ConfigMap, name: web-config, documentRoot: "$.data.level"}
ops: [{op: json-replace, path: "$.x", value: "2"}]`,
		errHas: "$.x does not exist",
	}, {
		name: "text-regex replaces in the document's text",
		patch: `target: {kind: ConfigMap, name: web-config, documentRoot: "$.data.'envoy.yaml'"}
ops: [{op: text-regex, path: "timeout: (\\d+)s", value: "timeout: ${1}0s"}]`,
		check: field("ConfigMap", "web-config", "listener: {port: 8080}\ntimeout: 50s\n", "data", "envoy.yaml"),
	}, {
		name: "a target that is not in the manifests is an error",
		patch: `target: {kind: Deployment, name: api}
ops: [{op: yaml-replace, path: "$.spec.replicas", value: "1"}]`,
		errHas: "no manifest is a Deployment named api",
	}} {
		t.Run(tc.name, func(t *testing.T) {
			var p config.K8sPatch
			if err := config.Decode("patch.yaml", []byte(tc.patch), &p); err != nil {
				t.Fatal(err)
			}
			objs := manifests(t, webFiles("web:v1", 2, "info"))
			err := applyPatches(objs, []config.K8sPatch{p})
			if tc.errHas != "" {
				if err == nil || !strings.Contains(err.Error(), tc.errHas) {
					t.Fatalf("err = %v, want one containing %q", err, tc.errHas)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if msg := tc.check(objs); msg != "" {
				t.Error(msg)
			}
		})
	}
}

// field checks that the object kind/name has want at path (list indexes as
// numbers).
func field(kind, name, want string, path ...string) func([]*unstructured.Unstructured) string {
	return func(objs []*unstructured.Unstructured) string {
		for _, o := range objs {
			if o.GetKind() != kind || o.GetName() != name {
				continue
			}
			var cur any = o.Object
			for _, p := range path {
				switch c := cur.(type) {
				case map[string]any:
					cur = c[p]
				case []any:
					i := int(p[0] - '0')
					cur = c[i]
				}
			}
			got := ""
			switch v := cur.(type) {
			case string:
				got = v
			case []any:
				if len(v) == 0 {
					got = "[]"
				}
			}
			if got != want {
				return kind + " " + name + " " + strings.Join(path, ".") + " = " + got + ", want " + want
			}
			return ""
		}
		return "no " + kind + " " + name
	}
}

func TestDecideStrategy(t *testing.T) {
	base := webFiles("web:v1", 2, "info")
	with := func(change func(map[string]string)) map[string]string {
		files := webFiles("web:v1", 2, "info")
		change(files)
		return files
	}
	for _, tc := range []struct {
		name     string
		running  map[string]string
		target   map[string]string
		pipeline bool
		why      string
	}{
		{"an image change takes the pipeline", base, webFiles("web:v2", 2, "info"), true, "image of Deployment web changed from web:v1 to web:v2"},
		{"a ConfigMap change takes the pipeline", base, webFiles("web:v1", 2, "debug"), true, "ConfigMap web-config changed"},
		{"a deleted Secret takes the pipeline", base, with(func(f map[string]string) {
			f["config.yaml"] = strings.Replace(f["config.yaml"], "kind: Secret", "kind: ConfigMap", 1)
		}), true, "Secret web-secret was deleted"},
		{"replicas alone are a quick sync to scale", base, webFiles("web:v1", 5, "info"), false, "quick sync to scale Deployment web from 2 to 5"},
		{"no change to pods is a quick sync", base, with(func(f map[string]string) {
			f["service.yaml"] = strings.Replace(f["service.yaml"], "port: 80", "port: 81", 1)
		}), false, "quick sync: no workload's pod template nor any ConfigMap or Secret changed"},
		{"no workloads is a quick sync", map[string]string{"c.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {a: b}\n"},
			map[string]string{"c.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {a: c}\n"}, false, "quick sync: the manifests have no Deployment (set spec.workloads to name other kinds)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := func(files map[string]string) string {
				d := t.TempDir()
				files["app.pipecd.yaml"] = "apiVersion: pipecd.dev/v1beta1\nkind: KubernetesApp\nspec:\n  name: web\n"
				for name, body := range files {
					if err := os.WriteFile(filepath.Join(d, name), []byte(body), 0o644); err != nil {
						t.Fatal(err)
					}
				}
				return d
			}
			app, err := config.ParseApp("app.pipecd.yaml", []byte("apiVersion: pipecd.dev/v1beta1\nkind: KubernetesApp\nspec:\n  name: web\n"))
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			pipeline, why, err := (&Provider{}).DecideStrategy(ctx, platform.PlanInput{
				App: app, RepoDir: dir(tc.target), AppDir: ".",
				RunningApp: app, RunningRepoDir: dir(tc.running), RunningAppDir: ".",
			})
			if err != nil {
				t.Fatal(err)
			}
			if pipeline != tc.pipeline || why != tc.why {
				t.Errorf("DecideStrategy = %v, %q; want %v, %q", pipeline, why, tc.pipeline, tc.why)
			}
		})
	}
}
