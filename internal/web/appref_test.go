package web

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/ferrycd/ferry/internal/model"
)

// TestDeploymentsFilterSaysWhenANameIsAmbiguous: names repeat (a
// "checkout" in another folder), so the filter lists the candidates
// instead of quietly picking one, and REPO:PATH picks one.
func TestDeploymentsFilterSaysWhenANameIsAmbiguous(t *testing.T) {
	c := newConsole(t, Options{})
	now := time.Now().UTC()
	other := &model.Application{ID: model.NewID(), ProjectID: model.DefaultProjectID, Name: "checkout", Kind: model.AppKindKubernetes,
		AgentID: c.agent.ID, GitPath: model.GitPath{RepoID: "apps", Path: "canary/checkout", ConfigFilename: "app.pipecd.yaml"},
		SyncState: model.SyncState{Status: model.SyncUnknown}, CreatedAt: now, UpdatedAt: now}
	if err := c.store.CreateApplication(context.Background(), other); err != nil {
		t.Fatal(err)
	}
	b := c.as("viewer", model.RoleViewer)
	_, body := b.get("/deployments?app=checkout")
	for _, want := range []string{"is ambiguous", c.app.ID, other.ID, "apps:checkout", "apps:canary/checkout", "agent dev-cluster"} {
		if !strings.Contains(body, want) {
			t.Errorf("filtering on an ambiguous name: the page does not show %q", want)
		}
	}
	if strings.Contains(body, "/deployments/"+c.dep.ID) {
		t.Error("filtering on an ambiguous name listed the deployments of one of them")
	}
	_, body = b.get("/deployments?app=apps:checkout")
	if strings.Contains(body, "is ambiguous") || !strings.Contains(body, "/deployments/"+c.dep.ID) {
		t.Error("filtering on REPO:PATH does not list that application's deployment")
	}
	_, body = b.get("/applications")
	if !strings.Contains(body, "apps:canary/checkout") {
		t.Error("the applications list does not tell the two checkouts apart by where their configs are")
	}
}
