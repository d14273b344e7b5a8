package kubernetes

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"sync"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer/cbor/direct"

	"github.com/ferrycd/ferry/internal/platform"
)

var (
	_ platform.LiveStateWatcher = (*Provider)(nil)
	_ platform.DriftDetector    = (*Provider)(nil)
)

// desiredState is the Kubernetes platform.DesiredState: an application's
// manifests rendered at one commit, with what drift detection needs from
// its config. It also remembers the last comparison of each object, so an
// unchanged live object is not dry-run again.
type desiredState struct {
	appID, commit string
	// objs are the rendered manifests in CBOR, never modified: thousands
	// of applications' desired states stay a few allocations each (see
	// liveObject).
	objs [][]byte
	// namespace is input.namespace, which overrides the manifests'.
	namespace string
	// prune is quickSync.prune: live objects not in Git are drift only
	// when the next deployment would delete them.
	prune  bool
	ignore []ignoreRule
	// variants is the variant label: the canary's and baseline's objects
	// are the application's but not in Git, and not drift.
	variants variantLabel

	mu   sync.Mutex
	memo map[ResourceKey]comparison
}

// comparison is one object's drift as of one live resourceVersion.
type comparison struct {
	resourceVersion string
	fields          []platform.FieldDrift
}

// AppID implements platform.DesiredState.
func (d *desiredState) AppID() string { return d.appID }

// Commit implements platform.DesiredState.
func (d *desiredState) Commit() string { return d.commit }

// LoadDesired implements platform.DesiredStateLoader: it renders the
// application's manifests as K8S_SYNC does (see Render) and parses
// driftDetection.ignoreFields. It makes no call to the cluster.
func (p *Provider) LoadDesired(ctx context.Context, in platform.DesiredInput) (platform.DesiredState, error) {
	if in.App == nil || in.App.Kubernetes == nil {
		return nil, fmt.Errorf("load desired state of %s: not a KubernetesApp", in.AppID)
	}
	spec := in.App.Kubernetes
	objs, err := Render(ctx, RenderInput{
		RepoDir: in.RepoDir, AppDir: in.AppDir, AppName: in.AppName,
		ConfigFile: in.ConfigFile, Input: spec.Input, Helm: p.helm,
		Encryption: in.App.Generic.Encryption, Decrypter: p.decrypter,
	})
	if err != nil {
		return nil, err
	}
	// As K8S_SYNC applies them, or every workload would differ by the
	// variant label.
	if err := labelPrimary(objs, spec, spec.QuickSync.AddVariantLabelToSelector); err != nil {
		return nil, fmt.Errorf("load desired state of %s: %w", in.AppID, err)
	}
	var fields []string
	if spec.DriftDetection != nil {
		fields = spec.DriftDetection.IgnoreFields
	}
	rules, err := parseIgnoreFields(fields)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", in.App.File, err)
	}
	raw := make([][]byte, len(objs))
	for i, o := range objs {
		if raw[i], err = direct.Marshal(o.Object); err != nil {
			return nil, fmt.Errorf("load desired state of %s: %s: %w", in.AppID, describe(o), err)
		}

	}
	return &desiredState{
		appID: in.AppID, commit: in.Commit, objs: raw, namespace: spec.Input.Namespace,
		prune: spec.QuickSync.Prune, ignore: rules, variants: variantLabelOf(spec), memo: map[ResourceKey]comparison{},
	}, nil
}

// target is a desired object as Apply would send it: namespace defaulted,
// ownership stamped.
type target struct {
	obj *unstructured.Unstructured
	key ResourceKey
	// mapping is nil when the cluster does not serve the object's kind
	// (its CRD is gone): such an object cannot run.
	mapping *meta.RESTMapping
}

