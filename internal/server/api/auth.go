package api

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"connectrpc.com/connect"

	ferryv1 "github.com/ferrycd/ferry/api/gen/ferry/v1"
	"github.com/ferrycd/ferry/internal/auth"
	"github.com/ferrycd/ferry/internal/model"
	"github.com/ferrycd/ferry/internal/store"
)

// SessionAuthenticator resolves a console session from a request's cookies
// (auth.SessionAuthenticator). It returns (nil, nil) when the request
// carries no session.
type SessionAuthenticator = auth.SessionAuthenticator

// Authorizer authenticates every call and checks the role its method
// requires, read from the (ferry.v1.required_role) option of the API
// definition: a method without the option is refused for everyone, so a new
// RPC is closed until someone decides who may call it.
type Authorizer struct {
	store    store.Store
	logger   *slog.Logger
	now      func() time.Time
	required map[string]ferryv1.Role
	session  SessionAuthenticator

	// touched limits API key last-used writes to one a minute per key.
	mu      sync.Mutex
	touched map[string]time.Time

	agents *agentCredentials
}

// NewAuthorizer returns an Authorizer over the API's services.
func NewAuthorizer(st store.Store, logger *slog.Logger, session SessionAuthenticator) *Authorizer {
	a := &Authorizer{
		store:    st,
		logger:   logger,
		now:      time.Now,
		required: RequiredRoles(),
		session:  session,
		touched:  map[string]time.Time{},
	}
	a.agents = newAgentCredentials(st, func() time.Time { return a.now() })
	return a
}

// ForgetAgent drops what the authorizer remembers of an agent's
// credentials; call it after changing the agent's keys or disabled flag.
func (a *Authorizer) ForgetAgent(id string) { a.agents.forget(id) }

// RequiredRoles maps every procedure of the API ("/ferry.v1.X/Method") to the
// role its definition requires; methods without one map to UNSPECIFIED
// (auth.RequiredRoles).
func RequiredRoles() map[string]ferryv1.Role { return auth.RequiredRoles() }

var (
	errNoCredentials = connect.NewError(connect.CodeUnauthenticated, errors.New("no credentials: pass an API key as \"Authorization: Bearer <key>\" (ferry login)"))
	errBadAPIKey     = connect.NewError(connect.CodeUnauthenticated, errors.New("invalid API key"))
	errBadAgentKey   = connect.NewError(connect.CodeUnauthenticated, errors.New("invalid agent key"))
)

// authenticate resolves the caller of procedure from the request headers and
// checks its role.
func (a *Authorizer) authenticate(ctx context.Context, procedure string, h http.Header) (*Principal, error) {
	want, ok := a.required[procedure]
	if !ok || want == ferryv1.Role_ROLE_UNSPECIFIED {
		return nil, connect.NewError(connect.CodePermissionDenied, fmt.Errorf("%s is not open to any caller", procedure))
	}
	token, hasToken := bearer(h)
	var (
		p   *Principal
		err error
	)
	switch {
	case want == ferryv1.Role_ROLE_AGENT:
		if !hasToken {
			return nil, errNoCredentials
		}
		p, err = a.agent(ctx, token)
	case hasToken:
		p, err = a.apiKey(ctx, token)
	case a.session != nil:
		p, err = a.session(ctx, h)
		if err == nil && p == nil {
			err = errNoCredentials
		}
	default:
		err = errNoCredentials
	}
	if err != nil {
		return nil, err
	}
	if want != ferryv1.Role_ROLE_AGENT {
		if p.AgentID != "" {
			return nil, connect.NewError(connect.CodePermissionDenied, errors.New("agent keys may only call AgentService"))
		}
		if !p.Role.Allows(fromRole(want)) {
			return nil, connect.NewError(connect.CodePermissionDenied,
				fmt.Errorf("role %s may not call %s: it needs %s", p.Role, procedure[strings.LastIndex(procedure, "/")+1:], fromRole(want)))
		}
	}
	return p, nil
}

func bearer(h http.Header) (string, bool) {
	v := h.Get("Authorization")
	token, ok := strings.CutPrefix(v, "Bearer ")
	token = strings.TrimSpace(token)
	return token, ok && token != ""
}

