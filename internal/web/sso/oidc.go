package sso

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/ferrycd/ferry/internal/model"
)

// OIDCConfig configures sign-in through an OpenID Connect provider
// (Keycloak, Okta, Auth0, Dex, Google...).
type OIDCConfig struct {
	// Name is the provider's name in the console's URLs.
	Name string
	// Issuer is the provider's issuer URL; its
	// /.well-known/openid-configuration is read when first needed.
	Issuer string
	// ClientID and ClientSecret are the console's client at the provider.
	// The ID token's audience must include ClientID.
	ClientID     string
	ClientSecret string
	// Scopes are asked for besides "openid"; default "profile", "email"
	// and, when the provider lists it as supported, "groups".
	Scopes []string
	// GroupsClaim is the ID token claim holding the person's groups, a
	// string or a list of strings; default "groups". When the ID token
	// lacks it, it is read from the userinfo endpoint.
	GroupsClaim string
	// NameClaim is the ID token claim holding the name shown in Ferry
	// (read from userinfo when the ID token lacks it); default the first
	// present of preferred_username, email and sub.
	NameClaim string
	// DiscoveryRetry is how long a failed read of the discovery document
	// is remembered before a sign-in tries again; default 5s.
	DiscoveryRetry time.Duration
	// HTTPClient, when set, makes every request to the provider (discovery,
	// keys, code exchange); default a client with a 15 s timeout.
	HTTPClient *http.Client
}

// OIDC signs people in through an OpenID Connect provider with the
// authorization code flow, with PKCE (S256) when the provider supports it.
// It reads the issuer's discovery document when it is first needed and
// keeps it; until that succeeds, every sign-in tries again (at most once
// per OIDCConfig.DiscoveryRetry), so a control plane starts, and its other sign-in
// ways work, while an issuer is down. It is safe for concurrent use.
type OIDC struct {
	cfg     OIDCConfig
	client  *http.Client
	pkceKey []byte

	mu       sync.Mutex
	d        *discovered
	lastErr  error
	lastTry  time.Time
	inFlight chan struct{}
}

// discovered is what the discovery document told.
type discovered struct {
	provider *oidc.Provider
	oauth    oauth2.Config
	verifier *oidc.IDTokenVerifier
	pkce     bool
}

var _ Provider = (*OIDC)(nil)

// NewOIDC checks cfg and returns the provider, an *OIDC. It fails when a
// required field is empty; it does not reach the issuer (see Discover).
func NewOIDC(cfg OIDCConfig) (*OIDC, error) {
	switch {
	case cfg.Name == "":
		return nil, model.Invalid("sso oidc: name is required")
	case cfg.Issuer == "":
		return nil, model.Invalid("sso oidc %s: issuer is required", cfg.Name)
	case cfg.ClientID == "":
		return nil, model.Invalid("sso oidc %s: clientID is required", cfg.Name)
	}
	if u, err := url.Parse(cfg.Issuer); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, model.Invalid("sso oidc %s: issuer %q is not an http(s) URL", cfg.Name, cfg.Issuer)
	}
	if cfg.GroupsClaim == "" {
		cfg.GroupsClaim = "groups"
	}
	if cfg.DiscoveryRetry <= 0 {
		cfg.DiscoveryRetry = 5 * time.Second
	}
	client := cfg.HTTPClient
	if client == nil {
		client = &http.Client{Timeout: 15 * time.Second}
	}
	return &OIDC{cfg: cfg, client: client, pkceKey: pkceKey(cfg.ClientSecret)}, nil
}

// Discover reads the issuer's discovery document now, if it has not been
// read yet. The server calls it at start to warn early of an issuer it
// cannot reach; sign-ins call it too. An issuer that cannot be reached, or
// whose document names another issuer, is a KindUnavailable error.
func (o *OIDC) Discover(ctx context.Context) error {
	_, err := o.discovery(ctx)
	return err
}

