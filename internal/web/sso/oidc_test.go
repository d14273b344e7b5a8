package sso_test

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ferrycd/ferry/internal/model"
	"github.com/ferrycd/ferry/internal/testenv"
	"github.com/ferrycd/ferry/internal/web/sso"
)

// callback is the console's callback URL in these tests; nothing listens
// there, as signIn stops at the redirect to it.
const callback = "http://127.0.0.1:9/login/sso/corp/callback"

var ann = testenv.OIDCUser{Subject: "u-123", Name: "ann", Email: "ann@example.com", Groups: []string{"devs", "ops"}}

func newOIDC(t *testing.T, env *testenv.OIDCEnv, mod func(*sso.OIDCConfig)) sso.Provider {
	t.Helper()
	cfg := sso.OIDCConfig{Name: "corp", Issuer: env.Issuer, ClientID: env.ClientID, ClientSecret: env.ClientSecret}
	if mod != nil {
		mod(&cfg)
	}
	p, err := sso.NewOIDC(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func random(t *testing.T) string {
	t.Helper()
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// signIn follows the redirects from p's AuthCodeURL as a browser would,
// stops at the one to the console's callback, checks its state and
// returns its code.
func signIn(t *testing.T, p sso.Provider, state, nonce string) string {
	t.Helper()
	c := &http.Client{CheckRedirect: func(req *http.Request, _ []*http.Request) error {
		if strings.HasPrefix(req.URL.String(), callback) {
			return http.ErrUseLastResponse
		}
		return nil
	}}
	u, err := p.AuthCodeURL(t.Context(), state, nonce, callback)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, err := resp.Location()
	if err != nil {
		t.Fatalf("the provider answered %s, not a redirect to the callback", resp.Status)
	}
	q := loc.Query()
	if q.Get("error") != "" {
		t.Fatalf("the provider refused the sign-in: %s: %s", q.Get("error"), q.Get("error_description"))
	}
	if got := q.Get("state"); got != state {
		t.Fatalf("the callback's state is %q, want %q", got, state)
	}
	if q.Get("code") == "" {
		t.Fatalf("the callback %s has no code", loc.Redacted())
	}
	return q.Get("code")
}

func TestOIDCSignsInTheProvidersUser(t *testing.T) {
	env := testenv.OIDC(t, ann)
	p := newOIDC(t, env, nil)
	if p.Name() != "corp" {
		t.Errorf("Name() = %q", p.Name())
	}
	nonce := random(t)
	code := signIn(t, p, random(t), nonce)
	id, err := p.Exchange(t.Context(), code, nonce, callback)
	if err != nil {
		t.Fatal(err)
	}
	want := sso.Identity{Provider: "corp", Subject: "u-123", Name: "ann", Email: "ann@example.com", Groups: []string{"devs", "ops"}}
	if diff := cmp.Diff(want, id); diff != "" {
		t.Errorf("identity (-want +got):\n%s", diff)
	}
	role, ok := sso.RoleMapping{Rules: []sso.RoleRule{{Group: "ops", Role: model.RoleEditor}}}.RoleFor(id)
	if role != model.RoleEditor || !ok {
		t.Errorf("RoleFor = %q, %v; want editor", role, ok)
	}
}

func TestOIDCSendsAPKCEChallenge(t *testing.T) {
	env := testenv.OIDC(t, ann)
	p := newOIDC(t, env, nil)
	raw, err := p.AuthCodeURL(t.Context(), "state-123456", "nonce-123456", callback)
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	if q.Get("code_challenge_method") != "S256" || len(q.Get("code_challenge")) != 43 {
		t.Errorf("authorization request %v has no S256 code challenge", q)
	}
	if q.Get("nonce") != "nonce-123456" || q.Get("scope") != "openid profile email groups" {
		t.Errorf("authorization request %v lacks the nonce or the default scopes", q)
	}
}

func TestOIDCSignsInWhoeverTheProviderSaysNow(t *testing.T) {
	env := testenv.OIDC(t, ann)
	p := newOIDC(t, env, nil)
	env.SetUser(testenv.OIDCUser{Subject: "u-456", Name: "bob", Groups: []string{"admins"}})
	nonce := random(t)
	id, err := p.Exchange(t.Context(), signIn(t, p, random(t), nonce), nonce, callback)
	if err != nil {
		t.Fatal(err)
	}
	if id.Subject != "u-456" || id.Name != "bob" || !cmp.Equal(id.Groups, []string{"admins"}) {
		t.Errorf("identity %+v, want bob's", id)
	}
}

func TestOIDCReadsTheConfiguredClaims(t *testing.T) {
	for _, tc := range []struct {
		name   string
		user   testenv.OIDCUser
		cfg    func(*sso.OIDCConfig)
		want   sso.Identity
		errHas string
	}{
		{
			name: "a groups claim that is one string is one group",
			user: testenv.OIDCUser{Subject: "s1", Name: "ann", Claims: map[string]any{"roles": "admins"}},
			cfg:  func(c *sso.OIDCConfig) { c.GroupsClaim = "roles" },
			want: sso.Identity{Subject: "s1", Name: "ann", Groups: []string{"admins"}},
		},
		{
			name: "the name comes from the configured claim",
			user: testenv.OIDCUser{Subject: "s2", Name: "ann", Email: "a@x.io", Claims: map[string]any{"login": "ann-login"}},
			cfg:  func(c *sso.OIDCConfig) { c.NameClaim = "login" },
			want: sso.Identity{Subject: "s2", Name: "ann-login", Email: "a@x.io"},
		},
		{
			name: "without a preferred_username the name is the email",
			user: testenv.OIDCUser{Subject: "s3", Email: "a@x.io"},
			want: sso.Identity{Subject: "s3", Name: "a@x.io", Email: "a@x.io"},
		},
		{
			name: "without a preferred_username or an email the name is the subject",
			user: testenv.OIDCUser{Subject: "s4"},
			want: sso.Identity{Subject: "s4", Name: "s4"},
		},
		{
			name: "groups and name the ID token lacks are read from userinfo",
			user: testenv.OIDCUser{Subject: "s7", Name: "ann", Groups: []string{"ops"}, Claims: map[string]any{"login": "ann-l"}, UserInfoOnly: []string{"groups", "login"}},
			cfg:  func(c *sso.OIDCConfig) { c.NameClaim = "login" },
			want: sso.Identity{Subject: "s7", Name: "ann-l", Groups: []string{"ops"}},
		},
		{
			name:   "a missing configured name claim is refused, naming it",
			user:   testenv.OIDCUser{Subject: "s5", Name: "ann"},
			cfg:    func(c *sso.OIDCConfig) { c.NameClaim = "login" },
			errHas: `no string claim "login" (nameClaim)`,
		},
		{
			name:   "a groups claim of numbers is refused, naming it",
			user:   testenv.OIDCUser{Subject: "s6", Name: "ann", Claims: map[string]any{"groups": []int{1, 2}}},
			errHas: `claim "groups" (groupsClaim) holds a float64`,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := testenv.OIDC(t, tc.user)
			p := newOIDC(t, env, tc.cfg)
			nonce := random(t)
			id, err := p.Exchange(t.Context(), signIn(t, p, random(t), nonce), nonce, callback)
			if tc.errHas != "" {
				if err == nil || !strings.Contains(err.Error(), tc.errHas) {
					t.Fatalf("err = %v, want one saying %q", err, tc.errHas)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tc.want.Provider = "corp"
			if diff := cmp.Diff(tc.want, id); diff != "" {
				t.Errorf("identity (-want +got):\n%s", diff)
			}
		})
	}
}

func TestOIDCRefusesABadIDToken(t *testing.T) {
	for _, tc := range []struct {
		name   string
		bad    testenv.OIDCMisbehaviour
		errHas string
	}{
		{
			name:   "another nonce",
			bad:    testenv.OIDCMisbehaviour{Claims: func(c map[string]any) { c["nonce"] = "someone-elses-nonce" }},
			errHas: "nonce",
		},
		{
			name:   "another audience",
			bad:    testenv.OIDCMisbehaviour{Claims: func(c map[string]any) { c["aud"] = []string{"another-client"} }},
			errHas: "audience",
		},
		{
			name:   "another issuer",
			bad:    testenv.OIDCMisbehaviour{Claims: func(c map[string]any) { c["iss"] = "https://evil.example.com" }},
			errHas: "issued by a different provider",
		},
		{
			name:   "expired",
			bad:    testenv.OIDCMisbehaviour{Claims: func(c map[string]any) { c["exp"] = time.Now().Add(-time.Hour).Unix() }},
			errHas: "expired",
		},
		{
			name:   "tampered claims",
			bad:    testenv.OIDCMisbehaviour{BadSignature: true},
			errHas: "signature",
		},
	} {
		t.Run("an ID token with "+tc.name+" is refused", func(t *testing.T) {
			env := testenv.OIDC(t, ann)
			p := newOIDC(t, env, nil)
			env.Misbehave(tc.bad)
			nonce := random(t)
			_, err := p.Exchange(t.Context(), signIn(t, p, random(t), nonce), nonce, callback)
			if err == nil || !strings.Contains(err.Error(), tc.errHas) {
				t.Fatalf("err = %v, want one about the %s", err, tc.errHas)
			}
			if !model.IsKind(err, model.KindUnauthenticated) {
				t.Errorf("err is %v, want unauthenticated", model.KindOf(err))
			}
		})
	}
}

func TestOIDCRefusesUserInfoAboutSomeoneElse(t *testing.T) {
	env := testenv.OIDC(t, testenv.OIDCUser{Subject: "u-1", Name: "ann", Groups: []string{"ops"}, UserInfoOnly: []string{"groups"}})
	p := newOIDC(t, env, nil)
	env.Misbehave(testenv.OIDCMisbehaviour{UserInfo: func(c map[string]any) { c["sub"] = "u-2" }})
	nonce := random(t)
	_, err := p.Exchange(t.Context(), signIn(t, p, random(t), nonce), nonce, callback)
	if err == nil || !strings.Contains(err.Error(), "userinfo is about another subject") || !model.IsKind(err, model.KindUnauthenticated) {
		t.Fatalf("err = %v, want an unauthenticated error about userinfo's subject", err)
	}
}

func TestOIDCRefusesTheWrongNonceAndAReusedCode(t *testing.T) {
	env := testenv.OIDC(t, ann)
	p := newOIDC(t, env, nil)
	nonce := random(t)
	code := signIn(t, p, random(t), nonce)
	if _, err := p.Exchange(t.Context(), code, random(t), callback); err == nil {
		t.Fatal("Exchange with another sign-in's nonce succeeded")
	}
	// The PKCE verifier is derived from the nonce, so the provider refused
	// the first exchange, and used up the code's PKCE data doing so.
	if _, err := p.Exchange(t.Context(), code, nonce, callback); err == nil || !model.IsKind(err, model.KindUnauthenticated) {
		t.Fatalf("a second exchange of one code: err = %v, want unauthenticated", err)
	}
}

// noIssuer returns the URL of a server that is no OpenID Connect issuer:
// its discovery document is not found.
func noIssuer(t *testing.T) string {
	t.Helper()
	srv := httptest.NewServer(http.NotFoundHandler())
	t.Cleanup(srv.Close)
	return srv.URL
}

// flakyNetwork fails every request until up is set, as a network that
// cannot reach the issuer yet.
type flakyNetwork struct {
	up    atomic.Bool
	tries atomic.Int32
}

func (f *flakyNetwork) RoundTrip(req *http.Request) (*http.Response, error) {
	f.tries.Add(1)
	if !f.up.Load() {
		return nil, errors.New("connect: network is unreachable")
	}
	return http.DefaultTransport.RoundTrip(req)
}

func TestAnIssuerThatIsDownIsAskedAgainAtTheNextSignIn(t *testing.T) {
	env := testenv.OIDC(t, ann)
	net := &flakyNetwork{}
	p, err := sso.NewOIDC(sso.OIDCConfig{
		Name: "corp", Issuer: env.Issuer, ClientID: env.ClientID, ClientSecret: env.ClientSecret,
		HTTPClient: &http.Client{Transport: net}, DiscoveryRetry: time.Nanosecond,
	})
	if err != nil {
		t.Fatalf("NewOIDC must not reach the issuer: %v", err)
	}
	if net.tries.Load() != 0 {
		t.Fatalf("NewOIDC made %d requests; it must make none", net.tries.Load())
	}
	err = p.Discover(t.Context())
	if err == nil || !model.IsKind(err, model.KindUnavailable) || !strings.Contains(err.Error(), "sso oidc corp: discover issuer") {
		t.Fatalf("Discover with the issuer unreachable = %v, want an unavailable error naming the provider", err)
	}
	if _, err := p.AuthCodeURL(t.Context(), random(t), random(t), callback); !model.IsKind(err, model.KindUnavailable) {
		t.Fatalf("AuthCodeURL with the issuer unreachable = %v, want an unavailable error", err)
	}
	// The issuer comes back: the next sign-in works, with no restart.
	net.up.Store(true)
	state, nonce := random(t), random(t)
	code := signIn(t, p, state, nonce)
	id, err := p.Exchange(t.Context(), code, nonce, callback)
	if err != nil || id.Name != "ann" {
		t.Fatalf("sign-in once the issuer is back: %+v, %v", id, err)
	}
}

func TestAFailedDiscoveryIsRememberedForAWhile(t *testing.T) {
	net := &flakyNetwork{}
	p, err := sso.NewOIDC(sso.OIDCConfig{Name: "corp", Issuer: noIssuer(t), ClientID: "c", HTTPClient: &http.Client{Transport: net}, DiscoveryRetry: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	for range 5 {
		if err := p.Discover(t.Context()); err == nil {
			t.Fatal("Discover of an unreachable issuer succeeded")
		}
	}
	if n := net.tries.Load(); n != 1 {
		t.Fatalf("five sign-ins within DiscoveryRetry asked the issuer %d times, want 1", n)
	}
}

func TestNewOIDCChecksItsConfig(t *testing.T) {
	for _, tc := range []struct {
		cfg  sso.OIDCConfig
		want string
	}{
		{sso.OIDCConfig{Issuer: "https://id.example.com", ClientID: "c"}, "name is required"},
		{sso.OIDCConfig{Name: "corp", ClientID: "c"}, "issuer is required"},
		{sso.OIDCConfig{Name: "corp", Issuer: "http://127.0.0.1:9"}, "clientID is required"},
		{sso.OIDCConfig{Name: "corp", Issuer: "id.example.com", ClientID: "c"}, "is not an http(s) URL"},
	} {
		if _, err := sso.NewOIDC(tc.cfg); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("NewOIDC(%+v) = %v, want an error containing %q", tc.cfg, err, tc.want)
		}
	}
}
