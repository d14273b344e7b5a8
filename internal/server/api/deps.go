// Package api implements Ferry's Connect services, AgentService and
// UserService, as thin adapters: authenticate (auth.go), translate the request
// into model types (convert.go), call the store, translate back. Errors become
// Connect codes in one function, toConnectError.
package api

import (
	"context"
	"log/slog"
	"time"

	"connectrpc.com/connect"

	"github.com/ferrycd/ferry/internal/hub"
	"github.com/ferrycd/ferry/internal/model"
	"github.com/ferrycd/ferry/internal/store"
)

// Blobs keeps large values (live-state snapshots, archived stage logs)
// outside the datastore. filestore.Store implements it. Get returns a
// model.KindNotFound error for a missing key.
type Blobs interface {
	Put(ctx context.Context, key string, data []byte) error
	Get(ctx context.Context, key string) ([]byte, error)
	Delete(ctx context.Context, key string) error
}

// Deps is what the services need from the server that hosts them.
type Deps struct {
	Store store.Store
	Blobs Blobs
	// Hub holds the agents' streams connected to this replica.
	Hub *hub.Hub
	// Bus carries commands and notices to the streams of every replica,
	// and changes to the console's live pages; default hub.NewLocal(Hub),
	// this replica's alone.
	Bus    hub.Bus
	Logger *slog.Logger
	// Now returns the current time; tests may replace it.
	Now func() time.Time
	// CommandPollInterval is how often a Watch stream re-reads unhandled
	// commands, to catch those whose fan-out from another replica was
	// lost. Default 5s.
	CommandPollInterval time.Duration
	// Stopping is closed when the server begins to shut down; long-lived
	// streams end then so they do not hold up draining.
	Stopping <-chan struct{}
	// Authz, when set, is told when an agent's credentials change, so a
	// disabled agent or a dropped key is refused on its next call.
	Authz *Authorizer
}

func (d *Deps) now() time.Time {
	if d.Now != nil {
		return d.Now().UTC()
	}
	return time.Now().UTC()
}

func (d *Deps) pollInterval() time.Duration {
	if d.CommandPollInterval > 0 {
		return d.CommandPollInterval
	}
	return 5 * time.Second
}

func newID() string { return model.NewID() }

func res[T any](msg *T) (*connect.Response[T], error) { return connect.NewResponse(msg), nil }

func (d *Deps) bus() hub.Bus {
	if d.Bus != nil {
		return d.Bus
	}
	return hub.NewLocal(d.Hub)
}

// queueCommand stores c and pushes it to the agent's open streams, on
// whichever replica they are.
func (d *Deps) queueCommand(ctx context.Context, c *model.Command) error {
	now := d.now()
	c.ID = newID()
	c.Status = model.CommandNotHandledYet
	c.CreatedAt, c.UpdatedAt = now, now
	if err := d.Store.CreateCommand(ctx, c); err != nil {
		return err
	}
	// The command is stored, so a failed fan-out only delays it to the
	// streams' next poll: the call has succeeded.
	if err := d.bus().Publish(ctx, c.AgentID, hub.Item{Command: c}); err != nil {
		d.Logger.WarnContext(ctx, "command fan-out failed; it arrives on the next poll", "agent_id", c.AgentID, "command_id", c.ID, "error", err)
	}
	return nil
}

// notifyApplicationsChanged tells an agent to re-read its applications. A
// lost notice costs the agent's next periodic re-read, so a failure is
// logged, not returned.
func (d *Deps) notifyApplicationsChanged(ctx context.Context, agentID string) {
	if err := d.bus().Publish(ctx, agentID, hub.Item{Notice: &hub.Notice{Kind: hub.NoticeApplicationsChanged}}); err != nil {
		d.Logger.WarnContext(ctx, "notice fan-out failed", "agent_id", agentID, "error", err)
	}
}

// changed tells the console's live pages, on every replica, that what they
// show was stored: c names it by ids. Call it after the store has
// committed. It never blocks and never fails; a change that does not
// arrive costs a page its next periodic re-read.
func (d *Deps) changed(c hub.Change) {
	if d.Bus == nil && d.Hub == nil {
		return
	}
	d.bus().PublishChange(c)
}

// appChanged is changed for an application's row: its config, sync
// state, health, most recent deployment, or its being added, disabled or
// deleted.
func (d *Deps) appChanged(a *model.Application) {
	d.changed(hub.Change{ProjectID: a.ProjectID, ApplicationID: a.ID, What: hub.ChangeApplication})
}
