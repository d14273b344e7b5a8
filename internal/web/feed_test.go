package web

import (
	"context"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"connectrpc.com/connect"

	ferryv1 "github.com/ferrycd/ferry/api/gen/ferry/v1"
	"github.com/ferrycd/ferry/internal/hub"
	"github.com/ferrycd/ferry/internal/model"
	"github.com/ferrycd/ferry/internal/server/api"
	"github.com/ferrycd/ferry/internal/store"
)

// countingStore counts the reads the console's pages make of deployments
// and applications.
type countingStore struct {
	store.Store
	deployments, apps atomic.Int64
}

func (s *countingStore) GetDeployment(ctx context.Context, id string) (*model.Deployment, error) {
	s.deployments.Add(1)
	return s.Store.GetDeployment(ctx, id)
}

func (s *countingStore) GetApplication(ctx context.Context, id string) (*model.Application, error) {
	s.apps.Add(1)
	return s.Store.GetApplication(ctx, id)
}

// fedConsole is a console whose streams wake on the change feed of the
// hub the API publishes to, and re-read on their own only once an hour:
// an event that arrives within a test came through the feed.
func fedConsole(t *testing.T) (*console, *countingStore) {
	t.Helper()
	c := newConsole(t, Options{PollInterval: time.Hour})
	c.h.opts.Changes = c.deps.Hub
	counted := &countingStore{Store: c.h.store}
	c.h.store = counted
	return c, counted
}

// agentCtx is the context of a call by the console's seeded agent.
func (c *console) agentCtx() context.Context {
	return api.WithPrincipal(context.Background(), &api.Principal{Subject: "agent:" + c.agent.ID, ProjectID: model.DefaultProjectID, AgentID: c.agent.ID})
}

// reportStage reports a status of one of the seeded deployment's stages
// through the real AgentService, which stores it and publishes the change.
func (c *console) reportStage(stage string, status ferryv1.StageStatus) {
	c.t.Helper()
	if _, err := api.NewAgentService(c.deps).ReportStageStatusChanged(c.agentCtx(), connect.NewRequest(&ferryv1.ReportStageStatusChangedRequest{
		DeploymentId: c.dep.ID, StageId: stage, Status: status,
	})); err != nil {
		c.t.Fatal(err)
	}
}

// firstPipeline reads the deployment stream's first pipeline event.
func firstPipeline(t *testing.T, res *http.Response) {
	t.Helper()
	sseEvents(t, res, func(name, data string) bool {
		if name == "pipeline" && !strings.Contains(data, `stage s-running`) {
			t.Fatalf("first pipeline event does not show the running approval stage:\n%s", data)
		}
		return name == "pipeline"
	})
}

func TestAStageReportReachesTheDeploymentPageThroughTheFeed(t *testing.T) {
	c, counted := fedConsole(t)
	b := c.as("viewer", model.RoleViewer)
	res := b.stream(t, "/deployments/"+c.dep.ID+"/live")
	firstPipeline(t, res)

	c.reportStage("s2", ferryv1.StageStatus_STAGE_STATUS_SUCCESS)
	sseEvents(t, res, func(name, data string) bool {
		return name == "pipeline" && strings.Contains(data, `id="stage-s2"`) && strings.Contains(data, "s-success") && !strings.Contains(data, "s-running")
	})
	// The page's handler read the deployment, then the stream once at
	// first and once for the report.
	if n := counted.deployments.Load(); n != 3 {
		t.Errorf("the deployment was read %d times, want 3", n)
	}
}

func TestChangesOfOtherThingsDoNotWakeAPage(t *testing.T) {
	c, counted := fedConsole(t)
	b := c.as("viewer", model.RoleViewer)
	res := b.stream(t, "/deployments/"+c.dep.ID+"/live")
	firstPipeline(t, res)
	before := counted.deployments.Load()

	feed := c.deps.Hub
	for _, other := range []hub.Change{
		{ProjectID: model.DefaultProjectID, ApplicationID: c.app.ID, DeploymentID: "another-deployment", What: hub.ChangeStage | hub.ChangeDeployment},
		{ProjectID: "another-project", ApplicationID: c.app.ID, DeploymentID: c.dep.ID, What: hub.ChangeStage},
		// The page shows no log and no live state.
		{ProjectID: model.DefaultProjectID, ApplicationID: c.app.ID, DeploymentID: c.dep.ID, What: hub.ChangeLog},
		{ProjectID: model.DefaultProjectID, ApplicationID: c.app.ID, What: hub.ChangeLiveState},
	} {
		if n := feed.PublishChange(other); n != 0 {
			t.Errorf("%+v concerned %d stream(s), want none", other, n)
		}
	}
	// Then a change of this deployment: one re-read, and only one, since
	// the others woke nothing.
	c.reportStage("s2", ferryv1.StageStatus_STAGE_STATUS_FAILURE)
	sseEvents(t, res, func(name, data string) bool {
		return name == "pipeline" && strings.Contains(data, "s-failure")
	})
	if n := counted.deployments.Load() - before; n != 1 {
		t.Errorf("the stream read the deployment %d times after its first event, want 1", n)
	}
}