func (o *OIDC) discovery(ctx context.Context) (*discovered, error) {
	for {
		o.mu.Lock()
		switch {
		case o.d != nil:
			d := o.d
			o.mu.Unlock()
			return d, nil
		case o.lastErr != nil && time.Since(o.lastTry) < o.cfg.DiscoveryRetry:
			err := o.lastErr
			o.mu.Unlock()
			return nil, err
		case o.inFlight != nil:
			// Someone is reading it already: wait for their answer.
			ch := o.inFlight
			o.mu.Unlock()
			select {
			case <-ch:
				continue
			case <-ctx.Done():
				return nil, model.Errorf(model.KindUnavailable, "sso oidc %s: discover issuer %s: %w", o.cfg.Name, o.cfg.Issuer, ctx.Err())
			}
		}
		ch := make(chan struct{})
		o.inFlight = ch
		o.mu.Unlock()

		d, err := o.discover()
		o.mu.Lock()
		o.d, o.lastErr, o.lastTry, o.inFlight = d, err, time.Now(), nil
		o.mu.Unlock()
		close(ch)
		return d, err
	}
}

// discover reads the discovery document. The provider it returns keeps
// the context it was made with to fetch signing keys later, so that
// context carries only the HTTP client (whose timeout bounds every
// request), never a request's deadline.
func (o *OIDC) discover() (*discovered, error) {
	ctx := oidc.ClientContext(context.Background(), o.client)
	cfg := o.cfg
	p, err := oidc.NewProvider(ctx, cfg.Issuer)
	if err != nil {
		return nil, model.Errorf(model.KindUnavailable, "sso oidc %s: discover issuer %s: %w", cfg.Name, cfg.Issuer, err)
	}
	var meta struct {
		CodeChallengeMethods []string `json:"code_challenge_methods_supported"`
		AuthMethods          []string `json:"token_endpoint_auth_methods_supported"`
		Scopes               []string `json:"scopes_supported"`
	}
	if err := p.Claims(&meta); err != nil {
		return nil, model.Errorf(model.KindUnavailable, "sso oidc %s: read discovery document: %w", cfg.Name, err)
	}
	if cfg.Scopes == nil {
		// Providers such as Okta refuse a scope they do not know, so
		// groups is asked for only where it is advertised.
		cfg.Scopes = []string{"profile", "email"}
		if slices.Contains(meta.Scopes, "groups") {
			cfg.Scopes = append(cfg.Scopes, "groups")
		}
	}
	scopes := []string{oidc.ScopeOpenID}
	for _, s := range cfg.Scopes {
		if s != oidc.ScopeOpenID {
			scopes = append(scopes, s)
		}
	}
	endpoint := p.Endpoint()
	endpoint.AuthStyle = authStyle(meta.AuthMethods)
	return &discovered{
		provider: p,
		oauth: oauth2.Config{
			ClientID:     cfg.ClientID,
			ClientSecret: cfg.ClientSecret,
			Endpoint:     endpoint,
			Scopes:       scopes,
		},
		verifier: p.Verifier(&oidc.Config{ClientID: cfg.ClientID}),
		pkce:     slices.Contains(meta.CodeChallengeMethods, "S256"),
	}, nil
}

// authStyle picks how the client authenticates at the token endpoint from
// the methods the provider lists: HTTP Basic unless only client_secret_post
// is supported. Guessing (oauth2.AuthStyleAutoDetect) would send a refused
// code twice, and a failed PKCE check uses the code up at some providers.
func authStyle(methods []string) oauth2.AuthStyle {
	if !slices.Contains(methods, "client_secret_basic") && slices.Contains(methods, "client_secret_post") {
		return oauth2.AuthStyleInParams
	}
	// The discovery spec's default when the list is absent.
	return oauth2.AuthStyleInHeader
}

// Name implements Provider.
func (o *OIDC) Name() string { return o.cfg.Name }

