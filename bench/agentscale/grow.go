package agentscale

import (
	"context"
	"fmt"
	"time"

	"connectrpc.com/connect"

	ferryv1 "github.com/ferrycd/ferry/api/gen/ferry/v1"
	"github.com/ferrycd/ferry/bench/internal/benchkit"
)

// DeployRow is one step of growth: New applications added in Commits
// commits (Options.Batch applications each), each deployed by the agent
// on the commit that added it.
type DeployRow struct {
	From, To, New, Commits int
	// Succeeded counts the new applications deployed; Retries the sync
	// commands sent for first deployments that failed (each application
	// gets maxRetries).
	Succeeded, Retries int
	// Problem says why the step stopped short of deploying every new
	// application (timeout, failures after retries); "" when it did not.
	Problem string
	// Deploy is from the first push notice to every new application
	// SUCCESS, without the bench's own time writing and committing later
	// batches; Synced to every application (old and new) reported SYNCED.
	Deploy, Synced time.Duration
	// CPU is the agent's user+system CPU time over Synced.
	CPU time.Duration
	// API is kube-apiserver's request rate over Deploy.
	API APIRate
}

// Complete reports whether every new application was deployed.
func (d DeployRow) Complete() bool { return d.Problem == "" && d.Succeeded == d.New }

// PerSecond is new applications deployed per second.
func (d DeployRow) PerSecond() float64 { return float64(d.New) / d.Deploy.Seconds() }

// maxRetries is how many sync commands an application whose first
// deployment failed gets before the step gives up on it.
const maxRetries = 2

// syncedTimeout bounds the wait for SYNCED once every deployment ended.
const syncedTimeout = 10 * time.Minute

// grow adds applications r.apps+1..n, Options.Batch per commit (all in one
// when 0), tells the agent of each commit, and waits until every new one
// is deployed before the next commit, then until every application is
// SYNCED. A row with a Problem comes back without an error: the run stops
// growing and reports how far it got.
func (r *rig) grow(ctx context.Context, n int) (*DeployRow, error) {
	from := int(r.apps.Load())
	row := &DeployRow{From: from, To: n, New: n - from}
	if err := r.ensureNamespaces(ctx, from+1, n); err != nil {
		return nil, err
	}
	batch := r.opts.Batch
	if batch <= 0 {
		batch = row.New
	}
	cpu0, err := readCPU(r.currentPID())
	if err != nil {
		return nil, fmt.Errorf("read agent CPU: %w", err)
	}
	api0, err := r.apiRequests(ctx)
	if err != nil {
		return nil, err
	}
	var t0 time.Time
	var benchTime time.Duration // writing and committing after t0
	for lo := from + 1; lo <= n; lo += batch {
		hi := min(n, lo+batch-1)
		began := time.Now()
		for i := lo; i <= hi; i++ {
			if err := r.writeApp(i); err != nil {
				return nil, err
			}
		}
		if err := benchkit.Commit(r.repo, fmt.Sprintf("apps %d to %d", lo, hi)); err != nil {
			return nil, err
		}
		if t0.IsZero() {
			t0 = time.Now()
		} else {
			benchTime += time.Since(began)
		}
		r.apps.Store(int64(hi))
		row.Commits++
		r.log.Info("deploying new applications", "from", lo, "to", hi)
		if err := r.notify(ctx); err != nil {
			return nil, err
		}
		if err := r.waitDeployed(ctx, row, lo, hi, t0); err != nil || row.Problem != "" {
			return row, err
		}
	}
	row.Deploy = time.Since(t0) - benchTime
	if api1, err := r.apiRequests(ctx); err == nil {
		row.API = rate(api0, api1, time.Since(t0))
	}
	r.log.Info("all deployed; waiting for SYNCED", "new", row.New, "elapsed", row.Deploy.Round(time.Millisecond), "retries", row.Retries, "kube_api", row.API.Detail())
	if err := r.waitAllSynced(ctx, n, syncedTimeout); err != nil {
		return row, err
	}
	row.Synced = time.Since(t0) - benchTime
	cpu1, err := readCPU(r.currentPID())
	if err != nil {
		return row, fmt.Errorf("read agent CPU: %w", err)
	}
	row.CPU = cpu1 - cpu0
	r.log.Info("all synced", "apps", n, "elapsed", row.Synced.Round(time.Millisecond), "agent_cpu", row.CPU)
	return row, nil
}

