package agent

import (
	"testing"
	"time"

	ferryv1 "github.com/ferrycd/ferry/api/gen/ferry/v1"
)

// A command that arrives again while it runs is ignored; once handled, its
// result is reported again instead of acting twice; one that stopped
// half-way runs again; results are forgotten after commandMemory.
func TestACommandIsHandledOnceByID(t *testing.T) {
	var s commandSet
	t0 := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	want := func(id string, at time.Time, state commandState) *ferryv1.ReportCommandHandledRequest {
		t.Helper()
		res, got := s.claim(id, at)
		if got != state {
			t.Fatalf("claim %s = %v, want %v", id, got, state)
		}
		return res
	}
	want("c1", t0, commandNew)
	want("c1", t0, commandRunning)
	want("c2", t0, commandNew)
	s.done(&ferryv1.ReportCommandHandledRequest{CommandId: "c1", Output: "deployment d1 triggered"}, t0)
	if res := want("c1", t0.Add(time.Minute), commandDone); res.GetOutput() != "deployment d1 triggered" {
		t.Errorf("result sent again = %v", res)
	}
	s.forget("c2") // the agent stopped while handling it
	want("c2", t0, commandNew)
	want("c1", t0.Add(commandMemory+time.Second), commandNew)
}
