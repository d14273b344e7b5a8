// Package pgbus carries the hub's messages between control-plane replicas
// over PostgreSQL LISTEN/NOTIFY, on the database the replicas already
// share, so a multi-replica installation needs nothing more.
//
// Each replica holds one dedicated connection that LISTENs (a pooled
// connection cannot: it would stop listening when returned to the pool) and
// sends with pg_notify from a small pool. The channel is named after the
// schema the datastore uses, so installations sharing a database in
// different schemas do not hear each other. NOTIFY needs a real session:
// point the datastore at PostgreSQL directly or through session pooling,
// not a transaction-pooling proxy.
package pgbus

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/ferrycd/ferry/internal/hub"
	"github.com/ferrycd/ferry/internal/store/postgres"
)

// ApplicationName is the application_name of the listening connection, so
// pg_stat_activity shows what it is; the sending pool uses
// ApplicationName+"-notify".
const ApplicationName = "ferry-hub"

// channelPrefix starts every channel name.
const channelPrefix = "ferry_hub"

// maxIdentifier is PostgreSQL's longest identifier (NAMEDATALEN-1), which
// bounds a channel name.
const maxIdentifier = 63

// connectTimeout bounds one attempt to open the listening connection, and
// probeTimeout the check of a quiet one.
const (
	connectTimeout = 10 * time.Second
	probeTimeout   = 10 * time.Second
)

// Options tune a Transport. Zero fields take the defaults.
type Options struct {
	// Logger receives reconnections; default slog.Default().
	Logger *slog.Logger
	// Backoff paces the attempts to listen again after a loss; default
	// 100ms up to 5s.
	Backoff hub.Backoff
	// Keepalive is how long the listening connection may stay quiet
	// before it is probed, so a connection that died silently (a network
	// partition, no reset) is noticed; default 30s.
	Keepalive time.Duration
}

// Transport is a hub.Transport over LISTEN/NOTIFY. Create it with Open.
type Transport struct {
	cfg       *pgx.ConnConfig
	where     string
	channel   string
	listenSQL string
	db        *sql.DB
	opts      Options
	redialer  *hub.Redialer
}

var _ hub.Transport = (*Transport)(nil)

// Open connects to the database at dsn (the datastore's postgres:// URL)
// and listens, so a replica that starts is listening before it serves. Its
// errors name the server without the password.
func Open(ctx context.Context, dsn string, opts Options) (*Transport, error) {
	if opts.Keepalive <= 0 {
		opts.Keepalive = 30 * time.Second
	}
	where := postgres.Redact(dsn)
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		// pgx's message may quote the URL; the datastore already parsed it.
		return nil, fmt.Errorf("fan-out on PostgreSQL at %s: the URL does not parse", where)
	}
	cfg.RuntimeParams["application_name"] = ApplicationName
	t := &Transport{cfg: cfg, where: where, opts: opts}

	cctx, cancel := context.WithTimeout(ctx, connectTimeout)
	defer cancel()
	conn, err := pgx.ConnectConfig(cctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("fan-out on PostgreSQL at %s: %w", where, err)
	}
	var schema string
	if err := conn.QueryRow(cctx, "SELECT coalesce(current_schema(), '')").Scan(&schema); err != nil {
		_ = conn.Close(context.Background())
		return nil, fmt.Errorf("fan-out on PostgreSQL at %s: read the schema: %w", where, err)
	}
	t.channel = Channel(schema)
	t.listenSQL = "LISTEN " + pgx.Identifier{t.channel}.Sanitize()
	if err := conn.PgConn().Exec(cctx, t.listenSQL).Close(); err != nil {
		_ = conn.Close(context.Background())
		return nil, fmt.Errorf("fan-out on PostgreSQL at %s: listen: %w", where, err)
	}
	t.redialer = &hub.Redialer{
		Dial:       t.connect,
		Backoff:    opts.Backoff,
		Logger:     opts.Logger,
		Server:     slog.String("datastore", where),
		Channel:    t.channel,
		DialFailed: "hub: cannot listen on PostgreSQL, retrying",
		Redialed:   "hub: listening on PostgreSQL again",
		Lost:       "hub: lost the PostgreSQL listening connection, reconnecting",
	}
	t.redialer.Hold(&session{t: t, conn: conn})

	notifyCfg := cfg.Copy()
	notifyCfg.RuntimeParams["application_name"] = ApplicationName + "-notify"
	t.db = stdlib.OpenDB(*notifyCfg)
	t.db.SetMaxOpenConns(4)
	t.db.SetMaxIdleConns(2)
	t.db.SetConnMaxIdleTime(5 * time.Minute)
	return t, nil
}

// Channel returns the channel the replicas of the installation in schema
// share: ferry_hub_<schema>, or a digest of the schema when that would be
// longer than an identifier may be.
func Channel(schema string) string {
	if schema == "" {
		return channelPrefix
	}
	if c := channelPrefix + "_" + schema; len(c) <= maxIdentifier {
		return c
	}
	sum := sha256.Sum256([]byte(schema))
	return channelPrefix + "_" + hex.EncodeToString(sum[:12])
}

// Channel returns the channel this transport listens on.
func (t *Transport) Channel() string { return t.channel }

// Send implements hub.Transport with pg_notify.
func (t *Transport) Send(ctx context.Context, payload []byte) error {
	if _, err := t.db.ExecContext(ctx, "SELECT pg_notify($1, $2)", t.channel, string(payload)); err != nil {
		return fmt.Errorf("notify on PostgreSQL at %s: %w", t.where, err)
	}
	return nil
}

// Listen implements hub.Transport.
func (t *Transport) Listen(ctx context.Context, r hub.Receiver) error {
	return t.redialer.Listen(ctx, r)
}

// connect opens a listening connection.
func (t *Transport) connect(ctx context.Context) (hub.Session, error) {
	ctx, cancel := context.WithTimeout(ctx, connectTimeout)
	defer cancel()
	conn, err := pgx.ConnectConfig(ctx, t.cfg)
	if err != nil {
		return nil, err
	}
	if err := conn.PgConn().Exec(ctx, t.listenSQL).Close(); err != nil {
		_ = conn.Close(context.Background())
		return nil, fmt.Errorf("listen: %w", err)
	}
	return &session{t: t, conn: conn}, nil
}

// session is a connection that LISTENs on the transport's channel.
type session struct {
	t    *Transport
	conn *pgx.Conn
}

var _ hub.Session = (*session)(nil)

// Listen implements hub.Session: it hands every notification to r until
// the connection fails or ctx ends. A connection quiet for Keepalive is
// probed by listening again, which is idempotent and keeps
// pg_stat_activity showing the LISTEN.
func (s *session) Listen(ctx context.Context, r hub.Receiver) error {
	for {
		wctx, cancel := context.WithTimeout(ctx, s.t.opts.Keepalive)
		n, err := s.conn.WaitForNotification(wctx)
		cancel()
		switch {
		case err == nil:
			r.Receive([]byte(n.Payload))
		case ctx.Err() != nil:
			return ctx.Err()
		case pgconn.Timeout(err) && !s.conn.IsClosed():
			pctx, cancel := context.WithTimeout(ctx, probeTimeout)
			err := s.conn.PgConn().Exec(pctx, s.t.listenSQL).Close()
			cancel()
			if err != nil {
				return fmt.Errorf("probe: %w", err)
			}
		default:
			return err
		}
	}
}

// Close implements hub.Session.
func (s *session) Close() error { return s.conn.Close(context.Background()) }

// Close implements hub.Transport.
func (t *Transport) Close() error {
	return errors.Join(t.redialer.Close(), t.db.Close())
}
