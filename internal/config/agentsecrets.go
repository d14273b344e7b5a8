package config

import "encoding/base64"

// SecretManagement says how sealed secrets (an application's
// encryption.encryptedSecrets) are decrypted, as PipeCD's piped config
// writes it, types KEY_PAIR and AGE.
type SecretManagement struct {
	Type   string        `yaml:"type"`
	Config SecretKeyPair `yaml:"config"`
}

// The types of SecretManagement Ferry supports: an RSA key pair, PipeCD's
// KEY_PAIR, and an age X25519 identity, AGE (Ferry's own).
const (
	SecretManagementKeyPair = "KEY_PAIR"
	SecretManagementAge     = "AGE"
)

// SecretKeyPair is the config of a secretManagement: for KEY_PAIR PEM
// files, or their contents base64-encoded (the *Data fields), as PipeCD's
// are; for AGE the identity file `age-keygen` writes (privateKey) and the
// optional "age1…" recipient (publicKey).
// The Old* fields name the private key being rotated away from: a
// ciphertext the current key cannot decrypt is tried with it.
type SecretKeyPair struct {
	PrivateKeyFile    string `yaml:"privateKeyFile"`
	PrivateKeyData    string `yaml:"privateKeyData"`
	PublicKeyFile     string `yaml:"publicKeyFile"`
	PublicKeyData     string `yaml:"publicKeyData"`
	OldPrivateKeyFile string `yaml:"oldPrivateKeyFile"`
	OldPrivateKeyData string `yaml:"oldPrivateKeyData"`
}

// validateSecrets checks secretManagement: a known type and exactly one
// of each key's file or data, the data base64.
func (s *AgentSpec) validateSecrets(file string, data []byte) error {
	m := s.SecretManagement
	if m == nil {
		return nil
	}
	if m.Type != SecretManagementKeyPair && m.Type != SecretManagementAge {
		return FieldError(file, data, "spec.secretManagement.type", "type %q is not supported: use %s or %s (GCP_KMS and AWS_KMS are not built)", m.Type, SecretManagementKeyPair, SecretManagementAge)
	}
	c := m.Config
	for _, k := range []struct {
		name, file, data string
		required         bool
	}{
		{"privateKey", c.PrivateKeyFile, c.PrivateKeyData, true},
		{"publicKey", c.PublicKeyFile, c.PublicKeyData, m.Type == SecretManagementKeyPair},
		{"oldPrivateKey", c.OldPrivateKeyFile, c.OldPrivateKeyData, false},
	} {
		at := "spec.secretManagement.config." + k.name
		switch {
		case k.file != "" && k.data != "":
			return FieldError(file, data, at+"Data", "give %sFile or %sData, not both", k.name, k.name)
		case k.required && k.file == "" && k.data == "":
			return FieldError(file, data, "spec.secretManagement.config", "%sFile or %sData is required", k.name, k.name)
		}
		if k.data != "" {
			if _, err := base64.StdEncoding.DecodeString(k.data); err != nil {
				return FieldError(file, data, at+"Data", "must be the key file's content base64-encoded: %v", err)
			}
		}
	}
	return nil
}
