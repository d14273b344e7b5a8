package server_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"connectrpc.com/connect"

	ferryv1 "github.com/ferrycd/ferry/api/gen/ferry/v1"
	"github.com/ferrycd/ferry/api/gen/ferry/v1/ferryv1connect"
	"github.com/ferrycd/ferry/internal/server"
	"github.com/ferrycd/ferry/internal/testenv"
)

// testServer is a real control plane on a loopback port with a temp SQLite
// database. Every backend passes the same store conformance suite
// (storetest), so the API tests need only one.
type testServer struct {
	*server.Server
	adminKey string
	out      *bytes.Buffer
	dataDir  string
}

// startServer starts a control plane for t; configure may adjust its config
// first.
func startServer(t *testing.T, configure ...func(*server.Config)) *testServer {
	t.Helper()
	dir := t.TempDir()
	out := &bytes.Buffer{}
	cfg := server.Config{
		Address:             "127.0.0.1:0",
		DataDir:             dir,
		Logger:              slog.New(slog.NewTextHandler(testenv.LogWriter(t), nil)),
		BootstrapOut:        out,
		BootstrapAPIKeyFile: filepath.Join(dir, "admin-key"),
	}
	for _, f := range configure {
		f(&cfg)
	}
	srv, err := server.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := srv.Close(); err != nil {
			t.Errorf("close server: %v", err)
		}
	})
	key, err := os.ReadFile(cfg.BootstrapAPIKeyFile)
	if err != nil {
		t.Fatal(err)
	}
	return &testServer{Server: srv, adminKey: strings.TrimSpace(string(key)), out: out, dataDir: dir}
}

// bearer returns a client option that sends key on every call.
func bearer(key string) connect.ClientOption {
	return connect.WithInterceptors(connect.UnaryInterceptorFunc(func(next connect.UnaryFunc) connect.UnaryFunc {
		return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
			req.Header().Set("Authorization", "Bearer "+key)
			return next(ctx, req)
		}
	}), streamBearer(key))
}

type streamBearer string

func (k streamBearer) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc { return next }
func (k streamBearer) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return func(ctx context.Context, spec connect.Spec) connect.StreamingClientConn {
		conn := next(ctx, spec)
		conn.RequestHeader().Set("Authorization", "Bearer "+string(k))
		return conn
	}
}
func (k streamBearer) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return next
}

func (s *testServer) user(key string) ferryv1connect.UserServiceClient {
	return ferryv1connect.NewUserServiceClient(http.DefaultClient, s.Addr(), bearer(key))
}

func (s *testServer) agent(key string) ferryv1connect.AgentServiceClient {
	return ferryv1connect.NewAgentServiceClient(http.DefaultClient, s.Addr(), bearer(key))
}

// apiKey creates an API key with role and returns it.
func (s *testServer) apiKey(t *testing.T, role ferryv1.Role) string {
	t.Helper()
	res, err := s.user(s.adminKey).CreateAPIKey(context.Background(), connect.NewRequest(&ferryv1.CreateAPIKeyRequest{
		Name: strings.ToLower(role.String()), Role: role,
	}))
	if err != nil {
		t.Fatal(err)
	}
	return res.Msg.Key
}

// registerAgent registers an agent and returns its id and key.
func (s *testServer) registerAgent(t *testing.T, name string) (string, string) {
	t.Helper()
	res, err := s.user(s.adminKey).RegisterAgent(context.Background(), connect.NewRequest(&ferryv1.RegisterAgentRequest{Name: name}))
	if err != nil {
		t.Fatal(err)
	}
	return res.Msg.Agent.Id, res.Msg.Key
}

func wantCode(t *testing.T, err error, want connect.Code) {
	t.Helper()
	if got := connect.CodeOf(err); err == nil || got != want {
		t.Fatalf("error = %v (code %v), want code %v", err, got, want)
	}
}

func TestHealthReadyAndMetrics(t *testing.T) {
	s := startServer(t)
	if _, err := s.user(s.adminKey).GetMe(context.Background(), connect.NewRequest(&ferryv1.GetMeRequest{})); err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]string{
		"/healthz": "ok",
		"/readyz":  "ok",
		"/metrics": `ferry_api_requests_total{code="ok",procedure="/ferry.v1.UserService/GetMe"} 1`,
	} {
		res, err := http.Get(s.Addr() + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 200 || !strings.Contains(string(body), want) {
			t.Errorf("GET %s = %d %q, want 200 containing %q", path, res.StatusCode, body, want)
		}
	}
}

func TestFirstStartPrintsSecretsOnce(t *testing.T) {
	s := startServer(t)
	out := s.out.String()
	if !strings.Contains(out, "Static admin:  admin / ") || !strings.Contains(out, s.adminKey) {
		t.Errorf("bootstrap output %q lacks the admin password or key", out)
	}
	res, err := s.user(s.adminKey).GetProject(context.Background(), connect.NewRequest(&ferryv1.GetProjectRequest{}))
	if err != nil {
		t.Fatal(err)
	}
	if res.Msg.Project.Id != "default" || res.Msg.Project.StaticAdminUsername != "admin" {
		t.Errorf("project = %v", res.Msg.Project)
	}
}
