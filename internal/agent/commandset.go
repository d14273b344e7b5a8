package agent

import (
	"sync"
	"time"

	ferryv1 "github.com/ferrycd/ferry/api/gen/ferry/v1"
)

// commandMemory is how long a handled command's result is kept: far longer
// than a report takes to reach the control plane, after which it stops
// sending the command.
const commandMemory = 10 * time.Minute

// commandState is what the agent knows of a command it was sent.
type commandState int

const (
	// commandNew has not been seen: handle it.
	commandNew commandState = iota
	// commandRunning is being handled now.
	commandRunning
	// commandDone was handled; its result is known.
	commandDone
)

// commandSet de-duplicates commands by id. The control plane sends a
// command until it is reported handled, so the same command can arrive
// again (after the stream reconnected, or from a poll) while it is being
// handled, or after it was handled if the report was lost; it must be
// carried out once. The zero value is ready to use; it is safe for
// concurrent use.
type commandSet struct {
	mu sync.Mutex
	// byID holds nil while a command runs, its result once it has.
	byID map[string]*handled
}

type handled struct {
	res *ferryv1.ReportCommandHandledRequest
	at  time.Time
}

// claim records that command id arrived at now and says what to do with
// it: run it (it is new, and now marked running), ignore it (it runs), or
// report res again (it was handled).
func (s *commandSet) claim(id string, now time.Time) (*ferryv1.ReportCommandHandledRequest, commandState) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.byID == nil {
		s.byID = map[string]*handled{}
	}
	for k, h := range s.byID {
		if h != nil && now.Sub(h.at) > commandMemory {
			delete(s.byID, k)
		}
	}
	h, ok := s.byID[id]
	switch {
	case !ok:
		s.byID[id] = nil
		return nil, commandNew
	case h == nil:
		return nil, commandRunning
	}
	return h.res, commandDone
}

// done records a command's result.
func (s *commandSet) done(res *ferryv1.ReportCommandHandledRequest, now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.byID[res.GetCommandId()] = &handled{res: res, at: now}
}

// forget drops a command that did not run to its end, so it runs when it
// arrives again.
func (s *commandSet) forget(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.byID, id)
}
