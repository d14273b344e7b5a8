package kubernetes

import (
	"cmp"
	"fmt"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/ferrycd/ferry/internal/config"
)

// The variants of an application in a progressive deployment, PipeCD's:
// the primary runs what is deployed, the canary a few copies of the target
// commit's workloads, the baseline a few copies of the running commit's
// (so the canary is compared with pods as young as itself).
const (
	variantPrimary  = "primary"
	variantCanary   = "canary"
	variantBaseline = "baseline"
)

// DefaultVariantLabelKey is variantLabel.key when the application sets
// none. It is PipeCD's, so manifests written for PipeCD, whose selectors
// name pipecd.dev/variant: primary, select the same pods under Ferry.
const DefaultVariantLabelKey = "pipecd.dev/variant"

// variantLabel is the application's spec.variantLabel with PipeCD's
// defaults filled in.
type variantLabel struct {
	key                       string
	primary, canary, baseline string
}

// variantLabelOf returns spec's variant label, defaults filled in.
func variantLabelOf(spec *config.KubernetesSpec) variantLabel {
	v := variantLabel{key: DefaultVariantLabelKey, primary: variantPrimary, canary: variantCanary, baseline: variantBaseline}
	if spec == nil {
		return v
	}
	l := spec.VariantLabel
	if l.Key != "" {
		v.key = l.Key
	}
	if l.PrimaryValue != "" {
		v.primary = l.PrimaryValue
	}
	if l.CanaryValue != "" {
		v.canary = l.CanaryValue
	}
	if l.BaselineValue != "" {
		v.baseline = l.BaselineValue
	}
	return v
}

// value returns the label value of a variant name.
func (v variantLabel) value(variant string) string {
	switch variant {
	case variantCanary:
		return v.canary
	case variantBaseline:
		return v.baseline
	}
	return v.primary
}

// isWorkload reports whether obj is one of the application's workloads:
// a Deployment when refs is empty, else an object refs names (kind
// Deployment when a ref gives none; every object of the kind when it gives
// no name).
func isWorkload(obj *unstructured.Unstructured, refs []config.KubernetesWorkload) bool {
	if len(refs) == 0 {
		return obj.GetKind() == "Deployment"
	}
	for _, r := range refs {
		if obj.GetKind() == cmp.Or(r.Kind, "Deployment") && (r.Name == "" || r.Name == obj.GetName()) {
			return true
		}
	}
	return false
}

// findWorkloads returns the workloads among objs (see isWorkload), in order.
func findWorkloads(objs []*unstructured.Unstructured, refs []config.KubernetesWorkload) []*unstructured.Unstructured {
	var out []*unstructured.Unstructured
	for _, o := range objs {
		if isWorkload(o, refs) {
			out = append(out, o)
		}
	}
	return out
}

// setNestedLabel sets key=value in the string map at path of obj,
// creating the map when missing.
func setNestedLabel(obj *unstructured.Unstructured, key, value string, path ...string) error {
	m, _, err := unstructured.NestedStringMap(obj.Object, path...)
	if err != nil {
		return fmt.Errorf("%s: %w", describe(obj), err)
	}
	if m == nil {
		m = map[string]string{}
	}
	m[key] = value
	return unstructured.SetNestedStringMap(obj.Object, m, path...)
}

// labelWorkload puts the variant label on obj's pod template, and on its
// selector when selector is set. A workload without a pod template cannot
// be told apart by variant: that is an error.
func labelWorkload(obj *unstructured.Unstructured, key, value string, selector bool) error {
	if _, found, _ := unstructured.NestedMap(obj.Object, "spec", "template"); !found {
		return fmt.Errorf("%s has no spec.template: only workloads with a pod template can have variants", describe(obj))
	}
	if err := setNestedLabel(obj, key, value, "spec", "template", "metadata", "labels"); err != nil {
		return err
	}
	if selector {
		return setNestedLabel(obj, key, value, "spec", "selector", "matchLabels")
	}
	return nil
}

// labelPrimary makes objs the primary variant, in place: the workloads'
// pod templates get the variant label's primary value, and their selectors
// too with addToSelector (PipeCD's addVariantLabelToSelector). Traffic
// routing by pod selector then has primary pods to select. Objects other
// than workloads are left as they are, so a quick sync sends what it sent
// before but for that label.
func labelPrimary(objs []*unstructured.Unstructured, spec *config.KubernetesSpec, addToSelector bool) error {
	vl := variantLabelOf(spec)
	var refs []config.KubernetesWorkload
	if spec != nil {
		refs = spec.Workloads
	}
	for _, o := range objs {
		if !isWorkload(o, refs) {
			continue
		}
		if err := labelWorkload(o, vl.key, vl.primary, addToSelector); err != nil {
			return err
		}
	}
	return nil
}

// suffixed names a variant's copy of an object: PipeCD's "<name>-<suffix>".
func suffixed(name, suffix string) string {
	if suffix == "" {
		return name
	}
	return name + "-" + suffix
}

