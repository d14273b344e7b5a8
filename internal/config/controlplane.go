package config

import (
	"fmt"
	"net/url"
	"os"
	"strconv"
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
	// Fanout sets how replicas hand each other the commands and notices
	// for agents connected elsewhere.
	Fanout FanoutConfig `yaml:"fanout"`
}

// FanoutConfig sets the fan-out between control-plane replicas. Unset, it
// goes through the datastore: PostgreSQL LISTEN/NOTIFY, or nowhere on
// SQLite, which serves a single replica.
type FanoutConfig struct {
	// Redis, when set, is a redis:// (or rediss:// for TLS) URL such as
	// redis://:password@redis:6379/0; replicas then publish to each other
	// through its pub/sub instead of the datastore.
	Redis string `yaml:"redis"`
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
	if msg := CheckRedisURL(c.Spec.Fanout.Redis); msg != "" {
		return nil, FieldError(path, data, "spec.fanout.redis", "%s", msg)
	}
	return &c, nil
}

// CheckRedisURL returns what is wrong with a Redis URL, or "" when it is
// empty or well formed: redis:// or rediss://, a host, and at most a
// database number as its path. The message never repeats the URL, which
// may hold a password.
func CheckRedisURL(raw string) string {
	if raw == "" {
		return ""
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "must be a redis:// or rediss:// URL, such as redis://redis:6379/0; it does not parse"
	}
	if u.Scheme != "redis" && u.Scheme != "rediss" {
		return fmt.Sprintf("must be a redis:// or rediss:// URL, such as redis://redis:6379/0, not a %s URL", strconv.Quote(u.Scheme))
	}
	if u.Hostname() == "" {
		return "must name a host, such as redis://redis:6379/0"
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return "must have a port between 1 and 65535"
		}
	}
	if db := strings.Trim(u.Path, "/"); db != "" {
		if n, err := strconv.Atoi(db); err != nil || n < 0 {
			return "may have only a database number as its path, such as /0"
		}
	}
	return ""
}
