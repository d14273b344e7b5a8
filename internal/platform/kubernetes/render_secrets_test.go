package kubernetes

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/ferrycd/ferry/internal/config"
	"github.com/ferrycd/ferry/internal/secrets"
)

// sealFor generates a key pair and seals value for it.
func sealFor(t *testing.T, value string) (*secrets.KeyPair, string) {
	t.Helper()
	priv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := x509.MarshalPKIXPublicKey(&priv.PublicKey)
	kp, err := secrets.NewKeyPair(
		pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(priv)}),
		pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub}), nil)
	if err != nil {
		t.Fatal(err)
	}
	ct, err := secrets.Encrypt(&priv.PublicKey, []byte(value))
	if err != nil {
		t.Fatal(err)
	}
	return kp, ct
}

// Decryption targets are rendered before Kustomize and Helm read them,
// and the repository's files are left as written.
func TestRenderDecryptsTargetsForEveryInput(t *testing.T) {
	kp, ct := sealFor(t, "hunter2")
	const secret = "apiVersion: v1\nkind: Secret\nmetadata: {name: db}\nstringData: {password: \"{{ .encryptedSecrets.password }}\"}\n"
	files := map[string]string{
		"plain/secret.yaml":            secret,
		"kustomize/kustomization.yaml": "resources: [secret.yaml]\nnamePrefix: k-\n",
		"kustomize/secret.yaml":        secret,
		"chart/Chart.yaml":             "apiVersion: v2\nname: db\nversion: 0.1.0\n",
		"chart/templates/secret.yaml":  "apiVersion: v1\nkind: Secret\nmetadata: {name: db}\nstringData: {password: {{ .Values.password | quote }}}\n",
		"helm/values-secret.yaml":      "password: \"{{ .encryptedSecrets.password }}\"\n",
	}
	repo := t.TempDir()
	for name, body := range files {
		p := filepath.Join(repo, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		app, target string
		input       config.KubernetesInput
	}{
		{"plain", "secret.yaml", config.KubernetesInput{}},
		{"kustomize", "secret.yaml", config.KubernetesInput{}},
		{"helm", "values-secret.yaml", config.KubernetesInput{
			HelmChart:   &config.HelmChart{Path: "../chart"},
			HelmOptions: &config.HelmOptions{ValueFiles: []string{"values-secret.yaml"}},
		}},
	} {
		enc := &config.Encryption{EncryptedSecrets: map[string]string{"password": ct}, DecryptionTargets: []string{tc.target}}
		objs, err := Render(context.Background(), RenderInput{
			RepoDir: repo, AppDir: tc.app, AppName: "db", Input: tc.input, Encryption: enc, Decrypter: kp,
		})
		if err != nil {
			t.Fatalf("%s: %v", tc.app, err)
		}
		if len(objs) != 1 {
			t.Fatalf("%s: %d objects, want 1", tc.app, len(objs))
		}
		if pw, _, _ := unstructured.NestedString(objs[0].Object, "stringData", "password"); pw != "hunter2" {
			t.Errorf("%s: password = %q, want the decrypted value", tc.app, pw)
		}
		if b, _ := os.ReadFile(filepath.Join(repo, tc.app, tc.target)); !strings.Contains(string(b), "{{ .encryptedSecrets.password }}") {
			t.Errorf("%s: the repository's %s changed:\n%s", tc.app, tc.target, b)
		}
		// Without a decrypter the render fails, naming the reason.
		_, err = Render(context.Background(), RenderInput{RepoDir: repo, AppDir: tc.app, AppName: "db", Input: tc.input, Encryption: enc})
		if err == nil || !strings.Contains(err.Error(), "this agent has no secretManagement") {
			t.Errorf("%s without a decrypter: err = %v", tc.app, err)
		}
	}
}
