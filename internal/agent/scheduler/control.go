package scheduler

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/ferrycd/ferry/internal/platform"
)

// ErrSkipped is the cause of a stage ended by a SKIP command.
var ErrSkipped = errors.New("skipped by a command")

// Skippable lists the stages a SKIP command may end early: the ones that
// wait or check and change nothing a later stage relies on.
var Skippable = map[string]bool{"WAIT": true, "WAIT_APPROVAL": true, "ANALYSIS": true, "SCRIPT_RUN": true}

// resumeWait bounds how long a cancel, skip or approval waits for its
// deployment, and then its stage, to start running here: a deployment being
// resumed after an agent restart starts within a reconcile.
const resumeWait = 30 * time.Second

// Control steers one running deployment from the agent's commands: cancel
// (with or without rollback), skip the running stage, approve it. The zero
// value is not usable; use NewControl. A nil *Control steers nothing.
type Control struct {
	cancel     chan struct{}
	cancelOnce sync.Once

	mu sync.Mutex
	// noRollback is the cancel's choice to skip the rollback stages; a
	// forced rollback is the plan already, as a cancel runs them.
	noRollback bool
	stage      *runningStage
	changed    chan struct{} // closed and replaced when stage changes
}

// runningStage is the stage running now.
type runningStage struct {
	id, name  string
	skip      context.CancelCauseFunc
	approvals chan platform.Approval
}

// NewControl returns the control of a deployment about to run.
func NewControl() *Control {
	return &Control{cancel: make(chan struct{}), changed: make(chan struct{})}
}

// Cancel cancels the deployment. forceRollback runs the rollback stages
// even where they would not run; forceNoRollback skips them.
func (c *Control) Cancel(forceRollback, forceNoRollback bool) {
	c.mu.Lock()
	if forceRollback || forceNoRollback {
		c.noRollback = !forceRollback
	}
	c.mu.Unlock()
	c.cancelOnce.Do(func() { close(c.cancel) })
}

// skipRollback reports whether the cancel asked for no rollback.
func (c *Control) skipRollback() bool {
	if c == nil {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.noRollback
}

func (c *Control) cancelled() <-chan struct{} {
	if c == nil {
		return nil
	}
	return c.cancel
}

// Skip ends the running stage stageID as SKIPPED. It waits a little for
// the stage to start, as a resumed deployment's may not have yet, and fails
// when it does not, or cannot be skipped.
func (c *Control) Skip(ctx context.Context, stageID string) error {
	return c.withStage(ctx, stageID, func(st *runningStage, _ <-chan struct{}) error {
		if !Skippable[st.name] {
			return fmt.Errorf("stage %s is a %s, which cannot be skipped: only WAIT, WAIT_APPROVAL, ANALYSIS and SCRIPT_RUN can", stageID, st.name)
		}
		st.skip(ErrSkipped)
		return nil
	})
}

// Approve hands an approval to the running stage stageID and returns its
// answer. It waits a little for the stage to start, as a resumed
// deployment's may not have yet.
func (c *Control) Approve(ctx context.Context, stageID, approver string) error {
	ctx, cancel := context.WithTimeout(ctx, resumeWait)
	defer cancel()
	return c.withStage(ctx, stageID, func(st *runningStage, changed <-chan struct{}) error {
		if st.approvals == nil {
			return fmt.Errorf("stage %s is a %s, which takes no approvals", stageID, st.name)
		}
		result := make(chan error, 1)
		select {
		case st.approvals <- platform.Approval{Approver: approver, Result: result}:
		case <-changed:
			return fmt.Errorf("stage %s ended before it took the approval", stageID)
		case <-ctx.Done():
			return fmt.Errorf("stage %s did not take the approval: %w", stageID, ctx.Err())
		}
		select {
		case err := <-result:
			return err
		case <-ctx.Done():
			return fmt.Errorf("stage %s did not answer the approval: %w", stageID, ctx.Err())
		}
	})
}

// withStage calls f with stage stageID once it runs, and the channel
// closed when it stops; it waits up to resumeWait for the stage to start.
func (c *Control) withStage(ctx context.Context, stageID string, f func(st *runningStage, changed <-chan struct{}) error) error {
	t := time.NewTimer(resumeWait)
	defer t.Stop()
	for {
		c.mu.Lock()
		st, changed := c.stage, c.changed
		c.mu.Unlock()
		if st != nil && st.id == stageID {
			return f(st, changed)
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return fmt.Errorf("stage %s is not running: %w", stageID, ctx.Err())
		case <-t.C:
			return fmt.Errorf("stage %s is not running", stageID)
		}
	}
}

// enter records the stage starting; leave its end.
func (c *Control) enter(st *runningStage) {
	if c == nil {
		return
	}
	c.mu.Lock()
	c.stage = st
	close(c.changed)
	c.changed = make(chan struct{})
	c.mu.Unlock()
}

func (c *Control) leave() { c.enter(nil) }