func (a *Authorizer) agent(ctx context.Context, token string) (*Principal, error) {
	id, secret, err := auth.SplitKey(token)
	if err != nil {
		return nil, errBadAgentKey
	}
	ag, err := a.agents.get(ctx, id)
	switch {
	case model.IsKind(err, model.KindNotFound):
		return nil, errBadAgentKey
	case err != nil:
		return nil, err
	}
	hashes := make([]string, len(ag.Keys))
	for i, k := range ag.Keys {
		hashes[i] = k.Hash
	}
	if !auth.MatchSecret(secret, hashes...) {
		return nil, errBadAgentKey
	}
	if ag.Disabled {
		return nil, connect.NewError(connect.CodeUnauthenticated, fmt.Errorf("agent %s is disabled", ag.Name))
	}
	return &Principal{Subject: "agent:" + ag.ID, ProjectID: ag.ProjectID, AgentID: ag.ID}, nil
}

func (a *Authorizer) apiKey(ctx context.Context, token string) (*Principal, error) {
	id, secret, err := auth.SplitKey(token)
	if err != nil {
		return nil, errBadAPIKey
	}
	k, err := a.store.GetAPIKey(ctx, id)
	switch {
	case model.IsKind(err, model.KindNotFound):
		return nil, errBadAPIKey
	case err != nil:
		return nil, err
	}
	if !auth.MatchSecret(secret, k.KeyHash) {
		return nil, errBadAPIKey
	}
	if k.Revoked {
		return nil, connect.NewError(connect.CodeUnauthenticated, errors.New("API key is revoked"))
	}
	a.touch(ctx, k.ID)
	return &Principal{Subject: "apikey:" + k.ID, Name: k.Name, ProjectID: k.ProjectID, Role: k.Role}, nil
}

// touch records a key's last use at most once a minute. It is best effort:
// a failure is logged, never returned, since the call itself is allowed.
func (a *Authorizer) touch(ctx context.Context, id string) {
	now := a.now()
	a.mu.Lock()
	last, seen := a.touched[id]
	fresh := seen && now.Sub(last) < time.Minute
	if !fresh {
		a.touched[id] = now
	}
	a.mu.Unlock()
	if fresh {
		return
	}
	if err := a.store.TouchAPIKey(ctx, id, now); err != nil {
		a.logger.WarnContext(ctx, "record API key use", "api_key_id", id, "error", err)
	}
}

// Interceptor returns the Connect interceptor that authenticates calls and
// writes the audit record of every mutating one.
func (a *Authorizer) Interceptor() connect.Interceptor { return authInterceptor{a} }

type authInterceptor struct{ a *Authorizer }

func (i authInterceptor) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		proc := req.Spec().Procedure
		p, err := i.a.principal(ctx, proc, req.Header())
		if err != nil {
			return nil, toConnectError(ctx, i.a.logger, proc, err)
		}
		res, err := next(WithPrincipal(ctx, p), req)
		i.a.audit(ctx, proc, p, err)
		return res, toConnectError(ctx, i.a.logger, proc, err)
	}
}

func (i authInterceptor) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return next
}

func (i authInterceptor) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return func(ctx context.Context, conn connect.StreamingHandlerConn) error {
		proc := conn.Spec().Procedure
		p, err := i.a.principal(ctx, proc, conn.RequestHeader())
		if err != nil {
			return toConnectError(ctx, i.a.logger, proc, err)
		}
		return toConnectError(ctx, i.a.logger, proc, next(WithPrincipal(ctx, p), conn))
	}
}

// audit logs the outcome of a call by a person or CI that needs more than
// the viewer role, i.e. every call that changes something.
func (a *Authorizer) audit(ctx context.Context, procedure string, p *Principal, err error) {
	want := a.required[procedure]
	if want != ferryv1.Role_ROLE_EDITOR && want != ferryv1.Role_ROLE_ADMIN {
		return
	}
	result := "ok"
	if err != nil {
		result = model.KindOf(err).String()
		var ce *connect.Error
		if errors.As(err, &ce) {
			result = ce.Code().String()
		}
	}
	a.logger.InfoContext(ctx, "audit", "procedure", procedure, "subject", p.Subject, "project_id", p.ProjectID, "result", result)
}
