package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/ferrycd/ferry/internal/config"
	"github.com/ferrycd/ferry/internal/server"
)

// newServerCmd builds `ferry server`, which runs a control-plane replica.
func newServerCmd() *cobra.Command {
	var (
		cfgFile    string
		flags      server.Config
		secretFile string
		logJSON    bool
	)
	cmd := &cobra.Command{
		Use:   "server",
		Short: "Run the control plane: API, webhooks, health and metrics",
		Long: `Run a control-plane replica.

By default it keeps everything under --data-dir: a SQLite database (WAL mode)
and a local folder for logs and live-state snapshots. For production, point
--datastore at PostgreSQL and --filestore at S3 or MinIO and run as many
replicas as you like behind a load balancer.

On its first start it creates project "default", a static admin and an admin
API key, and prints the generated secrets once.

Settings come from flags and/or a kind: ControlPlane YAML file (--config);
flags given on the command line win. SIGTERM or Ctrl-C drains in-flight
requests before exiting.`,
		Example: `  # Local, all state in ./ferry-data
  ferry server --data-dir ./ferry-data

  # Production
  ferry server --address :8080 --datastore 'postgres://ferry@db:5432/ferry' \
    --filestore 's3://ferry-blobs?region=eu-west-1'

  # From a file
  ferry server --config controlplane.yaml`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg := flags
			secret, secretFrom := flags.WebhookSecret, secretFile
			if cfgFile != "" {
				file, err := config.ReadControlPlane(cfgFile)
				if err != nil {
					return usageError{err}
				}
				cfg = mergeServerConfig(file.Spec, flags, cmd)
				if set := cmd.Flags().Changed; !set("webhook-secret") && !set("webhook-secret-file") {
					secret, secretFrom = file.Spec.WebhookSecret, file.Spec.WebhookSecretFile
				}
			}
			var err error
			if cfg.WebhookSecret, err = readWebhookSecret(secret, secretFrom); err != nil {
				return usageError{err}
			}
			if msg := config.CheckRedisURL(cfg.FanoutRedis); msg != "" {
				return usageError{fmt.Errorf("--fanout-redis %s", msg)}
			}
			if cfg.DataDir == "" && (cfg.Datastore == "" || cfg.Filestore == "") {
				cfg.DataDir = "ferry-data"
			}
			var handler slog.Handler = slog.NewTextHandler(cmd.ErrOrStderr(), nil)
			if logJSON {
				handler = slog.NewJSONHandler(cmd.ErrOrStderr(), nil)
			}
			cfg.Logger = slog.New(handler)
			cfg.BootstrapOut = cmd.OutOrStdout()
			srv, err := server.New(cfg)
			if err != nil {
				return usageError{err}
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			if err := srv.Run(ctx); err != nil && !errors.Is(err, context.Canceled) {
				return fmt.Errorf("control plane: %w", err)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfgFile, "config", "", "a kind: ControlPlane YAML file")
	f.StringVar(&flags.Address, "address", ":8080", "address to serve the API, webhooks and health endpoints on")
	f.StringVar(&flags.AdminAddress, "admin-address", "", "separate address for /metrics and pprof (default: /metrics on --address to this machine only, no pprof)")
	f.StringVar(&flags.DataDir, "data-dir", "", "directory for the default SQLite database and filestore (default ./ferry-data)")
	f.StringVar(&flags.Datastore, "datastore", "", "postgres://… URL or SQLite file path (default <data-dir>/ferry.db)")
	f.StringVar(&flags.Filestore, "filestore", "", "blob URL: file:///dir or s3://bucket?endpoint=…&region=… (default <data-dir>/files)")
	f.DurationVar(&flags.ShutdownTimeout, "shutdown-timeout", 30*time.Second, "how long in-flight requests may take to finish on shutdown")
	f.StringVar(&flags.BootstrapAPIKeyFile, "bootstrap-api-key-file", "", "on first start, also write the initial admin API key to this file (mode 0600)")
	f.StringVar(&flags.WebhookSecret, "webhook-secret", "", "secret of the push webhooks under /webhooks/ (default: webhooks off); prefer --webhook-secret-file")
	f.StringVar(&secretFile, "webhook-secret-file", "", "file holding the webhook secret, which keeps it out of the process list")
	f.StringVar(&flags.FanoutRedis, "fanout-redis", "", "redis:// URL through which replicas pass commands and notices to each other (default: through the PostgreSQL datastore)")
	f.BoolVar(&flags.InsecureCookies, "insecure-cookies", false, "send the web console's cookies without the Secure flag, for a console served over plain HTTP on a host other than localhost")
	f.BoolVar(&logJSON, "log-json", false, "write logs as JSON lines")
	return cmd
}

// mergeServerConfig starts from the file's values and applies the flags the
// user set on the command line.
func mergeServerConfig(spec config.ControlPlaneSpec, flags server.Config, cmd *cobra.Command) server.Config {
	cfg := server.Config{
		Address:         spec.Address,
		AdminAddress:    spec.AdminAddress,
		DataDir:         spec.DataDir,
		Datastore:       spec.Datastore,
		Filestore:       spec.Filestore,
		StaticAdmin:     spec.StaticAdmin,
		ShutdownTimeout: spec.ShutdownTimeout.Std(),
		FanoutRedis:     spec.Fanout.Redis,
		SSO:             spec.SSO,
	}
	set := cmd.Flags().Changed
	if set("address") || cfg.Address == "" {
		cfg.Address = flags.Address
	}
	if set("admin-address") {
		cfg.AdminAddress = flags.AdminAddress
	}
	if set("data-dir") {
		cfg.DataDir = flags.DataDir
	}
	if set("datastore") {
		cfg.Datastore = flags.Datastore
	}
	if set("filestore") {
		cfg.Filestore = flags.Filestore
	}
	if set("fanout-redis") {
		cfg.FanoutRedis = flags.FanoutRedis
	}
	if set("shutdown-timeout") || cfg.ShutdownTimeout == 0 {
		cfg.ShutdownTimeout = flags.ShutdownTimeout
	}
	cfg.BootstrapAPIKeyFile = flags.BootstrapAPIKeyFile
	cfg.InsecureCookies = flags.InsecureCookies
	return cfg
}

// readWebhookSecret returns the webhook secret given inline or, trimmed of
// surrounding whitespace, in a file; giving both is a mistake.
func readWebhookSecret(secret, file string) (string, error) {
	switch {
	case file == "":
		return secret, nil
	case secret != "":
		return "", errors.New("give the webhook secret or a file holding it, not both")
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return "", fmt.Errorf("read webhook secret: %w", err)
	}
	s := strings.TrimSpace(string(data))
	if s == "" {
		return "", fmt.Errorf("webhook secret file %s is empty", file)
	}
	return s, nil
}
