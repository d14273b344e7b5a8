package testenv

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"maps"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ory/fosite"
	"github.com/ory/fosite/compose"
	"github.com/ory/fosite/handler/openid"
	"github.com/ory/fosite/storage"
	"github.com/ory/fosite/token/jwt"
	"golang.org/x/crypto/bcrypt"
)

// OIDCUser is the person an OIDCEnv signs in: every authorization request
// is approved at once for them, with no login page, so a test or a
// headless browser that follows redirects comes back signed in as them.
type OIDCUser struct {
	// Subject is the ID token's sub.
	Subject string
	// Name is the name and preferred_username claims, left out when
	// empty.
	Name string
	// Email is the email claim, marked verified; left out when empty.
	Email string
	// Groups is the groups claim, a list of strings; left out when nil.
	Groups []string
	// Claims are added to the ID token's claims, replacing any of the
	// above of the same name: a "groups" string rather than a list, a
	// custom roles claim.
	Claims map[string]any
	// UserInfoOnly names claims (such as "groups") left out of the ID
	// token and served only by the userinfo endpoint, as some providers
	// do with large or optional claims.
	UserInfoOnly []string
}

// OIDCMisbehaviour makes an OIDCEnv issue ID tokens a relying party must
// refuse. The zero value behaves.
type OIDCMisbehaviour struct {
	// Claims, when set, changes the ID token's claims (iss, aud, exp,
	// nonce...) after fosite made them; the token is then signed again
	// with the provider's key, so only the changed claims are wrong.
	Claims func(claims map[string]any)
	// BadSignature breaks the ID token's signature.
	BadSignature bool
	// UserInfo, when set, changes the claims the userinfo endpoint answers
	// (a copy; the next answer starts afresh).
	UserInfo func(claims map[string]any)
}

// OIDCEnv is a real OpenID Connect provider for one test, built on
// github.com/ory/fosite and served by httptest on a free loopback port: a
// discovery document, a JWKS, the authorization endpoint (auto-approving
// the configured user) and the token endpoint issuing RS256 ID tokens with
// the request's nonce. PKCE (S256 and plain) is supported, not required.
//
// The userinfo endpoint answers, for a valid access token, every claim of
// the user who signed in, including OIDCUser.UserInfoOnly ones.
//
// One client is registered, ClientID with ClientSecret; it may redirect to
// any http URL on a loopback host (127.0.0.1, [::1], localhost), so a
// console under test on its own httptest server needs no registration.
type OIDCEnv struct {
	// Issuer is the provider's issuer URL, http://127.0.0.1:<port>, the
	// address of its /.well-known/openid-configuration.
	Issuer string
	// ClientID and ClientSecret identify the one registered client.
	ClientID     string
	ClientSecret string

	srv      *httptest.Server
	provider fosite.OAuth2Provider
	signer   *jwt.DefaultSigner
	kid      string
	key      *rsa.PrivateKey

	mu       sync.Mutex
	user     OIDCUser
	bad      OIDCMisbehaviour
	userinfo map[string]map[string]any // subject → all claims, set on sign-in
}

// OIDC starts an OpenID Connect provider that signs user in, and stops it
// when the test ends.
func OIDC(t testing.TB, user OIDCUser) *OIDCEnv {
	t.Helper()
	key := oidcKey(t)
	e := &OIDCEnv{
		ClientID:     "ferry-test",
		ClientSecret: "ferry-test-secret-" + randomHex(8),
		key:          key,
		kid:          "ferry-test-" + randomHex(4),
		user:         user,
		userinfo:     map[string]map[string]any{},
	}
	e.signer = &jwt.DefaultSigner{GetPrivateKey: func(context.Context) (any, error) { return key, nil }}
	mux := http.NewServeMux()
	e.srv = httptest.NewServer(mux)
	t.Cleanup(e.srv.Close)
	e.Issuer = e.srv.URL

	hash, err := bcrypt.GenerateFromPassword([]byte(e.ClientSecret), bcrypt.MinCost)
	if err != nil {
		t.Fatalf("hash the test client's secret: %v", err)
	}
	store := &oidcStore{MemoryStore: storage.NewMemoryStore(), client: fosite.DefaultClient{
		ID:            e.ClientID,
		Secret:        hash,
		GrantTypes:    []string{"authorization_code", "refresh_token"},
		ResponseTypes: []string{"code"},
		Scopes:        []string{"openid", "profile", "email", "groups", "offline_access"},
	}}
	cfg := &fosite.Config{
		IDTokenIssuer:              e.Issuer,
		AccessTokenIssuer:          e.Issuer,
		IDTokenLifespan:            time.Hour,
		GlobalSecret:               []byte(randomHex(16)),
		ScopeStrategy:              fosite.ExactScopeStrategy,
		AudienceMatchingStrategy:   fosite.DefaultAudienceMatchingStrategy,
		SendDebugMessagesToClients: true,
	}
	e.provider = compose.ComposeAllEnabled(cfg, store, key)

	mux.HandleFunc("GET /.well-known/openid-configuration", e.discovery)
	mux.HandleFunc("GET /jwks", e.jwks)
	mux.HandleFunc("/authorize", e.authorize)
	mux.HandleFunc("POST /token", e.token)
	mux.HandleFunc("/userinfo", e.userInfo)
	return e
}

