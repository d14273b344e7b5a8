package secrets

import (
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"os"

	"github.com/ferrycd/ferry/internal/config"
)

// KeyPair decrypts with an agent's RSA private key (KEY_PAIR), and during
// a key rotation with the old one too.
type KeyPair struct {
	keys      []*rsa.PrivateKey // the current key first
	publicPEM []byte
}

var _ Decrypter = (*KeyPair)(nil)

// FromConfig loads the keys an agent config's secretManagement names: a
// *KeyPair for KEY_PAIR, an *AgeKeys for AGE. It returns nil, nil when m
// is nil: the agent decrypts nothing.
func FromConfig(m *config.SecretManagement) (Decrypter, error) {
	if m == nil {
		return nil, nil
	}
	c := m.Config
	priv, err := readKey("privateKey", c.PrivateKeyFile, c.PrivateKeyData)
	if err != nil {
		return nil, err
	}
	var pub, old []byte
	if c.PublicKeyFile != "" || c.PublicKeyData != "" {
		if pub, err = readKey("publicKey", c.PublicKeyFile, c.PublicKeyData); err != nil {
			return nil, err
		}
	}
	if c.OldPrivateKeyFile != "" || c.OldPrivateKeyData != "" {
		if old, err = readKey("oldPrivateKey", c.OldPrivateKeyFile, c.OldPrivateKeyData); err != nil {
			return nil, err
		}
	}
	switch m.Type {
	case config.SecretManagementKeyPair:
		return NewKeyPair(priv, pub, old)
	case config.SecretManagementAge:
		return NewAgeKeys(priv, pub, old)
	}
	return nil, fmt.Errorf("secretManagement: type %q is not supported: use %s or %s", m.Type, config.SecretManagementKeyPair, config.SecretManagementAge)
}

// readKey reads a PEM key from its file, or decodes it from the base64 of
// its *Data field.
func readKey(name, file, data string) ([]byte, error) {
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return nil, fmt.Errorf("secretManagement: %sFile: %w", name, err)
		}
		return b, nil
	}
	b, err := base64.StdEncoding.DecodeString(data)
	if err != nil {
		return nil, fmt.Errorf("secretManagement: %sData must be the key file's content base64-encoded: %w", name, err)
	}
	return b, nil
}

// NewKeyPair parses PEM keys: the private key (PKCS #1 or PKCS #8), its
// public key (PKIX or PKCS #1), which must match it, and an optional old
// private key tried when the current one cannot decrypt a value.
func NewKeyPair(privatePEM, publicPEM, oldPrivatePEM []byte) (*KeyPair, error) {
	priv, err := parsePrivate(privatePEM)
	if err != nil {
		return nil, fmt.Errorf("secretManagement: privateKey: %w", err)
	}
	pub, err := ParsePublicKey(publicPEM)
	if err != nil {
		return nil, fmt.Errorf("secretManagement: publicKey: %w", err)
	}
	if !priv.PublicKey.Equal(pub) {
		return nil, errors.New("secretManagement: publicKey is not the public half of privateKey")
	}
	kp := &KeyPair{keys: []*rsa.PrivateKey{priv}, publicPEM: publicPEM}
	if len(oldPrivatePEM) > 0 {
		old, err := parsePrivate(oldPrivatePEM)
		if err != nil {
			return nil, fmt.Errorf("secretManagement: oldPrivateKey: %w", err)
		}
		kp.keys = append(kp.keys, old)
	}
	return kp, nil
}

// PublicKeyPEM is the public key values are encrypted with, as configured.
func (k *KeyPair) PublicKeyPEM() []byte { return k.publicPEM }

// Decrypt implements Decrypter: it opens a base64 ciphertext with the
// current key, then with the old one.
func (k *KeyPair) Decrypt(ciphertext string) (string, error) {
	ct, err := decodeCiphertext(ciphertext)
	if err != nil {
		return "", err
	}
	var first error
	for _, key := range k.keys {
		plain, err := decrypt(key, ct)
		if err == nil {
			return string(plain), nil
		}
		if first == nil {
			first = err
		}
	}
	return "", first
}

func parsePrivate(data []byte) (*rsa.PrivateKey, error) {
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, errors.New("not a PEM key (expected -----BEGIN PRIVATE KEY-----, as `openssl genpkey -algorithm RSA` writes)")
	}
	if k, err := x509.ParsePKCS1PrivateKey(block.Bytes); err == nil {
		return k, nil
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("parse %s: %w", block.Type, err)
	}
	rk, ok := k.(*rsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("a %T key, not RSA", k)
	}
	return rk, nil
}

// ParsePublicKey parses a PEM RSA public key, PKIX (`openssl pkey
// -pubout`) or PKCS #1.
func ParsePublicKey(data []byte) (*rsa.PublicKey, error) {
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, errors.New("not a PEM key (expected -----BEGIN PUBLIC KEY-----, as `openssl pkey -pubout` writes)")
	}
	if k, err := x509.ParsePKCS1PublicKey(block.Bytes); err == nil {
		return k, nil
	}
	k, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("parse %s: %w", block.Type, err)
	}
	rk, ok := k.(*rsa.PublicKey)
	if !ok {
		return nil, fmt.Errorf("a %T key, not RSA", k)
	}
	return rk, nil
}