// waitDeployed waits until applications lo..hi are deployed, retrying
// failed ones with a sync command up to maxRetries times. It adds to
// row.Succeeded and row.Retries, and sets row.Problem when
// Options.DeployTimeout since t0 passes first or an application fails
// every attempt.
func (r *rig) waitDeployed(ctx context.Context, row *DeployRow, lo, hi int, t0 time.Time) error {
	base := row.Succeeded
	retries := map[string]int{}
	retriedFrom := map[string]string{} // the failed deployment a retry replaces
	lastLog := time.Now()
	for {
		apps, err := r.listApps(ctx)
		if err != nil {
			return err
		}
		succeeded, failed := 0, 0
		var failure *ferryv1.Application
		for _, a := range apps {
			name, d := a.GetName(), a.GetMostRecentDeployment()
			if i := appIndex(name); i < lo || i > hi {
				continue
			}
			switch d.GetStatus() {
			case ferryv1.DeploymentStatus_DEPLOYMENT_STATUS_SUCCESS:
				succeeded++
			case ferryv1.DeploymentStatus_DEPLOYMENT_STATUS_FAILURE, ferryv1.DeploymentStatus_DEPLOYMENT_STATUS_CANCELLED:
				switch {
				case retriedFrom[name] == d.GetDeploymentId(): // the retry is not created yet
				case retries[name] < maxRetries:
					r.log.Info("retrying a failed deployment", "app", name, "reason", r.failure(ctx, a))
					if _, err := r.user.SyncApplication(ctx, connect.NewRequest(&ferryv1.SyncApplicationRequest{Application: a.GetId()})); err != nil {
						return fmt.Errorf("retry %s: %w", name, err)
					}
					retries[name]++
					retriedFrom[name] = d.GetDeploymentId()
					row.Retries++
				default:
					failed++
					failure = a
				}
			}
		}
		row.Succeeded = base + succeeded
		switch {
		case succeeded+failed == hi-lo+1 && failed > 0:
			row.Problem = fmt.Sprintf("%d applications failed %d deployments each, e.g. %s: %s",
				failed, maxRetries+1, failure.GetName(), r.failure(ctx, failure))
			return nil
		case succeeded == hi-lo+1:
			return nil
		case time.Since(t0) > r.opts.DeployTimeout:
			row.Problem = fmt.Sprintf("deploying took longer than %s: %d of %d new applications reached SUCCESS",
				r.opts.DeployTimeout, row.Succeeded, row.New)
			return nil
		}
		if err := r.alive(); err != nil {
			return err
		}
		if time.Since(lastLog) > 15*time.Second {
			r.log.Info("deploying", "succeeded", row.Succeeded, "failed", failed, "retries", row.Retries, "new", row.New,
				"elapsed", time.Since(t0).Round(time.Second))
			lastLog = time.Now()
		}
		if !sleep(ctx, listInterval(hi)) {
			return ctx.Err()
		}
	}
}

// waitAllSynced waits until all n applications are SYNCED, and remembers
// their ids.
func (r *rig) waitAllSynced(ctx context.Context, n int, timeout time.Duration) error {
	var synced int
	err := benchkit.Poll(ctx, timeout, listInterval(n), func() (bool, error) {
		apps, err := r.listApps(ctx)
		if err != nil {
			return false, err
		}
		synced = 0
		for _, a := range apps {
			r.ids[a.GetName()] = a.GetId()
			if a.GetSyncState().GetStatus() == ferryv1.SyncStatus_SYNC_STATUS_SYNCED {
				synced++
			}
		}
		return synced >= n, r.alive()
	}, "not every application was reported SYNCED")
	if err != nil {
		return fmt.Errorf("%w (%d of %d)", err, synced, n)
	}
	return nil
}

// failure returns why an application's most recent deployment failed.
func (r *rig) failure(ctx context.Context, a *ferryv1.Application) string {
	res, err := r.user.GetDeployment(ctx, connect.NewRequest(&ferryv1.GetDeploymentRequest{DeploymentId: a.GetMostRecentDeployment().GetDeploymentId()}))
	if err != nil {
		return err.Error()
	}
	return res.Msg.GetDeployment().GetStatusReason()
}

// listApps lists the agent's applications, every page.
func (r *rig) listApps(ctx context.Context) ([]*ferryv1.Application, error) {
	var out []*ferryv1.Application
	token := ""
	for {
		res, err := r.user.ListApplications(ctx, connect.NewRequest(&ferryv1.ListApplicationsRequest{Agent: r.agentID, PageSize: 1000, PageToken: token}))
		if err != nil {
			return nil, fmt.Errorf("list applications: %w", err)
		}
		out = append(out, res.Msg.GetApplications()...)
		if token = res.Msg.GetNextPageToken(); token == "" {
			return out, nil
		}
	}
}

// listInterval is how often whole-list waits poll: listing thousands of
// applications costs the control plane, which shares the CPUs.
func listInterval(n int) time.Duration {
	if n <= 100 {
		return 100 * time.Millisecond
	}
	return time.Second
}

// appIndex is i of "appNNNN", 0 for any other name.
func appIndex(name string) int {
	var i int
	if _, err := fmt.Sscanf(name, "app%d", &i); err != nil {
		return 0
	}
	return i
}

// sleep pauses for d; false when ctx ended first.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
