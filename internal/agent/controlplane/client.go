// Package controlplane is the deploy agent's side of the control plane's
// AgentService: an authenticated client whose reports survive the control
// plane going away (they are retried with backoff until it answers again),
// the stream of commands and notices with reconnection, and heartbeats.
//
// The agent makes only outbound connections, and keeps no state of its own:
// every report is idempotent on the server (statuses are set, log blocks
// carry indexes), so retrying one after an unclear failure is safe.
package controlplane

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"time"

	"connectrpc.com/connect"

	"github.com/ferrycd/ferry/api/gen/ferry/v1/ferryv1connect"
)

// Options tune a Client. Zero fields take the defaults.
type Options struct {
	// HTTPClient carries the calls; default a client with HTTP/2 over
	// cleartext allowed, so the stream and the reports share connections.
	HTTPClient *http.Client
	// Logger receives reconnection and retry logs; default slog.Default().
	Logger *slog.Logger
	// MinBackoff and MaxBackoff bound the pause between retries; defaults
	// 100ms and 10s.
	MinBackoff, MaxBackoff time.Duration
	// CallTimeout bounds one attempt of a unary call; default 30s.
	CallTimeout time.Duration
}

// Client calls the control plane's AgentService with the agent's key.
// Unary calls that fail because the control plane cannot be reached (or is
// shutting down, or overloaded) are retried with jittered exponential
// backoff until they succeed or their context ends; other errors return at
// once. It is safe for concurrent use.
type Client struct {
	ferryv1connect.AgentServiceClient
	opts Options
}

// New returns a client of the control plane at baseURL (such as
// "http://127.0.0.1:8080") that authenticates with key.
func New(baseURL, key string, opts Options) *Client {
	if opts.HTTPClient == nil {
		opts.HTTPClient = &http.Client{Transport: newTransport()}
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.MinBackoff <= 0 {
		opts.MinBackoff = 100 * time.Millisecond
	}
	if opts.MaxBackoff <= 0 {
		opts.MaxBackoff = 10 * time.Second
	}
	if opts.CallTimeout <= 0 {
		opts.CallTimeout = 30 * time.Second
	}
	c := &Client{opts: opts}
	c.AgentServiceClient = ferryv1connect.NewAgentServiceClient(opts.HTTPClient, baseURL,
		connect.WithInterceptors(auth{key: key}, retry{c}))
	return c
}

func newTransport() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = 16
	return t
}

// Retryable reports whether err means the control plane could not take
// the call now, so the same call may succeed later: it could not be reached,
// was shutting down or overloaded, or an attempt timed out.
func Retryable(err error) bool {
	switch connect.CodeOf(err) {
	case connect.CodeUnavailable, connect.CodeResourceExhausted, connect.CodeAborted, connect.CodeDeadlineExceeded:
		return true
	case connect.CodeUnknown:
		// A transport failure, not an answer from the server.
		return !connect.IsWireError(err)
	}
	return false
}

// Backoff returns the pause before retry attempt n (from 0): exponential
// from MinBackoff, capped at MaxBackoff, with jitter.
func (c *Client) Backoff(n int) time.Duration {
	d := c.opts.MinBackoff << min(n, 16)
	if d > c.opts.MaxBackoff || d <= 0 {
		d = c.opts.MaxBackoff
	}
	return d/2 + rand.N(d/2+1)
}

// wait pauses for the attempt's backoff or until ctx ends.
func (c *Client) wait(ctx context.Context, attempt int) error {
	t := time.NewTimer(c.Backoff(attempt))
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// auth sends the agent's key on every call.
type auth struct{ key string }

func (a auth) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		req.Header().Set("Authorization", "Bearer "+a.key)
		return next(ctx, req)
	}
}

func (a auth) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return func(ctx context.Context, spec connect.Spec) connect.StreamingClientConn {
		conn := next(ctx, spec)
		conn.RequestHeader().Set("Authorization", "Bearer "+a.key)
		return conn
	}
}

func (a auth) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return next
}

// retry retries unary calls while the control plane is away.
type retry struct{ c *Client }

func (r retry) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		for attempt := 0; ; attempt++ {
			actx, cancel := context.WithTimeout(ctx, r.c.opts.CallTimeout)
			res, err := next(actx, req)
			cancel()
			if err == nil || !Retryable(err) || ctx.Err() != nil {
				return res, err
			}
			if attempt == 0 || attempt%10 == 0 {
				r.c.opts.Logger.WarnContext(ctx, "control plane unavailable, retrying",
					"procedure", req.Spec().Procedure, "attempt", attempt+1, "error", err)
			}
			if werr := r.c.wait(ctx, attempt); werr != nil {
				return nil, err
			}
		}
	}
}

func (r retry) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return next
}

func (r retry) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return next
}
