package auth

import (
	"context"
	"net/http"

	"github.com/ferrycd/ferry/internal/model"
)

// Principal is the authenticated caller of a request: of an API call, or
// of a console page or action, which calls the API's services in-process
// as the signed-in person.
type Principal struct {
	// Subject names the caller in audit records and approvals:
	// "apikey:<id>", "agent:<id>", "user:<name>" for the static admin or
	// "user:<provider>:<id>" for single sign-on.
	Subject string
	// Name is who the caller is to people: a user's name, or an API
	// key's name (a key is named after its holder). It is shown, never
	// trusted: approvals are checked against a stage's approvers by Subject.
	Name      string
	ProjectID string
	// Role is the caller's role; empty for agents.
	Role model.Role
	// AgentID is set when the caller is an agent.
	AgentID string
	// SessionID is set when the caller is a person signed in to the web
	// console: the id of that console session.
	SessionID string
}

type principalKey struct{}

// WithPrincipal returns ctx carrying p.
func WithPrincipal(ctx context.Context, p *Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// PrincipalFrom returns the caller stored by the API's authorizer (or by
// the console, calling the API in-process). Handlers only run after it, so
// a missing principal is a wiring bug.
func PrincipalFrom(ctx context.Context) *Principal {
	p, _ := ctx.Value(principalKey{}).(*Principal)
	if p == nil {
		panic("auth: handler called without an authenticated principal")
	}
	return p
}

// SessionAuthenticator resolves a console session from a request's cookies.
// It returns (nil, nil) when the request carries no session.
type SessionAuthenticator func(ctx context.Context, h http.Header) (*Principal, error)
