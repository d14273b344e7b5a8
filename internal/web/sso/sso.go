// Package sso signs people in to the web console through an identity
// provider: GitHub (OAuth) or any OpenID Connect provider. A Provider runs
// the authorization code flow's two ends (the redirect to the provider,
// the exchange of the code it sends back) and says who signed in; a
// RoleMapping turns the person's teams or groups into a Ferry role.
//
// The console (package web) owns the HTTP side: state and nonce cookies,
// the session, CSRF. This package owns talking to the provider.
package sso

import (
	"context"

	"github.com/ferrycd/ferry/internal/model"
)

// Identity is who signed in, as the provider says.
type Identity struct {
	// Provider is the name of the Provider that signed the person in.
	Provider string
	// Subject is the provider's stable id of the person.
	Subject string
	// Name is the login or preferred username shown in Ferry. It is not
	// trusted for approvals, which match the subject.
	Name  string
	Email string
	// Groups are the person's teams ("org/team" on GitHub) or the OIDC
	// groups claim's values.
	Groups []string
}

// Provider is one identity provider configured for sign-in.
type Provider interface {
	// Name is the provider's name in the config and in the console's URLs
	// (/login/sso/{name}, /login/sso/{name}/callback).
	Name() string
	// AuthCodeURL is where to send the browser to sign in; state and nonce
	// are random values the console keeps in a cookie and checks on the
	// way back; redirectURL is the console's callback URL. It fails when
	// the provider must be asked first and cannot be reached.
	AuthCodeURL(ctx context.Context, state, nonce, redirectURL string) (string, error)
	// Exchange trades the code the provider sent back for the person's
	// identity, checking the ID token (signature, issuer, audience, expiry,
	// nonce) where there is one.
	Exchange(ctx context.Context, code, nonce, redirectURL string) (Identity, error)
}

// RoleMapping maps teams or groups to roles.
type RoleMapping struct {
	// Rules are checked in order; the highest role any matching rule gives
	// wins.
	Rules []RoleRule
	// Default is the role of a person no rule matches; empty refuses
	// them.
	Default model.Role
}

// RoleRule gives Role to the members of Group.
type RoleRule struct {
	Group string
	Role  model.Role
}
