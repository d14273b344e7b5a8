package config

import (
	"os"
	"strings"
)

// Accepted apiVersions.
const (
	APIVersionFerry  = "ferry.dev/v1"
	APIVersionPipeCD = "pipecd.dev/v1beta1"
)

// ControlPlane is the `kind: ControlPlane` file of `ferry server --config`.
// Flags given on the command line override its values.
type ControlPlane struct {
	APIVersion string           `yaml:"apiVersion"`
	Kind       string           `yaml:"kind"`
	Spec       ControlPlaneSpec `yaml:"spec"`
}

// ControlPlaneSpec holds the control plane's settings.
type ControlPlaneSpec struct {
	// Address is where the API, console, webhooks and health endpoints
	// listen, such as ":8080".
	Address string `yaml:"address"`
	// AdminAddress, when set, serves /metrics and pprof on a separate port.
	AdminAddress string `yaml:"adminAddress"`
	// DataDir holds the SQLite database and the local filestore by default.
	DataDir string `yaml:"dataDir"`
	// Datastore is a database URL: postgres://… for PostgreSQL, or a SQLite
	// file path (sqlite:///path or a plain path). Default: DataDir/ferry.db.
	Datastore string `yaml:"datastore"`
	// Filestore is a blob URL: file:///dir, or s3://bucket?endpoint=…
	// for S3 and MinIO. Default: DataDir/files.
	Filestore string `yaml:"filestore"`
	// StaticAdmin sets the bootstrap admin; without it a password is
	// generated on first start and printed once.
	StaticAdmin StaticAdminConfig `yaml:"staticAdmin"`
	// ShutdownTimeout bounds how long in-flight requests may take to finish
	// on SIGTERM. Default 30s.
	ShutdownTimeout Duration `yaml:"shutdownTimeout"`
	// WebhookSecret authenticates the push webhooks of GitHub, GitLab and
	// CI; without it (or WebhookSecretFile) they are off.
	WebhookSecret string `yaml:"webhookSecret"`
	// WebhookSecretFile names a file holding the webhook secret, so the
	// secret stays out of this file; surrounding whitespace is trimmed.
	WebhookSecretFile string `yaml:"webhookSecretFile"`
}

// StaticAdminConfig is the bootstrap admin of project "default".
type StaticAdminConfig struct {
	Username     string `yaml:"username"`
	PasswordHash string `yaml:"passwordHash"`
}

// ReadControlPlane reads and checks a ControlPlane file.
func ReadControlPlane(path string) (*ControlPlane, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, &Error{File: path, Message: err.Error()}
	}
	var c ControlPlane
	if err := Decode(path, data, &c); err != nil {
		return nil, err
	}
	if c.APIVersion != APIVersionFerry {
		return nil, FieldError(path, data, "apiVersion", "must be %q, not %q", APIVersionFerry, c.APIVersion)
	}
	if c.Kind != "ControlPlane" {
		return nil, FieldError(path, data, "kind", "must be ControlPlane, not %q", c.Kind)
	}
	sa := c.Spec.StaticAdmin
	if (sa.Username == "") != (sa.PasswordHash == "") {
		missing := "spec.staticAdmin.passwordHash"
		if sa.Username == "" {
			missing = "spec.staticAdmin.username"
		}
		return nil, FieldError(path, data, missing, "is required when the other static admin field is set")
	}
	if sa.PasswordHash != "" && !strings.HasPrefix(sa.PasswordHash, "$2") {
		return nil, FieldError(path, data, "spec.staticAdmin.passwordHash", "must be a bcrypt hash (starting $2a$, $2b$ or $2y$), not a plain password")
	}
	if c.Spec.WebhookSecret != "" && c.Spec.WebhookSecretFile != "" {
		return nil, FieldError(path, data, "spec.webhookSecretFile", "must not be set together with spec.webhookSecret")
	}
	if c.Spec.ShutdownTimeout < 0 {
		return nil, FieldError(path, data, "spec.shutdownTimeout", "must not be negative")
	}
	return &c, nil
}
