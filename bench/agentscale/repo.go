package agentscale

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/ferrycd/ferry/bench/internal/benchkit"
)

// appName is the name (and directory under apps/) of the i-th application,
// from 1.
func appName(i int) string { return fmt.Sprintf("app%04d", i) }

// namespaceOf is the namespace of the i-th application: PerNamespace
// applications share one.
func (r *rig) namespaceOf(i int) string {
	return fmt.Sprintf("bench-%03d", (i-1)/r.opts.PerNamespace)
}

// initRepo makes the repository with a first commit, so the branch exists
// before any application does.
func initRepo(dir string) (string, error) {
	if _, err := benchkit.Git(dir, "init", "-q", "-b", "main"); err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(dir, "README.md"), []byte("agentscale bench\n"), 0o644); err != nil {
		return "", err
	}
	return dir, benchkit.Commit(dir, "empty")
}

// writeApp writes the i-th application: its PipeCD config, a Deployment of
// one replica and a ConfigMap.
func (r *rig) writeApp(i int) error {
	name, ns := appName(i), r.namespaceOf(i)
	d := filepath.Join(r.repo, "apps", name)
	if err := os.MkdirAll(d, 0o755); err != nil {
		return err
	}
	files := map[string]string{
		"app.pipecd.yaml": fmt.Sprintf(`apiVersion: pipecd.dev/v1beta1
kind: KubernetesApp
spec:
  name: %s
  input: {namespace: %s}
`, name, ns),
		"deployment.yaml": fmt.Sprintf(`apiVersion: apps/v1
kind: Deployment
metadata: {name: %[1]s}
spec:
  replicas: 1
  selector: {matchLabels: {app: %[1]s}}
  template:
    metadata: {labels: {app: %[1]s}}
    spec:
      containers:
        - {name: web, image: "registry.example/web:1"}
`, name),
		"configmap.yaml": fmt.Sprintf(`apiVersion: v1
kind: ConfigMap
metadata: {name: %s}
data: {%s: "%s"}
`, name, configKey, configValue),
	}
	for f, body := range files {
		if err := os.WriteFile(filepath.Join(d, f), []byte(body), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// The ConfigMap key a configmap edit changes, and its value in Git.
const (
	configKey   = "greeting"
	configValue = "hello"
)

// ensureNamespaces creates the namespaces of applications from..to: the
// bench makes them, so no application owns a shared namespace.
func (r *rig) ensureNamespaces(ctx context.Context, from, to int) error {
	last := ""
	for i := from; i <= to; i++ {
		ns := r.namespaceOf(i)
		if ns == last {
			continue
		}
		last = ns
		obj := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}
		if _, err := r.kube.CoreV1().Namespaces().Create(ctx, obj, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("create namespace %s: %w", ns, err)
		}
	}
	return nil
}

// notify tells the control plane of a push through the generic webhook, so
// the agent fetches at once instead of on its next poll.
func (r *rig) notify(ctx context.Context) error {
	head, err := benchkit.Git(r.repo, "rev-parse", "HEAD")
	if err != nil {
		return err
	}
	body, _ := json.Marshal(map[string]string{"repository": "file://" + r.repo, "branch": "main", "commit": head})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.srv.Addr()+"/webhooks/generic", bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+r.webhook)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("webhook: %w", err)
	}
	defer res.Body.Close()
	out, _ := io.ReadAll(res.Body)
	var counts struct{ Notified int }
	if res.StatusCode != http.StatusOK || json.Unmarshal(out, &counts) != nil || counts.Notified == 0 {
		r.log.Warn("the webhook reached no agent; it fetches on its next poll (1m)", "status", res.StatusCode, "body", strings.TrimSpace(string(out)))
	}
	return nil
}
