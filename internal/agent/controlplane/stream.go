package controlplane

import (
	"context"
	"errors"
	"fmt"

	"connectrpc.com/connect"

	ferryv1 "github.com/ferrycd/ferry/api/gen/ferry/v1"
)

// Stream holds the agent's Watch stream open, reconnecting with backoff,
// and hands every command and notice to Handle in the order they arrive.
// Commands queued while the agent was away arrive when it reconnects; a
// command may arrive twice across reconnections, so handlers must be
// idempotent by command id.
type Stream struct {
	Client *Client
	// Handle receives each item; it should return quickly (hand long work
	// to another goroutine). An error from it ends Start.
	Handle func(ctx context.Context, item *ferryv1.WatchResponse) error
	// OnConnect, when set, is called each time the stream is (re)opened and
	// the control plane said it is live: a place to resynchronise.
	OnConnect func(ctx context.Context)
}

// Start runs until ctx ends; it returns nil then, or Handle's error.
// Authentication failures are retried too (slowly): an operator may be
// rotating the key or re-enabling the agent.
func (s *Stream) Start(ctx context.Context) error {
	log := s.Client.opts.Logger
	failures := 0
	for ctx.Err() == nil {
		live, err := s.watch(ctx)
		if ctx.Err() != nil {
			return nil
		}
		var handleErr handlerError
		if errors.As(err, &handleErr) {
			return handleErr.err
		}
		if live {
			failures = 0
		}
		level := log.WarnContext
		if connect.CodeOf(err) == connect.CodeUnauthenticated || connect.CodeOf(err) == connect.CodePermissionDenied {
			level = log.ErrorContext
			failures = max(failures, 8) // no need to hammer with a bad key
		}
		level(ctx, "control plane stream ended, reconnecting", "error", err, "attempt", failures+1)
		if werr := s.Client.wait(ctx, failures); werr != nil {
			return nil
		}
		failures++
	}
	return nil
}

// handlerError marks an error from Handle, which ends the stream for good.
type handlerError struct{ err error }

func (e handlerError) Error() string { return e.err.Error() }

// watch runs one stream until it ends; live reports whether the control
// plane's ready notice arrived.
func (s *Stream) watch(ctx context.Context) (live bool, err error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	st, err := s.Client.Watch(ctx, connect.NewRequest(&ferryv1.WatchRequest{}))
	if err != nil {
		return false, err
	}
	defer st.Close()
	for st.Receive() {
		msg := st.Msg()
		if n := msg.GetNotice(); n != nil && n.GetKind() == ferryv1.Notice_KIND_UNSPECIFIED {
			if !live {
				live = true
				s.Client.opts.Logger.InfoContext(ctx, "control plane stream connected")
				if s.OnConnect != nil {
					s.OnConnect(ctx)
				}
			}
			continue
		}
		if err := s.Handle(ctx, msg); err != nil {
			return live, handlerError{fmt.Errorf("handle %v: %w", msg, err)}
		}
	}
	if err := st.Err(); err != nil {
		return live, err
	}
	return live, errors.New("the control plane closed the stream")
}
