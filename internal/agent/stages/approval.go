package stages

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/ferrycd/ferry/internal/config"
	"github.com/ferrycd/ferry/internal/model"
	"github.com/ferrycd/ferry/internal/platform"
)

// DefaultApprovalTimeout bounds a WAIT_APPROVAL that sets no timeout, as in
// PipeCD.
const DefaultApprovalTimeout = 6 * time.Hour

// WaitApproval is WAIT_APPROVAL: it succeeds once minApproverNum distinct
// people (default 1) have approved, each on the approvers list when there
// is one, and fails when the timeout passes first. Approvers are matched on
// their subjects (model.ApproverSubject), never on display names. The
// approvals so far are kept in the stage's metadata, so they count across
// agent restarts.
type WaitApproval struct{}

// Execute implements platform.StageExecutor.
func (WaitApproval) Execute(ctx context.Context, in platform.StageInput) error {
	opts, err := platform.StageOptions[config.WaitApprovalOptions](in)
	if err != nil {
		return err
	}
	need := max(opts.MinApproverNum, 1)
	timeout := opts.Timeout.Std()
	if timeout <= 0 {
		timeout = DefaultApprovalTimeout
	}
	start, err := startedAt(ctx, in, MetaApprovalStartedAt)
	if err != nil {
		return err
	}
	var approvers []string
	for _, a := range cleanList(opts.Approvers) {
		approvers = append(approvers, model.ApproverSubject(a))
	}
	if err := in.Metadata.Put(ctx, map[string]string{
		MetaApprovers: strings.Join(approvers, ","), MetaApprovalsNeeded: fmt.Sprint(need),
	}); err != nil {
		return fmt.Errorf("record the approvers: %w", err)
	}
	approved := approvedBy(in.Metadata)
	if len(approved) >= need {
		in.Log.Success(fmt.Sprintf("Approved by %s", strings.Join(approved, ", ")))
		return nil
	}
	who := "anyone allowed to operate deployments"
	if len(approvers) > 0 {
		who = strings.Join(approvers, ", ")
	}
	in.Log.Info(fmt.Sprintf("Waiting for %d approval(s) from %s, until %s", need-len(approved), who, start.Add(timeout).Format(time.RFC3339)))
	t := time.NewTimer(time.Until(start.Add(timeout)))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
			return fmt.Errorf("not approved within %s: %d of %d approvals%s", timeout, len(approved), need, namesSuffix(approved))
		case a, ok := <-in.Approvals:
			if !ok {
				return fmt.Errorf("the stage stopped taking approvals")
			}
			who := model.ApproverSubject(a.Approver)
			err := approve(ctx, in, approvers, approved, who)
			if err == nil {
				approved = append(approved, who)
				in.Log.Info(fmt.Sprintf("Approved by %s (%d of %d)", who, len(approved), need))
			}
			a.Result <- err
			if len(approved) >= need {
				in.Log.Success(fmt.Sprintf("Approved by %s", strings.Join(approved, ", ")))
				return nil
			}
		}
	}
}

// approve checks one approval and records it.
func approve(ctx context.Context, in platform.StageInput, approvers, approved []string, who string) error {
	switch {
	case who == "":
		return fmt.Errorf("an approval must name its approver")
	case len(approvers) > 0 && !slices.Contains(approvers, who):
		return fmt.Errorf("%s is not an approver of stage %s: the approvers are %s", who, in.Stage.GetId(), strings.Join(approvers, ", "))
	case slices.Contains(approved, who):
		return fmt.Errorf("%s has already approved stage %s; approvals must come from distinct people", who, in.Stage.GetId())
	}
	if err := in.Metadata.Put(ctx, map[string]string{MetaApprovedBy: strings.Join(append(slices.Clone(approved), who), ",")}); err != nil {
		return fmt.Errorf("record the approval: %w", err)
	}
	return nil
}

// approvedBy returns the subjects that approved so far.
func approvedBy(m platform.Metadata) []string {
	v, _ := m.Get(MetaApprovedBy)
	var out []string
	for _, a := range cleanList(strings.Split(v, ",")) {
		out = append(out, model.ApproverSubject(a))
	}
	return out
}

func cleanList(in []string) []string {
	var out []string
	for _, s := range in {
		if s = strings.TrimSpace(s); s != "" && !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

func namesSuffix(names []string) string {
	if len(names) == 0 {
		return ""
	}
	return " (" + strings.Join(names, ", ") + ")"
}
