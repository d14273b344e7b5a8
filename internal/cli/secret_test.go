package cli

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"

	fage "filippo.io/age"

	"github.com/ferrycd/ferry/internal/secrets"
)

// `ferry secret encrypt` seals stdin so the agent's key pair opens it.
func TestSecretEncryptSealsStdinForTheKeyPair(t *testing.T) {
	priv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	pubDER, _ := x509.MarshalPKIXPublicKey(&priv.PublicKey)
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})
	privPEM := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(priv)})
	pubFile := filepath.Join(t.TempDir(), "public-key")
	if err := os.WriteFile(pubFile, pubPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	kp, err := secrets.NewKeyPair(privPEM, pubPEM, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"secret", "encrypt", "--public-key", pubFile}, "p@ss word"},
		{[]string{"secret", "encrypt", "--public-key", pubFile, "--base64"}, "cEBzcyB3b3Jk"},
	} {
		root := NewRootCmd()
		var out bytes.Buffer
		root.SetArgs(tc.args)
		root.SetIn(strings.NewReader("p@ss word"))
		root.SetOut(&out)
		if err := root.Execute(); err != nil {
			t.Fatalf("%v: %v", tc.args, err)
		}
		if strings.Contains(out.String(), "p@ss") {
			t.Errorf("%v printed the value", tc.args)
		}
		got, err := kp.Decrypt(strings.TrimSpace(out.String()))
		if err != nil || got != tc.want {
			t.Errorf("%v: decrypted %q, %v; want %q", tc.args, got, err, tc.want)
		}
	}

	// An age recipient: the value opens with the identity.
	id, err := fage.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	recipientFile := filepath.Join(t.TempDir(), "recipient")
	if err := os.WriteFile(recipientFile, []byte(id.Recipient().String()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ak, err := secrets.NewAgeKeys([]byte(id.String()), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	root := NewRootCmd()
	var out bytes.Buffer
	root.SetArgs([]string{"secret", "encrypt", "--public-key", recipientFile})
	root.SetIn(strings.NewReader("age value"))
	root.SetOut(&out)
	if err := root.Execute(); err != nil {
		t.Fatal(err)
	}
	if got, err := ak.Decrypt(strings.TrimSpace(out.String())); err != nil || got != "age value" {
		t.Errorf("age: decrypted %q, %v", got, err)
	}

	root = NewRootCmd()
	root.SetArgs([]string{"secret", "encrypt"})
	root.SetIn(strings.NewReader("x"))
	root.SetOut(&bytes.Buffer{})
	root.SetErr(&bytes.Buffer{})
	if err := root.Execute(); err == nil || !strings.Contains(err.Error(), "--public-key is required") {
		t.Errorf("without --public-key: err = %v", err)
	}
}
