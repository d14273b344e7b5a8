// Package server is Ferry's control plane: the API (Connect: gRPC, gRPC-Web
// and JSON over HTTP on one port), health and metrics endpoints, and the
// bootstrap of a new installation. Replicas share nothing but the datastore
// and the filestore, so any number can run behind a load balancer.
package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ferrycd/ferry/internal/config"
	"github.com/ferrycd/ferry/internal/filestore"
	"github.com/ferrycd/ferry/internal/hub"
	"github.com/ferrycd/ferry/internal/store"
)

// Config is what a Server needs. Zero fields take the documented defaults.
type Config struct {
	// Address to listen on; default ":8080". Use "127.0.0.1:0" in tests.
	Address string
	// AdminAddress, when set, serves /metrics and pprof separately;
	// without it Address serves /metrics to this machine only.
	AdminAddress string
	// DataDir holds the default SQLite database and filestore. Required
	// unless both Datastore and Filestore are set.
	DataDir string
	// Datastore is a postgres:// URL or a SQLite path; default
	// DataDir/ferry.db.
	Datastore string
	// Filestore is a blob URL (file:///dir, s3://…); default DataDir/files.
	Filestore string
	// StaticAdmin, when set, is the bootstrap admin's name and bcrypt hash.
	StaticAdmin config.StaticAdminConfig
	// ShutdownTimeout bounds draining on Close; default 30s.
	ShutdownTimeout time.Duration
	// Logger receives the server's logs; default slog.Default().
	Logger *slog.Logger
	// BootstrapOut receives, once, the generated admin password and the
	// initial admin API key of a new installation; default io.Discard.
	BootstrapOut io.Writer
	// BootstrapAPIKeyFile, when set, receives the initial admin API key
	// (mode 0600) on first start.
	BootstrapAPIKeyFile string
	// CommandPollInterval is how often agent streams re-read their
	// unhandled commands: the safety net behind the fan-out between
	// replicas, for a message lost on the way; default 5s.
	CommandPollInterval time.Duration
	// ConsolePollInterval is how often a console page's live stream
	// re-reads what it shows though no change of it was reported: the
	// safety net behind the change feed (docs/design/0002-fanout.md);
	// default 15s.
	ConsolePollInterval time.Duration
	// WebhookSecret authenticates the push webhooks under /webhooks/ (the
	// HMAC key of GitHub signatures, GitLab's token, the generic bearer
	// token). Empty turns them off: they answer 404.
	WebhookSecret string
	// FanoutRedis, when set, is a redis:// or rediss:// URL: replicas hand
	// commands and notices to each other through Redis pub/sub. Empty:
	// through PostgreSQL LISTEN/NOTIFY on a PostgreSQL datastore, and
	// within this replica alone on SQLite.
	FanoutRedis string
	// InsecureCookies drops the Secure flag from the console's cookies,
	// for a console served over plain HTTP on a host other than localhost.
	InsecureCookies bool
	// SSO configures sign-in to the console through GitHub or OpenID
	// Connect providers; zero turns it off.
	SSO config.SSOConfig
}

// Server is a control-plane replica. Create it with New, then Start or Run.
type Server struct {
	cfg    Config
	logger *slog.Logger

	store store.Store
	files *filestore.Store
	hub   *hub.Hub
	bus   hub.Bus
	reg   *prometheus.Registry

	busStop context.CancelFunc
	busDone chan struct{}

	ln       net.Listener
	http     *http.Server
	admin    *http.Server
	ready    atomic.Bool
	stopping chan struct{}
	serveErr chan error

	closeOnce sync.Once
	closeErr  error
}

// New checks cfg and returns a Server that has not opened anything yet.
func New(cfg Config) (*Server, error) {
	if cfg.Address == "" {
		cfg.Address = ":8080"
	}
	if cfg.DataDir == "" && (cfg.Datastore == "" || cfg.Filestore == "") {
		return nil, errors.New("a data directory is required unless both the datastore and the filestore are given")
	}
	if cfg.ShutdownTimeout <= 0 {
		cfg.ShutdownTimeout = 30 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.BootstrapOut == nil {
		cfg.BootstrapOut = io.Discard
	}
	return &Server{
		cfg:      cfg,
		logger:   cfg.Logger,
		hub:      hub.New(),
		reg:      prometheus.NewRegistry(),
		stopping: make(chan struct{}),
		serveErr: make(chan error, 3),
	}, nil
}

// Start opens the datastore (running migrations), the filestore and the
// fan-out between replicas, bootstraps a new installation, and serves in the
// background. It returns once the server
// is listening; Close stops it.
func (s *Server) Start(ctx context.Context) error {
	if err := s.setupStores(ctx); err != nil {
		return errors.Join(err, s.closeStores())
	}
	// Before bootstrap: a replica that cannot reach its broker stops
	// before a new installation prints its secrets.
	if err := s.setupFanout(ctx); err != nil {
		return errors.Join(err, s.closeStores())
	}
	if err := s.bootstrap(ctx); err != nil {
		return errors.Join(err, s.closeFanout(), s.closeStores())
	}
	if err := s.setupHTTP(); err != nil {
		return errors.Join(err, s.closeFanout(), s.closeStores())
	}
	s.ready.Store(true)
	s.logger.Info("control plane listening", "address", s.Addr())
	return nil
}

// Run starts the server and serves until ctx ends, then drains in-flight
// requests (up to the shutdown timeout) and closes everything.
func (s *Server) Run(ctx context.Context) error {
	if err := s.Start(ctx); err != nil {
		return err
	}
	select {
	case <-ctx.Done():
	case err := <-s.serveErr:
		_ = s.Close()
		return err
	}
	return s.Close()
}

// Addr returns the API's base URL, such as "http://127.0.0.1:8080".
func (s *Server) Addr() string {
	if s.ln == nil {
		return ""
	}
	return "http://" + s.ln.Addr().String()
}

// Close stops accepting requests, lets in-flight ones finish within the
// shutdown timeout, ends agent streams, stops the fan-out between replicas
// and closes the stores. It is safe to call more than once.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		s.ready.Store(false)
		close(s.stopping)
		ctx, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownTimeout)
		defer cancel()
		var errs []error
		for _, h := range []*http.Server{s.http, s.admin} {
			if h == nil {
				continue
			}
			if err := h.Shutdown(ctx); err != nil {
				errs = append(errs, fmt.Errorf("drain %s: %w", h.Addr, err))
			}
		}
		// The streams have ended, so nothing needs the bus any more.
		errs = append(errs, s.closeFanout(), s.closeStores())
		s.closeErr = errors.Join(errs...)
	})
	return s.closeErr
}

func (s *Server) closeStores() error {
	var errs []error
	if s.store != nil {
		errs = append(errs, s.store.Close())
	}
	if s.files != nil {
		errs = append(errs, s.files.Close())
	}
	return errors.Join(errs...)
}

// Store returns the server's datastore, for tests and in-process tools.
func (s *Server) Store() store.Store { return s.store }
