package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func writeFile(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "controlplane.yaml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestReadControlPlaneAcceptsAFullFile(t *testing.T) {
	p := writeFile(t, `apiVersion: ferry.dev/v1
kind: ControlPlane
spec:
  address: ":9090"
  datastore: postgres://db/ferry
  filestore: s3://bucket?region=us-east-1
  shutdownTimeout: 10s
  webhookSecretFile: /run/secrets/ferry-webhook
  fanout:
    redis: rediss://:pw@redis.internal:6380/2
  staticAdmin:
    username: root
    passwordHash: $2a$10$abcdefghijklmnopqrstuu
`)
	c, err := ReadControlPlane(p)
	if err != nil {
		t.Fatal(err)
	}
	if c.Spec.Address != ":9090" || c.Spec.ShutdownTimeout.Std() != 10*time.Second || c.Spec.StaticAdmin.Username != "root" ||
		c.Spec.WebhookSecretFile != "/run/secrets/ferry-webhook" || c.Spec.Fanout.Redis != "rediss://:pw@redis.internal:6380/2" {
		t.Errorf("decoded %+v", c.Spec)
	}
}

func TestReadControlPlaneNamesFileLineAndField(t *testing.T) {
	for _, tc := range []struct {
		name, body, want string
	}{
		{
			name: "an unknown field is refused with its line",
			body: "apiVersion: ferry.dev/v1\nkind: ControlPlane\nspec:\n  adress: :80\n",
			want: `:4:3: spec.adress: unknown field "adress"`,
		},
		{
			name: "a value of the wrong type is refused with its line",
			body: "apiVersion: ferry.dev/v1\nkind: ControlPlane\nspec:\n  staticAdmin: [a]\n",
			want: ":4:",
		},
		{
			name: "a bad duration is refused",
			body: "apiVersion: ferry.dev/v1\nkind: ControlPlane\nspec:\n  shutdownTimeout: soon\n",
			want: `:4:20: spec.shutdownTimeout: invalid duration "soon"`,
		},
		{
			name: "a list where a duration belongs is refused with its line",
			body: "apiVersion: ferry.dev/v1\nkind: ControlPlane\nspec:\n  shutdownTimeout: [1]\n",
			want: ":4:20: spec.shutdownTimeout: want a duration such as 30s, not a sequence",
		},
		{
			name: "a wrong kind names the field",
			body: "apiVersion: ferry.dev/v1\nkind: Agent\nspec: {}\n",
			want: ":2:7: kind: must be ControlPlane",
		},
		{
			name: "a missing required value names the field",
			body: "apiVersion: ferry.dev/v1\nkind: ControlPlane\nspec:\n  staticAdmin:\n    username: root\n",
			want: "spec.staticAdmin.passwordHash: is required",
		},
		{
			name: "a plain password is refused",
			body: "apiVersion: ferry.dev/v1\nkind: ControlPlane\nspec:\n  staticAdmin: {username: root, passwordHash: hunter2}\n",
			want: "must be a bcrypt hash",
		},
		{
			name: "a webhook secret given both inline and as a file is refused",
			body: "apiVersion: ferry.dev/v1\nkind: ControlPlane\nspec:\n  webhookSecret: x\n  webhookSecretFile: /s\n",
			want: ":5:22: spec.webhookSecretFile: must not be set together with spec.webhookSecret",
		},
		{
			name: "a fan-out Redis URL of another scheme names the field and its line",
			body: "apiVersion: ferry.dev/v1\nkind: ControlPlane\nspec:\n  fanout:\n    redis: http://redis:6379\n",
			want: `:5:12: spec.fanout.redis: must be a redis:// or rediss:// URL, such as redis://redis:6379/0, not a "http" URL`,
		},
		{
			name: "a fan-out Redis URL without a host is refused",
			body: "apiVersion: ferry.dev/v1\nkind: ControlPlane\nspec:\n  fanout: {redis: \"redis:///0\"}\n",
			want: "spec.fanout.redis: must name a host",
		},
		{
			name: "a fan-out Redis URL with a path that is no database number is refused",
			body: "apiVersion: ferry.dev/v1\nkind: ControlPlane\nspec:\n  fanout:\n    redis: redis://redis:6379/ferry\n",
			want: "spec.fanout.redis: may have only a database number as its path",
		},
		{
			name: "a fan-out Redis URL with a bad port is refused",
			body: "apiVersion: ferry.dev/v1\nkind: ControlPlane\nspec:\n  fanout:\n    redis: redis://redis:99999\n",
			want: "spec.fanout.redis: must have a port between 1 and 65535",
		},
		{
			name: "an unknown fan-out setting is refused",
			body: "apiVersion: ferry.dev/v1\nkind: ControlPlane\nspec:\n  fanout:\n    nats: nats://n\n",
			want: `:5:5: spec.fanout.nats: unknown field "nats"`,
		},
		{
			name: "an empty file is refused",
			body: "\n",
			want: "the file is empty",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := writeFile(t, tc.body)
			_, err := ReadControlPlane(p)
			if err == nil {
				t.Fatal("no error")
			}
			got := err.Error()
			if !strings.Contains(got, p) || !strings.Contains(got, tc.want) {
				t.Errorf("error %q\nwant it to name %s and contain %q", got, p, tc.want)
			}
		})
	}
}

