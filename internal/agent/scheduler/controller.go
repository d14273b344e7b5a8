package scheduler

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/timestamppb"

	ferryv1 "github.com/ferrycd/ferry/api/gen/ferry/v1"
)

// DefaultReconcileInterval is how often the controller re-reads the
// agent's deployments when nothing kicked it.
const DefaultReconcileInterval = 10 * time.Second

// Controller starts the agent's deployments: at most one per application
// at a time. A deployment already planned or running (left by an earlier
// run of the agent) resumes first; otherwise the newest PENDING one runs and
// the older PENDING ones of the same application are cancelled as
// superseded, so a burst of commits deploys the last one once.
type Controller struct {
	Scheduler *Scheduler
	// Interval between re-reads; default DefaultReconcileInterval.
	Interval time.Duration
	// OnRunning, when set, is told when an application's deployment starts
	// running here (true) and when it has ended and been reported (false).
	OnRunning func(appID string, running bool)

	once    sync.Once
	kick    chan struct{}
	mu      sync.Mutex
	running map[string]*runningDeployment // by application id
	// finished holds the deployments this controller ran to their end
	// recently, and when: a list read before one ended still shows it
	// running, and must not start it again.
	finished map[string]time.Time
	wg       sync.WaitGroup
}

// finishedMemory is how long a finished deployment is remembered; far
// longer than one reconcile takes.
const finishedMemory = time.Minute

type runningDeployment struct {
	id  string
	ctl *Control
}

func (c *Controller) init() {
	c.once.Do(func() {
		c.kick = make(chan struct{}, 1)
		c.running = map[string]*runningDeployment{}
		c.finished = map[string]time.Time{}
	})
}

// Kick makes the controller look for new deployments now. It never blocks.
func (c *Controller) Kick() {
	c.init()
	select {
	case c.kick <- struct{}{}:
	default:
	}
}

// Cancel cancels a deployment this agent runs and reports whether it was
// running here. forceRollback and forceNoRollback are the cancel's choice
// (see Control.Cancel).
func (c *Controller) Cancel(deploymentID string, forceRollback, forceNoRollback bool) bool {
	ctl := c.control(deploymentID)
	if ctl == nil {
		return false
	}
	ctl.Cancel(forceRollback, forceNoRollback)
	return true
}

// control returns the control of a deployment running here, or nil.
func (c *Controller) control(deploymentID string) *Control {
	c.init()
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, r := range c.running {
		if r.id == deploymentID {
			return r.ctl
		}
	}
	return nil
}

// CancelWhenRunning cancels a deployment that an earlier run of the agent
// left running, once this controller has resumed it (within a reconcile,
// which it starts at once). It fails when the deployment does not run here
// within resumeWait, or ends first.
func (c *Controller) CancelWhenRunning(ctx context.Context, deploymentID string, forceRollback, forceNoRollback bool) error {
	ctl, err := c.await(ctx, deploymentID)
	if err != nil {
		return err
	}
	ctl.Cancel(forceRollback, forceNoRollback)
	return nil
}

// Skip skips the running stage of a deployment running here. Like Approve,
// it waits for a deployment being resumed, and for its stage to start.
func (c *Controller) Skip(ctx context.Context, deploymentID, stageID string) error {
	ctl, err := c.await(ctx, deploymentID)
	if err != nil {
		return err
	}
	return ctl.Skip(ctx, stageID)
}

// Approve hands an approval to the running stage of a deployment running
// here and returns the stage's answer. It waits for a deployment being
// resumed, and for its stage to start.
func (c *Controller) Approve(ctx context.Context, deploymentID, stageID, approver string) error {
	ctl, err := c.await(ctx, deploymentID)
	if err != nil {
		return err
	}
	return ctl.Approve(ctx, stageID, approver)
}

// await returns the control of a deployment running here. A command that
// arrives while the agent restarts comes before the deployment has
// resumed: it kicks a reconcile and waits up to resumeWait for it.
func (c *Controller) await(ctx context.Context, deploymentID string) (*Control, error) {
	if ctl := c.control(deploymentID); ctl != nil {
		return ctl, nil
	}
	c.Kick()
	t := time.NewTimer(resumeWait)
	defer t.Stop()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-t.C:
			return nil, fmt.Errorf("deployment %s is not running on this agent", deploymentID)
		case <-tick.C:
		}
		if ctl := c.control(deploymentID); ctl != nil {
			return ctl, nil
		}
		c.mu.Lock()
		_, ended := c.finished[deploymentID]
		c.mu.Unlock()
		if ended {
			return nil, fmt.Errorf("deployment %s has ended", deploymentID)
		}
	}
}