// SetUser makes user the person signed in from now on.
func (e *OIDCEnv) SetUser(user OIDCUser) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.user = user
}

// Misbehave makes the ID tokens issued from now on wrong in the way m
// says; Misbehave(OIDCMisbehaviour{}) makes the provider behave again.
func (e *OIDCEnv) Misbehave(m OIDCMisbehaviour) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.bad = m
}

// discovery serves the OpenID Provider Metadata.
func (e *OIDCEnv) discovery(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, map[string]any{
		"issuer":                                e.Issuer,
		"authorization_endpoint":                e.Issuer + "/authorize",
		"token_endpoint":                        e.Issuer + "/token",
		"userinfo_endpoint":                     e.Issuer + "/userinfo",
		"jwks_uri":                              e.Issuer + "/jwks",
		"response_types_supported":              []string{"code"},
		"subject_types_supported":               []string{"public"},
		"id_token_signing_alg_values_supported": []string{"RS256"},
		"scopes_supported":                      []string{"openid", "profile", "email", "groups", "offline_access"},
		"token_endpoint_auth_methods_supported": []string{"client_secret_basic", "client_secret_post"},
		"code_challenge_methods_supported":      []string{"S256", "plain"},
		"claims_supported":                      []string{"sub", "iss", "aud", "exp", "iat", "nonce", "name", "preferred_username", "email", "email_verified", "groups"},
	})
}

// jwks serves the public half of the signing key.
func (e *OIDCEnv) jwks(w http.ResponseWriter, _ *http.Request) {
	pub := e.key.PublicKey
	writeJSON(w, map[string]any{"keys": []map[string]any{{
		"kty": "RSA",
		"use": "sig",
		"alg": "RS256",
		"kid": e.kid,
		"n":   base64.RawURLEncoding.EncodeToString(pub.N.Bytes()),
		"e":   base64.RawURLEncoding.EncodeToString(big.NewInt(int64(pub.E)).Bytes()),
	}}})
}

// authorize approves every valid authorization request for the current
// user, granting the scopes asked for, and redirects back with the code.
func (e *OIDCEnv) authorize(w http.ResponseWriter, r *http.Request) {
	ctx := context.WithValue(r.Context(), redirectURIKey{}, r.FormValue("redirect_uri"))
	ar, err := e.provider.NewAuthorizeRequest(ctx, r)
	if err != nil {
		e.provider.WriteAuthorizeError(ctx, w, ar, err)
		return
	}
	for _, s := range ar.GetRequestedScopes() {
		ar.GrantScope(s)
	}
	resp, err := e.provider.NewAuthorizeResponse(ctx, ar, e.session())
	if err != nil {
		e.provider.WriteAuthorizeError(ctx, w, ar, err)
		return
	}
	e.provider.WriteAuthorizeResponse(ctx, w, ar, resp)
}

// session is the fosite session of the current user, whose claims become
// the ID token's; it also records every claim for the userinfo endpoint.
func (e *OIDCEnv) session() *openid.DefaultSession {
	e.mu.Lock()
	defer e.mu.Unlock()
	u := e.user
	all := map[string]any{"sub": u.Subject}
	if u.Name != "" {
		all["name"], all["preferred_username"] = u.Name, u.Name
	}
	if u.Email != "" {
		all["email"], all["email_verified"] = u.Email, true
	}
	if u.Groups != nil {
		all["groups"] = append([]string{}, u.Groups...)
	}
	for k, v := range u.Claims {
		all[k] = v
	}
	e.userinfo[u.Subject] = all
	extra := map[string]any{}
	for k, v := range all {
		if k != "sub" && !slices.Contains(u.UserInfoOnly, k) {
			extra[k] = v
		}
	}
	now := time.Now().UTC()
	return &openid.DefaultSession{
		Subject:  u.Subject,
		Username: u.Name,
		Claims: &jwt.IDTokenClaims{
			Subject:     u.Subject,
			Issuer:      e.Issuer,
			AuthTime:    now,
			RequestedAt: now,
			Extra:       extra,
		},
		Headers: &jwt.Headers{Extra: map[string]any{"kid": e.kid}},
	}
}

