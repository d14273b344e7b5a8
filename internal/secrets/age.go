package secrets

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"strings"

	"filippo.io/age"
	"filippo.io/age/armor"
)

// AgeKeys decrypts values sealed with age (X25519) for the agent's
// identity, and during a rotation for its old one too. A value is the
// base64 of an age file, as EncryptAge and `age | base64 -w0` write it,
// or the ASCII-armored form `age --armor` writes.
type AgeKeys struct {
	identities []age.Identity
	recipient  string
}

var _ Decrypter = (*AgeKeys)(nil)

// NewAgeKeys parses an age identity file (the `age-keygen` output, with
// its comments), an optional old one, and the optional recipient
// ("age1…"), which must be the identity's.
func NewAgeKeys(identity, recipient, oldIdentity []byte) (*AgeKeys, error) {
	ids, err := age.ParseIdentities(bytes.NewReader(identity))
	if err != nil {
		return nil, fmt.Errorf("secretManagement: privateKey: %w", err)
	}
	k := &AgeKeys{identities: ids}
	if x, ok := ids[0].(*age.X25519Identity); ok {
		k.recipient = x.Recipient().String()
	}
	if r := strings.TrimSpace(string(recipient)); r != "" {
		if _, err := age.ParseX25519Recipient(r); err != nil {
			return nil, fmt.Errorf("secretManagement: publicKey: %w", err)
		}
		if k.recipient != "" && r != k.recipient {
			return nil, errors.New("secretManagement: publicKey is not the recipient of privateKey")
		}
		k.recipient = r
	}
	if len(oldIdentity) > 0 {
		old, err := age.ParseIdentities(bytes.NewReader(oldIdentity))
		if err != nil {
			return nil, fmt.Errorf("secretManagement: oldPrivateKey: %w", err)
		}
		k.identities = append(k.identities, old...)
	}
	return k, nil
}

// Recipient is the "age1…" public key values are encrypted for.
func (k *AgeKeys) Recipient() string { return k.recipient }

// Decrypt implements Decrypter.
func (k *AgeKeys) Decrypt(ciphertext string) (string, error) {
	var src io.Reader
	if t := strings.TrimSpace(ciphertext); strings.HasPrefix(t, armor.Header) {
		src = armor.NewReader(strings.NewReader(t))
	} else {
		ct, err := decodeCiphertext(ciphertext)
		if err != nil {
			return "", err
		}
		src = bytes.NewReader(ct)
	}
	r, err := age.Decrypt(src, k.identities...)
	if err != nil {
		var none *age.NoIdentityMatchError
		if errors.As(err, &none) {
			return "", errors.New("the age identity does not open it: was it encrypted for this agent's recipient?")
		}
		return "", fmt.Errorf("not an age ciphertext: %w", err)
	}
	plain, err := io.ReadAll(r)
	if err != nil {
		return "", fmt.Errorf("the sealed value is corrupt: %w", err)
	}
	return string(plain), nil
}

// EncryptAge seals plaintext for an age recipient ("age1…") and returns
// the base64 value an application config carries.
func EncryptAge(recipient string, plaintext []byte) (string, error) {
	r, err := age.ParseX25519Recipient(strings.TrimSpace(recipient))
	if err != nil {
		return "", err
	}
	var out bytes.Buffer
	w, err := age.Encrypt(&out, r)
	if err != nil {
		return "", err
	}
	if _, err := w.Write(plaintext); err != nil {
		return "", err
	}
	if err := w.Close(); err != nil {
		return "", err
	}
	return base64.StdEncoding.EncodeToString(out.Bytes()), nil
}