func TestReadControlPlaneNeverRepeatsARedisPassword(t *testing.T) {
	p := writeFile(t, "apiVersion: ferry.dev/v1\nkind: ControlPlane\nspec:\n  fanout:\n    redis: http://:hunter2@redis:6379\n")
	_, err := ReadControlPlane(p)
	if err == nil || strings.Contains(err.Error(), "hunter2") || !strings.Contains(err.Error(), "spec.fanout.redis") {
		t.Errorf("error %v: want it to name spec.fanout.redis and never the password", err)
	}
}

func TestReadControlPlaneAcceptsSSO(t *testing.T) {
	p := writeFile(t, `apiVersion: ferry.dev/v1
kind: ControlPlane
spec:
  sso:
    oidc:
      - name: corp
        issuer: https://sso.example.com/realms/ferry
        clientID: ferry
        clientSecretFile: /run/secrets/oidc
        scopes: [profile, email, roles]
        groupsClaim: roles
        nameClaim: email
    github:
      - name: gh
        clientID: Iv1.abc
        clientSecretFile: /run/secrets/github
        baseURL: https://ghe.example.com
        org: acme
    roleMappings:
      - {group: acme/platform, role: admin}
      - {group: devs, role: editor}
    defaultRole: viewer
`)
	c, err := ReadControlPlane(p)
	if err != nil {
		t.Fatal(err)
	}
	want := SSOConfig{
		OIDC: []SSOOIDCConfig{{Name: "corp", Issuer: "https://sso.example.com/realms/ferry", ClientID: "ferry", ClientSecretFile: "/run/secrets/oidc",
			Scopes: []string{"profile", "email", "roles"}, GroupsClaim: "roles", NameClaim: "email"}},
		GitHub:       []SSOGitHubConfig{{Name: "gh", ClientID: "Iv1.abc", ClientSecretFile: "/run/secrets/github", BaseURL: "https://ghe.example.com", Org: "acme"}},
		RoleMappings: []SSORoleMapping{{Group: "acme/platform", Role: "admin"}, {Group: "devs", Role: "editor"}},
		DefaultRole:  "viewer",
	}
	if diff := cmp.Diff(want, c.Spec.SSO); diff != "" {
		t.Errorf("spec.sso (-want +got):\n%s", diff)
	}
}