// userInfo answers the claims of the person an access token was issued to.
func (e *OIDCEnv) userInfo(w http.ResponseWriter, r *http.Request) {
	_, ar, err := e.provider.IntrospectToken(r.Context(), fosite.AccessTokenFromRequest(r), fosite.AccessToken, openid.NewDefaultSession())
	if err != nil {
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
		http.Error(w, "invalid access token", http.StatusUnauthorized)
		return
	}
	e.mu.Lock()
	claims := maps.Clone(e.userinfo[ar.GetSession().GetSubject()])
	change := e.bad.UserInfo
	e.mu.Unlock()
	if change != nil {
		change(claims)
	}
	writeJSON(w, claims)
}

// token exchanges codes (and refresh tokens) for tokens, applying any
// misbehaviour to the ID token.
func (e *OIDCEnv) token(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	ar, err := e.provider.NewAccessRequest(ctx, r, openid.NewDefaultSession())
	if err != nil {
		e.provider.WriteAccessError(ctx, w, ar, err)
		return
	}
	resp, err := e.provider.NewAccessResponse(ctx, ar)
	if err != nil {
		e.provider.WriteAccessError(ctx, w, ar, err)
		return
	}
	if tok, ok := resp.GetExtra("id_token").(string); ok && tok != "" {
		bad, err := e.misbehave(ctx, tok)
		if err != nil {
			e.provider.WriteAccessError(ctx, w, ar, fosite.ErrServerError.WithDebug(err.Error()))
			return
		}
		resp.SetExtra("id_token", bad)
	}
	e.provider.WriteAccessResponse(ctx, w, ar, resp)
}

// misbehave returns the ID token tok changed as the current
// OIDCMisbehaviour says.
func (e *OIDCEnv) misbehave(ctx context.Context, tok string) (string, error) {
	e.mu.Lock()
	bad := e.bad
	e.mu.Unlock()
	if bad.Claims != nil {
		parts := strings.Split(tok, ".")
		if len(parts) != 3 {
			return "", fmt.Errorf("id token has %d parts", len(parts))
		}
		payload, err := base64.RawURLEncoding.DecodeString(parts[1])
		if err != nil {
			return "", fmt.Errorf("decode id token: %w", err)
		}
		claims := map[string]any{}
		if err := json.Unmarshal(payload, &claims); err != nil {
			return "", fmt.Errorf("decode id token claims: %w", err)
		}
		bad.Claims(claims)
		tok, _, err = e.signer.Generate(ctx, jwt.MapClaims(claims), &jwt.Headers{Extra: map[string]any{"kid": e.kid}})
		if err != nil {
			return "", fmt.Errorf("sign id token: %w", err)
		}
	}
	if bad.BadSignature {
		i := strings.LastIndexByte(tok, '.')
		sig, err := base64.RawURLEncoding.DecodeString(tok[i+1:])
		if err != nil {
			return "", fmt.Errorf("decode id token signature: %w", err)
		}
		sig[len(sig)/2] ^= 0xff
		tok = tok[:i+1] + base64.RawURLEncoding.EncodeToString(sig)
	}
	return tok, nil
}

// redirectURIKey keys the authorization request's redirect_uri in its
// context, for oidcStore.GetClient.
type redirectURIKey struct{}

// oidcStore is fosite's in-memory store with one client, which accepts
// the authorization request's redirect_uri when it is on a loopback host.
type oidcStore struct {
	*storage.MemoryStore
	client fosite.DefaultClient
}

// GetClient returns the test client, or fosite.ErrNotFound.
func (s *oidcStore) GetClient(ctx context.Context, id string) (fosite.Client, error) {
	if id != s.client.ID {
		return nil, fosite.ErrNotFound
	}
	c := s.client
	if raw, _ := ctx.Value(redirectURIKey{}).(string); raw != "" {
		if u, err := url.Parse(raw); err == nil && u.Scheme == "http" && isLoopback(u.Hostname()) {
			c.RedirectURIs = []string{raw}
		}
	}
	return &c, nil
}

func isLoopback(host string) bool {
	return host == "127.0.0.1" || host == "::1" || host == "localhost"
}

var oidcKeyOnce = sync.OnceValues(func() (*rsa.PrivateKey, error) { return rsa.GenerateKey(rand.Reader, 2048) })

// oidcKey returns the RSA key every OIDCEnv of the process signs with;
// making one takes long enough to be worth sharing.
func oidcKey(t testing.TB) *rsa.PrivateKey {
	t.Helper()
	key, err := oidcKeyOnce()
	if err != nil {
		t.Fatalf("generate the OIDC signing key: %v", err)
	}
	return key
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}
