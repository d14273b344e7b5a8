package controlplane

import (
	"context"
	"time"

	"connectrpc.com/connect"

	ferryv1 "github.com/ferrycd/ferry/api/gen/ferry/v1"
)

// DefaultHeartbeatInterval is how often an agent says it is alive. The
// control plane shows it OFFLINE after two missed minutes.
const DefaultHeartbeatInterval = 30 * time.Second

// Heartbeat reports the agent's meta once, then heartbeats until its
// context ends.
type Heartbeat struct {
	Client *Client
	// Meta is what the agent reports on start: version, repositories,
	// platform providers.
	Meta *ferryv1.ReportMetaRequest
	// Interval between heartbeats; default DefaultHeartbeatInterval.
	Interval time.Duration
}

// Start reports the meta (retrying until the control plane answers), then
// heartbeats every Interval. It returns nil when ctx ends, or the error of a
// call the control plane refused (a bad key, a disabled agent).
func (h *Heartbeat) Start(ctx context.Context) error {
	if _, err := h.Client.ReportMeta(ctx, connect.NewRequest(h.Meta)); err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	interval := h.Interval
	if interval <= 0 {
		interval = DefaultHeartbeatInterval
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			if _, err := h.Client.Heartbeat(ctx, connect.NewRequest(&ferryv1.HeartbeatRequest{})); err != nil && ctx.Err() == nil {
				h.Client.opts.Logger.WarnContext(ctx, "heartbeat failed", "error", err)
			}
		}
	}
}
