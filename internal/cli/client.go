package cli

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"connectrpc.com/connect"
	"github.com/spf13/cobra"

	"github.com/ferrycd/ferry/api/gen/ferry/v1/ferryv1connect"
)

// globals are the flags every verb shares.
type globals struct {
	contextName string
	address     string
	apiKey      string
	output      string
	timeout     time.Duration
}

// register adds the shared flags to the root command.
func (g *globals) register(root *cobra.Command) {
	f := root.PersistentFlags()
	f.StringVar(&g.contextName, "context", "", "the saved context to use (default: the current one, or $"+envContext+")")
	f.StringVar(&g.address, "address", "", "control plane URL, overriding the context (or $"+envAddress+")")
	f.StringVar(&g.apiKey, "api-key", "", "API key, overriding the context (prefer $"+envAPIKey+": flags end up in shell history)")
	f.StringVarP(&g.output, "output", "o", "table", "output format: table, json or yaml")
	f.DurationVar(&g.timeout, "timeout", 30*time.Second, "how long one call to the control plane may take")
	_ = root.RegisterFlagCompletionFunc("output", cobra.FixedCompletions([]string{"table", "json", "yaml"}, cobra.ShellCompDirectiveNoFileComp))
	_ = root.RegisterFlagCompletionFunc("context", func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		c, err := loadCLIConfig()
		if err != nil {
			return nil, cobra.ShellCompDirectiveError
		}
		var names []string
		for _, x := range c.Contexts {
			names = append(names, x.Name)
		}
		return names, cobra.ShellCompDirectiveNoFileComp
	})
}

// target resolves which control plane to call and with which key: flags,
// then the environment, then the named or current context.
func (g *globals) target() (cliContext, error) {
	t := cliContext{Address: firstNonEmpty(g.address, os.Getenv(envAddress)), APIKey: firstNonEmpty(g.apiKey, os.Getenv(envAPIKey))}
	if t.Address == "" || t.APIKey == "" {
		cfg, err := loadCLIConfig()
		if err != nil {
			return t, err
		}
		name := firstNonEmpty(g.contextName, os.Getenv(envContext), cfg.CurrentContext)
		if name == "" {
			if t.Address == "" {
				return t, usagef("no control plane: run ferry login --address URL --api-key KEY, or set %s and %s", envAddress, envAPIKey)
			}
		} else {
			c := cfg.find(name)
			if c == nil {
				return t, usagef("context %q is not in %s: ferry context list shows the saved ones", name, cfg.path)
			}
			t.Name = c.Name
			t.Address = firstNonEmpty(t.Address, c.Address)
			t.APIKey = firstNonEmpty(t.APIKey, c.APIKey)
		}
	}
	addr, err := normalizeAddress(t.Address)
	if err != nil {
		return t, err
	}
	t.Address = addr
	if t.APIKey == "" {
		return t, usagef("no API key for %s: run ferry login, or set %s", t.Address, envAPIKey)
	}
	return t, nil
}

// normalizeAddress accepts "host:port", "http://host:port" or
// "https://host", and returns a base URL without a trailing slash.
func normalizeAddress(addr string) (string, error) {
	if !strings.Contains(addr, "://") {
		addr = "http://" + addr
	}
	u, err := url.Parse(addr)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return "", usagef("address %q is not a control plane URL: write it like http://localhost:8080", addr)
	}
	return strings.TrimRight(u.String(), "/"), nil
}

// userClient returns a UserService client for the resolved target.
func (g *globals) userClient() (ferryv1connect.UserServiceClient, error) {
	t, err := g.target()
	if err != nil {
		return nil, err
	}
	return newUserClient(t, g.timeout), nil
}

// newUserClient builds a client that sends key as a bearer token.
func newUserClient(t cliContext, timeout time.Duration) ferryv1connect.UserServiceClient {
	hc := &http.Client{Transport: http.DefaultTransport}
	return ferryv1connect.NewUserServiceClient(hc, t.Address,
		connect.WithInterceptors(bearerAuth{key: t.APIKey, timeout: timeout, address: t.Address}))
}

// bearerAuth adds the API key to every call, bounds unary calls by the
// --timeout flag, and names the control plane when it cannot be reached.
type bearerAuth struct {
	key     string
	address string
	timeout time.Duration
}

func (b bearerAuth) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		req.Header().Set("Authorization", "Bearer "+b.key)
		if b.timeout > 0 {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, b.timeout)
			defer cancel()
		}
		res, err := next(ctx, req)
		return res, b.explain(err)
	}
}

func (b bearerAuth) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return func(ctx context.Context, spec connect.Spec) connect.StreamingClientConn {
		conn := next(ctx, spec)
		conn.RequestHeader().Set("Authorization", "Bearer "+b.key)
		return conn
	}
}

func (b bearerAuth) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return next
}

// explain rewrites transport failures (connection refused, timeouts) into a
// message naming the control plane; API errors pass through.
func (b bearerAuth) explain(err error) error {
	var ce *connect.Error
	if err == nil || !errors.As(err, &ce) {
		return err
	}
	switch {
	case ce.Code() == connect.CodeUnavailable && len(ce.Meta()) == 0:
		return fmt.Errorf("cannot reach the control plane at %s: %s", b.address, lastCause(ce.Message()))
	case ce.Code() == connect.CodeDeadlineExceeded:
		return fmt.Errorf("the control plane at %s did not answer within %s (raise --timeout)", b.address, b.timeout)
	}
	return err
}

// lastCause keeps the innermost part of a Go network error message
// ("dial tcp 127.0.0.1:1: connect: connection refused" → "connection
// refused").
func lastCause(m string) string {
	if i := strings.LastIndex(m, ": "); i >= 0 {
		return m[i+2:]
	}
	return m
}

func firstNonEmpty(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}
