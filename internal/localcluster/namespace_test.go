package localcluster_test

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/ferrycd/ferry/internal/testenv"
)

func TestDeletingANamespaceWithWorkloadsCompletes(t *testing.T) {
	env := testenv.Kube(t)
	ctx := context.Background()
	ns, err := env.Clientset.CoreV1().Namespaces().Create(ctx,
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: env.Namespace + "-doomed"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := env.Clientset.CoreV1().ConfigMaps(ns.Name).Create(ctx,
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "settings"}, Data: map[string]string{"a": "b"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	d, err := env.Clientset.AppsV1().Deployments(ns.Name).Create(ctx, deployment("api", "registry.example/api:2", 2), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	waitRolledOut(t, env.Clientset, ns.Name, d.Name)

	if err := env.Clientset.CoreV1().Namespaces().Delete(ctx, ns.Name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	// The namespace controller deletes the Deployment, its ReplicaSet and
	// pods (kwok lets terminating pods go) and then the namespace itself.
	waitUntil(t, time.Minute, "namespace "+ns.Name+" to be gone", func(ctx context.Context) (bool, error) {
		_, err := env.Clientset.CoreV1().Namespaces().Get(ctx, ns.Name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return true, nil
		}
		return false, err
	})
}
