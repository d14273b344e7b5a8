package storetest

import (
	"errors"
	"strings"
	"testing"

	"github.com/ferrycd/ferry/internal/model"
	"github.com/ferrycd/ferry/internal/store"
)

// testLogLimits fills a stage's log past model.MaxStageLogBytes: what fits
// is stored, everything after the first block cut is counted once (a
// resend is not counted again), and deleting the log clears the count.
func testLogLimits(t *testing.T, s store.Store) {
	line := strings.Repeat("x", model.MaxLogBlockBytes)
	fit := model.MaxStageLogBytes / model.MaxLogBlockBytes
	var blocks []model.LogBlock
	for i := range fit + 3 {
		blocks = append(blocks, model.LogBlock{Index: int64(i), Log: line, Severity: model.LogInfo, CreatedAt: ts(i)})
	}
	must(t, s.AppendLogBlocks(ctx, "d", "s", blocks[:fit+1]))
	// A resend of the cut block with two new ones, and a short line after
	// the cut, which is cut too: a log has no gap in its middle.
	must(t, s.AppendLogBlocks(ctx, "d", "s", blocks[fit:]))
	must(t, s.AppendLogBlocks(ctx, "d", "s", []model.LogBlock{{Index: int64(fit + 3), Log: "short", Severity: model.LogInfo, CreatedAt: ts(1)}}))
	got, err := s.ListLogBlocks(ctx, "d", "s", -1, 0)
	must(t, err)
	if len(got) != fit || got[fit-1].Index != int64(fit-1) {
		t.Errorf("%d blocks stored, want the %d that fit", len(got), fit)
	}
	cut, err := s.StageLogCut(ctx, "d", "s")
	must(t, err)
	if want := (model.LogCut{Blocks: 4, Bytes: 3*int64(len(line)) + 5}); cut != want {
		t.Errorf("cut = %+v, want %+v", cut, want)
	}
	wantKind(t, s.AppendLogBlocks(ctx, "d", "s", []model.LogBlock{{Index: model.LogCutIndex, Log: "x"}}), model.KindInvalid)
	must(t, s.DeleteLogBlocks(ctx, "d", "s"))
	if cut, err := s.StageLogCut(ctx, "d", "s"); err != nil || cut != (model.LogCut{}) {
		t.Errorf("cut after delete = %+v, %v", cut, err)
	}
}

// testDeploymentRequests checks that a request id names one deployment
// per application.
func testDeploymentRequests(t *testing.T, s store.Store) {
	must(t, s.CreateApplication(ctx, newApp("app", "p", "a", "web", nil)))
	must(t, s.CreateApplication(ctx, newApp("app2", "p", "a", "api", nil)))
	d := newDeployment("d1", "app", "a", 0, model.DeploymentPending, 0)
	d.RequestID = "command:c1"
	must(t, s.CreateDeployment(ctx, d))
	again := newDeployment("d2", "app", "a", 1, model.DeploymentPending, 0)
	again.RequestID = "command:c1"
	wantKind(t, s.CreateDeployment(ctx, again), model.KindAlreadyExists)
	other := newDeployment("d3", "app2", "a", 1, model.DeploymentPending, 0)
	other.RequestID = "command:c1"
	must(t, s.CreateDeployment(ctx, other))
	for _, id := range []string{"", "x"} { // no request id is never a clash
		nd := newDeployment("n"+id, "app", "a", 2, model.DeploymentPending, 0)
		must(t, s.CreateDeployment(ctx, nd))
	}
	ds, _, err := s.ListDeployments(ctx, store.DeploymentFilter{ApplicationID: "app", RequestID: "command:c1"}, store.Page{})
	must(t, err)
	if len(ds) != 1 || ds[0].ID != "d1" || ds[0].RequestID != "command:c1" {
		t.Errorf("deployments of request command:c1 = %v", ids(ds, deploymentID))
	}
}

// testDeploymentWithApp checks that a deployment and its application are
// written together or not at all.
func testDeploymentWithApp(t *testing.T, s store.Store) {
	must(t, s.CreateApplication(ctx, newApp("app", "p", "a", "web", nil)))
	boom := errors.New("boom")
	wantErr := func(err error) {
		t.Helper()
		if !errors.Is(err, boom) {
			t.Fatalf("error = %v, want boom", err)
		}
	}
	wantErr(s.CreateDeploymentWithApp(ctx, newDeployment("d0", "app", "a", 0, model.DeploymentPending, 1),
		func(*model.Application) error { return boom }))
	_, err := s.GetDeployment(ctx, "d0")
	wantKind(t, err, model.KindNotFound)

	must(t, s.CreateDeploymentWithApp(ctx, newDeployment("d", "app", "a", 0, model.DeploymentRunning, 1), func(a *model.Application) error {
		a.Deploying, a.MostRecentDeployment = true, &model.DeploymentRef{DeploymentID: "d", Status: model.DeploymentRunning}
		return nil
	}))
	end := func(d *model.Deployment) error { d.Status = model.DeploymentSuccess; return nil }
	_, err = s.UpdateDeploymentWithApp(ctx, "d", end, func(*model.Application, *model.Deployment) error { return boom })
	wantErr(err)
	if d, err := s.GetDeployment(ctx, "d"); err != nil || d.Status != model.DeploymentRunning {
		t.Fatalf("after a failed application write the deployment is %v, %v; want it RUNNING still", d.Status, err)
	}
	_, err = s.UpdateDeploymentWithApp(ctx, "d", end, func(a *model.Application, d *model.Deployment) error {
		a.Deploying, a.MostRecentDeployment.Status = false, d.Status
		return nil
	})
	must(t, err)
	a, err := s.GetApplication(ctx, "app")
	must(t, err)
	if a.Deploying || a.MostRecentDeployment.Status != model.DeploymentSuccess {
		t.Errorf("application deploying=%v, most recent %+v", a.Deploying, a.MostRecentDeployment)
	}
	// An application deleted meanwhile does not stop the deployment's
	// update.
	must(t, s.DeleteApplication(ctx, "app"))
	_, err = s.UpdateDeploymentWithApp(ctx, "d", func(d *model.Deployment) error { d.Summary = "s"; return nil },
		func(*model.Application, *model.Deployment) error { return boom })
	must(t, err)
}
