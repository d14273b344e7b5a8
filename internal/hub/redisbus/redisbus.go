// Package redisbus carries the hub's messages between control-plane
// replicas over Redis pub/sub, for installations that name a Redis server
// in the control-plane config (spec.fanout.redis) rather than fan out
// through the datastore.
//
// Each replica subscribes one dedicated connection to the channel and
// publishes through the client's pool. Pub/sub channels are global to a
// Redis server, whatever its database number: installations sharing one
// server hear each other's messages, which costs a lookup and delivers
// nothing (agent ids are random), so the default channel is named after
// the URL's database number to keep installations given different numbers
// apart.
package redisbus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"

	"github.com/ferrycd/ferry/internal/hub"
)

// ChannelPrefix starts the default channel, "ferry:hub:<database number
// of the URL>": pub/sub ignores the database number, but installations
// given different ones expect to be apart.
const ChannelPrefix = "ferry:hub:"

// ClientName starts the name the transport's connections give themselves
// (CLIENT SETNAME), "ferry-hub@<channel>", so CLIENT LIST shows what they
// are.
const ClientName = "ferry-hub"

// subscribeTimeout bounds one attempt to subscribe.
const subscribeTimeout = 10 * time.Second

// Options tune a Transport. Zero fields take the defaults.
type Options struct {
	// Channel is the pub/sub channel; default ChannelPrefix followed by
	// the URL's database number.
	Channel string
	// Logger receives reconnections; default slog.Default().
	Logger *slog.Logger
	// Backoff paces the attempts to subscribe again after a loss; default
	// 100ms up to 5s.
	Backoff hub.Backoff
	// Keepalive is how long the subscription may stay quiet before it is
	// pinged, so a connection that died silently is noticed; default 30s.
	Keepalive time.Duration
}

// Transport is a hub.Transport over Redis pub/sub. Create it with Open.
type Transport struct {
	client   *redis.Client
	where    string
	opts     Options
	redialer *hub.Redialer
}

var _ hub.Transport = (*Transport)(nil)

// Open connects to the Redis server at url (redis:// or rediss://, as
// go-redis's ParseURL reads it) and subscribes, so a replica that starts
// is listening before it serves. Its errors name the server without the
// password.
func Open(ctx context.Context, url string, opts Options) (*Transport, error) {
	if opts.Keepalive <= 0 {
		opts.Keepalive = 30 * time.Second
	}
	o, err := redis.ParseURL(url)
	if err != nil {
		// ParseURL's messages name the part at fault, never the password.
		return nil, fmt.Errorf("fan-out on Redis: %w", err)
	}
	if opts.Channel == "" {
		opts.Channel = ChannelPrefix + strconv.Itoa(o.DB)
	}
	o.ClientName = ClientName + "@" + opts.Channel
	// Maintenance notifications are for Redis Enterprise and Cloud; on
	// other servers probing for them only adds noise to the logs.
	o.MaintNotificationsConfig = &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}
	t := &Transport{client: redis.NewClient(o), where: o.Addr, opts: opts}
	s, err := t.subscribe(ctx)
	if err != nil {
		_ = t.client.Close()
		return nil, fmt.Errorf("fan-out on Redis at %s: %w", t.where, err)
	}
	t.redialer = &hub.Redialer{
		Dial:       t.subscribe,
		Backoff:    opts.Backoff,
		Logger:     opts.Logger,
		Server:     slog.String("redis", t.where),
		Channel:    opts.Channel,
		DialFailed: "hub: cannot subscribe on Redis, retrying",
		Redialed:   "hub: subscribed on Redis again",
		Lost:       "hub: lost the Redis subscription, reconnecting",
	}
	t.redialer.Hold(s)
	return t, nil
}

// Channel returns the channel this transport subscribes to.
func (t *Transport) Channel() string { return t.opts.Channel }

// Send implements hub.Transport with PUBLISH.
func (t *Transport) Send(ctx context.Context, payload []byte) error {
	if err := t.client.Publish(ctx, t.opts.Channel, payload).Err(); err != nil {
		return fmt.Errorf("publish on Redis at %s: %w", t.where, err)
	}
	return nil
}

// Listen implements hub.Transport.
func (t *Transport) Listen(ctx context.Context, r hub.Receiver) error {
	return t.redialer.Listen(ctx, r)
}

// subscribe opens a subscription and waits for Redis to confirm it.
func (t *Transport) subscribe(ctx context.Context) (hub.Session, error) {
	ctx, cancel := context.WithTimeout(ctx, subscribeTimeout)
	defer cancel()
	ps := t.client.Subscribe(ctx, t.opts.Channel)
	if _, err := ps.Receive(ctx); err != nil {
		_ = ps.Close()
		return nil, fmt.Errorf("subscribe: %w", err)
	}
	return &session{t: t, ps: ps}, nil
}

// session is a subscription to the transport's channel.
type session struct {
	t  *Transport
	ps *redis.PubSub
}

var _ hub.Session = (*session)(nil)

// Listen implements hub.Session: it hands every message to r until the
// subscription fails or ctx ends. A subscription quiet for Keepalive is
// pinged; quiet again for as long after the ping, it is taken for dead.
func (s *session) Listen(ctx context.Context, r hub.Receiver) error {
	// A read in progress does not watch ctx; closing the subscription
	// ends it.
	stop := context.AfterFunc(ctx, func() { _ = s.ps.Close() })
	defer stop()
	pinged := false
	for {
		msg, err := s.ps.ReceiveTimeout(ctx, s.t.opts.Keepalive)
		var ne net.Error
		switch {
		case ctx.Err() != nil:
			return ctx.Err()
		case err == nil:
			pinged = false
			if m, ok := msg.(*redis.Message); ok {
				r.Receive([]byte(m.Payload))
			}
		case errors.As(err, &ne) && ne.Timeout() && !pinged:
			if err := s.ps.Ping(ctx); err != nil {
				return fmt.Errorf("ping: %w", err)
			}
			pinged = true
		case pinged:
			return fmt.Errorf("no answer to a ping: %w", err)
		default:
			return err
		}
	}
}

// Close implements hub.Session.
func (s *session) Close() error { return s.ps.Close() }

// Close implements hub.Transport.
func (t *Transport) Close() error {
	return errors.Join(t.redialer.Close(), t.client.Close())
}
