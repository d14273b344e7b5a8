package testenv

import (
	"testing"
	"time"
)

// pollInterval is how often WaitFor checks its condition.
const pollInterval = 10 * time.Millisecond

// WaitFor checks cond every few milliseconds until it holds, and fails the
// test, naming what it waited for, when timeout passes first. It is for
// conditions that no event announces (a state read through an API); the
// pause between checks is a polling interval, not synchronisation.
func WaitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting until %s", timeout, what)
		}
		time.Sleep(pollInterval)
	}
}
