package localcluster_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/restmapper"

	"github.com/ferrycd/ferry/internal/testenv"
)

var crdGVR = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}

func TestServerSideApplyOfCoreAndCustomKinds(t *testing.T) {
	env := testenv.Kube(t)
	ctx := context.Background()

	crds := readObjects(t, "testdata/crds.yaml")
	for _, crd := range crds {
		apply(t, env.Dynamic, crdGVR, "", crd)
	}
	for _, crd := range crds {
		waitUntil(t, 30*time.Second, "CRD "+crd.GetName()+" to be established", func(ctx context.Context) (bool, error) {
			u, err := env.Dynamic.Resource(crdGVR).Get(ctx, crd.GetName(), metav1.GetOptions{})
			if err != nil {
				return false, err
			}
			conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
			for _, c := range conds {
				if c, ok := c.(map[string]any); ok && c["type"] == "Established" && c["status"] == "True" {
					return true, nil
				}
			}
			return false, nil
		})
	}

	// The mapper learns the new kinds from discovery, which may lag the
	// Established condition by a moment: retry until every kind maps.
	extraNS := env.Namespace + "-extra"
	t.Cleanup(func() {
		err := env.Clientset.CoreV1().Namespaces().Delete(context.Background(), extraNS, metav1.DeleteOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			t.Errorf("delete namespace %s: %v", extraNS, err)
		}
	})
	objs := readObjects(t, "testdata/objects.yaml", "NAMESPACE", extraNS)
	mapper := restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(env.Clientset.Discovery()))
	mappings := make([]*meta.RESTMapping, len(objs))
	waitUntil(t, 30*time.Second, "discovery to serve the new kinds", func(context.Context) (bool, error) {
		for i, o := range objs {
			m, err := mapper.RESTMapping(o.GroupVersionKind().GroupKind(), o.GroupVersionKind().Version)
			if err != nil {
				mapper.Reset()
				return false, err
			}
			mappings[i] = m
		}
		return true, nil
	})

	for i, o := range objs {
		ns := ""
		if mappings[i].Scope.Name() == meta.RESTScopeNameNamespace {
			ns = env.Namespace
		}
		got := apply(t, env.Dynamic, mappings[i].Resource, ns, o)
		if !appliedBy(got, "ferry") {
			t.Errorf("%s %s: no Apply entry of field manager ferry in %v", o.GetKind(), o.GetName(), got.GetManagedFields())
		}
		// Applying the same object again changes nothing.
		again := apply(t, env.Dynamic, mappings[i].Resource, ns, o)
		if again.GetResourceVersion() != got.GetResourceVersion() {
			t.Errorf("%s %s: re-apply changed resourceVersion %s to %s", o.GetKind(), o.GetName(), got.GetResourceVersion(), again.GetResourceVersion())
		}
	}

	vs, err := env.Dynamic.Resource(schema.GroupVersionResource{Group: "networking.istio.io", Version: "v1", Resource: "virtualservices"}).
		Namespace(env.Namespace).Get(ctx, "app", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	routes, _, _ := unstructured.NestedSlice(vs.Object, "spec", "http")
	if len(routes) != 1 {
		t.Fatalf("VirtualService http routes = %v, want the one applied (unknown fields kept)", routes)
	}
	if w, _, _ := unstructured.NestedSlice(routes[0].(map[string]any), "route"); len(w) != 2 {
		t.Errorf("VirtualService weighted destinations = %v, want 2", w)
	}

	// The Widget schema is enforced: a size below its minimum is refused.
	bad := objs[4].DeepCopy()
	if bad.GetKind() != "Widget" {
		t.Fatalf("objects.yaml order changed: got %s at 4", bad.GetKind())
	}
	bad.Object["spec"] = map[string]any{"size": int64(0)}
	_, err = env.Dynamic.Resource(mappings[4].Resource).Namespace(env.Namespace).
		Apply(ctx, bad.GetName(), bad, metav1.ApplyOptions{FieldManager: "ferry", Force: true})
	if !apierrors.IsInvalid(err) {
		t.Errorf("applying a Widget of size 0: err = %v, want Invalid", err)
	}
}

// apply server-side applies o as field manager "ferry" and returns the
// result.
func apply(t *testing.T, dyn dynamic.Interface, gvr schema.GroupVersionResource, ns string, o *unstructured.Unstructured) *unstructured.Unstructured {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	got, err := dyn.Resource(gvr).Namespace(ns).Apply(ctx, o.GetName(), o, metav1.ApplyOptions{FieldManager: "ferry", Force: true})
	if err != nil {
		t.Fatalf("apply %s %s: %v", o.GetKind(), o.GetName(), err)
	}
	return got
}

// appliedBy reports whether manager owns fields of u through Apply.
func appliedBy(u *unstructured.Unstructured, manager string) bool {
	for _, mf := range u.GetManagedFields() {
		if mf.Manager == manager && mf.Operation == metav1.ManagedFieldsOperationApply {
			return true
		}
	}
	return false
}

// readObjects decodes the YAML documents of path, after replacing each
// old, new pair of replacements.
func readObjects(t *testing.T, path string, replacements ...string) []*unstructured.Unstructured {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b = []byte(strings.NewReplacer(replacements...).Replace(string(b)))
	dec := yaml.NewYAMLOrJSONDecoder(bytes.NewReader(b), 4096)
	var objs []*unstructured.Unstructured
	for {
		var o map[string]any
		if err := dec.Decode(&o); errors.Is(err, io.EOF) {
			return objs
		} else if err != nil {
			t.Fatalf("decode %s: %v", path, err)
		}
		if o != nil {
			objs = append(objs, &unstructured.Unstructured{Object: o})
		}
	}
}
