package kubernetes

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/ferrycd/ferry/internal/testenv"
)

// waitFor polls cond until it holds, failing the test after a minute.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	err := wait.PollUntilContextTimeout(context.Background(), 100*time.Millisecond, time.Minute, true,
		func(context.Context) (bool, error) { return cond(), nil })
	if err != nil {
		t.Fatalf("condition not met: %v", err)
	}
}

// configMap returns a ConfigMap manifest.
func configMap(name string) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "ConfigMap",
		"metadata": map[string]any{"name": name},
	}}
}

func TestApplyPrunesOnlyWhatTheApplicationDropped(t *testing.T) {
	t.Parallel()
	env := testenv.Kube(t)
	a := newApplier(t, env)
	ctx := context.Background()
	ns := env.Namespace
	appA, appB := ns+"-a", ns+"-b"
	ownNS := ns + "-own" // a Namespace the application declares
	t.Cleanup(func() {
		err := env.Clientset.CoreV1().Namespaces().Delete(context.Background(), ownNS, metav1.DeleteOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			t.Error(err)
		}
	})
	namespace := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": ownNS},
	}}
	first := append(render(t, "apply/v1"), configMap("extra"), namespace)
	if _, err := a.Apply(ctx, first, ApplyOptions{AppID: appA, Namespace: ns}); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Apply(ctx, []*unstructured.Unstructured{configMap("other-app")}, ApplyOptions{AppID: appB, Namespace: ns}); err != nil {
		t.Fatal(err)
	}
	// An object PipeCD's piped applied for the same application id.
	legacy := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "from-piped", Labels: map[string]string{
		LabelPipeCDManagedBy: ManagedByPiped, LabelPipeCDApplication: appA,
	}, Annotations: map[string]string{AnnotationPipeCDResourceKey: "v1:ConfigMap:" + ns + ":from-piped"}}}
	if _, err := env.Clientset.CoreV1().ConfigMaps(ns).Create(ctx, legacy, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	// The second commit drops the Deployment, the Service, "extra" and the
	// Namespace.
	logs := &logLines{t: t}
	res, err := a.Apply(ctx, render(t, "apply/v1")[:1], ApplyOptions{AppID: appA, Namespace: ns, Prune: true, AdoptPipeCD: true, Log: logs.log})
	if err != nil {
		t.Fatal(err)
	}
	var pruned []string
	for _, k := range res.Pruned {
		pruned = append(pruned, k.String())
	}
	want := []string{
		"apps:Deployment:" + ns + ":web",
		":Service:" + ns + ":web",
		":ConfigMap:" + ns + ":extra",
		":ConfigMap:" + ns + ":from-piped",
	}
	slices.Sort(want)
	slices.Sort(pruned)
	if diff := cmp.Diff(want, pruned); diff != "" {
		t.Errorf("pruned (-want +got):\n%s", diff)
	}
	if !slices.Contains(logs.take(), "kept v1/Namespace "+ownNS+": Namespace is pruned only when allowed, since deleting one deletes everything in it") {
		t.Error("no log line says the Namespace was kept")
	}
	for _, name := range []string{"web-config", "other-app"} {
		if _, err := env.Clientset.CoreV1().ConfigMaps(ns).Get(ctx, name, metav1.GetOptions{}); err != nil {
			t.Errorf("ConfigMap %s: %v; want it kept", name, err)
		}
	}
	if _, err := env.Clientset.CoreV1().Namespaces().Get(ctx, ownNS, metav1.GetOptions{}); err != nil {
		t.Errorf("Namespace %s: %v; want it kept", ownNS, err)
	}
	if _, err := env.Clientset.AppsV1().Deployments(ns).Get(ctx, "web", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("Deployment web: %v; want it gone", err)
	}
}
