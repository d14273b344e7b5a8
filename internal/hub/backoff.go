package hub

import (
	"context"
	"math/rand/v2"
	"time"
)

// Backoff paces a Transport's reconnections: attempt 0 is immediate (a
// broker that dropped one stable connection usually takes the next; see
// NextAttempt), then the pauses grow exponentially from Min up to Max,
// with jitter so that replicas do not reconnect in step.
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

// stableAfter is how long a connection must have lasted for its loss to
// start the backoff afresh.
const stableAfter = 10 * time.Second

// NextAttempt returns the reconnection attempt to go on with after losing
// a connection that had been open for lived, attempt being the one that
// opened it: 0 (at once) after a stable connection, else the next one, so
// a broker that drops every connection straight away is not hammered.
func NextAttempt(attempt int, lived time.Duration) int {
	if lived >= stableAfter {
		return 0
	}
	return attempt + 1
}
