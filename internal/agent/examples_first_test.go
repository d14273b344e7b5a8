package agent_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/ferrycd/ferry/internal/platform/kubernetes"
)

// deploymentOf gets a Deployment of the examples' namespace.
func (e *examplesEnv) deploymentOf(t *testing.T, name string) *appsv1.Deployment {
	t.Helper()
	d, err := e.kube.Clientset.AppsV1().Deployments(e.kube.Namespace).Get(e.ctx, name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// configMapOf gets a ConfigMap of the examples' namespace.
func (e *examplesEnv) configMapOf(t *testing.T, name string) *corev1.ConfigMap {
	t.Helper()
	cm, err := e.kube.Clientset.CoreV1().ConfigMaps(e.kube.Namespace).Get(e.ctx, name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return cm
}

// checkWorkload checks a Deployment's image and that all its wanted
// replicas are available.
func checkWorkload(t *testing.T, d *appsv1.Deployment, image string, replicas int32) {
	t.Helper()
	if img := d.Spec.Template.Spec.Containers[0].Image; img != image {
		t.Errorf("%s: image = %s, want %s", d.Name, img, image)
	}
	if *d.Spec.Replicas != replicas || d.Status.AvailableReplicas != replicas {
		t.Errorf("%s: replicas = %d (%d available), want %d", d.Name, *d.Spec.Replicas, d.Status.AvailableReplicas, replicas)
	}
}

// firstDeployChecks check in the cluster what an example's first
// deployment made, beyond its success.
var firstDeployChecks = map[string]func(*testing.T, *examplesEnv){
	"simple": func(t *testing.T, e *examplesEnv) {
		checkWorkload(t, e.deploymentOf(t, "simple"), "ghcr.io/ferrycd/greeter:v1", 2)
		// input.manifests lists deployment.yaml and service.yaml only.
		if _, err := e.kube.Clientset.CoreV1().Pods(e.kube.Namespace).Get(e.ctx, "simple-debug", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Errorf("debug-pod.yaml, not in input.manifests, was applied: %v", err)
		}
	},
	"kustomize-local-base": func(t *testing.T, e *examplesEnv) {
		d := e.deploymentOf(t, "greeter")
		if d.Labels["env"] != "prod" || d.Labels["app.kubernetes.io/part-of"] != "greeter" || d.Labels[kubernetes.LabelManagedBy] == "" {
			t.Errorf("labels = %v, want the overlay's env=prod, the base's part-of and Ferry's", d.Labels)
		}
		checkWorkload(t, d, "ghcr.io/ferrycd/greeter:v2", 2) // the overlay's tag and replicas
		svc, err := e.kube.Clientset.CoreV1().Services(e.kube.Namespace).Get(e.ctx, "greeter", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(map[string]string{"app": "greeter"}, svc.Spec.Selector); diff != "" {
			t.Errorf("service selector (-want +got), labels stay out of selectors:\n%s", diff)
		}
	},
	"kustomize-remote-base": func(t *testing.T, e *examplesEnv) {
		d := e.deploymentOf(t, "shared-greeter")
		if d.Labels["env"] != "prod" || d.Labels["app.kubernetes.io/part-of"] != "greeter" {
			t.Errorf("labels = %v, want the overlay's env=prod and the remote base's part-of", d.Labels)
		}
		checkWorkload(t, d, "ghcr.io/ferrycd/greeter:v1", 2) // the overlay's over the base's v0 and 1
	},
	"helm-local-chart": func(t *testing.T, e *examplesEnv) {
		d := e.deploymentOf(t, "helm-local-chart")
		if d.Labels["helm.sh/chart"] != "greeter-0.1.0" || d.Labels["app.kubernetes.io/instance"] != "helm-local-chart" {
			t.Errorf("labels = %v, want the chart's, with the release name", d.Labels)
		}
		checkWorkload(t, d, "ghcr.io/ferrycd/greeter:v3", 2) // setValues' tag, values-prod.yaml's replicas
		want := map[string]string{
			"greeting":    "hello from prod",          // values-prod.yaml
			"banner":      "Welcome to the greeter\n", // setFiles
			"kubeVersion": "v1.32.0",                  // kubeVersion
			"monitoring":  "true",                     // apiVersions
		}
		if diff := cmp.Diff(want, e.configMapOf(t, "helm-local-chart").Data); diff != "" {
			t.Errorf("ConfigMap (-want +got):\n%s", diff)
		}
	},
	"helm-remote-chart": func(t *testing.T, e *examplesEnv) {
		d := e.deploymentOf(t, "helm-remote-chart")
		if d.Labels["helm.sh/chart"] != "greeter-1.0.0" {
			t.Errorf("labels = %v, want the chart repository's greeter 1.0.0", d.Labels)
		}
		checkWorkload(t, d, "ghcr.io/ferrycd/greeter:v1", 2) // values.yaml over the chart's
		if got := e.configMapOf(t, "helm-remote-chart").Data["greeting"]; got != "hello from a chart repository" {
			t.Errorf("greeting = %q, want values.yaml's", got)
		}
	},
	"helm-remote-git-chart": func(t *testing.T, e *examplesEnv) {
		d := e.deploymentOf(t, "greeter-from-git") // helmOptions.releaseName
		if d.Labels["helm.sh/chart"] != "greeter-1.0.0" {
			t.Errorf("labels = %v, want the chart at the tag v1.0.0", d.Labels)
		}
		checkWorkload(t, d, "ghcr.io/ferrycd/greeter:v1", 2)
		if got := e.configMapOf(t, "greeter-from-git").Data["greeting"]; got != "hello from another repository" {
			t.Errorf("greeting = %q, want values.yaml's", got)
		}
	},
	"secret-management": func(t *testing.T, e *examplesEnv) {
		s, err := e.kube.Clientset.CoreV1().Secrets(e.kube.Namespace).Get(e.ctx, "secret-management", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if got := string(s.Data["password"]); got != "greeter-db-password" {
			t.Errorf("password = %q, want the decrypted one", got)
		}
		if got := string(s.Data["apiToken"]); got != "greeter-api-token" {
			t.Errorf("apiToken = %q, want the decrypted one", got)
		}
		// Ferry does not attach files yet: the ConfigMap keeps the template
		// as written, and the application says so (spec.attachment is one
		// of its warnings, checked above).
		if got := e.configMapOf(t, "secret-management").Data["motd"]; got != "{{ .attachment.motd }}" {
			t.Errorf("motd = %q, want the template as written until attachments are built", got)
		}
	},
}
