package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/ferrycd/ferry/internal/agent"
	"github.com/ferrycd/ferry/internal/config"
	"github.com/ferrycd/ferry/internal/platform"
	"github.com/ferrycd/ferry/internal/platform/kubernetes"
	"github.com/ferrycd/ferry/internal/procmem"
)

// agentRunFlags are the flags of `ferry agent --config FILE`.
type agentRunFlags struct {
	config       string
	cacheDir     string
	logJSON      bool
	adminAddress string
}

func (f *agentRunFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.config, "config", "", "run the deploy agent with this kind: Agent file")
	cmd.Flags().StringVar(&f.cacheDir, "cache-dir", "", "where the agent keeps its Git mirrors and charts (default: the user cache folder)")
	cmd.Flags().BoolVar(&f.logJSON, "log-json", false, "write the agent's logs as JSON lines")
	cmd.Flags().StringVar(&f.adminAddress, "admin-address", "", "serve Go's pprof profiles under /debug/pprof/ on this address (e.g. 127.0.0.1:6061; off by default)")
}

// serveAdmin serves pprof on addr until ctx ends.
func serveAdmin(ctx context.Context, addr string, log *slog.Logger) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("--admin-address: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		_ = srv.Close()
	}()
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("admin server", "error", err)
		}
	}()
	log.Info("serving pprof", "address", ln.Addr().String())
	return nil
}

// runAgent runs the deploy agent until SIGTERM or Ctrl-C.
func runAgent(cmd *cobra.Command, f *agentRunFlags) error {
	cfg, err := config.ReadAgent(f.config)
	if err != nil {
		return usageError{err}
	}
	var handler slog.Handler = slog.NewTextHandler(cmd.ErrOrStderr(), nil)
	if f.logJSON {
		handler = slog.NewJSONHandler(cmd.ErrOrStderr(), nil)
	}
	logger := slog.New(handler)
	// The agent runs for months: give back the pages of the one ferry
	// binary (server, CLI, Helm, Kustomize) that only its start ran, once
	// now (every package's init) and once it has started (config, clients,
	// the first fetch, scan, listings, reports and cache fills, which go on
	// for a while after the first sync pass).
	releaseExecutablePages(logger, false)
	providers, err := buildProviders(cfg, f.cacheDir)
	if err != nil {
		return usageError{err}
	}
	defer closeProviders(providers)
	ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if f.adminAddress != "" {
		if err := serveAdmin(ctx, f.adminAddress, logger); err != nil {
			return usageError{err}
		}
	}
	a, err := agent.New(ctx, cfg, agent.Options{
		Providers: providers, CacheDir: f.cacheDir, Logger: logger,
		OnStarted: func() { time.AfterFunc(startupSettle, func() { releaseExecutablePages(logger, true) }) },
	})
	if err != nil {
		return err
	}
	defer a.Close()
	if err := a.Run(ctx); err != nil && !errors.Is(err, context.Canceled) {
		return fmt.Errorf("agent: %w", err)
	}
	return nil
}

// startupSettle is how long after its first sync pass the agent is taken to
// have finished starting.
const startupSettle = 30 * time.Second

// releaseExecutablePages drops the binary's pages the process mapped so far
// from its resident set; evict also drops them from the page cache, so what
// comes back is only what the agent uses (see package procmem).
func releaseExecutablePages(log *slog.Logger, evict bool) {
	r, err := procmem.ReleaseExecutablePages(evict)
	if err != nil {
		log.Debug("could not release start-up pages", "error", err)
		return
	}
	log.Debug("released the executable's pages", "evict", evict, "mappings", r.Mappings,
		"resident_file_mib_before", r.ResidentBefore>>20, "resident_file_mib_after", r.ResidentAfter>>20)
}

// closeProviders stops what the providers run in the background (the
// Kubernetes informers).
func closeProviders(providers []platform.Provider) {
	for _, p := range providers {
		if c, ok := p.(io.Closer); ok {
			_ = c.Close()
		}
	}
}

// buildProviders makes the platform providers the config names. Platforms
// Ferry does not deploy to yet are refused by name, so a config never
// silently skips a target.
func buildProviders(cfg *config.Agent, cacheDir string) ([]platform.Provider, error) {
	var out []platform.Provider
	for _, pc := range cfg.Spec.PlatformProviders {
		switch pc.Type {
		case config.PlatformKubernetes:
			helm, err := helmSettings(cfg, cacheDir)
			if err != nil {
				return nil, err
			}
			p, err := kubernetes.NewProvider(pc.Name, pc.Kubernetes, helm)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", cfg.File, err)
			}
			out = append(out, p)
		default:
			return nil, fmt.Errorf("%s: platform provider %s: type %s is not supported by this agent yet", cfg.File, pc.Name, pc.Type)
		}
	}
	return out, nil
}

// helmSettings turns the config's chartRepositories, chartRegistries and
// Git credentials into the Kubernetes provider's Helm settings.
func helmSettings(cfg *config.Agent, cacheDir string) (kubernetes.HelmSettings, error) {
	git, err := agent.GitAuth(cfg)
	if err != nil {
		return kubernetes.HelmSettings{}, err
	}
	s := kubernetes.HelmSettings{Git: git, GitHosts: agent.GitHosts(cfg), URLRewrites: agent.URLRewrites(cfg)}
	if cacheDir != "" {
		s.CacheDir = filepath.Join(cacheDir, "helm")
	}
	for _, r := range cfg.Spec.ChartRepositories {
		s.Repositories = append(s.Repositories, kubernetes.HelmRepository{
			Name: r.Name, Address: r.Address, Username: r.Username, Password: r.Password,
			Insecure: r.Insecure, GitRemote: r.GitRemote, SSHKeyFile: r.SSHKeyFile,
		})
	}
	for _, r := range cfg.Spec.ChartRegistries {
		s.Registries = append(s.Registries, kubernetes.HelmRegistry{Address: r.Address, Username: r.Username, Password: r.Password})
	}
	return s, nil
}
