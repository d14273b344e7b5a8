package hub

import (
	"context"
	"math/rand/v2"
	"time"
)

// Backoff paces a Transport's reconnections: the first attempt after a
// loss is immediate (a broker that dropped one connection usually takes
// the next), then the pauses grow exponentially from Min up to Max, with
// jitter so that replicas do not reconnect in step.
type Backoff struct {
	Min, Max time.Duration
}

// Delay returns the pause before attempt n, counted from 0.
func (b Backoff) Delay(n int) time.Duration {
	if n <= 0 || b.Max <= 0 {
		return 0
	}
	d := max(b.Min, time.Millisecond) << min(n-1, 20)
	if d <= 0 || d > b.Max {
		d = b.Max
	}
	return d/2 + rand.N(d/2+1)
}

// Wait pauses before attempt n, or until ctx ends; it reports whether ctx
// is still live.
func (b Backoff) Wait(ctx context.Context, n int) bool {
	d := b.Delay(n)
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
