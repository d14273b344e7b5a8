package agentscale

import (
	"context"
	"fmt"
	"time"
)

// StartRow is a restart of the agent with Apps applications deployed.
type StartRow struct {
	Apps int
	// First is from the process's start to the first application's sync
	// state reported anew in the API; All to every application's.
	First, All time.Duration
	// RSS and HWM are read once all were reported: memory without the
	// history of deploying them.
	RSS, HWM uint64
}

// startTimeout bounds the wait for every application's report after a
// restart.
const startTimeout = 5 * time.Minute

// restart stops the agent (SIGTERM), starts a new process and times its
// reports. A sync state counts as new when its timestamp (set by the
// agent when it reports, or by the control plane when the agent sets
// none) is not before the new process started.
func (r *rig) restart(ctx context.Context, n int) (StartRow, error) {
	row := StartRow{Apps: n}
	if err := r.agent.Load().stop(30 * time.Second); err != nil {
		r.log.Warn("stop the agent", "error", err)
	}
	if err := r.startAgent(); err != nil {
		return row, err
	}
	t0 := r.agent.Load().started
	r.log.Info("agent restarted", "apps", n)
	interval := r.opts.Poll
	for {
		apps, err := r.listApps(ctx)
		if err != nil {
			return row, err
		}
		now := time.Now()
		reported := 0
		for _, a := range apps {
			if ts := a.GetSyncState().GetTimestamp(); ts != nil && !ts.AsTime().Before(t0) {
				reported++
			}
		}
		if reported > 0 && row.First == 0 {
			row.First = now.Sub(t0)
			interval = listInterval(n) // the first is timed; spare the CPUs
		}
		if reported >= n {
			row.All = now.Sub(t0)
			break
		}
		if now.Sub(t0) > startTimeout {
			return row, fmt.Errorf("%d of %d applications reported within %s of the restart", reported, n, startTimeout)
		}
		if err := r.alive(); err != nil {
			return row, err
		}
		if !sleep(ctx, interval) {
			return row, ctx.Err()
		}
	}
	st, err := readStatus(r.currentPID())
	if err != nil {
		return row, err
	}
	row.RSS, row.HWM = st.RSS, st.HWM
	r.log.Info("restart", "apps", n, "first", row.First, "all", row.All, "rss_mib", mib(row.RSS))
	return row, nil
}
