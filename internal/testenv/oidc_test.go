package testenv_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/ferrycd/ferry/internal/testenv"
)

// TestOIDCIssuesVerifiableIDTokens runs the code flow against the provider
// with go-oidc and x/oauth2 alone, as any relying party would.
func TestOIDCIssuesVerifiableIDTokens(t *testing.T) {
	env := testenv.OIDC(t, testenv.OIDCUser{Subject: "u1", Name: "ann", Email: "ann@example.com", Groups: []string{"devs"}})
	ctx := t.Context()
	p, err := oidc.NewProvider(ctx, env.Issuer)
	if err != nil {
		t.Fatal(err)
	}
	const redirect = "http://127.0.0.1:9/callback"
	cfg := oauth2.Config{ClientID: env.ClientID, ClientSecret: env.ClientSecret, Endpoint: p.Endpoint(), RedirectURL: redirect, Scopes: []string{"openid", "groups"}}

	code := authorize(t, cfg.AuthCodeURL("state-1234", oidc.Nonce("nonce-1234")))
	tok, err := cfg.Exchange(ctx, code)
	if err != nil {
		t.Fatal(err)
	}
	idt, err := p.Verifier(&oidc.Config{ClientID: env.ClientID}).Verify(ctx, tok.Extra("id_token").(string))
	if err != nil {
		t.Fatal(err)
	}
	var claims struct {
		Name   string   `json:"preferred_username"`
		Email  string   `json:"email"`
		Groups []string `json:"groups"`
	}
	if err := idt.Claims(&claims); err != nil {
		t.Fatal(err)
	}
	if idt.Subject != "u1" || idt.Nonce != "nonce-1234" || claims.Name != "ann" || claims.Email != "ann@example.com" || len(claims.Groups) != 1 || claims.Groups[0] != "devs" {
		t.Errorf("ID token sub %q nonce %q claims %+v", idt.Subject, idt.Nonce, claims)
	}

	env.SetUser(testenv.OIDCUser{Subject: "u2", Name: "bob"})
	tok, err = cfg.Exchange(ctx, authorize(t, cfg.AuthCodeURL("state-5678", oidc.Nonce("nonce-5678"))))
	if err != nil {
		t.Fatal(err)
	}
	if idt, err = p.Verifier(&oidc.Config{ClientID: env.ClientID}).Verify(ctx, tok.Extra("id_token").(string)); err != nil || idt.Subject != "u2" {
		t.Errorf("after SetUser: subject %v, err %v; want u2", idt, err)
	}
}

func TestOIDCRefusesARedirectOffLoopback(t *testing.T) {
	env := testenv.OIDC(t, testenv.OIDCUser{Subject: "u1"})
	q := url.Values{"client_id": {env.ClientID}, "response_type": {"code"}, "scope": {"openid"},
		"redirect_uri": {"https://evil.example.com/cb"}, "state": {"state-1234"}, "nonce": {"nonce-1234"}}
	resp, err := noRedirects.Get(env.Issuer + "/authorize?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if loc, _ := resp.Location(); resp.StatusCode < 400 && loc != nil && loc.Host == "evil.example.com" {
		t.Fatalf("the provider redirected to %s", loc.Redacted())
	}
}

func TestOIDCDiscoveryAdvertisesPKCE(t *testing.T) {
	env := testenv.OIDC(t, testenv.OIDCUser{Subject: "u1"})
	resp, err := http.Get(env.Issuer + "/.well-known/openid-configuration")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var doc struct {
		Issuer  string   `json:"issuer"`
		Methods []string `json:"code_challenge_methods_supported"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil {
		t.Fatal(err)
	}
	if doc.Issuer != env.Issuer || len(doc.Methods) == 0 || doc.Methods[0] != "S256" {
		t.Errorf("discovery %+v", doc)
	}
}

var noRedirects = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// authorize requests authURL and returns the code of the redirect.
func authorize(t *testing.T, authURL string) string {
	t.Helper()
	resp, err := noRedirects.Get(authURL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, err := resp.Location()
	if err != nil {
		t.Fatalf("authorize answered %s, not a redirect", resp.Status)
	}
	if e := loc.Query().Get("error"); e != "" {
		t.Fatalf("authorize refused: %s: %s", e, loc.Query().Get("error_description"))
	}
	return loc.Query().Get("code")
}

func TestOIDCServesUserInfoOnlyClaimsFromUserInfo(t *testing.T) {
	env := testenv.OIDC(t, testenv.OIDCUser{Subject: "u1", Name: "ann", Groups: []string{"devs"}, UserInfoOnly: []string{"groups"}})
	ctx := t.Context()
	p, err := oidc.NewProvider(ctx, env.Issuer)
	if err != nil {
		t.Fatal(err)
	}
	cfg := oauth2.Config{ClientID: env.ClientID, ClientSecret: env.ClientSecret, Endpoint: p.Endpoint(), RedirectURL: "http://127.0.0.1:9/callback", Scopes: []string{"openid"}}
	tok, err := cfg.Exchange(ctx, authorize(t, cfg.AuthCodeURL("state-1234", oidc.Nonce("nonce-1234"))))
	if err != nil {
		t.Fatal(err)
	}
	idt, err := p.Verifier(&oidc.Config{ClientID: env.ClientID}).Verify(ctx, tok.Extra("id_token").(string))
	if err != nil {
		t.Fatal(err)
	}
	var inToken map[string]any
	if err := idt.Claims(&inToken); err != nil {
		t.Fatal(err)
	}
	if _, ok := inToken["groups"]; ok || inToken["preferred_username"] != "ann" {
		t.Errorf("ID token claims %v: want preferred_username and no groups", inToken)
	}
	ui, err := p.UserInfo(ctx, oauth2.StaticTokenSource(tok))
	if err != nil {
		t.Fatal(err)
	}
	var inUserInfo struct {
		Groups []string `json:"groups"`
	}
	if err := ui.Claims(&inUserInfo); err != nil {
		t.Fatal(err)
	}
	if ui.Subject != "u1" || len(inUserInfo.Groups) != 1 || inUserInfo.Groups[0] != "devs" {
		t.Errorf("userinfo sub %q groups %v, want u1 and devs", ui.Subject, inUserInfo.Groups)
	}
	if _, err := p.UserInfo(ctx, oauth2.StaticTokenSource(&oauth2.Token{AccessToken: "forged", TokenType: "Bearer"})); err == nil {
		t.Error("userinfo answered a forged access token")
	}
}
