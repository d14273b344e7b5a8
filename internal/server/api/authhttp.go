package api

import (
	"context"
	"net/http"

	"connectrpc.com/connect"
)

// authenticatedKey carries the principal Handler authenticated to the
// interceptor, which then need not authenticate again.
type authenticatedKey struct{}

// Handler authenticates every call to next, an API service's handler, from
// the request's headers alone before next runs: Connect reads and decodes a
// unary call's whole body (up to the server's 16 MiB limit) before any
// interceptor, so without this anyone could make the server read and
// decode 16 MiB per call without a key. A call refused here is answered in
// its own protocol (Connect, gRPC or gRPC-Web) without its body being read,
// and counted in m (nil: not counted), which also counts every call of a
// known procedure in flight from its arrival. The principal rides on the request's
// context to the interceptor (Interceptor), which records the audit.
func (a *Authorizer) Handler(next http.Handler, m *Metrics) http.Handler {
	errs := connect.NewErrorWriter()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Connect, gRPC and gRPC-Web all name the procedure by the path.
		proc := r.URL.Path
		_, known := a.required[proc]
		if known && m != nil {
			defer m.inFlightFor(proc)()
		}
		p, err := a.authenticate(r.Context(), proc, r.Header)
		if err != nil {
			err = toConnectError(r.Context(), a.logger, proc, err)
			if known && m != nil {
				m.refused(proc, err)
			}
			_ = errs.Write(w, r, err)
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), authenticatedKey{}, p)))
	})
}

// principal returns the caller of procedure: the one Handler authenticated,
// else (a handler mounted without Handler, as some tests do) from the
// headers.
func (a *Authorizer) principal(ctx context.Context, procedure string, h http.Header) (*Principal, error) {
	if p, ok := ctx.Value(authenticatedKey{}).(*Principal); ok && p != nil {
		return p, nil
	}
	return a.authenticate(ctx, procedure, h)
}
