// Package secrets decrypts the sealed secrets of application configs
// (encryption.encryptedSecrets) and renders them into the files an
// application names (encryption.decryptionTargets), for every platform.
//
// The ciphertexts are PipeCD's, so values encrypted for a PipeCD piped
// decrypt here with the same key pair: the hybrid scheme of Bitnami
// SealedSecrets. A random 32-byte AES-256-GCM key seals the plaintext with
// a zero nonce (the key is used once); RSA-OAEP with SHA-256 and no label
// wraps the key; the ciphertext is base64 (standard, padded) of
//
//	uint16 big-endian len(rsaCT) ‖ rsaCT ‖ aesCT (with its 16-byte tag)
//
// Decrypted values live only in memory and in the rendered copy of the
// application's files; nothing here logs them.
package secrets

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
)

// sessionKeySize is the AES-256 key size.
const sessionKeySize = 32

// Decrypter turns one ciphertext of an application config into its value.
type Decrypter interface {
	Decrypt(ciphertext string) (string, error)
}

// Encrypt seals plaintext for the holder of pub's private key, as PipeCD's
// control plane does, and returns the base64 ciphertext an application
// config carries.
func Encrypt(pub *rsa.PublicKey, plaintext []byte) (string, error) {
	key := make([]byte, sessionKeySize)
	if _, err := rand.Read(key); err != nil {
		return "", fmt.Errorf("session key: %w", err)
	}
	wrapped, err := rsa.EncryptOAEP(sha256.New(), rand.Reader, pub, key, nil)
	if err != nil {
		return "", fmt.Errorf("wrap session key: %w", err)
	}
	aead, err := newGCM(key)
	if err != nil {
		return "", err
	}
	out := binary.BigEndian.AppendUint16(nil, uint16(len(wrapped)))
	out = append(out, wrapped...)
	out = aead.Seal(out, make([]byte, aead.NonceSize()), plaintext, nil)
	return base64.StdEncoding.EncodeToString(out), nil
}

// decrypt opens one ciphertext with key.
func decrypt(key *rsa.PrivateKey, ct []byte) ([]byte, error) {
	if len(ct) < 2 {
		return nil, errors.New("too short to be a sealed secret")
	}
	n := int(binary.BigEndian.Uint16(ct))
	if len(ct) < 2+n {
		return nil, errors.New("too short to be a sealed secret: truncated?")
	}
	sessionKey, err := rsa.DecryptOAEP(sha256.New(), nil, key, ct[2:2+n], nil)
	if err != nil {
		return nil, errors.New("the private key does not open it: was it encrypted with this agent's public key?")
	}
	aead, err := newGCM(sessionKey)
	if err != nil {
		return nil, err
	}
	plain, err := aead.Open(nil, make([]byte, aead.NonceSize()), ct[2+n:], nil)
	if err != nil {
		return nil, errors.New("the sealed value is corrupt: its authentication tag does not match")
	}
	return plain, nil
}

func newGCM(key []byte) (cipher.AEAD, error) {
	if len(key) != sessionKeySize {
		return nil, fmt.Errorf("session key is %d bytes, not %d", len(key), sessionKeySize)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("session cipher: %w", err)
	}
	return cipher.NewGCM(block)
}

// decodeCiphertext decodes the base64 of a ciphertext, tolerating the
// line breaks and spaces a YAML block scalar leaves in it.
func decodeCiphertext(s string) ([]byte, error) {
	s = strings.Join(strings.Fields(s), "")
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("not base64: %w", err)
	}
	return b, nil
}