func TestReadControlPlaneRefusesBadSSO(t *testing.T) {
	const head = "apiVersion: ferry.dev/v1\nkind: ControlPlane\nspec:\n  sso:\n"
	for _, tc := range []struct {
		name, body, want string
	}{
		{
			name: "an inline client secret is refused: secrets come from files",
			body: head + "    github:\n      - name: gh\n        clientID: x\n        clientSecret: hunter2\n",
			want: `:8:9: spec.sso.github[0].clientSecret: unknown field "clientSecret"`,
		},
		{
			name: "an unknown field in a role mapping is refused with its line",
			body: head + "    defaultRole: viewer\n    roleMappings:\n      - group: devs\n        roles: admin\n",
			want: `:8:9: spec.sso.roleMappings[0].roles: unknown field "roles"`,
		},
		{
			name: "a role that is not viewer, editor or admin names the mapping",
			body: head + "    roleMappings:\n      - group: devs\n        role: owner\n",
			want: `:7:15: spec.sso.roleMappings[0].role: must be viewer, editor or admin, not "owner"`,
		},
		{
			name: "a mapping without a group is refused",
			body: head + "    roleMappings:\n      - {role: admin}\n",
			want: "spec.sso.roleMappings[0].group: is required",
		},
		{
			name: "a bad default role is refused",
			body: head + "    defaultRole: Admin\n",
			want: `:5:18: spec.sso.defaultRole: must be viewer, editor or admin`,
		},
		{
			name: "an OIDC provider without an issuer is refused",
			body: head + "    defaultRole: viewer\n    oidc:\n      - name: corp\n        clientID: ferry\n",
			want: "spec.sso.oidc[0].issuer: is required",
		},
		{
			name: "an OIDC issuer that is not an http(s) URL is refused with its line",
			body: head + "    defaultRole: viewer\n    oidc:\n      - name: corp\n        issuer: sso.example.com\n        clientID: ferry\n",
			want: ":8:17: spec.sso.oidc[0].issuer: must be an https URL",
		},
		{
			name: "an OIDC provider without a client ID is refused",
			body: head + "    defaultRole: viewer\n    oidc:\n      - {name: corp, issuer: \"https://sso.example.com\"}\n",
			want: "spec.sso.oidc[0].clientID: is required",
		},
		{
			name: "a GitHub app without a client secret file is refused",
			body: head + "    defaultRole: viewer\n    github:\n      - {name: gh, clientID: x}\n",
			want: "spec.sso.github[0].clientSecretFile: is required",
		},
		{
			name: "a GitHub Enterprise URL that does not parse is refused",
			body: head + "    defaultRole: viewer\n    github:\n      - {name: gh, clientID: x, clientSecretFile: /s, apiURL: \"ghe/api\"}\n",
			want: "spec.sso.github[0].apiURL: must be an https URL",
		},
		{
			name: "a provider without a name is refused",
			body: head + "    defaultRole: viewer\n    github:\n      - {clientID: x, clientSecretFile: /s}\n",
			want: "spec.sso.github[0].name: is required",
		},
		{
			name: "a name unfit for a URL is refused",
			body: head + "    defaultRole: viewer\n    github:\n      - {name: My GitHub, clientID: x, clientSecretFile: /s}\n",
			want: `spec.sso.github[0].name: "My GitHub" may hold only lowercase letters, digits and dashes`,
		},
		{
			name: "two providers of one name are refused",
			body: head + "    defaultRole: viewer\n    oidc:\n      - {name: corp, issuer: \"https://s.example.com\", clientID: c}\n    github:\n      - {name: corp, clientID: x, clientSecretFile: /s}\n",
			want: `spec.sso.github[0].name: "corp" is already the name of spec.sso.oidc[0]`,
		},
		{
			name: "providers nobody may sign in with are refused",
			body: head + "    github:\n      - {name: gh, clientID: x, clientSecretFile: /s}\n",
			want: ":5:11: spec.sso: with no roleMappings and no defaultRole nobody may sign in",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := writeFile(t, tc.body)
			_, err := ReadControlPlane(p)
			if err == nil {
				t.Fatal("no error")
			}
			got := err.Error()
			if !strings.Contains(got, p) || !strings.Contains(got, tc.want) {
				t.Errorf("error %q\nwant it to name %s and contain %q", got, p, tc.want)
			}
			if strings.Contains(got, "hunter2") {
				t.Errorf("error %q repeats a secret", got)
			}
		})
	}
}