// findServices returns the Services among objs named name, or every
// Service when name is empty (as PipeCD's createService does).
func findServices(objs []*unstructured.Unstructured, name string) []*unstructured.Unstructured {
	var out []*unstructured.Unstructured
	for _, o := range objs {
		if o.GetKind() == "Service" && o.GroupVersionKind().Group == "" && (name == "" || o.GetName() == name) {
			out = append(out, o)
		}
	}
	return out
}

// variantService copies svc as the Service of one variant: named
// `<name>-<suffix>`, of type ClusterIP, selecting only the variant's pods
// (its selector plus the variant label), without the fields that only a
// NodePort or LoadBalancer Service may have or that the API server
// allocates (a copy cannot take the original's cluster IP or node ports).
func variantService(svc *unstructured.Unstructured, key, value, suffix string) (*unstructured.Unstructured, error) {
	c := svc.DeepCopy()
	c.SetName(suffixed(svc.GetName(), suffix))
	spec, _, _ := unstructured.NestedMap(c.Object, "spec")
	if spec == nil {
		spec = map[string]any{}
	}
	for _, f := range []string{"clusterIP", "clusterIPs", "externalIPs", "loadBalancerIP", "loadBalancerSourceRanges",
		"loadBalancerClass", "externalTrafficPolicy", "healthCheckNodePort", "allocateLoadBalancerNodePorts", "externalName"} {
		delete(spec, f)
	}
	spec["type"] = "ClusterIP"
	if ports, ok := spec["ports"].([]any); ok {
		for _, p := range ports {
			if pm, ok := p.(map[string]any); ok {
				delete(pm, "nodePort")
			}
		}
	}
	c.Object["spec"] = spec
	if err := setNestedLabel(c, key, value, "spec", "selector"); err != nil {
		return nil, err
	}
	setVariantLabel(c, key, value)
	return c, nil
}

// setVariantLabel puts the variant label on obj's own labels, so the
// variant's objects can be found (and deleted) by it.
func setVariantLabel(obj *unstructured.Unstructured, key, value string) {
	l := obj.GetLabels()
	if l == nil {
		l = map[string]string{}
	}
	l[key] = value
	obj.SetLabels(l)
}

// variantOptions say how to make one canary or baseline variant.
type variantOptions struct {
	variant       string // variantCanary or variantBaseline
	suffix        string
	replicas      config.Replicas
	createService bool
}