func TestABurstOfChangesCostsAPageFewReads(t *testing.T) {
	c, counted := fedConsole(t)
	b := c.as("viewer", model.RoleViewer)
	res := b.stream(t, "/deployments/"+c.dep.ID+"/live")
	firstPipeline(t, res)
	before := counted.deployments.Load()

	start := time.Now()
	for range 200 {
		c.deps.Hub.PublishChange(hub.Change{ProjectID: model.DefaultProjectID, ApplicationID: c.app.ID, DeploymentID: c.dep.ID, What: hub.ChangeStage})
	}
	c.reportStage("s2", ferryv1.StageStatus_STAGE_STATUS_SUCCESS)
	sseEvents(t, res, func(name, data string) bool {
		return name == "pipeline" && strings.Contains(data, "s-success") && !strings.Contains(data, "s-running")
	})
	// At most one re-read per MinRedraw, plus the first.
	elapsed := time.Since(start)
	if n, limit := counted.deployments.Load()-before, 2+int64(elapsed/c.h.opts.MinRedraw); n > limit {
		t.Errorf("201 changes in %s cost %d reads, want at most %d", elapsed, n, limit)
	}
}

func TestLogAndLiveStatePagesFollowTheFeed(t *testing.T) {
	c, _ := fedConsole(t)
	b := c.as("viewer", model.RoleViewer)

	logs := b.stream(t, "/deployments/"+c.dep.ID+"/stages/s2/log?after=0")
	if _, err := api.NewAgentService(c.deps).ReportStageLogs(c.agentCtx(), connect.NewRequest(&ferryv1.ReportStageLogsRequest{
		DeploymentId: c.dep.ID, StageId: "s2", Blocks: []*ferryv1.LogBlock{{Index: 1, Log: "approved by alice", Severity: ferryv1.LogSeverity_LOG_SEVERITY_SUCCESS}},
	})); err != nil {
		t.Fatal(err)
	}
	sseEvents(t, logs, func(name, data string) bool {
		return name == "log" && strings.Contains(data, `"t":"approved by alice"`)
	})

	live := b.stream(t, "/applications/"+c.app.ID+"/live")
	first := true
	sseEvents(t, live, func(name, data string) bool {
		if name != "live" {
			return false
		}
		if first {
			first = false
			c.reportLive(&ferryv1.ResourceState{Id: "p", Kind: "Pod", Namespace: "shop", Name: "checkout-abc", Health: ferryv1.HealthStatus_HEALTH_STATUS_UNHEALTHY, HealthDescription: "CrashLoopBackOff"})
			return false
		}
		return strings.Contains(data, "CrashLoopBackOff")
	})
}

func TestAResyncWakesEveryPage(t *testing.T) {
	c, counted := fedConsole(t)
	b := c.as("viewer", model.RoleViewer)
	res := b.stream(t, "/deployments/"+c.dep.ID+"/live")
	firstPipeline(t, res)
	// Stored without a change published, as when its message was lost
	// while this replica reconnected to the broker.
	if _, err := c.store.UpdateStage(context.Background(), c.dep.ID, "s2", func(s *model.Stage) error {
		s.Status = model.StageSuccess
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if n := c.deps.Hub.PublishResync(); n != 1 {
		t.Errorf("the resync woke %d streams, want 1", n)
	}
	sseEvents(t, res, func(name, data string) bool {
		return name == "pipeline" && strings.Contains(data, "s-success") && !strings.Contains(data, "s-running")
	})
	if counted.deployments.Load() < 3 {
		t.Error("the stream did not re-read the deployment")
	}
}