// AuthCodeURL implements Provider. The request carries the nonce and,
// when the provider supports PKCE, a code challenge derived from it.
func (o *OIDC) AuthCodeURL(ctx context.Context, state, nonce, redirectURL string) (string, error) {
	d, err := o.discovery(ctx)
	if err != nil {
		return "", err
	}
	c := d.oauth
	c.RedirectURL = redirectURL
	opts := []oauth2.AuthCodeOption{oidc.Nonce(nonce)}
	if d.pkce {
		opts = append(opts, oauth2.S256ChallengeOption(o.verifierFor(nonce)))
	}
	return c.AuthCodeURL(state, opts...), nil
}

// Exchange implements Provider. It trades the code for tokens and checks
// the ID token: signature against the provider's keys, issuer, audience
// (ClientID), expiry and nonce. A refused token is a KindUnauthenticated
// error; a provider that cannot be reached, KindUnavailable.
func (o *OIDC) Exchange(ctx context.Context, code, nonce, redirectURL string) (Identity, error) {
	if code == "" {
		return Identity{}, model.Errorf(model.KindUnauthenticated, "sso %s: the provider sent no code", o.cfg.Name)
	}
	if nonce == "" {
		return Identity{}, model.Errorf(model.KindUnauthenticated, "sso %s: no nonce to check the ID token against", o.cfg.Name)
	}
	d, err := o.discovery(ctx)
	if err != nil {
		return Identity{}, err
	}
	ctx = context.WithValue(ctx, oauth2.HTTPClient, o.client)
	c := d.oauth
	c.RedirectURL = redirectURL
	var opts []oauth2.AuthCodeOption
	if d.pkce {
		opts = append(opts, oauth2.VerifierOption(o.verifierFor(nonce)))
	}
	tok, err := c.Exchange(ctx, code, opts...)
	if err != nil {
		return Identity{}, exchangeError(o.cfg.Name, err)
	}
	raw, ok := tok.Extra("id_token").(string)
	if !ok || raw == "" {
		return Identity{}, model.Errorf(model.KindUnauthenticated, "sso %s: the token response has no id_token; is the openid scope allowed for this client?", o.cfg.Name)
	}
	idt, err := d.verifier.Verify(ctx, raw)
	if err != nil {
		return Identity{}, model.Errorf(model.KindUnauthenticated, "sso %s: ID token refused: %w", o.cfg.Name, err)
	}
	if !hmac.Equal([]byte(idt.Nonce), []byte(nonce)) {
		return Identity{}, model.Errorf(model.KindUnauthenticated, "sso %s: ID token refused: its nonce is not the one this sign-in sent", o.cfg.Name)
	}
	var claims map[string]any
	if err := idt.Claims(&claims); err != nil {
		return Identity{}, model.Errorf(model.KindUnauthenticated, "sso %s: read ID token claims: %w", o.cfg.Name, err)
	}
	if err := o.addUserInfo(ctx, d.provider, tok, idt.Subject, claims); err != nil {
		return Identity{}, err
	}
	return o.identity(idt.Subject, claims)
}

// addUserInfo fills in, from the userinfo endpoint, the groups and name
// claims the ID token lacks: some providers (Okta, Azure AD with many
// groups) send them only there. The answer counts only if it is about the
// ID token's subject. Without a userinfo endpoint, or with nothing
// missing, it does nothing.
func (o *OIDC) addUserInfo(ctx context.Context, p *oidc.Provider, tok *oauth2.Token, sub string, claims map[string]any) error {
	want := []string{o.cfg.GroupsClaim}
	if o.cfg.NameClaim != "" {
		want = append(want, o.cfg.NameClaim)
	}
	missing := slices.ContainsFunc(want, func(k string) bool { _, ok := claims[k]; return !ok })
	if !missing || p.UserInfoEndpoint() == "" {
		return nil
	}
	ui, err := p.UserInfo(ctx, oauth2.StaticTokenSource(tok))
	if err != nil {
		return model.Errorf(model.KindUnavailable, "sso %s: read userinfo for the claims the ID token lacks: %w", o.cfg.Name, err)
	}
	if ui.Subject != sub {
		return model.Errorf(model.KindUnauthenticated, "sso %s: userinfo is about another subject than the ID token", o.cfg.Name)
	}
	var more map[string]any
	if err := ui.Claims(&more); err != nil {
		return model.Errorf(model.KindUnavailable, "sso %s: read userinfo claims: %w", o.cfg.Name, err)
	}
	for _, k := range want {
		if _, ok := claims[k]; !ok && more[k] != nil {
			claims[k] = more[k]
		}
	}
	return nil
}