// Start reconciles until ctx ends, then waits for the running deployments
// to stop (they stay RUNNING in the control plane and resume on the next
// start). It returns nil.
func (c *Controller) Start(ctx context.Context) error {
	c.init()
	interval := c.Interval
	if interval <= 0 {
		interval = DefaultReconcileInterval
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	defer c.wg.Wait()
	for {
		if err := c.reconcile(ctx); err != nil && ctx.Err() == nil {
			c.Scheduler.Logger.WarnContext(ctx, "reconcile deployments", "error", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		case <-c.kick:
		}
	}
}

func (c *Controller) reconcile(ctx context.Context) error {
	res, err := c.Scheduler.Client.ListNotCompletedDeployments(ctx, connect.NewRequest(&ferryv1.ListNotCompletedDeploymentsRequest{}))
	if err != nil {
		return fmt.Errorf("list deployments: %w", err)
	}
	byApp := map[string][]*ferryv1.Deployment{}
	c.mu.Lock()
	for id, at := range c.finished {
		if time.Since(at) > finishedMemory {
			delete(c.finished, id)
		}
	}
	for _, d := range res.Msg.GetDeployments() {
		if _, done := c.finished[d.GetId()]; done {
			continue // ended after the list was read
		}
		byApp[d.GetApplicationId()] = append(byApp[d.GetApplicationId()], d)
	}
	c.mu.Unlock()
	for appID, ds := range byApp {
		c.mu.Lock()
		_, busy := c.running[appID]
		c.mu.Unlock()
		if busy {
			continue
		}
		next, superseded := pick(ds)
		for _, old := range superseded {
			if _, err := c.Scheduler.Client.ReportDeploymentCompleted(ctx, connect.NewRequest(&ferryv1.ReportDeploymentCompletedRequest{
				DeploymentId: old.GetId(), Status: ferryv1.DeploymentStatus_DEPLOYMENT_STATUS_CANCELLED,
				StatusReason: "superseded by deployment " + next.GetId() + " of a newer commit", CompletedAt: timestamppb.Now(),
			})); err != nil {
				return fmt.Errorf("supersede deployment %s: %w", old.GetId(), err)
			}
		}
		c.start(ctx, appID, next)
	}
	return nil
}

// pick chooses the deployment to run for one application and the pending
// ones it supersedes.
func pick(ds []*ferryv1.Deployment) (next *ferryv1.Deployment, superseded []*ferryv1.Deployment) {
	sort.Slice(ds, func(i, j int) bool { return ds[i].GetCreatedAt().AsTime().Before(ds[j].GetCreatedAt().AsTime()) })
	var pending []*ferryv1.Deployment
	for _, d := range ds {
		if d.GetStatus() == ferryv1.DeploymentStatus_DEPLOYMENT_STATUS_PENDING {
			pending = append(pending, d)
		} else if next == nil {
			next = d // planned or running: resume the oldest
		}
	}
	if next != nil {
		return next, nil // pending ones wait until it ends
	}
	return pending[len(pending)-1], pending[:len(pending)-1]
}

func (c *Controller) start(ctx context.Context, appID string, d *ferryv1.Deployment) {
	r := &runningDeployment{id: d.GetId(), ctl: NewControl()}
	c.mu.Lock()
	c.running[appID] = r
	c.mu.Unlock()
	if c.OnRunning != nil {
		c.OnRunning(appID, true)
	}
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		defer func() {
			c.mu.Lock()
			delete(c.running, appID)
			c.mu.Unlock()
			if c.OnRunning != nil {
				c.OnRunning(appID, false)
			}
			c.Kick()
		}()
		err := c.Scheduler.Run(ctx, d, r.ctl)
		switch {
		case err == nil && ctx.Err() == nil:
			c.mu.Lock()
			c.finished[d.GetId()] = time.Now()
			c.mu.Unlock()
		case err != nil && ctx.Err() == nil:
			c.Scheduler.Logger.ErrorContext(ctx, "deployment run failed", "deployment_id", d.GetId(), "app_id", appID, "error", err)
		}
	}()
}
