// Package bustest is the one conformance test every hub.Transport runs
// against its real broker: Run(t, broker) checks that items cross replicas and
// that the replicas listen again, and make up for what they missed, after
// the broker drops their connections.
package bustest

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ferrycd/ferry/internal/hub"
	"github.com/ferrycd/ferry/internal/model"
	"github.com/ferrycd/ferry/internal/testenv"
)

// Broker is a broker under test, reached by the transports of this test
// alone (its own schema or channel).
type Broker struct {
	// Open opens a transport, logging to logger; the relay that runs it
	// closes it.
	Open func(t *testing.T, logger *slog.Logger) hub.Transport
	// Listeners returns the ids of the connections the test's transports
	// listen on.
	Listeners func(t *testing.T) []string
	// Kill drops the connections ids name, as a broker restart or a lost
	// network would.
	Kill func(t *testing.T, ids []string)
}

// Run runs the test on two replicas over broker: a command, a notice and
// a change published on one reach the other; both listen again after the
// broker drops their connections and ask their streams to recheck, and
// their console streams to re-read; items and changes cross again.
func Run(t *testing.T, broker Broker) {
	a := startReplica(t, broker, "A")
	b := startReplica(t, broker, "B")
	ctx := context.Background()

	if err := a.relay.Publish(ctx, "a", hub.Item{Command: &model.Command{ID: "c1"}}); err != nil {
		t.Fatal(err)
	}
	if got := a.next(t, "A's own command"); got.Command == nil || got.Command.ID != "c1" {
		t.Errorf("A delivered %+v, want command c1", got)
	}
	if got := b.next(t, "the command on B"); !got.Recheck {
		t.Errorf("B delivered %+v, want a recheck", got)
	}
	pushed := &hub.Notice{Kind: hub.NoticeRepositoryPushed, RepositoryID: "apps", Branch: "main", CommitHash: "abc"}
	if err := a.relay.Publish(ctx, "a", hub.Item{Notice: pushed}); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(hub.Item{Notice: pushed}, a.next(t, "A's own notice")); diff != "" {
		t.Errorf("A delivered (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(hub.Item{Notice: pushed}, b.next(t, "the notice on B")); diff != "" {
		t.Errorf("B delivered (-want +got):\n%s", diff)
	}
	changed := hub.Change{ProjectID: "p", ApplicationID: "app", DeploymentID: "d", What: hub.ChangeStage}
	a.relay.PublishChange(changed)
	a.woken(t, "A's own change")
	b.woken(t, "the change on B")

	ids := broker.Listeners(t)
	if len(ids) != 2 {
		t.Fatalf("%d connections listen for the test, want 2", len(ids))
	}
	broker.Kill(t, ids)
	// Both listen again and ask their streams to re-read what they missed.
	if it := a.next(t, "A's recheck after listening again"); !it.Recheck {
		t.Errorf("A delivered %+v after listening again, want a recheck", it)
	}
	if it := b.next(t, "B's recheck after listening again"); !it.Recheck {
		t.Errorf("B delivered %+v after listening again, want a recheck", it)
	}
	a.woken(t, "A's console stream after listening again")
	b.woken(t, "B's console stream after listening again")
	killed := map[string]bool{ids[0]: true, ids[1]: true}
	testenv.WaitFor(t, 10*time.Second, "both replicas listen again on new connections", func() bool {
		now := broker.Listeners(t)
		return len(now) == 2 && !killed[now[0]] && !killed[now[1]]
	})
	if err := b.relay.Publish(ctx, "a", hub.Item{Notice: pushed}); err != nil {
		t.Fatal(err)
	}
	b.next(t, "B's own notice")
	if diff := cmp.Diff(hub.Item{Notice: pushed}, a.next(t, "the notice on A after listening again")); diff != "" {
		t.Errorf("A delivered (-want +got):\n%s", diff)
	}
	b.relay.PublishChange(changed)
	b.woken(t, "B's own change after listening again")
	a.woken(t, "the change on A after listening again")
}

// replica is one side of the bus: a hub with a stream of agent "a"
// subscribed and a console stream of deployment "d" of project "p"
// watching, and its relay over a transport on the broker.
type replica struct {
	relay   *hub.Relay
	stream  <-chan hub.Item
	console <-chan struct{}
	done    chan struct{}
}

// startReplica runs a replica until the test ends.
func startReplica(t *testing.T, broker Broker, origin string) *replica {
	t.Helper()
	logger := slog.New(slog.NewTextHandler(testenv.LogWriter(t), nil)).With("replica", origin)
	tr := broker.Open(t, logger)
	h := hub.New()
	stream, unsubscribe := h.Subscribe("a")
	console, unwatch := h.WatchChanges(hub.ChangeFilter{ProjectID: "p", DeploymentID: "d", What: hub.ChangeStage})
	r := &replica{relay: hub.NewRelay(h, origin, tr, logger), stream: stream, console: console, done: make(chan struct{})}
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		defer close(r.done)
		if err := r.relay.Run(ctx); err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	t.Cleanup(func() {
		cancel()
		<-r.done
		unsubscribe()
		unwatch()
		if err := r.relay.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return r
}

// next waits for the stream's next item.
func (r *replica) next(t *testing.T, what string) hub.Item {
	t.Helper()
	select {
	case it := <-r.stream:
		return it
	case <-time.After(10 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
		return hub.Item{}
	}
}

// woken waits for the console stream to be woken.
func (r *replica) woken(t *testing.T, what string) {
	t.Helper()
	select {
	case <-r.console:
	case <-time.After(10 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
	}
}