// targets prepares the desired objects the way Apply does, so keys and
// dry-runs match what the last deployment applied.
func (d *desiredState) targets(ctx context.Context, a *Applier) ([]target, error) {
	out := make([]target, 0, len(d.objs))
	for _, raw := range d.objs {
		var content map[string]any
		if err := direct.Unmarshal(raw, &content); err != nil {
			return nil, fmt.Errorf("decode a desired object of %s: %w", d.appID, err)
		}
		obj := &unstructured.Unstructured{Object: content}
		m, err := a.lookup(ctx, obj.GroupVersionKind())
		if err != nil {
			return nil, fmt.Errorf("map %s: %w", describe(obj), err)
		}
		switch {
		case m == nil:
		case m.Scope.Name() != meta.RESTScopeNameNamespace:
			obj.SetNamespace("")
		case d.namespace != "":
			obj.SetNamespace(d.namespace)
		case obj.GetNamespace() == "":
			obj.SetNamespace(corev1.NamespaceDefault)
		}
		setOwnership(obj, d.appID, d.commit)
		out = append(out, target{obj: obj, key: KeyOf(obj), mapping: m})
	}
	return out, nil
}

// lookup is mapping for reads: a kind the cluster does not serve gives a
// nil mapping, not an error.
func (a *Applier) lookup(ctx context.Context, gvk schema.GroupVersionKind) (*meta.RESTMapping, error) {
	m, err := a.mapping(ctx, gvk, false)
	if err == nil {
		return m, nil
	}
	// mapping refreshed discovery; ask the fresh cache what the error was.
	if _, err2 := a.mapper.RESTMappingWithContext(ctx, gvk.GroupKind(), gvk.Version); meta.IsNoMatchError(err2) {
		return nil, nil
	}
	return nil, err
}

// Annotations that exclude a live object from drift detection when "true":
// Ferry's, and PipeCD's for objects migrated with their annotations.
const (
	AnnotationIgnoreDrift       = "ferry.dev/ignore-drift"
	AnnotationPipeCDIgnoreDrift = "pipecd.dev/ignore-drift-detection"
)

// ignoresDrift reports whether obj carries an ignore annotation.
func ignoresDrift(obj *unstructured.Unstructured) bool {
	a := obj.GetAnnotations()
	return a[AnnotationIgnoreDrift] == "true" || a[AnnotationPipeCDIgnoreDrift] == "true"
}

// ignoreRule is one driftDetection.ignoreFields entry,
// "apiVersion:kind:namespace:name#field.path" as PipeCD writes them.
type ignoreRule struct {
	apiVersion, kind, namespace, name string
	path                              string
}

// listIndex matches "[3]" so "containers[0].image" reads as
// "containers.0.image", the form of drift paths.
var listIndex = regexp.MustCompile(`\[(\d+)\]`)

// parseIgnoreFields parses driftDetection.ignoreFields.
func parseIgnoreFields(fields []string) ([]ignoreRule, error) {
	rules := make([]ignoreRule, 0, len(fields))
	for i, f := range fields {
		ref, path, ok := strings.Cut(f, "#")
		parts := strings.Split(ref, ":")
		if !ok || path == "" || len(parts) != 4 || parts[0] == "" || parts[1] == "" || parts[3] == "" {
			return nil, fmt.Errorf("spec.driftDetection.ignoreFields[%d] %q: want apiVersion:kind:namespace:name#field.path, e.g. apps/v1:Deployment:default:web#spec.replicas", i, f)
		}
		path = strings.TrimPrefix(listIndex.ReplaceAllString(path, ".$1"), ".")
		rules = append(rules, ignoreRule{apiVersion: parts[0], kind: parts[1], namespace: parts[2], name: parts[3], path: path})
	}
	return rules, nil
}

// fieldsIgnored returns the paths ignoreFields excludes for obj.
func (d *desiredState) fieldsIgnored(obj *unstructured.Unstructured) []string {
	var out []string
	for _, r := range d.ignore {
		if r.apiVersion == obj.GetAPIVersion() && r.kind == obj.GetKind() && r.namespace == obj.GetNamespace() && r.name == obj.GetName() {
			out = append(out, r.path)
		}
	}
	return out
}
