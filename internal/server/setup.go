package server

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"path/filepath"
	"strings"
	"time"

	"connectrpc.com/connect"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/ferrycd/ferry/api/gen/ferry/v1/ferryv1connect"
	"github.com/ferrycd/ferry/internal/filestore"
	"github.com/ferrycd/ferry/internal/server/api"
	"github.com/ferrycd/ferry/internal/server/webhook"
	"github.com/ferrycd/ferry/internal/store"
	"github.com/ferrycd/ferry/internal/store/postgres"
	"github.com/ferrycd/ferry/internal/store/sqlite"
)

// setupStores opens the datastore and the filestore named by the config.
func (s *Server) setupStores(ctx context.Context) error {
	if s.cfg.DataDir != "" {
		if err := os.MkdirAll(s.cfg.DataDir, 0o700); err != nil {
			return fmt.Errorf("create data directory: %w", err)
		}
	}
	st, err := openStore(ctx, s.cfg.Datastore, s.cfg.DataDir)
	if err != nil {
		return err
	}
	s.store = st
	fsURL := s.cfg.Filestore
	if fsURL == "" {
		abs, err := filepath.Abs(filepath.Join(s.cfg.DataDir, "files"))
		if err != nil {
			return fmt.Errorf("filestore path: %w", err)
		}
		fsURL = "file://" + filepath.ToSlash(abs)
	}
	files, err := filestore.Open(ctx, fsURL)
	if err != nil {
		return fmt.Errorf("open filestore: %w", err)
	}
	s.files = files
	return nil
}

// openStore opens the datastore a URL names: postgres:// or postgresql:// for
// PostgreSQL, sqlite:// or a file path for SQLite, or DataDir/ferry.db.
func openStore(ctx context.Context, url, dataDir string) (store.Store, error) {
	switch {
	case isPostgres(url):
		return postgres.Open(ctx, url)
	case url == "":
		return sqlite.Open(ctx, filepath.Join(dataDir, "ferry.db"))
	case strings.HasPrefix(url, "sqlite://"):
		return sqlite.Open(ctx, strings.TrimPrefix(url, "sqlite://"))
	case strings.Contains(url, "://"):
		scheme, _, _ := strings.Cut(url, "://")
		return nil, fmt.Errorf("datastore scheme %q is not supported: use postgres://… or a SQLite file path", scheme)
	default:
		return sqlite.Open(ctx, url)
	}
}

// isPostgres reports whether a datastore URL names PostgreSQL.
func isPostgres(url string) bool {
	return strings.HasPrefix(url, "postgres://") || strings.HasPrefix(url, "postgresql://")
}

// compressMinBytes is the smallest response the API gzips.
const compressMinBytes = 8 << 10

// setupHTTP builds the handler tree and starts listening.
func (s *Server) setupHTTP() error {
	s.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	deps := &api.Deps{
		Store:               s.store,
		Blobs:               s.files,
		Hub:                 s.hub,
		Bus:                 s.bus,
		Logger:              s.logger,
		CommandPollInterval: s.cfg.CommandPollInterval,
		Stopping:            s.stopping,
	}
	users := api.NewUserService(deps)
	console, err := s.setupWeb(context.Background(), users)
	if err != nil {
		return err
	}
	authz := api.NewAuthorizer(s.store, s.logger, console.Authenticator())
	deps.Authz = authz
	metrics := api.NewMetrics(s.reg)
	opts := connect.WithHandlerOptions(
		connect.WithInterceptors(metrics.Interceptor(), authz.Interceptor()),
		connect.WithRecover(func(ctx context.Context, spec connect.Spec, _ http.Header, r any) error {
			s.logger.ErrorContext(ctx, "panic in handler", "procedure", spec.Procedure, "panic", fmt.Sprint(r))
			return connect.NewError(connect.CodeInternal, errors.New("internal error"))
		}),
		connect.WithReadMaxBytes(16<<20),
		// Compressing the small messages of the agents' hot path cost more
		// CPU than the whole datastore write; only large ones are worth it.
		connect.WithCompressMinBytes(compressMinBytes),
	)

	mux := http.NewServeMux()
	// Calls are authenticated from their headers before their bodies
	// (up to 16 MiB) are read.
	agentPath, agentHandler := ferryv1connect.NewAgentServiceHandler(api.NewAgentService(deps), opts)
	mux.Handle(agentPath, authz.Handler(agentHandler, metrics))
	userPath, userHandler := ferryv1connect.NewUserServiceHandler(users, opts)
	mux.Handle(userPath, authz.Handler(userHandler, metrics))
	wh := webhook.New(webhook.Options{Secret: s.cfg.WebhookSecret, Agents: s.store, Hub: s.bus, Logger: s.logger, Registerer: s.reg})
	mux.Handle("POST /webhooks/github", wh.GitHub())
	mux.Handle("POST /webhooks/gitlab", wh.GitLab())
	mux.Handle("POST /webhooks/generic", wh.Generic())
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok\n")) })
	mux.HandleFunc("GET /readyz", s.readyz)
	mux.Handle("/", console)
	if s.cfg.AdminAddress == "" {
		mux.Handle("GET /metrics", localOnly(promhttp.HandlerFor(s.reg, promhttp.HandlerOpts{})))
	}

	ln, err := net.Listen("tcp", s.cfg.Address)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", s.cfg.Address, err)
	}
	s.ln = ln
	s.http = newHTTPServer(mux)
	go s.serve(s.http, ln)

	if s.cfg.AdminAddress != "" {
		return s.setupAdmin()
	}
	return nil
}

// setupAdmin serves /metrics and pprof on the admin address.
func (s *Server) setupAdmin() error {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	ln, err := net.Listen("tcp", s.cfg.AdminAddress)
	if err != nil {
		return fmt.Errorf("listen on admin address %s: %w", s.cfg.AdminAddress, err)
	}
	s.admin = newHTTPServer(mux)
	go s.serve(s.admin, ln)
	return nil
}

// newHTTPServer serves HTTP/1.1 and cleartext HTTP/2, so gRPC clients work
// without TLS behind a terminating proxy.
func newHTTPServer(h http.Handler) *http.Server {
	var p http.Protocols
	p.SetHTTP1(true)
	p.SetUnencryptedHTTP2(true)
	return &http.Server{
		Handler:           h,
		Protocols:         &p,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
	}
}

func (s *Server) serve(h *http.Server, ln net.Listener) {
	if err := h.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		s.serveErr <- fmt.Errorf("serve %s: %w", ln.Addr(), err)
	}
}

// readyz answers 200 when the replica may take traffic: started, not
// shutting down, and the datastore answers.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	if !s.ready.Load() {
		http.Error(w, "shutting down", http.StatusServiceUnavailable)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := s.store.Ping(ctx); err != nil {
		http.Error(w, "datastore unavailable", http.StatusServiceUnavailable)
		return
	}
	_, _ = w.Write([]byte("ok\n"))
}
