package cli

import (
	"encoding/base64"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/ferrycd/ferry/internal/secrets"
)

// maxSecretSize bounds what `ferry secret encrypt` reads from stdin.
const maxSecretSize = 1 << 20

// newSecretCmd builds `ferry secret`.
func newSecretCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "secret",
		Short: "Seal values for an application's encryption.encryptedSecrets",
	}
	cmd.AddCommand(newSecretEncryptCmd())
	return cmd
}

// newSecretEncryptCmd builds `ferry secret encrypt`.
func newSecretEncryptCmd() *cobra.Command {
	var publicKey string
	var useBase64 bool
	cmd := &cobra.Command{
		Use:   "encrypt --public-key FILE < value",
		Short: "Encrypt stdin for an agent's secretManagement key pair",
		Long: `Encrypt reads the value from stdin (never from an argument, which would
land in the shell's history) and prints the ciphertext to put in an
application config's encryption.encryptedSecrets. The agent whose
secretManagement holds the matching private key decrypts it into the
decryptionTargets. The format is PipeCD's, so a PipeCD piped with the same
key pair decrypts it too.

--public-key is the agent's public key (secretManagement's
publicKeyFile): a PEM RSA key for KEY_PAIR, an "age1…" recipient for AGE. --base64 encodes the value first, for a Secret's data
field, as PipeCD's "use base64 encoding" option does. A trailing newline
of stdin is kept: use printf '%s' or echo -n.`,
		Example: `  printf '%s' "$DB_PASSWORD" | ferry secret encrypt --public-key public-key`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if publicKey == "" {
				return usageError{fmt.Errorf("--public-key is required: the agent's public key file")}
			}
			key, err := os.ReadFile(publicKey)
			if err != nil {
				return fmt.Errorf("read the public key: %w", err)
			}
			value, err := io.ReadAll(io.LimitReader(cmd.InOrStdin(), maxSecretSize+1))
			if err != nil {
				return fmt.Errorf("read the value from stdin: %w", err)
			}
			if len(value) > maxSecretSize {
				return fmt.Errorf("the value on stdin is over %d bytes", maxSecretSize)
			}
			if useBase64 {
				value = []byte(base64.StdEncoding.EncodeToString(value))
			}
			ct, err := seal(key, value)
			if err != nil {
				return fmt.Errorf("%s: %w", publicKey, err)
			}
			_, err = fmt.Fprintln(cmd.OutOrStdout(), ct)
			return err
		},
	}
	cmd.Flags().StringVar(&publicKey, "public-key", "", "the agent's public key file: PEM RSA (KEY_PAIR) or an age1… recipient (AGE)")
	cmd.Flags().BoolVar(&useBase64, "base64", false, "base64-encode the value before encrypting it (for a Secret's data)")
	return cmd
}

// seal encrypts value for key: an age recipient ("age1…") or a PEM RSA
// public key.
func seal(key, value []byte) (string, error) {
	if k := strings.TrimSpace(string(key)); strings.HasPrefix(k, "age1") {
		return secrets.EncryptAge(k, value)
	}
	pub, err := secrets.ParsePublicKey(key)
	if err != nil {
		return "", err
	}
	return secrets.Encrypt(pub, value)
}
