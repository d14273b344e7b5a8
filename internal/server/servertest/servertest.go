// Package servertest starts a real control plane for the tests of its
// clients (the agent, the CLI), as net/http/httptest does for handlers.
package servertest

import (
	"context"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"

	ferryv1 "github.com/ferrycd/ferry/api/gen/ferry/v1"
	"github.com/ferrycd/ferry/api/gen/ferry/v1/ferryv1connect"
	"github.com/ferrycd/ferry/internal/server"
	"github.com/ferrycd/ferry/internal/testenv"
)

// ControlPlane is a real control plane on a loopback port with a
// temporary SQLite database, for tests of its clients (the agent, the CLI).
// It can be stopped and started again on the same address and data, to
// test what clients do while it is away.
type ControlPlane struct {
	t    testing.TB
	dir  string
	addr string
	srv  *server.Server
	// AdminKey is an admin API key of project "default".
	AdminKey string
}

// Start starts a control plane for t, closed when t ends.
func Start(t testing.TB) *ControlPlane {
	t.Helper()
	e := &ControlPlane{t: t, dir: t.TempDir(), addr: "127.0.0.1:0"}
	e.Start()
	key, err := os.ReadFile(filepath.Join(e.dir, "admin-key"))
	if err != nil {
		t.Fatal(err)
	}
	e.AdminKey = strings.TrimSpace(string(key))
	t.Cleanup(e.Stop)
	return e
}

// Start starts the control plane (again) on its address.
func (e *ControlPlane) Start() {
	e.t.Helper()
	srv, err := server.New(server.Config{
		Address: e.addr, DataDir: e.dir, BootstrapAPIKeyFile: filepath.Join(e.dir, "admin-key"),
		Logger: slog.New(slog.NewTextHandler(testenv.LogWriter(e.t), nil)), CommandPollInterval: time.Hour,
	})
	if err != nil {
		e.t.Fatal(err)
	}
	if err := srv.Start(context.Background()); err != nil {
		e.t.Fatal(err)
	}
	e.srv, e.addr = srv, strings.TrimPrefix(srv.Addr(), "http://")
}

// Stop stops the control plane; Start brings it back.
func (e *ControlPlane) Stop() {
	if e.srv != nil {
		if err := e.srv.Close(); err != nil {
			e.t.Errorf("close control plane: %v", err)
		}
		e.srv = nil
	}
}

// URL returns the control plane's base URL.
func (e *ControlPlane) URL() string { return "http://" + e.addr }

// User returns a UserService client with the admin key.
func (e *ControlPlane) User() ferryv1connect.UserServiceClient {
	return e.UserWithKey(e.AdminKey)
}

// NewUser creates an API key named name with role and returns a
// UserService client using it: a person, to the control plane.
func (e *ControlPlane) NewUser(name string, role ferryv1.Role) ferryv1connect.UserServiceClient {
	e.t.Helper()
	res, err := e.User().CreateAPIKey(context.Background(), connect.NewRequest(&ferryv1.CreateAPIKeyRequest{Name: name, Role: role}))
	if err != nil {
		e.t.Fatalf("create API key %s: %v", name, err)
	}
	return e.UserWithKey(res.Msg.GetKey())
}

// UserWithKey returns a UserService client using key.
func (e *ControlPlane) UserWithKey(key string) ferryv1connect.UserServiceClient {
	return ferryv1connect.NewUserServiceClient(http.DefaultClient, e.URL(), connect.WithInterceptors(connect.UnaryInterceptorFunc(
		func(next connect.UnaryFunc) connect.UnaryFunc {
			return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
				req.Header().Set("Authorization", "Bearer "+key)
				return next(ctx, req)
			}
		})))
}

// RegisterAgent registers an agent and returns its id and key.
func (e *ControlPlane) RegisterAgent(name string) (id, key string) {
	e.t.Helper()
	res, err := e.User().RegisterAgent(context.Background(), connect.NewRequest(&ferryv1.RegisterAgentRequest{Name: name}))
	if err != nil {
		e.t.Fatalf("register agent %s: %v", name, err)
	}
	return res.Msg.GetAgent().GetId(), res.Msg.GetKey()
}
