package sso_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ferrycd/ferry/internal/config"
	"github.com/ferrycd/ferry/internal/model"
	"github.com/ferrycd/ferry/internal/testenv"
	"github.com/ferrycd/ferry/internal/web/sso"
)

func secretFile(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestFromConfigBuildsProvidersThatSignIn(t *testing.T) {
	env := testenv.OIDC(t, ann)
	providers, mapping, err := sso.FromConfig(config.SSOConfig{
		OIDC: []config.SSOOIDCConfig{{
			Name: "corp", Issuer: env.Issuer, ClientID: env.ClientID,
			ClientSecretFile: secretFile(t, "  "+env.ClientSecret+"\n"),
		}},
		GitHub:       []config.SSOGitHubConfig{{Name: "gh", ClientID: "cid", ClientSecretFile: secretFile(t, "gh-secret\n"), BaseURL: "https://ghe.example.com"}},
		RoleMappings: []config.SSORoleMapping{{Group: "ops", Role: "admin"}, {Group: "devs", Role: "editor"}},
		DefaultRole:  "viewer",
	})
	if err != nil {
		t.Fatal(err)
	}
	wantMapping := sso.RoleMapping{Rules: []sso.RoleRule{{Group: "ops", Role: model.RoleAdmin}, {Group: "devs", Role: model.RoleEditor}}, Default: model.RoleViewer}
	if diff := cmp.Diff(wantMapping, mapping); diff != "" {
		t.Errorf("mapping (-want +got):\n%s", diff)
	}
	if len(providers) != 2 || providers[0].Name() != "corp" || providers[1].Name() != "gh" {
		t.Fatalf("providers %v, want corp and gh", providers)
	}
	// The secret was read from the file, trimmed: the exchange succeeds.
	nonce := random(t)
	id, err := providers[0].Exchange(t.Context(), signIn(t, providers[0], random(t), nonce), nonce, callback)
	if err != nil {
		t.Fatal(err)
	}
	if role, ok := mapping.RoleFor(id); role != model.RoleAdmin || !ok {
		t.Errorf("RoleFor(%+v) = %q, %v; want admin", id, role, ok)
	}
}

func TestFromConfigWithoutProvidersTurnsSSOOff(t *testing.T) {
	providers, _, err := sso.FromConfig(config.SSOConfig{})
	if err != nil || providers != nil {
		t.Fatalf("FromConfig(empty) = %v, %v; want no providers", providers, err)
	}
}

func TestFromConfigNamesTheFieldAtFault(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "nope")
	for _, tc := range []struct {
		name string
		cfg  config.SSOConfig
		want string
	}{
		{
			name: "a missing secret file",
			cfg:  config.SSOConfig{GitHub: []config.SSOGitHubConfig{{Name: "gh", ClientID: "c", ClientSecretFile: missing}}},
			want: "spec.sso.github[0].clientSecretFile: read the client secret",
		},
		{
			name: "an empty secret file",
			cfg:  config.SSOConfig{GitHub: []config.SSOGitHubConfig{{Name: "gh", ClientID: "c", ClientSecretFile: secretFile(t, "\n")}}},
			want: "spec.sso.github[0].clientSecretFile: the file",
		},
		{
			name: "an unknown role",
			cfg:  config.SSOConfig{RoleMappings: []config.SSORoleMapping{{Group: "g", Role: "root"}}},
			want: "spec.sso.roleMappings[0].role: unknown role",
		},
		{
			name: "an issuer that is not a URL",
			cfg:  config.SSOConfig{OIDC: []config.SSOOIDCConfig{{Name: "corp", Issuer: "id.example.com", ClientID: "c"}}},
			want: "spec.sso.oidc[0]: sso oidc corp: issuer",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := sso.FromConfig(tc.cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want one containing %q", err, tc.want)
			}
		})
	}
}
