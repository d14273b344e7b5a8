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
	// AdminAddress, when set, serves /metrics and pprof on a separate port;
	// without it the API's address serves /metrics to this machine only.
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
	// SSO sets sign-in to the web console through GitHub or OpenID
	// Connect providers, and the roles their teams and groups give.
	SSO SSOConfig `yaml:"sso"`
}

// SSOConfig is the control plane's single sign-on: the providers people
// may sign in with and how their teams or groups map to roles. Secrets are
// read only from files, so they stay out of this one.
type SSOConfig struct {
	// OIDC lists OpenID Connect providers (Keycloak, Okta, Auth0, Dex...).
	OIDC []SSOOIDCConfig `yaml:"oidc"`
	// GitHub lists GitHub or GitHub Enterprise OAuth apps.
	GitHub []SSOGitHubConfig `yaml:"github"`
	// RoleMappings give a role to the members of a team ("org/team-slug"
	// on GitHub) or group; the highest role of all that match wins.
	RoleMappings []SSORoleMapping `yaml:"roleMappings"`
	// DefaultRole is the role of a person no mapping matches; empty refuses
	// them.
	DefaultRole string `yaml:"defaultRole"`
}

// SSOOIDCConfig is one OpenID Connect provider.
type SSOOIDCConfig struct {
	// Name names the provider in the console's URLs
	// (/login/sso/{name}); lowercase letters, digits and dashes.
	Name string `yaml:"name"`
	// Issuer is the provider's issuer URL, whose
	// /.well-known/openid-configuration is read at start.
	Issuer   string `yaml:"issuer"`
	ClientID string `yaml:"clientID"`
	// ClientSecretFile names a file holding the client secret; surrounding
	// whitespace is trimmed. Empty for a public client.
	ClientSecretFile string `yaml:"clientSecretFile"`
	// Scopes are asked for besides openid; default profile, email, and
	// groups when the provider advertises it.
	Scopes []string `yaml:"scopes"`
	// GroupsClaim is the ID token claim holding the groups; default groups.
	GroupsClaim string `yaml:"groupsClaim"`
	// NameClaim is the ID token claim holding the name shown in Ferry;
	// default preferred_username, else email, else sub.
	NameClaim string `yaml:"nameClaim"`
}

// SSOGitHubConfig is one GitHub OAuth app.
type SSOGitHubConfig struct {
	// Name names the provider in the console's URLs; lowercase letters,
	// digits and dashes.
	Name     string `yaml:"name"`
	ClientID string `yaml:"clientID"`
	// ClientSecretFile names a file holding the OAuth app's client secret;
	// surrounding whitespace is trimmed.
	ClientSecretFile string `yaml:"clientSecretFile"`
	// BaseURL is GitHub Enterprise Server's address; default
	// https://github.com.
	BaseURL string `yaml:"baseURL"`
	// APIURL is the REST API's address; default https://api.github.com, or
	// BaseURL/api/v3 for GitHub Enterprise.
	APIURL string `yaml:"apiURL"`
	// Org, when set, lets only this organization's members sign in.
	Org string `yaml:"org"`
}

// SSORoleMapping gives Role (viewer, editor or admin) to the members of
// Group.
type SSORoleMapping struct {
	Group string `yaml:"group"`
	Role  string `yaml:"role"`
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
	if err := checkSSO(path, data, c.Spec.SSO); err != nil {
		return nil, err
	}
	return &c, nil
}

// checkSSO checks spec.sso: every provider named (uniquely, fit for a
// URL) and complete, every role one of viewer, editor or admin, and
// someone able to sign in.
func checkSSO(path string, data []byte, s SSOConfig) error {
	names := map[string]string{}
	checkName := func(field, name string) error {
		if name == "" {
			return FieldError(path, data, field, "is required: the provider's name in the console's URLs, such as corp")
		}
		for _, r := range name {
			if (r < 'a' || r > 'z') && (r < '0' || r > '9') && r != '-' {
				return FieldError(path, data, field, "%q may hold only lowercase letters, digits and dashes: it is part of the console's URLs", name)
			}
		}
		if other, ok := names[name]; ok {
			return FieldError(path, data, field, "%q is already the name of %s; give each provider its own", name, other)
		}
		names[name] = strings.TrimSuffix(field, ".name")
		return nil
	}
	for i, o := range s.OIDC {
		at := fmt.Sprintf("spec.sso.oidc[%d]", i)
		if err := checkName(at+".name", o.Name); err != nil {
			return err
		}
		if msg := checkHTTPURL(o.Issuer); msg != "" {
			return FieldError(path, data, at+".issuer", "%s", msg)
		}
		if o.ClientID == "" {
			return FieldError(path, data, at+".clientID", "is required: the client ID registered at the provider")
		}
	}
	for i, g := range s.GitHub {
		at := fmt.Sprintf("spec.sso.github[%d]", i)
		if err := checkName(at+".name", g.Name); err != nil {
			return err
		}
		if g.ClientID == "" {
			return FieldError(path, data, at+".clientID", "is required: the OAuth app's client ID")
		}
		if g.ClientSecretFile == "" {
			return FieldError(path, data, at+".clientSecretFile", "is required: a file holding the OAuth app's client secret")
		}
		for field, raw := range map[string]string{"baseURL": g.BaseURL, "apiURL": g.APIURL} {
			if msg := checkHTTPURL(raw); raw != "" && msg != "" {
				return FieldError(path, data, at+"."+field, "%s", msg)
			}
		}
	}
	for i, m := range s.RoleMappings {
		at := fmt.Sprintf("spec.sso.roleMappings[%d]", i)
		if m.Group == "" {
			return FieldError(path, data, at+".group", "is required: a team (org/team-slug on GitHub) or group")
		}
		if !validRole(m.Role) {
			return FieldError(path, data, at+".role", "must be viewer, editor or admin, not %q", m.Role)
		}
	}
	if s.DefaultRole != "" && !validRole(s.DefaultRole) {
		return FieldError(path, data, "spec.sso.defaultRole", "must be viewer, editor or admin (or left out to refuse people no mapping matches), not %q", s.DefaultRole)
	}
	if len(names) > 0 && len(s.RoleMappings) == 0 && s.DefaultRole == "" {
		return FieldError(path, data, "spec.sso", "with no roleMappings and no defaultRole nobody may sign in; add roleMappings, or defaultRole: viewer")
	}
	return nil
}

func validRole(r string) bool { return r == "viewer" || r == "editor" || r == "admin" }

// checkHTTPURL returns what is wrong with a required http(s) URL, or "".
func checkHTTPURL(raw string) string {
	if raw == "" {
		return "is required: an https URL"
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		// The value is not repeated: a URL may hold a password.
		return "must be an https URL such as https://sso.example.com"
	}
	return ""
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
