// Package stages holds the executors of the pipeline stages every kind of
// application shares: WAIT, WAIT_APPROVAL, SCRIPT_RUN (and its
// SCRIPT_RUN_ROLLBACK) and CUSTOM_SYNC. The platform providers run the
// others; ANALYSIS lives in package analysis.
//
// Every executor keeps what a resumed run needs (a deadline, the approvals
// so far) in its stage's metadata, so an agent restarted mid-stage carries
// on where it stopped.
package stages

import (
	"context"
	"fmt"
	"time"

	"github.com/ferrycd/ferry/internal/config"
	"github.com/ferrycd/ferry/internal/platform"
)

// Stage metadata keys.
const (
	// MetaWaitStartedAt is when a WAIT began (RFC 3339): its deadline is
	// that plus the duration, across agent restarts.
	MetaWaitStartedAt = "WaitStartedAt"
	// MetaApprovalStartedAt is when a WAIT_APPROVAL began, for its timeout.
	MetaApprovalStartedAt = "ApprovalStartedAt"
	// MetaApprovers is the comma-separated list of the people allowed to
	// approve a WAIT_APPROVAL; empty means anyone allowed to operate the
	// deployment. The control plane checks approvals against it.
	MetaApprovers = "Approvers"
	// MetaApprovedBy is the comma-separated list of distinct approvers so
	// far, in order.
	MetaApprovedBy = "ApprovedBy"
	// MetaApprovalsNeeded is how many distinct approvals are needed.
	MetaApprovalsNeeded = "ApprovalsNeeded"
)

// Executors returns the shared stages' executors by stage name.
func Executors() map[string]platform.StageExecutor {
	return map[string]platform.StageExecutor{
		"WAIT":                Wait{},
		"WAIT_APPROVAL":       WaitApproval{},
		"SCRIPT_RUN":          ScriptRun{},
		"SCRIPT_RUN_ROLLBACK": ScriptRunRollback{},
		"CUSTOM_SYNC":         CustomSync{},
	}
}

// Wait is WAIT: it waits for its duration, measured from when it first
// started, so an agent restart does not make it wait again.
type Wait struct{}

// Execute implements platform.StageExecutor.
func (Wait) Execute(ctx context.Context, in platform.StageInput) error {
	opts, err := platform.StageOptions[config.WaitOptions](in)
	if err != nil {
		return err
	}
	d := opts.Duration.Std()
	start, err := startedAt(ctx, in, MetaWaitStartedAt)
	if err != nil {
		return err
	}
	left := time.Until(start.Add(d))
	if left <= 0 {
		in.Log.Success(fmt.Sprintf("Waited %s", d))
		return nil
	}
	if left < d {
		in.Log.Info(fmt.Sprintf("Resuming a wait of %s: %s left, until %s", d, left.Round(time.Second), start.Add(d).Format(time.RFC3339)))
	} else {
		in.Log.Info(fmt.Sprintf("Waiting %s, until %s", d, start.Add(d).Format(time.RFC3339)))
	}
	t := time.NewTimer(left)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		in.Log.Success(fmt.Sprintf("Waited %s", d))
		return nil
	}
}

// startedAt returns the time recorded under key, recording now when there
// is none yet.
func startedAt(ctx context.Context, in platform.StageInput, key string) (time.Time, error) {
	if v, ok := in.Metadata.Get(key); ok {
		if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
			return t, nil
		}
	}
	now := time.Now()
	if err := in.Metadata.Put(ctx, map[string]string{key: now.UTC().Format(time.RFC3339Nano)}); err != nil {
		return now, fmt.Errorf("record the start time: %w", err)
	}
	return now, nil
}
