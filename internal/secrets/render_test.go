package secrets

import (
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ferrycd/ferry/internal/config"
)

const secretTemplate = `apiVersion: v1
kind: Secret
metadata:
  name: db
stringData:
  password: "{{ .encryptedSecrets.password }}"
`

// writeRepo writes files (path: content) under a new directory.
func writeRepo(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestPrepareRendersACopyAndLeavesTheCheckout(t *testing.T) {
	k := newTestKey(t)
	repo := writeRepo(t, map[string]string{
		"app/secret.yaml": secretTemplate,
		"app/other.yaml":  "kind: ConfigMap # {{ not a template }}\n",
		".git/HEAD":       "ref: refs/heads/main\n",
		"base/x.yaml":     "kind: x\n",
	})
	if err := os.Symlink("../base/x.yaml", filepath.Join(repo, "app", "link.yaml")); err != nil {
		t.Fatal(err)
	}
	enc := &config.Encryption{
		EncryptedSecrets:  map[string]string{"password": sealPipeCD(t, &k.priv.PublicKey, "hunter2")},
		DecryptionTargets: []string{"secret.yaml"},
	}
	p, err := Prepare(repo, filepath.Join(repo, "app"), enc, mustKeyPair(t, k, nil))
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(p.AppDir, "secret.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(got), `password: "hunter2"`) {
		t.Errorf("rendered secret.yaml:\n%s", got)
	}
	for name, want := range map[string]string{"other.yaml": "{{ not a template }}", "link.yaml": "kind: x"} {
		if b, err := os.ReadFile(filepath.Join(p.AppDir, name)); err != nil || !strings.Contains(string(b), want) {
			t.Errorf("%s in the copy = %q, %v; want it as in the checkout", name, b, err)
		}
	}
	if _, err := os.Stat(filepath.Join(p.RepoDir, ".git")); !os.IsNotExist(err) {
		t.Errorf(".git was copied (stat err %v)", err)
	}
	if b, _ := os.ReadFile(filepath.Join(repo, "app", "secret.yaml")); string(b) != secretTemplate {
		t.Errorf("the checkout's secret.yaml changed:\n%s", b)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(p.RepoDir); !os.IsNotExist(err) {
		t.Errorf("the copy is still there after Close (stat err %v)", err)
	}
}

func TestPrepareErrorsNameTheFileAndKey(t *testing.T) {
	k := newTestKey(t)
	kp := mustKeyPair(t, k, nil)
	outside := writeRepo(t, map[string]string{"secret.yaml": secretTemplate})
	repo := writeRepo(t, map[string]string{
		"app/secret.yaml": secretTemplate,
		"app/typo.yaml":   "x: {{ .encryptedSecrets.pasword }}\n",
	})
	if err := os.Symlink(filepath.Join(outside, "secret.yaml"), filepath.Join(repo, "app", "escape.yaml")); err != nil {
		t.Fatal(err)
	}
	good := map[string]string{"password": sealPipeCD(t, &k.priv.PublicKey, "hunter2")}
	bad := map[string]string{"password": base64.StdEncoding.EncodeToString([]byte("garbage garbage"))}
	for name, tc := range map[string]struct {
		secrets map[string]string
		targets []string
		d       Decrypter
		want    []string
	}{
		"no secretManagement": {good, []string{"secret.yaml"}, nil, []string{"this agent has no secretManagement; the values are not decrypted"}},
		"undecryptable":       {bad, []string{"secret.yaml"}, kp, []string{"encryption.encryptedSecrets.password"}},
		"missing name":        {good, []string{"typo.yaml"}, kp, []string{"typo.yaml:1", `"pasword"`}},
		"parent path":         {good, []string{"../app/secret.yaml"}, kp, []string{"../app/secret.yaml is not inside the application directory"}},
		"absolute path":       {good, []string{"/etc/passwd"}, kp, []string{"/etc/passwd is not inside the application directory"}},
		"symlink out":         {good, []string{"escape.yaml"}, kp, []string{"escape.yaml leads outside the application directory"}},
		"missing file":        {good, []string{"nope.yaml"}, kp, []string{"decryptionTargets: nope.yaml"}},
	} {
		enc := &config.Encryption{EncryptedSecrets: tc.secrets, DecryptionTargets: tc.targets}
		p, err := Prepare(repo, filepath.Join(repo, "app"), enc, tc.d)
		if err == nil {
			_ = p.Close()
			t.Errorf("%s: no error", name)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: err = %v, want it to say %q", name, err, w)
			}
		}
		if strings.Contains(err.Error(), "hunter2") {
			t.Errorf("%s: the error shows the decrypted value: %v", name, err)
		}
		if name == "no secretManagement" && !errors.Is(err, ErrNoSecretManagement) {
			t.Errorf("%s: err is not ErrNoSecretManagement", name)
		}
	}
	entries, _ := filepath.Glob(filepath.Join(os.TempDir(), "ferry-secrets-*"))
	for _, e := range entries {
		if b, err := os.ReadFile(filepath.Join(e, "repo", "app", "secret.yaml")); err == nil && strings.Contains(string(b), "hunter2") {
			t.Errorf("a failed Prepare left its copy with the value: %s", e)
		}
	}
}

func TestFromConfigReadsPipeCDKeyFields(t *testing.T) {
	k := newTestKey(t)
	dir := t.TempDir()
	pubFile := filepath.Join(dir, "public-key")
	if err := os.WriteFile(pubFile, k.pubPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	kp, err := FromConfig(&config.SecretManagement{Type: "KEY_PAIR", Config: config.SecretKeyPair{
		PrivateKeyData: base64.StdEncoding.EncodeToString(k.privPEM), PublicKeyFile: pubFile,
	}})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := kp.Decrypt(sealPipeCD(t, &k.priv.PublicKey, "v")); err != nil || got != "v" {
		t.Errorf("Decrypt = %q, %v", got, err)
	}
	if kp, err := FromConfig(nil); kp != nil || err != nil {
		t.Errorf("FromConfig(nil) = %v, %v; want nil, nil", kp, err)
	}
	_, err = FromConfig(&config.SecretManagement{Type: "KEY_PAIR", Config: config.SecretKeyPair{
		PrivateKeyFile: filepath.Join(dir, "missing"), PublicKeyFile: pubFile,
	}})
	if err == nil || !strings.Contains(err.Error(), "privateKeyFile") {
		t.Errorf("missing key file: err = %v", err)
	}
}

// Redact takes every decrypted value, the longest first, and the private
// copy's path out of an error of whatever rendered the copy, so a parser
// quoting a line cannot carry a value into a stage log.
func TestRedactTakesTheValuesAndTheCopysPathOutOfAnError(t *testing.T) {
	k := newTestKey(t)
	repo := writeRepo(t, map[string]string{"app/secret.yaml": secretTemplate})
	enc := &config.Encryption{
		EncryptedSecrets: map[string]string{
			"password": sealPipeCD(t, &k.priv.PublicKey, "hunter2"),
			"longer":   sealPipeCD(t, &k.priv.PublicKey, "hunter2-and-more"),
		},
		DecryptionTargets: []string{"secret.yaml"},
	}
	p, err := Prepare(repo, filepath.Join(repo, "app"), enc, mustKeyPair(t, k, nil))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	err = p.Redact(fmt.Errorf("%s/secret.yaml: line 5: bad value hunter2-and-more near hunter2", p.AppDir))
	want := filepath.Join(repo, "app") + "/secret.yaml: line 5: bad value *** near ***"
	if err == nil || err.Error() != want {
		t.Errorf("Redact = %v, want %q", err, want)
	}
	plain := errors.New("no value here")
	if got := p.Redact(plain); !errors.Is(got, plain) || got.Error() != plain.Error() {
		t.Errorf("Redact of an error without a value = %v, want it unchanged", got)
	}
}
