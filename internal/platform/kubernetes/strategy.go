package kubernetes

import (
	"context"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/ferrycd/ferry/internal/config"
	"github.com/ferrycd/ferry/internal/platform"
)

var _ platform.StrategyDecider = (*Provider)(nil)

// DecideStrategy implements platform.StrategyDecider with PipeCD's rule
// for Kubernetes: it renders the running and the target commit and
//
//   - takes the pipeline when a workload (a Deployment, or those
//     spec.workloads names) changed under spec.template, or was added,
//     naming an image change when there is one;
//   - takes the pipeline when a ConfigMap or Secret was added, deleted or
//     changed, since the workloads would run with new configuration;
//   - takes a quick sync otherwise: a change of replicas alone is a
//     "scale", and an application without workloads has nothing to
//     canary.
//
// PipeCD compares the first Deployment only and misses deleted
// ConfigMaps; Ferry compares every workload and every ConfigMap and
// Secret. It blocks while rendering (charts may be downloaded) and is safe
// for concurrent use.
func (p *Provider) DecideStrategy(ctx context.Context, in platform.PlanInput) (bool, string, error) {
	spec, err := kubeSpec(in.App)
	if err != nil {
		return false, "", err
	}
	if in.RunningAppDir == "" {
		return false, "no running commit to compare with", nil
	}
	running := runningApp(in.App, in.RunningApp).Kubernetes
	olds, err := p.renderAt(ctx, in.Deployment, running, runningApp(in.App, in.RunningApp).Generic.Encryption, in.RunningRepoDir, in.RunningAppDir)
	if err != nil {
		return false, "", fmt.Errorf("render the running commit: %w", err)
	}
	news, err := p.renderAt(ctx, in.Deployment, spec, in.App.Generic.Encryption, in.RepoDir, in.AppDir)
	if err != nil {
		return false, "", err
	}
	pipeline, why := decideStrategy(olds, news, spec.Workloads)
	return pipeline, why, nil
}

// decideStrategy compares the running manifests olds with the target's
// news; see DecideStrategy.
func decideStrategy(olds, news []*unstructured.Unstructured, refs []config.KubernetesWorkload) (bool, string) {
	oldW, newW := findWorkloads(olds, refs), findWorkloads(news, refs)
	if len(newW) == 0 {
		return false, "quick sync: the manifests have no " + workloadsWanted(refs)
	}
	oldByKey := make(map[string]*unstructured.Unstructured, len(oldW))
	for _, o := range oldW {
		oldByKey[o.GetKind()+" "+o.GetName()] = o
	}
	var scaled []string
	for _, nw := range newW {
		name := nw.GetKind() + " " + nw.GetName()
		ow, ok := oldByKey[name]
		if !ok {
			return true, name + " was added"
		}
		ot, _, _ := unstructured.NestedFieldNoCopy(ow.Object, "spec", "template")
		nt, _, _ := unstructured.NestedFieldNoCopy(nw.Object, "spec", "template")
		if !reflect.DeepEqual(ot, nt) {
			if images := imageChanges(ow, nw); images != "" {
				return true, images
			}
			return true, "pod template of " + name + " changed"
		}
		or, _, _ := unstructured.NestedFieldNoCopy(ow.Object, "spec", "replicas")
		nr, _, _ := unstructured.NestedFieldNoCopy(nw.Object, "spec", "replicas")
		if !reflect.DeepEqual(or, nr) {
			scaled = append(scaled, fmt.Sprintf("%s from %s to %s", name, replicasText(or), replicasText(nr)))
		}
	}
	oldC, newC := configsOf(olds), configsOf(news)
	for k, o := range oldC {
		n, ok := newC[k]
		if !ok {
			return true, k + " was deleted"
		}
		for _, f := range []string{"data", "binaryData", "stringData"} {
			if !reflect.DeepEqual(o.Object[f], n.Object[f]) {
				return true, k + " changed"
			}
		}
	}
	for _, k := range slices.Sorted(maps.Keys(newC)) {
		if _, ok := oldC[k]; !ok {
			return true, k + " was added"
		}
	}
	if len(scaled) > 0 {
		return false, "quick sync to scale " + strings.Join(scaled, ", ")
	}
	return false, "quick sync: no workload's pod template nor any ConfigMap or Secret changed"
}

// replicasText formats spec.replicas, which defaults to 1.
func replicasText(v any) string {
	if v == nil {
		return "1 (default)"
	}
	return fmt.Sprint(v)
}

// configsOf returns the ConfigMaps and Secrets of objs by "Kind name".
func configsOf(objs []*unstructured.Unstructured) map[string]*unstructured.Unstructured {
	m := map[string]*unstructured.Unstructured{}
	for _, o := range objs {
		if isConfig(o) {
			m[o.GetKind()+" "+o.GetName()] = o
		}
	}
	return m
}

// imageChanges says which containers' images changed between two versions
// of a workload ("image of Deployment web changed from web:v1 to web:v2"),
// or "" when none did.
func imageChanges(old, new *unstructured.Unstructured) string {
	before := map[string]string{}
	for _, c := range containerImages(old) {
		before[c.name] = c.image
	}
	var changes []string
	for _, c := range containerImages(new) {
		if b, ok := before[c.name]; ok && b != c.image {
			changes = append(changes, fmt.Sprintf("from %s to %s", b, c.image))
		}
	}
	if len(changes) == 0 {
		return ""
	}
	return fmt.Sprintf("image of %s %s changed %s", new.GetKind(), new.GetName(), strings.Join(changes, ", "))
}

// containerImage is a container of a workload's pod template.
type containerImage struct{ name, image string }

// containerImages lists a workload's containers, init containers first, in
// the manifest's order.
func containerImages(w *unstructured.Unstructured) []containerImage {
	var out []containerImage
	for _, field := range []string{"initContainers", "containers"} {
		cs, _, _ := unstructured.NestedSlice(w.Object, "spec", "template", "spec", field)
		for _, c := range cs {
			cm, _ := c.(map[string]any)
			name, _ := cm["name"].(string)
			image, _ := cm["image"].(string)
			out = append(out, containerImage{name, image})
		}
	}
	return out
}