// makeVariant returns the objects of a canary or baseline variant made from
// objs, the application's rendered manifests (not modified):
//
//   - a copy of each workload named `<name>-<suffix>` with the variant label
//     on its labels, selector and pod template, and its replicas the
//     option's number or percentage of the workload's (1 when it sets none);
//   - a copy named `<name>-<suffix>` of each ConfigMap and Secret of the
//     manifests that the workloads' pods use (volumes, projected volumes,
//     env and envFrom), the copies' references rewritten to them, so the
//     variant runs with its own commit's configuration;
//   - with createService, a `<service>-<suffix>` ClusterIP Service
//     selecting the variant's pods (spec.service.name, or every Service).
//
// Every object carries the variant label. Status is dropped.
func makeVariant(objs []*unstructured.Unstructured, spec *config.KubernetesSpec, o variantOptions) ([]*unstructured.Unstructured, error) {
	vl := variantLabelOf(spec)
	value := vl.value(o.variant)
	workloads := findWorkloads(objs, spec.Workloads)
	if len(workloads) == 0 {
		return nil, fmt.Errorf("no workloads to make a %s of: the manifests have no %s", o.variant, workloadsWanted(spec.Workloads))
	}
	configs := map[configRef]*unstructured.Unstructured{}
	for _, obj := range objs {
		if isConfig(obj) {
			configs[configRef{kind: obj.GetKind(), name: obj.GetName()}] = obj
		}
	}
	var out []*unstructured.Unstructured
	used := map[configRef]bool{}
	for _, w := range workloads {
		c := w.DeepCopy()
		delete(c.Object, "status")
		c.SetName(suffixed(w.GetName(), o.suffix))
		setVariantLabel(c, vl.key, value)
		if err := labelWorkload(c, vl.key, value, true); err != nil {
			return nil, err
		}
		if _, has, _ := unstructured.NestedFieldNoCopy(c.Object, "spec", "replicas"); has || w.GetKind() == "Deployment" || w.GetKind() == "StatefulSet" || w.GetKind() == "ReplicaSet" {
			primary, found, err := unstructured.NestedInt64(w.Object, "spec", "replicas")
			if err != nil {
				return nil, fmt.Errorf("%s: spec.replicas: %w", describe(w), err)
			}
			if !found {
				primary = 1
			}
			if err := unstructured.SetNestedField(c.Object, int64(o.replicas.Calculate(int(primary))), "spec", "replicas"); err != nil {
				return nil, err
			}
		}
		pod, _, _ := unstructured.NestedMap(c.Object, "spec", "template", "spec")
		rewriteConfigRefs(pod, func(ref configRef) (string, bool) {
			if _, ok := configs[ref]; !ok {
				return "", false
			}
			used[ref] = true
			return suffixed(ref.name, o.suffix), true
		})
		if err := unstructured.SetNestedMap(c.Object, pod, "spec", "template", "spec"); err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	// Configuration first, in the manifests' order, then the workloads
	// (Apply orders them anyway; this keeps logs and metadata stable).
	var cfgs []*unstructured.Unstructured
	for _, obj := range objs {
		ref := configRef{kind: obj.GetKind(), name: obj.GetName()}
		if !isConfig(obj) || !used[ref] {
			continue
		}
		c := obj.DeepCopy()
		c.SetName(suffixed(obj.GetName(), o.suffix))
		setVariantLabel(c, vl.key, value)
		cfgs = append(cfgs, c)
	}
	out = append(cfgs, out...)
	if o.createService {
		svcs, err := variantServices(objs, spec, vl.key, value, o.suffix)
		if err != nil {
			return nil, err
		}
		out = append(out, svcs...)
	}
	return out, nil
}

// variantServices returns createService's Services of one variant: a
// variantService of each of objs' Services named spec.service.name (or of
// every Service). Manifests without one are an error.
func variantServices(objs []*unstructured.Unstructured, spec *config.KubernetesSpec, key, value, suffix string) ([]*unstructured.Unstructured, error) {
	svcs := findServices(objs, spec.Service.Name)
	if len(svcs) == 0 {
		return nil, fmt.Errorf("createService: %s", noService(spec.Service.Name))
	}
	out := make([]*unstructured.Unstructured, 0, len(svcs))
	for _, svc := range svcs {
		c, err := variantService(svc, key, value, suffix)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}

// workloadsWanted says what the application counts as workloads, for errors.
func workloadsWanted(refs []config.KubernetesWorkload) string {
	if len(refs) == 0 {
		return "Deployment (set spec.workloads to name other kinds)"
	}
	var names []string
	for _, r := range refs {
		kind := cmp.Or(r.Kind, "Deployment")
		if r.Name == "" {
			names = append(names, kind)
		} else {
			names = append(names, kind+" "+r.Name)
		}
	}
	return "workload spec.workloads names (" + fmt.Sprint(names) + ")"
}

// noService says that the manifests lack the application's Service.
func noService(name string) string {
	if name == "" {
		return "the manifests have no Service"
	}
	return fmt.Sprintf("the manifests have no Service %s (spec.service.name)", name)
}

// isConfig reports whether obj is a ConfigMap or a Secret, configuration
// that workloads' pods read.
func isConfig(obj *unstructured.Unstructured) bool {
	return obj.GroupVersionKind().Group == "" && (obj.GetKind() == "ConfigMap" || obj.GetKind() == "Secret")
}

// configRef names a ConfigMap or Secret a pod uses.
type configRef struct{ kind, name string }

// rewriteConfigRefs visits every ConfigMap and Secret reference of a pod
// spec (volumes, projected volume sources, containers' and init
// containers' env valueFrom and envFrom) and renames those rename maps.
func rewriteConfigRefs(pod map[string]any, rename func(configRef) (string, bool)) {
	set := func(m map[string]any, field, kind string) {
		if m == nil {
			return
		}
		name, _ := m[field].(string)
		if name == "" {
			return
		}
		if n, ok := rename(configRef{kind: kind, name: name}); ok {
			m[field] = n
		}
	}
	asMap := func(v any) map[string]any { m, _ := v.(map[string]any); return m }
	asList := func(v any) []any { l, _ := v.([]any); return l }
	for _, v := range asList(pod["volumes"]) {
		vol := asMap(v)
		set(asMap(vol["configMap"]), "name", "ConfigMap")
		set(asMap(vol["secret"]), "secretName", "Secret")
		for _, s := range asList(asMap(vol["projected"])["sources"]) {
			set(asMap(asMap(s)["configMap"]), "name", "ConfigMap")
			set(asMap(asMap(s)["secret"]), "name", "Secret")
		}
	}
	for _, field := range []string{"initContainers", "containers", "ephemeralContainers"} {
		for _, c := range asList(pod[field]) {
			ctr := asMap(c)
			for _, e := range asList(ctr["env"]) {
				from := asMap(asMap(e)["valueFrom"])
				set(asMap(from["configMapKeyRef"]), "name", "ConfigMap")
				set(asMap(from["secretKeyRef"]), "name", "Secret")
			}
			for _, e := range asList(ctr["envFrom"]) {
				set(asMap(asMap(e)["configMapRef"]), "name", "ConfigMap")
				set(asMap(asMap(e)["secretRef"]), "name", "Secret")
			}
		}
	}
}

// isVariantObject reports whether obj is a canary's or baseline's object of
// the application: it carries the variant label with either value.
func (v variantLabel) isVariantObject(obj *unstructured.Unstructured) bool {
	val, ok := obj.GetLabels()[v.key]
	return ok && (val == v.canary || val == v.baseline)
}
