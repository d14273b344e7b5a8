package sso

import (
	"fmt"
	"os"
	"strings"

	"github.com/ferrycd/ferry/internal/config"
	"github.com/ferrycd/ferry/internal/model"
)

// FromConfig builds the providers and the role mapping the control plane's
// spec.sso describes, so the console wires single sign-on with one call.
// It reads each clientSecretFile, so it fails when one is missing or
// empty; it does not reach the providers (an OpenID Connect issuer's
// discovery document is read when first needed, see OIDC.Discover). The
// error names the field at fault and never holds a secret. No providers configured gives a nil slice: SSO is
// off. cfg is expected to have passed config.ReadControlPlane's checks;
// roles are checked again here all the same.
func FromConfig(cfg config.SSOConfig) ([]Provider, RoleMapping, error) {
	mapping := RoleMapping{Default: model.Role(cfg.DefaultRole)}
	if cfg.DefaultRole != "" && !mapping.Default.Valid() {
		return nil, RoleMapping{}, model.Invalid("spec.sso.defaultRole: must be viewer, editor or admin, not %q", cfg.DefaultRole)
	}
	for i, m := range cfg.RoleMappings {
		role, err := model.ParseRole(m.Role)
		if err != nil {
			return nil, RoleMapping{}, fmt.Errorf("spec.sso.roleMappings[%d].role: %w", i, err)
		}
		mapping.Rules = append(mapping.Rules, RoleRule{Group: m.Group, Role: role})
	}

	var providers []Provider
	for i, o := range cfg.OIDC {
		field := fmt.Sprintf("spec.sso.oidc[%d]", i)
		var secret string
		if o.ClientSecretFile != "" {
			var err error
			if secret, err = readSecret(field+".clientSecretFile", o.ClientSecretFile); err != nil {
				return nil, RoleMapping{}, err
			}
		}
		p, err := NewOIDC(OIDCConfig{
			Name: o.Name, Issuer: o.Issuer, ClientID: o.ClientID, ClientSecret: secret,
			Scopes: o.Scopes, GroupsClaim: o.GroupsClaim, NameClaim: o.NameClaim,
		})
		if err != nil {
			return nil, RoleMapping{}, fmt.Errorf("%s: %w", field, err)
		}
		providers = append(providers, p)
	}
	for i, g := range cfg.GitHub {
		field := fmt.Sprintf("spec.sso.github[%d]", i)
		secret, err := readSecret(field+".clientSecretFile", g.ClientSecretFile)
		if err != nil {
			return nil, RoleMapping{}, err
		}
		p, err := NewGitHub(GitHubConfig{
			Name: g.Name, ClientID: g.ClientID, ClientSecret: secret,
			BaseURL: g.BaseURL, APIURL: g.APIURL, Org: g.Org,
		})
		if err != nil {
			return nil, RoleMapping{}, fmt.Errorf("%s: %w", field, err)
		}
		providers = append(providers, p)
	}
	return providers, mapping, nil
}

// readSecret reads the secret in the file at path, trimming surrounding
// whitespace. Errors name field and path, never the content.
func readSecret(field, path string) (string, error) {
	if path == "" {
		return "", model.Invalid("%s: is required: a file holding the client secret", field)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", model.Errorf(model.KindInvalid, "%s: read the client secret: %w", field, err)
	}
	s := strings.TrimSpace(string(b))
	if s == "" {
		return "", model.Invalid("%s: the file %s is empty; put the client secret in it", field, path)
	}
	return s, nil
}
