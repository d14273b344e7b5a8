package api

import (
	"context"

	"github.com/ferrycd/ferry/internal/auth"
)

// Principal is the authenticated caller of a request. It lives in package
// auth, which the console uses too; the handlers here name it as before.
type Principal = auth.Principal

// WithPrincipal returns ctx carrying p (auth.WithPrincipal).
func WithPrincipal(ctx context.Context, p *Principal) context.Context {
	return auth.WithPrincipal(ctx, p)
}

// PrincipalFrom returns the caller stored by the auth interceptor
// (auth.PrincipalFrom). Handlers only run after it, so a missing principal
// is a wiring bug.
func PrincipalFrom(ctx context.Context) *Principal { return auth.PrincipalFrom(ctx) }
