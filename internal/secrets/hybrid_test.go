package secrets

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// testKey is one RSA key pair a test generated, with its PEM forms.
type testKey struct {
	priv            *rsa.PrivateKey
	privPEM, pubPEM []byte
}

func newTestKey(t *testing.T) testKey {
	t.Helper()
	priv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	p8, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := x509.MarshalPKIXPublicKey(&priv.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return testKey{
		priv:    priv,
		privPEM: pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: p8}),
		pubPEM:  pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub}),
	}
}

// sealPipeCD seals plaintext by PipeCD's scheme, written out here with the
// standard library rather than through Encrypt, so the test does not check
// the package against itself.
func sealPipeCD(t *testing.T, pub *rsa.PublicKey, plaintext string) string {
	t.Helper()
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		t.Fatal(err)
	}
	wrapped, err := rsa.EncryptOAEP(sha256.New(), rand.Reader, pub, key, nil)
	if err != nil {
		t.Fatal(err)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		t.Fatal(err)
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		t.Fatal(err)
	}
	out := []byte{byte(len(wrapped) >> 8), byte(len(wrapped))}
	out = append(out, wrapped...)
	out = gcm.Seal(out, make([]byte, 12), []byte(plaintext), nil)
	return base64.StdEncoding.EncodeToString(out)
}

func mustKeyPair(t *testing.T, k testKey, old []byte) *KeyPair {
	t.Helper()
	kp, err := NewKeyPair(k.privPEM, k.pubPEM, old)
	if err != nil {
		t.Fatal(err)
	}
	return kp
}

func TestKeyPairDecryptsPipeCDCiphertexts(t *testing.T) {
	k := newTestKey(t)
	kp := mustKeyPair(t, k, nil)
	for _, plain := range []string{"s3cr3t-p@ss", "", strings.Repeat("long value ", 500), "line1\nline2\n"} {
		got, err := kp.Decrypt(sealPipeCD(t, &k.priv.PublicKey, plain))
		if err != nil || got != plain {
			t.Errorf("Decrypt(seal(%.20q)) = %.20q, %v", plain, got, err)
		}
	}
	// Encrypt, as `ferry` will produce ciphertexts, round-trips too.
	ct, err := Encrypt(&k.priv.PublicKey, []byte("by Encrypt"))
	if err != nil {
		t.Fatal(err)
	}
	if got, err := kp.Decrypt(ct); err != nil || got != "by Encrypt" {
		t.Errorf("Decrypt(Encrypt) = %q, %v", got, err)
	}
	// A YAML folded or literal block leaves spaces and newlines in it.
	ct = sealPipeCD(t, &k.priv.PublicKey, "wrapped")
	if got, err := kp.Decrypt(ct[:40] + "\n  " + ct[40:] + "\n"); err != nil || got != "wrapped" {
		t.Errorf("Decrypt(wrapped ciphertext) = %q, %v", got, err)
	}
}

// TestKeyPairDecryptsPythonCiphertext seals with Python's cryptography
// package (testdata/seal.py): interoperability that does not rest on this
// package's idea of the format.
func TestKeyPairDecryptsPythonCiphertext(t *testing.T) {
	if _, err := exec.LookPath("python3"); err != nil {
		t.Skip("python3 is not installed")
	}
	if err := exec.Command("python3", "-c", "import cryptography").Run(); err != nil {
		t.Skip("python3 has no cryptography package")
	}
	k := newTestKey(t)
	pub := filepath.Join(t.TempDir(), "pub.pem")
	if err := os.WriteFile(pub, k.pubPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("python3", "testdata/seal.py", pub)
	cmd.Stdin = strings.NewReader("from-python ✓")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	ct, err := cmd.Output()
	if err != nil {
		t.Fatalf("seal.py: %v: %s", err, stderr.String())
	}
	got, err := mustKeyPair(t, k, nil).Decrypt(string(ct))
	if err != nil || got != "from-python ✓" {
		t.Errorf("Decrypt(python ciphertext) = %q, %v", got, err)
	}
}

func TestKeyPairRotationTriesTheOldKey(t *testing.T) {
	current, old := newTestKey(t), newTestKey(t)
	kp := mustKeyPair(t, current, old.privPEM)
	for name, pub := range map[string]*rsa.PublicKey{"current": &current.priv.PublicKey, "old": &old.priv.PublicKey} {
		if got, err := kp.Decrypt(sealPipeCD(t, pub, name)); err != nil || got != name {
			t.Errorf("%s key: Decrypt = %q, %v", name, got, err)
		}
	}
	// Without the old key, its values no longer decrypt.
	if _, err := mustKeyPair(t, current, nil).Decrypt(sealPipeCD(t, &old.priv.PublicKey, "x")); err == nil {
		t.Error("a value sealed for another key decrypted")
	}
}

func TestKeyPairRefusesBadCiphertexts(t *testing.T) {
	k := newTestKey(t)
	kp := mustKeyPair(t, k, nil)
	good, _ := base64.StdEncoding.DecodeString(sealPipeCD(t, &k.priv.PublicKey, "value"))
	tampered := bytes.Clone(good)
	tampered[len(tampered)-1] ^= 1
	other := newTestKey(t)
	for name, tc := range map[string]struct{ ct, want string }{
		"not base64":  {"%%%", "not base64"},
		"too short":   {"AQ==", "too short"},
		"truncated":   {base64.StdEncoding.EncodeToString(good[:100]), "truncated"},
		"tampered":    {base64.StdEncoding.EncodeToString(tampered), "authentication tag"},
		"another key": {sealPipeCD(t, &other.priv.PublicKey, "value"), "this agent's public key"},
	} {
		_, err := kp.Decrypt(tc.ct)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want it to say %q", name, err, tc.want)
		}
	}
}

func TestNewKeyPairChecksTheKeys(t *testing.T) {
	a, b := newTestKey(t), newTestKey(t)
	p1 := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(a.priv)})
	if _, err := NewKeyPair(p1, a.pubPEM, nil); err != nil {
		t.Errorf("PKCS #1 private key: %v", err)
	}
	for name, tc := range map[string]struct {
		priv, pub []byte
		want      string
	}{
		"mismatched": {a.privPEM, b.pubPEM, "not the public half"},
		"not pem":    {[]byte("hello"), a.pubPEM, "privateKey: not a PEM key"},
		"public pem": {a.privPEM, []byte("x"), "publicKey: not a PEM key"},
	} {
		_, err := NewKeyPair(tc.priv, tc.pub, nil)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want %q", name, err, tc.want)
		}
	}
}
