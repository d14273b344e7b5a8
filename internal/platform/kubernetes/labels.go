package kubernetes

import (
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// FieldManager is the server-side apply field manager Ferry applies as. It is
// fixed so every agent, and every version of Ferry, owns the same fields.
const FieldManager = "ferry"

// Ownership labels and annotations that Apply sets on every object. The
// labels are what prune and live state select on; the annotations are for
// people and drift detection.
const (
	// LabelManagedBy marks an object as applied by Ferry; its value is
	// ManagedByFerry.
	LabelManagedBy = "ferry.dev/managed-by"
	// ManagedByFerry is the value of LabelManagedBy.
	ManagedByFerry = "ferry"
	// LabelApplication holds the id of the application that owns the object.
	LabelApplication = "ferry.dev/application"
	// AnnotationCommit holds the Git commit the object was last applied from.
	AnnotationCommit = "ferry.dev/commit"
	// AnnotationResourceKey holds the object's ResourceKey, so a live object
	// can be matched to its manifest without a RESTMapper.
	AnnotationResourceKey = "ferry.dev/resource-key"
)

// PipeCD's ownership labels. Objects a migrating application's piped applied
// carry these instead of Ferry's; Apply's prune treats them as owned when
// ApplyOptions.AdoptPipeCD is set.
const (
	// LabelPipeCDManagedBy marks an object as applied by PipeCD's piped.
	LabelPipeCDManagedBy = "pipecd.dev/managed-by"
	// ManagedByPiped is the value of LabelPipeCDManagedBy.
	ManagedByPiped = "piped"
	// LabelPipeCDApplication holds the PipeCD application id.
	LabelPipeCDApplication = "pipecd.dev/application"
	// AnnotationPipeCDResourceKey is PipeCD's counterpart of
	// AnnotationResourceKey.
	AnnotationPipeCDResourceKey = "pipecd.dev/resource-key"
)

// ResourceKey identifies an object across API versions: a Deployment read as
// apps/v1 or apps/v1beta2 has one key. Namespace is empty for cluster-scoped
// objects and Group is empty for the core group.
type ResourceKey struct {
	Group     string
	Kind      string
	Namespace string
	Name      string
}

// KeyOf returns obj's key as it stands (no namespace defaulting).
func KeyOf(obj *unstructured.Unstructured) ResourceKey {
	gvk := obj.GroupVersionKind()
	return ResourceKey{Group: gvk.Group, Kind: gvk.Kind, Namespace: obj.GetNamespace(), Name: obj.GetName()}
}

// String formats the key as group:kind:namespace:name, the value of
// AnnotationResourceKey, e.g. "apps:Deployment:web:frontend" or
// ":Namespace::web".
func (k ResourceKey) String() string {
	return k.Group + ":" + k.Kind + ":" + k.Namespace + ":" + k.Name
}

// GroupKind returns the key's group and kind.
func (k ResourceKey) GroupKind() schema.GroupKind {
	return schema.GroupKind{Group: k.Group, Kind: k.Kind}
}

// ParseResourceKey parses the String form of a key. It returns an error when
// s does not have exactly four colon-separated parts or lacks a kind or name.
func ParseResourceKey(s string) (ResourceKey, error) {
	parts := strings.Split(s, ":")
	if len(parts) != 4 || parts[1] == "" || parts[3] == "" {
		return ResourceKey{}, fmt.Errorf("resource key %q: want group:kind:namespace:name", s)
	}
	return ResourceKey{Group: parts[0], Kind: parts[1], Namespace: parts[2], Name: parts[3]}, nil
}

// describe names an object for log lines and errors the way kubectl users
// read them: "apps/v1/Deployment web/frontend", or "v1/Namespace web".
func describe(obj *unstructured.Unstructured) string {
	name := obj.GetName()
	if ns := obj.GetNamespace(); ns != "" {
		name = ns + "/" + name
	}
	return obj.GetAPIVersion() + "/" + obj.GetKind() + " " + name
}

// setOwnership stamps obj with the ownership labels and annotations. The
// key is computed after namespace defaulting so it names the live object.
func setOwnership(obj *unstructured.Unstructured, appID, commit string) {
	labels := obj.GetLabels()
	if labels == nil {
		labels = map[string]string{}
	}
	labels[LabelManagedBy] = ManagedByFerry
	labels[LabelApplication] = appID
	obj.SetLabels(labels)
	annotations := obj.GetAnnotations()
	if annotations == nil {
		annotations = map[string]string{}
	}
	if commit != "" {
		annotations[AnnotationCommit] = commit
	}
	annotations[AnnotationResourceKey] = KeyOf(obj).String()
	obj.SetAnnotations(annotations)
}

// owned reports whether obj was applied for the application appID: it must
// carry the ownership labels and the resource key annotation naming obj
// itself. The annotation check matters because labels get copied: the
// Endpoints of a Service, or the Pods of a template, carry their source's
// labels but were never applied by Ferry. With pipecd, objects PipeCD's
// piped applied for the same application id count too.
func owned(obj *unstructured.Unstructured, appID string, pipecd bool) bool {
	l, a := obj.GetLabels(), obj.GetAnnotations()
	if l[LabelManagedBy] == ManagedByFerry && l[LabelApplication] == appID && a[AnnotationResourceKey] == KeyOf(obj).String() {
		return true
	}
	return pipecd && l[LabelPipeCDManagedBy] == ManagedByPiped && l[LabelPipeCDApplication] == appID && a[AnnotationPipeCDResourceKey] != ""
}
