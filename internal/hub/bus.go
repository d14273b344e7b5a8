package hub

import (
	"context"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"
)

// Bus carries items to the streams an agent holds open on every replica of
// the control plane, this one included. Implementations are safe for
// concurrent use.
type Bus interface {
	// Publish delivers it to agentID's streams on this replica at once,
	// without blocking, then sends it to the other replicas. It blocks at
	// most for one write to the broker, bounded by ctx. An error means the
	// other replicas may not have received it; the local delivery has been
	// made regardless, and a command still reaches every stream on its next
	// poll, since commands are stored before they are published.
	Publish(ctx context.Context, agentID string, it Item) error
	// PublishChange wakes the console streams of this replica that c
	// concerns at once, then sends c to the other replicas in the
	// background, coalesced with the changes published meanwhile. It never
	// blocks and never fails: call it after the change is stored; a change
	// lost on the way costs the other replicas' streams a wait for their
	// periodic re-read.
	PublishChange(c Change)
	// Run receives the other replicas' items until ctx ends, reconnecting
	// to the broker with backoff whenever the connection is lost. It
	// returns nil when ctx ends; any other error is fatal to the replica.
	Run(ctx context.Context) error
	// Close releases the bus's connections once Run has returned.
	Close() error
}

// Local is the Bus of a single replica, the default on SQLite: items reach
// this replica's streams only.
type Local struct{ hub *Hub }

var _ Bus = (*Local)(nil)

// NewLocal returns a Bus that delivers to h alone.
func NewLocal(h *Hub) *Local { return &Local{hub: h} }

// Publish implements Bus; it never fails.
func (l *Local) Publish(_ context.Context, agentID string, it Item) error {
	l.hub.Publish(agentID, it)
	return nil
}

// PublishChange implements Bus.
func (l *Local) PublishChange(c Change) { l.hub.PublishChange(c) }

// Run implements Bus: there is nothing to receive, so it waits for ctx.
func (l *Local) Run(ctx context.Context) error {
	<-ctx.Done()
	return nil
}

// Close implements Bus.
func (l *Local) Close() error { return nil }

// Transport moves encoded messages between replicas: a broker channel that
// every replica both sends to and receives from. A message a replica sends
// comes back to it too; Relay drops those by their origin.
type Transport interface {
	// Send hands payload to every replica listening on the channel. It
	// blocks for one write to the broker, bounded by ctx. Payloads are
	// JSON of at most MaxPayload bytes, and carry ids, never secrets.
	Send(ctx context.Context, payload []byte) error
	// Listen calls r.Receive with every payload the channel carries, in
	// order, from one goroutine, until ctx ends; it then returns nil. When
	// the connection is lost it reconnects with backoff and, once it
	// listens again, calls r.Resync, since messages sent meanwhile are
	// lost. Any other return is a fatal error.
	Listen(ctx context.Context, r Receiver) error
	// Close releases the transport's connections once Listen has returned.
	Close() error
}

// Receiver is what a Transport hands received messages to. Relay is one.
type Receiver interface {
	// Receive handles one payload; it never blocks.
	Receive(payload []byte)
	// Resync makes up for messages that may have been missed: every local
	// agent stream re-reads its stored commands, and every console stream
	// what it shows. It never blocks.
	Resync()
}

// Relay is the Bus of several replicas over a Transport. It stamps what it
// sends with this replica's id, so it can drop its own messages when the
// broker echoes them back (they were delivered locally at once), and turns
// what other replicas send into items for the local hub.
type Relay struct {
	hub       *Hub
	origin    string
	transport Transport
	logger    *slog.Logger

	sent       *prometheus.CounterVec
	received   *prometheus.CounterVec
	reconnects prometheus.Counter

	changes changeSender
}

var (
	_ Bus      = (*Relay)(nil)
	_ Receiver = (*Relay)(nil)
)

// NewRelay returns a Bus that delivers to h and, through t, to the other
// replicas. origin identifies this replica; it must differ between
// replicas (a random id per process, such as model.NewID()).
func NewRelay(h *Hub, origin string, t Transport, logger *slog.Logger) *Relay {
	if logger == nil {
		logger = slog.Default()
	}
	return &Relay{
		hub: h, origin: origin, transport: t, logger: logger,
		sent: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ferry_fanout_sent_total",
			Help: "Messages this replica sent to the others, by result (ok, error).",
		}, []string{"result"}),
		received: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ferry_fanout_received_total",
			Help: "Messages received from the broker, by result (delivered; own: sent by this replica; no_stream: the agent has no stream here; dropped: malformed or of an unknown kind).",
		}, []string{"result"}),
		reconnects: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ferry_fanout_reconnects_total",
			Help: "Times the connection to the broker was lost and listening again.",
		}),
		changes: newChangeSender(),
	}
}

// Register registers the relay's metrics on reg.
func (r *Relay) Register(reg prometheus.Registerer) {
	reg.MustRegister(r.sent, r.received, r.reconnects, r.changes.published, r.changes.sent, r.changes.received)
}

// Origin returns this replica's id, as stamped on its messages.
func (r *Relay) Origin() string { return r.origin }

// Publish implements Bus.
func (r *Relay) Publish(ctx context.Context, agentID string, it Item) error {
	r.hub.Publish(agentID, it)
	payload, err := encode(r.origin, agentID, it)
	if err == nil {
		err = r.transport.Send(ctx, payload)
	}
	if err != nil {
		r.sent.WithLabelValues("error").Inc()
		return err
	}
	r.sent.WithLabelValues("ok").Inc()
	return nil
}

// Run implements Bus. It also sends the changes published on this
// replica, until it returns.
func (r *Relay) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		r.sendChanges(ctx)
	}()
	err := r.transport.Listen(ctx, r)
	cancel()
	<-done
	return err
}

// Close implements Bus.
func (r *Relay) Close() error { return r.transport.Close() }

// Receive implements Receiver: a message from another replica reaches the
// streams its agent holds here. A command arrives as a Recheck, so the
// stream reads it from the datastore, where it was stored before it was
// sent. Malformed messages are logged and dropped.
func (r *Relay) Receive(payload []byte) {
	m, err := decode(payload)
	if err != nil {
		r.received.WithLabelValues("dropped").Inc()
		r.logger.Warn("hub: dropped a malformed fan-out message", "error", err, "bytes", len(payload))
		return
	}
	if len(m.Changes) > 0 {
		r.receiveChanges(m)
		return
	}
	switch {
	case m.Origin == r.origin:
		r.received.WithLabelValues("own").Inc()
		return
	case r.hub.Connected(m.AgentID) == 0:
		r.received.WithLabelValues("no_stream").Inc()
		return
	}
	it, ok := m.item()
	if !ok {
		// A newer replica's kind of notice: this replica's streams could
		// not express it anyway.
		r.received.WithLabelValues("dropped").Inc()
		r.logger.Debug("hub: dropped a fan-out message of an unknown kind", "agent_id", m.AgentID)
		return
	}
	r.received.WithLabelValues("delivered").Inc()
	r.hub.Publish(m.AgentID, it)
}

// Resync implements Receiver.
func (r *Relay) Resync() {
	r.reconnects.Inc()
	n := r.hub.Broadcast(Item{Recheck: true})
	pages := r.hub.PublishResync()
	r.logger.Info("hub: fan-out reconnected, streams re-read their commands and console streams their pages", "streams", n, "console_streams", pages)
}
