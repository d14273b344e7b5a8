package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
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
			want: `:4:3: unknown field "adress"`,
		},
		{
			name: "a value of the wrong type is refused with its line",
			body: "apiVersion: ferry.dev/v1\nkind: ControlPlane\nspec:\n  staticAdmin: [a]\n",
			want: ":4:",
		},
		{
			name: "a bad duration is refused",
			body: "apiVersion: ferry.dev/v1\nkind: ControlPlane\nspec:\n  shutdownTimeout: soon\n",
			want: `:4:20: invalid duration "soon"`,
		},
		{
			name: "a list where a duration belongs is refused with its line",
			body: "apiVersion: ferry.dev/v1\nkind: ControlPlane\nspec:\n  shutdownTimeout: [1]\n",
			want: ":4:20: want a duration such as 30s, not a sequence",
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
			want: `:5:5: unknown field "nats"`,
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
