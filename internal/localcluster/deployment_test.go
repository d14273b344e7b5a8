package localcluster_test

import (
	"context"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/ferrycd/ferry/internal/testenv"
)

func TestDeploymentRollsOutAndUpdatesItsImage(t *testing.T) {
	env := testenv.Kube(t)
	ctx := context.Background()
	deploys := env.Clientset.AppsV1().Deployments(env.Namespace)

	d, err := deploys.Create(ctx, deployment("web", "registry.example/web:1.0", 3), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	waitRolledOut(t, env.Clientset, d.Namespace, d.Name)
	assertPodImages(t, env.Clientset, d.Namespace, "registry.example/web:1.0", 3)

	d, err = deploys.Get(ctx, d.Name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	d.Spec.Template.Spec.Containers[0].Image = "registry.example/web:1.1"
	if _, err := deploys.Update(ctx, d, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitRolledOut(t, env.Clientset, d.Namespace, d.Name)
	assertPodImages(t, env.Clientset, d.Namespace, "registry.example/web:1.1", 3)
}

// deployment returns a Deployment of replicas pods running image.
func deployment(name, image string, replicas int32) *appsv1.Deployment {
	labels := map[string]string{"app": name}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{
					Name: name, Image: image,
					Ports: []corev1.ContainerPort{{ContainerPort: 8080}},
				}}},
			},
		},
	}
}

// waitRolledOut waits until the Deployment's latest spec is fully rolled
// out, by the rules of `kubectl rollout status`: observed, every replica
// updated and available, no old replica left.
func waitRolledOut(t *testing.T, cs kubernetes.Interface, ns, name string) {
	t.Helper()
	waitUntil(t, time.Minute, "deployment "+name+" to roll out", func(ctx context.Context) (bool, error) {
		d, err := cs.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		want := *d.Spec.Replicas
		s := d.Status
		return s.ObservedGeneration >= d.Generation && s.UpdatedReplicas == want &&
			s.Replicas == want && s.AvailableReplicas == want && s.UnavailableReplicas == 0, nil
	})
}

// assertPodImages checks that the namespace holds exactly n pods, all
// Running, Ready and with image, once terminating pods are gone.
func assertPodImages(t *testing.T, cs kubernetes.Interface, ns, image string, n int) {
	t.Helper()
	var last string
	waitUntil(t, 30*time.Second, "old pods to go", func(ctx context.Context) (bool, error) {
		pods, err := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, err
		}
		good := 0
		for _, p := range pods.Items {
			if p.Spec.Containers[0].Image == image && p.Status.Phase == corev1.PodRunning && podReady(&p) && p.Spec.NodeName != "" {
				good++
			}
		}
		last = ""
		for _, p := range pods.Items {
			last += " " + p.Name + "=" + p.Spec.Containers[0].Image + "/" + string(p.Status.Phase)
		}
		return good == n && len(pods.Items) == n, nil
	})
	t.Logf("pods:%s", last)
}

func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}
