package hub

import (
	"cmp"
	"context"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// ChangeFlushGap is the least time between two sends of changes to the
// other replicas. A change published after a quiet spell is sent at once;
// those published within the gap after a send wait for its end and go
// together, one message for many (a stage's log appends, a busy agent's
// reports), and one change per application and deployment however often
// it changed meanwhile. So a replica sends at most about 1/ChangeFlushGap
// messages a second of changes, whatever its load.
const ChangeFlushGap = 50 * time.Millisecond

// maxPendingChanges bounds the changes waiting for a send. Past it, a new
// change stands for its whole project (no ids), which wakes more streams
// but loses nothing.
const maxPendingChanges = 10_000

// changeSendTimeout bounds one send of changes, and the last one when the
// relay stops.
const changeSendTimeout = 5 * time.Second

// changeKey is what changes coalesce by.
type changeKey struct{ project, app, deployment string }

// changeSender is the part of a Relay that coalesces and sends changes.
type changeSender struct {
	mu      sync.Mutex
	pending map[changeKey]ChangeKind
	wake    chan struct{}
	// failing is whether the last send failed, so that a broker that is
	// down is logged once, not on every send.
	failing bool

	published prometheus.Counter
	sent      *prometheus.CounterVec
	received  *prometheus.CounterVec
}

func newChangeSender() changeSender {
	return changeSender{
		pending: map[changeKey]ChangeKind{},
		wake:    make(chan struct{}, 1),
		published: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ferry_fanout_changes_published_total",
			Help: "Changes for the console's live pages published on this replica, before coalescing.",
		}),
		sent: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ferry_fanout_change_messages_sent_total",
			Help: "Messages of coalesced changes this replica sent to the others, by result (ok, error).",
		}, []string{"result"}),
		received: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ferry_fanout_changes_received_total",
			Help: "Changes received from the broker, by result (delivered: woke a console stream here; own: sent by this replica; no_stream: no console stream here shows it; dropped: of a kind this replica does not know).",
		}, []string{"result"}),
	}
}

// PublishChange implements Bus.
func (r *Relay) PublishChange(c Change) {
	r.hub.PublishChange(c)
	s := &r.changes
	s.published.Inc()
	key := changeKey{c.ProjectID, c.ApplicationID, c.DeploymentID}
	s.mu.Lock()
	if _, ok := s.pending[key]; !ok && len(s.pending) >= maxPendingChanges {
		key = changeKey{project: c.ProjectID}
	}
	s.pending[key] |= c.What
	s.mu.Unlock()
	signal(s.wake)
}

// sendChanges sends what PublishChange collects, at most once per
// ChangeFlushGap, until ctx ends; it then sends what is left.
func (r *Relay) sendChanges(ctx context.Context) {
	s := &r.changes
	var last time.Time
	final := func() {
		fctx, cancel := context.WithTimeout(context.Background(), changeSendTimeout)
		defer cancel()
		r.flushChanges(fctx)
	}
	for {
		select {
		case <-ctx.Done():
			final()
			return
		case <-s.wake:
		}
		if wait := ChangeFlushGap - time.Since(last); wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				final()
				return
			case <-t.C:
			}
		}
		last = time.Now()
		r.flushChanges(ctx)
	}
}

// flushChanges sends the pending changes, as few messages as fit.
func (r *Relay) flushChanges(ctx context.Context) {
	s := &r.changes
	s.mu.Lock()
	pending := s.pending
	if len(pending) == 0 {
		s.mu.Unlock()
		return
	}
	s.pending = map[changeKey]ChangeKind{}
	s.mu.Unlock()
	cs := make([]Change, 0, len(pending))
	for k, what := range pending {
		cs = append(cs, Change{ProjectID: k.project, ApplicationID: k.app, DeploymentID: k.deployment, What: what})
	}
	// In a stable order, so that messages compare in tests and logs.
	slices.SortFunc(cs, func(a, b Change) int {
		return cmp.Or(cmp.Compare(a.ProjectID, b.ProjectID), cmp.Compare(a.ApplicationID, b.ApplicationID), cmp.Compare(a.DeploymentID, b.DeploymentID))
	})
	payloads, err := encodeChanges(r.origin, cs)
	if err != nil {
		r.logger.Warn("hub: left out changes too large to send", "error", err)
	}
	for _, p := range payloads {
		sctx, cancel := context.WithTimeout(ctx, changeSendTimeout)
		err := r.transport.Send(sctx, p)
		cancel()
		if err != nil {
			s.sent.WithLabelValues("error").Inc()
			if !s.failing {
				s.failing = true
				r.logger.Warn("hub: cannot send changes to the other replicas; their console pages catch up on their periodic re-read", "error", err)
			}
			continue
		}
		s.sent.WithLabelValues("ok").Inc()
		if s.failing {
			s.failing = false
			r.logger.Info("hub: sending changes to the other replicas again")
		}
	}
}

// receiveChanges wakes the console streams of this replica that the
// changes of another replica's message concern.
func (r *Relay) receiveChanges(m *message) {
	s := &r.changes
	if m.Origin == r.origin {
		s.received.WithLabelValues("own").Add(float64(len(m.Changes)))
		return
	}
	cs, unknown := m.changes()
	if unknown > 0 {
		s.received.WithLabelValues("dropped").Add(float64(unknown))
	}
	for _, c := range cs {
		if r.hub.PublishChange(c) > 0 {
			s.received.WithLabelValues("delivered").Inc()
		} else {
			s.received.WithLabelValues("no_stream").Inc()
		}
	}
}
