package hub

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// Session is one connection a Transport listens on: a PostgreSQL
// connection that LISTENs, a Redis subscription. Redialer opens, listens
// on and closes sessions from one goroutine at a time.
type Session interface {
	// Listen hands every message the connection carries to r, in order,
	// until the connection fails or ctx ends, and says why it stopped.
	Listen(ctx context.Context, r Receiver) error
	// Close releases the connection once Listen has returned, or when it
	// was never called.
	Close() error
}

// Redialer is the part of a Transport that is the same whatever the
// broker: it holds the session the transport opened first, so a replica
// listens before it serves, and its Listen keeps a session listening,
// opening another with backoff whenever one is lost. Set its fields, then
// Hold the first session; it is safe for concurrent use from then on.
type Redialer struct {
	// Dial opens a session listening on the channel, bounded by ctx.
	Dial func(ctx context.Context) (Session, error)
	// Backoff paces the attempts to dial again after a loss; one without
	// a Max means 100ms up to 5s.
	Backoff Backoff
	// Logger receives the reconnections; default slog.Default().
	Logger *slog.Logger
	// Server is the attribute naming the broker in the warnings, such as
	// the redacted URL of the datastore.
	Server slog.Attr
	// Channel is logged when a new session listens.
	Channel string
	// DialFailed is logged, with Server, the attempt and the error, when
	// a session cannot be opened; Redialed, with the channel, when a new
	// one listens; Lost, with Server and the error, when one is lost. Each
	// names the broker, so that the messages stay constant.
	DialFailed, Redialed, Lost string

	mu    sync.Mutex
	first Session // the session Hold was given, until Listen takes it
}

// Hold keeps s, the session the transport opened before it served, for
// Listen to take first and Close to release if Listen never does.
func (d *Redialer) Hold(s Session) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.first = s
}

// take returns the held session, if any, and holds it no longer.
func (d *Redialer) take() Session {
	d.mu.Lock()
	defer d.mu.Unlock()
	s := d.first
	d.first = nil
	return s
}

// Listen implements Transport.Listen: it listens on the held session, if
// any, and then on every session Dial opens after a loss, calling
// r.Resync each time a new one listens, until ctx ends; it then returns
// nil. It returns nothing else: a broker that cannot be reached is tried
// again for as long as ctx lasts.
func (d *Redialer) Listen(ctx context.Context, r Receiver) error {
	backoff, logger := d.Backoff, d.Logger
	if backoff.Max <= 0 {
		backoff = Backoff{Min: 100 * time.Millisecond, Max: 5 * time.Second}
	}
	if logger == nil {
		logger = slog.Default()
	}
	s := d.take()
	attempt := 0
	since := time.Now()
	for {
		if s == nil {
			if !backoff.Wait(ctx, attempt) {
				return nil
			}
			next, err := d.Dial(ctx)
			if err != nil {
				if ctx.Err() != nil {
					return nil
				}
				attempt++
				logger.Warn(d.DialFailed, d.Server, "attempt", attempt, "error", err)
				continue
			}
			s, since = next, time.Now()
			logger.Info(d.Redialed, "channel", d.Channel)
			r.Resync()
		}
		err := s.Listen(ctx, r)
		_ = s.Close()
		s = nil
		if ctx.Err() != nil {
			return nil
		}
		attempt = NextAttempt(attempt, time.Since(since))
		logger.Warn(d.Lost, d.Server, "error", err)
	}
}

// Close releases the held session if Listen never took it. The
// transport's other connections are its own to close.
func (d *Redialer) Close() error {
	if s := d.take(); s != nil {
		return s.Close()
	}
	return nil
}