// identity reads the person out of verified claims.
func (o *OIDC) identity(sub string, claims map[string]any) (Identity, error) {
	id := Identity{Provider: o.cfg.Name, Subject: sub}
	id.Email, _ = claims["email"].(string)
	if o.cfg.NameClaim != "" {
		id.Name, _ = claims[o.cfg.NameClaim].(string)
		if id.Name == "" {
			return Identity{}, model.Errorf(model.KindUnauthenticated, "sso %s: the ID token has no string claim %q (nameClaim); set nameClaim to a claim the provider sends", o.cfg.Name, o.cfg.NameClaim)
		}
	} else {
		for _, k := range []string{"preferred_username", "email"} {
			if s, _ := claims[k].(string); s != "" {
				id.Name = s
				break
			}
		}
		if id.Name == "" {
			id.Name = sub
		}
	}
	groups, err := stringList(claims[o.cfg.GroupsClaim])
	if err != nil {
		return Identity{}, model.Errorf(model.KindUnauthenticated, "sso %s: claim %q (groupsClaim) %v", o.cfg.Name, o.cfg.GroupsClaim, err)
	}
	id.Groups = groups
	return id, nil
}

// stringList reads a claim that is absent, a string or a list of strings.
func stringList(v any) ([]string, error) {
	switch v := v.(type) {
	case nil:
		return nil, nil
	case string:
		if v == "" {
			return nil, nil
		}
		return []string{v}, nil
	case []any:
		if len(v) == 0 {
			return nil, nil
		}
		out := make([]string, 0, len(v))
		for _, e := range v {
			s, ok := e.(string)
			if !ok {
				return nil, fmt.Errorf("holds a %T in its list; want strings", e)
			}
			out = append(out, s)
		}
		return out, nil
	default:
		return nil, fmt.Errorf("is a %T; want a string or a list of strings", v)
	}
}

// pkceKey is the key PKCE code verifiers are derived with. The Provider
// contract carries no verifier from AuthCodeURL to Exchange, so it is
// derived from the nonce the console keeps, keyed with the client secret:
// every replica derives the same verifier, and seeing the nonce in the
// authorization request does not reveal it. A public client (no secret)
// gets a fixed key, so its verifier only adds the nonce's secrecy.
func pkceKey(secret string) []byte {
	sum := sha256.Sum256([]byte("ferry sso pkce\x00" + secret))
	return sum[:]
}

// verifierFor returns the PKCE code verifier of the sign-in with nonce:
// 43 characters of base64url, as RFC 7636 asks.
func (o *OIDC) verifierFor(nonce string) string {
	m := hmac.New(sha256.New, o.pkceKey)
	m.Write([]byte(nonce))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// exchangeError classifies a failed code exchange: the provider refusing
// the code (or the client) is KindUnauthenticated, anything else
// KindUnavailable. The error never includes the code or the secret.
func exchangeError(name string, err error) error {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		what := re.ErrorCode
		if what == "" {
			what = fmt.Sprintf("HTTP %d", re.Response.StatusCode)
		}
		if re.ErrorDescription != "" {
			what += ": " + re.ErrorDescription
		}
		return model.Errorf(model.KindUnauthenticated, "sso %s: the provider refused the code: %s", name, strings.TrimSpace(what))
	}
	return model.Errorf(model.KindUnavailable, "sso %s: exchange the code: %w", name, err)
}
