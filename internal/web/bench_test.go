package web

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/ferrycd/ferry/internal/model"
)

// seedApps stores n applications spread over kinds, sync states and
// labels, as a large installation has them.
func seedApps(tb testing.TB, c *console, n int) {
	tb.Helper()
	ctx := context.Background()
	now := time.Now().UTC()
	syncs := []model.SyncStatus{model.SyncSynced, model.SyncOutOfSync, model.SyncDeploying, model.SyncInvalidConfig}
	for i := range n {
		a := &model.Application{
			ID: model.NewID(), ProjectID: model.DefaultProjectID, Name: fmt.Sprintf("svc-%05d", i),
			Kind: model.AppKinds[i%len(model.AppKinds)], AgentID: c.agent.ID,
			Labels:               map[string]string{"env": []string{"dev", "staging", "prod"}[i%3], "team": fmt.Sprintf("t%d", i%20)},
			SyncState:            model.SyncState{Status: syncs[i%len(syncs)], Timestamp: now},
			MostRecentDeployment: &model.DeploymentRef{DeploymentID: model.NewID(), Status: model.DeploymentSuccess, StartedAt: now},
			CreatedAt:            now, UpdatedAt: now,
		}
		if err := c.store.CreateApplication(ctx, a); err != nil {
			tb.Fatal(err)
		}
	}
}

// TestApplicationsPageIsFastWith10000Apps measures the server time of the
// applications page, unfiltered and filtered, over 10,000 applications in
// SQLite; the target is under 150 ms.
func TestApplicationsPageIsFastWith10000Apps(t *testing.T) {
	if testing.Short() {
		t.Skip("seeds 10,000 applications")
	}
	c := newConsole(t, Options{})
	seedApps(t, c, 10000)
	b := c.as("viewer", model.RoleViewer)
	for _, path := range []string{
		"/applications",
		"/applications?kind=LAMBDA&sync=OUT_OF_SYNC",
		"/applications?labels=env%3Dprod%2C+team%3Dt7",
		"/applications?name=svc-09999",
		"/applications?name=SVC-0",
	} {
		b.get(path) // warm the statement cache
		const runs = 5
		var worst time.Duration
		for range runs {
			rec := httptest.NewRecorder()
			req := httptest.NewRequest(http.MethodGet, path, nil)
			req.AddCookie(&http.Cookie{Name: sessionCookie, Value: b.cookies[sessionCookie]})
			start := time.Now()
			c.h.ServeHTTP(rec, req)
			d := time.Since(start)
			if rec.Code != http.StatusOK {
				t.Fatalf("GET %s: %d", path, rec.Code)
			}
			worst = max(worst, d)
		}
		t.Logf("GET %s: worst of %d runs %s", path, runs, worst.Round(100*time.Microsecond))
		if worst > 150*time.Millisecond {
			t.Errorf("GET %s took %s with 10,000 applications; the target is under 150ms", path, worst)
		}
	}
}
