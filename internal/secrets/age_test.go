package secrets

import (
	"bytes"
	"encoding/base64"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"filippo.io/age"
	"filippo.io/age/armor"

	"github.com/ferrycd/ferry/internal/config"
)

// identityFile is an identity as age-keygen writes it, comments included.
func identityFile(id *age.X25519Identity) []byte {
	return []byte("# created: 2026-01-01T00:00:00Z\n# public key: " + id.Recipient().String() + "\n" + id.String() + "\n")
}

func newAgeKeys(t *testing.T, id *age.X25519Identity, old *age.X25519Identity) *AgeKeys {
	t.Helper()
	var oldFile []byte
	if old != nil {
		oldFile = identityFile(old)
	}
	k, err := NewAgeKeys(identityFile(id), []byte(id.Recipient().String()), oldFile)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// sealAge seals plaintext with the age library itself, armored or as
// base64 of the binary file.
func sealAge(t *testing.T, r age.Recipient, plaintext string, armored bool) string {
	t.Helper()
	var out bytes.Buffer
	var dst io.Writer = &out
	var aw io.WriteCloser
	if armored {
		aw = armor.NewWriter(&out)
		dst = aw
	}
	w, err := age.Encrypt(dst, r)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write([]byte(plaintext)); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if aw != nil {
		if err := aw.Close(); err != nil {
			t.Fatal(err)
		}
		return out.String()
	}
	return base64.StdEncoding.EncodeToString(out.Bytes())
}

func TestAgeKeysDecrypt(t *testing.T) {
	id, _ := age.GenerateX25519Identity()
	old, _ := age.GenerateX25519Identity()
	other, _ := age.GenerateX25519Identity()
	k := newAgeKeys(t, id, old)
	for name, tc := range map[string]struct{ ct, want string }{
		"base64":     {sealAge(t, id.Recipient(), "b64 value", false), "b64 value"},
		"armored":    {sealAge(t, id.Recipient(), "armored value", true), "armored value"},
		"old key":    {sealAge(t, old.Recipient(), "old value", false), "old value"},
		"EncryptAge": {must(t)(EncryptAge(id.Recipient().String(), []byte("by EncryptAge"))), "by EncryptAge"},
	} {
		if got, err := k.Decrypt(tc.ct); err != nil || got != tc.want {
			t.Errorf("%s: Decrypt = %q, %v; want %q", name, got, err, tc.want)
		}
	}
	if _, err := k.Decrypt(sealAge(t, other.Recipient(), "x", false)); err == nil || !strings.Contains(err.Error(), "does not open it") {
		t.Errorf("another recipient's value: err = %v", err)
	}
	if _, err := k.Decrypt(base64.StdEncoding.EncodeToString([]byte("not age"))); err == nil || !strings.Contains(err.Error(), "not an age ciphertext") {
		t.Errorf("garbage: err = %v", err)
	}
	if _, err := NewAgeKeys(identityFile(id), []byte(other.Recipient().String()), nil); err == nil || !strings.Contains(err.Error(), "not the recipient") {
		t.Errorf("mismatched recipient: err = %v", err)
	}
}

// TestAgeKeysDecryptTheAgeCLI seals with the age command-line tool, when
// installed: values made by users' own tools decrypt.
func TestAgeKeysDecryptTheAgeCLI(t *testing.T) {
	if _, err := exec.LookPath("age"); err != nil {
		t.Skip("the age CLI is not installed")
	}
	id, _ := age.GenerateX25519Identity()
	dir := t.TempDir()
	idFile := filepath.Join(dir, "identity")
	if err := os.WriteFile(idFile, identityFile(id), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("age", "--armor", "-r", id.Recipient().String())
	cmd.Stdin = strings.NewReader("from the age CLI")
	ct, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	d, err := FromConfig(&config.SecretManagement{Type: config.SecretManagementAge, Config: config.SecretKeyPair{PrivateKeyFile: idFile}})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := d.Decrypt(string(ct)); err != nil || got != "from the age CLI" {
		t.Errorf("Decrypt = %q, %v", got, err)
	}
}

func must(t *testing.T) func(string, error) string {
	return func(s string, err error) string {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
}
