// Package storetest is the one conformance suite every datastore backend
// runs: Run(t, open) checks a backend against the store.Store contract with
// the same tests, so SQLite and PostgreSQL behave alike.
package storetest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ferrycd/ferry/internal/model"
	"github.com/ferrycd/ferry/internal/store"
)

// Run runs the suite. open returns a fresh, empty store for one test; the
// caller arranges its cleanup.
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	tests := []struct {
		name string
		f    func(t *testing.T, s store.Store)
	}{
		{"projects round-trip and update", testProjects},
		{"agents round-trip, names are unique per project, heartbeats", testAgents},
		{"applications filter by every field and labels", testApplicationFilters},
		{"application pages cover every row once", testApplicationPaging},
		{"an application is its agent, repository, path and config file; names repeat", testApplicationIdentity},
		{"an application's config warnings round-trip, are replaced and cleared", testApplicationConfigWarnings},
		{"a cursor from another query or garbage is refused", testCursorMisuse},
		{"deployments round-trip with stages, filter and page newest first", testDeployments},
		{"update deployment writes changed and appended stages", testUpdateDeploymentStages},
		{"fifty concurrent deployment writers lose nothing", testConcurrentDeploymentWriters},
		{"fifty concurrent stage writers lose nothing", testConcurrentStageWriters},
		{"log blocks append idempotently in order and are bounded", testLogBlocks},
		{"a stage log stops at its limits and counts what it cut once", testLogLimits},
		{"a request id names one deployment per application", testDeploymentRequests},
		{"a deployment and its application are written together or not at all", testDeploymentWithApp},
		{"commands list oldest first by status", testCommands},
		{"events filter by key and status", testEvents},
		{"API keys round-trip, revoke and touch", testAPIKeys},
		{"console sessions are found by token until they expire or are deleted", testConsoleSessions},
		{"missing objects are not found", testNotFound},
		{"a failing mutate changes nothing", testMutateError},
		{"concurrent writers that fail undo only their own writes", testConcurrentFailuresAreIsolated},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.f(t, open(t))
		})
	}
}

var ctx = context.Background()

// ts returns a fixed time offset by n seconds, at microsecond precision.
func ts(n int) time.Time {
	return time.Date(2026, 11, 22, 10, 0, 0, 123456000, time.UTC).Add(time.Duration(n) * time.Second)
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func wantKind(t *testing.T, err error, k model.ErrorKind) {
	t.Helper()
	if !model.IsKind(err, k) {
		t.Fatalf("error = %v (kind %v), want kind %v", err, model.KindOf(err), k)
	}
}

// ignoreBookkeeping ignores the fields the store sets on write.
var ignoreBookkeeping = cmp.FilterPath(func(p cmp.Path) bool {
	switch p.Last().String() {
	case ".Revision", ".UpdatedAt":
		return true
	}
	return false
}, cmp.Ignore())

func testProjects(t *testing.T, s store.Store) {
	p := &model.Project{
		ID: "default", Description: "first", StaticAdmin: model.StaticAdmin{Username: "admin", PasswordHash: "$2a$x"},
		UserGroups: []model.UserGroup{{SSOGroup: "org/ops", Role: model.RoleAdmin}}, CreatedAt: ts(0), UpdatedAt: ts(0),
	}
	must(t, s.CreateProject(ctx, p))
	wantKind(t, s.CreateProject(ctx, &model.Project{ID: "default", CreatedAt: ts(0), UpdatedAt: ts(0)}), model.KindAlreadyExists)
	got, err := s.GetProject(ctx, "default")
	must(t, err)
	if d := cmp.Diff(p, got); d != "" {
		t.Errorf("project round trip (-want +got):\n%s", d)
	}
	up, err := s.UpdateProject(ctx, "default", func(p *model.Project) error { p.Description = "second"; return nil })
	must(t, err)
	want := *p
	want.Description = "second"
	if d := cmp.Diff(&want, up, ignoreBookkeeping); d != "" || up.Revision != p.Revision+1 {
		t.Errorf("updated project (-want +got):\n%s\nrevision %d, want %d", d, up.Revision, p.Revision+1)
	}
	all, err := s.ListProjects(ctx)
	must(t, err)
	if len(all) != 1 || all[0].Description != "second" {
		t.Errorf("projects = %+v", all)
	}
}

func newAgent(id, project, name string) *model.Agent {
	return &model.Agent{
		ID: id, ProjectID: project, Name: name, Keys: []model.AgentKey{{Hash: "h-" + id, Creator: "test", CreatedAt: ts(0)}},
		Repositories:      []model.Repository{{ID: "apps", Remote: "https://example.com/apps.git", Branch: "main"}},
		PlatformProviders: []model.PlatformProvider{{Name: "dev", Type: model.AppKindKubernetes}},
		CreatedAt:         ts(0), UpdatedAt: ts(0),
	}
}

func testAgents(t *testing.T, s store.Store) {
	a := newAgent("a1", "p1", "dev")
	must(t, s.CreateAgent(ctx, a))
	must(t, s.CreateAgent(ctx, newAgent("a2", "p2", "dev"))) // same name, other project
	wantKind(t, s.CreateAgent(ctx, newAgent("a3", "p1", "dev")), model.KindAlreadyExists)
	got, err := s.GetAgent(ctx, "a1")
	must(t, err)
	if d := cmp.Diff(a, got); d != "" {
		t.Errorf("agent round trip (-want +got):\n%s", d)
	}
	must(t, s.TouchAgent(ctx, "a1", ts(60)))
	wantKind(t, s.TouchAgent(ctx, "nope", ts(60)), model.KindNotFound)
	_, err = s.UpdateAgent(ctx, "a2", func(a *model.Agent) error { a.Disabled = true; return nil })
	must(t, err)
	enabled := false
	list, err := s.ListAgents(ctx, store.AgentFilter{Disabled: &enabled})
	must(t, err)
	if len(list) != 1 || list[0].ID != "a1" || !list[0].LastSeenAt.Equal(ts(60)) {
		t.Errorf("enabled agents = %+v", list)
	}
	list, err = s.ListAgents(ctx, store.AgentFilter{ProjectID: "p2"})
	must(t, err)
	if len(list) != 1 || !list[0].Disabled {
		t.Errorf("agents of p2 = %+v", list)
	}
}

func newApp(id, project, agent, name string, labels map[string]string) *model.Application {
	return &model.Application{
		ID: id, ProjectID: project, Name: name, Kind: model.AppKindKubernetes, AgentID: agent, PlatformProvider: "dev",
		GitPath:   model.GitPath{RepoID: "apps", Path: name, ConfigFilename: "app.pipecd.yaml"},
		Labels:    labels,
		SyncState: model.SyncState{Status: model.SyncUnknown, Timestamp: ts(0)},
		CreatedAt: ts(0), UpdatedAt: ts(0),
	}
}

func ids[T any](items []T, id func(T) string) []string {
	var out []string
	for _, it := range items {
		out = append(out, id(it))
	}
	return out
}

func appID(a *model.Application) string { return a.ID }

func testApplicationFilters(t *testing.T, s store.Store) {
	apps := []*model.Application{
		newApp("1", "p", "a1", "cart", map[string]string{"env": "dev", "team": "shop"}),
		newApp("2", "p", "a1", "checkout", map[string]string{"env": "prod", "team": "shop"}),
		newApp("3", "p", "a2", "infra", map[string]string{"env": "prod", "team": "ops"}),
		newApp("4", "q", "a3", "cart", nil),
	}
	apps[2].Kind = model.AppKindTerraform
	apps[1].SyncState.Status = model.SyncOutOfSync
	apps[0].Disabled = true
	apps[1].Health, apps[2].Health = model.HealthHealthy, model.HealthUnhealthy
	for _, a := range apps {
		must(t, s.CreateApplication(ctx, a))
	}
	wantKind(t, s.CreateApplication(ctx, newApp("5", "p", "a1", "cart", nil)), model.KindAlreadyExists) // same agent and config as 1
	got, err := s.GetApplication(ctx, "2")
	must(t, err)
	if d := cmp.Diff(apps[1], got); d != "" {
		t.Errorf("application round trip (-want +got):\n%s", d)
	}
	up, err := s.UpdateApplication(ctx, "1", func(a *model.Application) error { a.Health = model.HealthProgress; return nil })
	must(t, err)
	if got, err := s.GetApplication(ctx, "1"); err != nil || got.Health != model.HealthProgress || up.Health != model.HealthProgress {
		t.Errorf("health after update: %v (%v), want PROGRESSING", got, err)
	}
	enabled := false
	for _, tc := range []struct {
		name string
		f    store.ApplicationFilter
		want []string
	}{
		{"project", store.ApplicationFilter{ProjectID: "p"}, []string{"1", "2", "3"}},
		{"agent", store.ApplicationFilter{AgentID: "a1"}, []string{"1", "2"}},
		{"name", store.ApplicationFilter{Name: "cart"}, []string{"1", "4"}},
		{"part of the name, any case", store.ApplicationFilter{NameContains: "ECK"}, []string{"2"}},
		{"part of the name in a project", store.ApplicationFilter{ProjectID: "p", NameContains: "ar"}, []string{"1"}},
		{"wildcards in the name match themselves", store.ApplicationFilter{NameContains: "c%t"}, nil},
		{"underscores match themselves", store.ApplicationFilter{NameContains: "_"}, nil},
		{"kind", store.ApplicationFilter{Kind: model.AppKindTerraform}, []string{"3"}},
		{"sync status", store.ApplicationFilter{SyncStatus: model.SyncOutOfSync}, []string{"2"}},
		{"health", store.ApplicationFilter{Health: model.HealthUnhealthy}, []string{"3"}},
		{"health in a project", store.ApplicationFilter{ProjectID: "p", Health: model.HealthHealthy}, []string{"2"}},
		{"enabled", store.ApplicationFilter{ProjectID: "p", Disabled: &enabled}, []string{"2", "3"}},
		{"one label", store.ApplicationFilter{Labels: map[string]string{"env": "prod"}}, []string{"2", "3"}},
		{"two labels", store.ApplicationFilter{Labels: map[string]string{"env": "prod", "team": "shop"}}, []string{"2"}},
		{"ids", store.ApplicationFilter{IDs: []string{"3", "4"}}, []string{"4", "3"}}, // by name: cart, infra
		{"nothing", store.ApplicationFilter{Labels: map[string]string{"env": "qa"}}, nil},
	} {
		list, next, err := s.ListApplications(ctx, tc.f, store.Page{})
		must(t, err)
		if d := cmp.Diff(tc.want, ids(list, appID)); d != "" || next != "" {
			t.Errorf("filter by %s (-want +got):\n%s (next %q)", tc.name, d, next)
		}
	}
	// Label changes are reflected in filters.
	_, err = s.UpdateApplication(ctx, "3", func(a *model.Application) error { a.Labels = map[string]string{"env": "qa"}; return nil })
	must(t, err)
	list, _, err := s.ListApplications(ctx, store.ApplicationFilter{Labels: map[string]string{"env": "qa"}}, store.Page{})
	must(t, err)
	if d := cmp.Diff([]string{"3"}, ids(list, appID)); d != "" {
		t.Errorf("after relabel (-want +got):\n%s", d)
	}
	must(t, s.DeleteApplication(ctx, "3"))
	wantKind(t, s.DeleteApplication(ctx, "3"), model.KindNotFound)
	_, err = s.GetApplication(ctx, "3")
	wantKind(t, err, model.KindNotFound)
}

func testApplicationConfigWarnings(t *testing.T, s store.Store) {
	a := newApp("1", "p", "a1", "web", nil)
	a.ConfigWarnings = []model.ConfigWarning{
		{Field: "spec.encryption", File: "web/app.pipecd.yaml", Line: 7, Message: "has no effect: Ferry does not decrypt sealed secrets yet"},
		{Field: "spec.pipeline.stages[1].with.threshold", File: "web/app.pipecd.yaml", Line: 19, Message: "unknown option of ANALYSIS, ignored"},
	}
	must(t, s.CreateApplication(ctx, a))
	must(t, s.CreateApplication(ctx, newApp("2", "p", "a1", "api", nil)))
	got, err := s.GetApplication(ctx, "1")
	must(t, err)
	if d := cmp.Diff(a.ConfigWarnings, got.ConfigWarnings); d != "" {
		t.Errorf("warnings round trip (-want +got):\n%s", d)
	}
	list, _, err := s.ListApplications(ctx, store.ApplicationFilter{ProjectID: "p"}, store.Page{})
	must(t, err)
	if len(list) != 2 || list[0].ID != "2" || list[0].ConfigWarnings != nil || len(list[1].ConfigWarnings) != 2 {
		t.Errorf("listed = %+v, want api without warnings and web with two", list)
	}
	replaced := []model.ConfigWarning{{Field: "spec.attachment", Message: "has no effect"}}
	_, err = s.UpdateApplication(ctx, "1", func(a *model.Application) error { a.ConfigWarnings = replaced; return nil })
	must(t, err)
	got, err = s.GetApplication(ctx, "1")
	must(t, err)
	if d := cmp.Diff(replaced, got.ConfigWarnings); d != "" {
		t.Errorf("replaced warnings (-want +got):\n%s", d)
	}
	_, err = s.UpdateApplication(ctx, "1", func(a *model.Application) error { a.ConfigWarnings = nil; return nil })
	must(t, err)
	if got, err = s.GetApplication(ctx, "1"); err != nil || got.ConfigWarnings != nil {
		t.Errorf("cleared warnings = %v (%v), want none", got.ConfigWarnings, err)
	}
}

func testApplicationPaging(t *testing.T, s store.Store) {
	var want []string
	for i := 0; i < 25; i++ {
		id := fmt.Sprintf("id-%02d", i)
		// Names repeat across projects so the id breaks ties.
		must(t, s.CreateApplication(ctx, newApp(id, fmt.Sprintf("p%d", i%2), "a", fmt.Sprintf("app-%02d", i/2), map[string]string{"all": "yes"})))
		want = append(want, id)
	}
	var got []string
	page := store.Page{Limit: 4}
	f := store.ApplicationFilter{Labels: map[string]string{"all": "yes"}}
	for pages := 0; ; pages++ {
		if pages > 10 {
			t.Fatal("paging does not end")
		}
		list, next, err := s.ListApplications(ctx, f, page)
		must(t, err)
		got = append(got, ids(list, appID)...)
		if next == "" {
			break
		}
		page.Cursor = next
	}
	// Ordered by name, then id.
	wantOrder := make([]string, 0, len(want))
	for i := 0; i < 25; i += 2 {
		wantOrder = append(wantOrder, want[i])
		if i+1 < 25 {
			wantOrder = append(wantOrder, want[i+1])
		}
	}
	if d := cmp.Diff(wantOrder, got); d != "" {
		t.Errorf("pages (-want +got):\n%s", d)
	}
}

func testCursorMisuse(t *testing.T, s store.Store) {
	for i := 0; i < 3; i++ {
		must(t, s.CreateApplication(ctx, newApp(fmt.Sprint(i), "p", "a", fmt.Sprint("app", i), map[string]string{"env": "dev"})))
	}
	_, next, err := s.ListApplications(ctx, store.ApplicationFilter{ProjectID: "p"}, store.Page{Limit: 1})
	must(t, err)
	_, _, err = s.ListApplications(ctx, store.ApplicationFilter{ProjectID: "p", Labels: map[string]string{"env": "dev"}}, store.Page{Limit: 1, Cursor: next})
	wantKind(t, err, model.KindInvalid)
	_, _, err = s.ListDeployments(ctx, store.DeploymentFilter{ProjectID: "p"}, store.Page{Cursor: next})
	wantKind(t, err, model.KindInvalid)
	_, _, err = s.ListApplications(ctx, store.ApplicationFilter{}, store.Page{Cursor: "%%%"})
	wantKind(t, err, model.KindInvalid)
}

func newDeployment(id, app, agent string, created int, status model.DeploymentStatus, stages int) *model.Deployment {
	d := &model.Deployment{
		ID: id, ProjectID: "p", ApplicationID: app, ApplicationName: "app-" + app, AgentID: agent, Kind: model.AppKindKubernetes,
		PlatformProvider: "dev", GitPath: model.GitPath{RepoID: "apps", Path: "x"}, Labels: map[string]string{"env": "dev"},
		Trigger: model.Trigger{Kind: model.TriggerOnCommit, Commit: model.Commit{Hash: "c" + id, Message: "m", Author: "a", Timestamp: ts(created)},
			Strategy: model.SyncStrategyAuto, Timestamp: ts(created)},
		Status: status, Metadata: map[string]string{"k": "v"}, CreatedAt: ts(created), UpdatedAt: ts(created),
	}
	for i := 0; i < stages; i++ {
		d.Stages = append(d.Stages, &model.Stage{
			ID: fmt.Sprintf("s%d", i), Name: "WAIT", Index: i, Visible: true, Status: model.StageNotStartedYet,
			CreatedAt: ts(created), UpdatedAt: ts(created),
		})
	}
	if stages > 1 {
		d.Stages[1].Requires = []string{"s0"}
	}
	return d
}

func deploymentID(d *model.Deployment) string { return d.ID }

func testDeployments(t *testing.T, s store.Store) {
	var all []*model.Deployment
	for i := 0; i < 7; i++ {
		status := model.DeploymentSuccess
		if i%3 == 0 {
			status = model.DeploymentRunning
		}
		d := newDeployment(fmt.Sprintf("d%d", i), fmt.Sprintf("app%d", i%2), "a1", i, status, 2)
		if i == 6 {
			d.Labels = map[string]string{"env": "prod"}
		}
		must(t, s.CreateDeployment(ctx, d))
		all = append(all, d)
	}
	got, err := s.GetDeployment(ctx, "d3")
	must(t, err)
	if d := cmp.Diff(all[3], got); d != "" {
		t.Errorf("deployment round trip (-want +got):\n%s", d)
	}
	for _, tc := range []struct {
		name string
		f    store.DeploymentFilter
		want []string
	}{
		{"all, newest first", store.DeploymentFilter{ProjectID: "p"}, []string{"d6", "d5", "d4", "d3", "d2", "d1", "d0"}},
		{"application", store.DeploymentFilter{ApplicationID: "app1"}, []string{"d5", "d3", "d1"}},
		{"statuses", store.DeploymentFilter{Statuses: []model.DeploymentStatus{model.DeploymentRunning, model.DeploymentPending}}, []string{"d6", "d3", "d0"}},
		{"labels", store.DeploymentFilter{Labels: map[string]string{"env": "prod"}}, []string{"d6"}},
		{"created after", store.DeploymentFilter{CreatedAfter: ts(5)}, []string{"d6", "d5"}},
		{"agent", store.DeploymentFilter{AgentID: "other"}, nil},
	} {
		var gotIDs []string
		page := store.Page{Limit: 2}
		for {
			list, next, err := s.ListDeployments(ctx, tc.f, page)
			must(t, err)
			for _, d := range list {
				if len(d.Stages) != 2 {
					t.Errorf("%s: listed deployment %s has %d stages", tc.name, d.ID, len(d.Stages))
				}
			}
			gotIDs = append(gotIDs, ids(list, deploymentID)...)
			if next == "" {
				break
			}
			page.Cursor = next
		}
		if d := cmp.Diff(tc.want, gotIDs); d != "" {
			t.Errorf("%s (-want +got):\n%s", tc.name, d)
		}
	}
}

func testUpdateDeploymentStages(t *testing.T, s store.Store) {
	must(t, s.CreateDeployment(ctx, newDeployment("d", "app", "a", 0, model.DeploymentPending, 0)))
	_, err := s.UpdateDeployment(ctx, "d", func(d *model.Deployment) error {
		d.Status = model.DeploymentPlanned
		d.Stages = newDeployment("x", "", "", 1, "", 3).Stages
		return nil
	})
	must(t, err)
	_, err = s.UpdateDeployment(ctx, "d", func(d *model.Deployment) error {
		d.Stages[2].Status = model.StageSkipped
		d.Stages = append(d.Stages, &model.Stage{ID: "rollback", Name: "ROLLBACK", Index: 3, Rollback: true, Status: model.StageNotStartedYet})
		d.Operations = append(d.Operations, model.Operation{Kind: model.OperationSkip, StageID: "s2", Actor: "alice", At: ts(9)})
		return nil
	})
	must(t, err)
	got, err := s.GetDeployment(ctx, "d")
	must(t, err)
	if len(got.Stages) != 4 || got.Stages[2].Status != model.StageSkipped || got.Stages[2].Revision != 2 ||
		got.Stages[0].Revision != 1 || !got.Stages[3].Rollback || got.Operations[0].Actor != "alice" {
		t.Errorf("deployment after updates: %+v stages %+v", got, got.Stages)
	}
	st, err := s.UpdateStage(ctx, "d", "s0", func(st *model.Stage) error {
		st.Status, st.StartedAt = model.StageRunning, ts(10)
		return nil
	})
	must(t, err)
	if st.Status != model.StageRunning || st.Revision != 2 {
		t.Errorf("stage after update = %+v", st)
	}
	_, err = s.UpdateStage(ctx, "d", "nope", func(*model.Stage) error { return nil })
	wantKind(t, err, model.KindNotFound)
}

func testConcurrentDeploymentWriters(t *testing.T, s store.Store) {
	must(t, s.CreateDeployment(ctx, newDeployment("d", "app", "a", 0, model.DeploymentRunning, 1)))
	const writers = 50
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for i := 0; i < writers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := s.UpdateDeployment(ctx, "d", func(d *model.Deployment) error {
				if d.Metadata == nil {
					d.Metadata = map[string]string{}
				}
				d.Metadata[fmt.Sprint("writer-", i)] = "done"
				return nil
			})
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		must(t, err)
	}
	got, err := s.GetDeployment(ctx, "d")
	must(t, err)
	for i := 0; i < writers; i++ {
		if got.Metadata[fmt.Sprint("writer-", i)] != "done" {
			t.Errorf("writer %d's key was lost", i)
		}
	}
	if got.Revision != 1+writers {
		t.Errorf("revision = %d, want %d", got.Revision, 1+writers)
	}
}

func testConcurrentStageWriters(t *testing.T, s store.Store) {
	must(t, s.CreateDeployment(ctx, newDeployment("d", "app", "a", 0, model.DeploymentRunning, 1)))
	const writers = 50
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for i := 0; i < writers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := s.UpdateStage(ctx, "d", "s0", func(st *model.Stage) error {
				if st.Metadata == nil {
					st.Metadata = map[string]string{}
				}
				st.Metadata[fmt.Sprint("writer-", i)] = "done"
				return nil
			})
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		must(t, err)
	}
	got, err := s.GetDeployment(ctx, "d")
	must(t, err)
	if n := len(got.Stages[0].Metadata); n != writers || got.Stages[0].Revision != 1+writers {
		t.Errorf("stage has %d keys at revision %d, want %d at %d", n, got.Stages[0].Revision, writers, 1+writers)
	}
}

func testLogBlocks(t *testing.T, s store.Store) {
	blocks := []model.LogBlock{
		{Index: 1, Log: "one", Severity: model.LogInfo, CreatedAt: ts(1)},
		{Index: 2, Log: "two", Severity: model.LogSuccess, CreatedAt: ts(2)},
	}
	must(t, s.AppendLogBlocks(ctx, "d", "s", blocks))
	// A resend of block 2 with block 3 stores only block 3.
	must(t, s.AppendLogBlocks(ctx, "d", "s", []model.LogBlock{
		{Index: 2, Log: "two again", Severity: model.LogInfo, CreatedAt: ts(3)},
		{Index: 3, Log: "three", Severity: model.LogError, CreatedAt: ts(3)},
	}))
	must(t, s.AppendLogBlocks(ctx, "d", "other", []model.LogBlock{{Index: 1, Log: "x", Severity: model.LogInfo, CreatedAt: ts(1)}}))
	got, err := s.ListLogBlocks(ctx, "d", "s", 0, 0)
	must(t, err)
	want := append(blocks, model.LogBlock{Index: 3, Log: "three", Severity: model.LogError, CreatedAt: ts(3)})
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("log blocks (-want +got):\n%s", d)
	}
	got, err = s.ListLogBlocks(ctx, "d", "s", 1, 1)
	must(t, err)
	if len(got) != 1 || got[0].Index != 2 {
		t.Errorf("blocks after 1, limit 1 = %+v", got)
	}
	big := make([]byte, model.MaxLogBlockBytes+1)
	wantKind(t, s.AppendLogBlocks(ctx, "d", "s", []model.LogBlock{{Index: 9, Log: string(big)}}), model.KindInvalid)
	must(t, s.DeleteLogBlocks(ctx, "d", "s"))
	got, err = s.ListLogBlocks(ctx, "d", "s", -1, 0)
	must(t, err)
	if len(got) != 0 {
		t.Errorf("blocks after delete = %+v", got)
	}
	got, err = s.ListLogBlocks(ctx, "d", "other", -1, 0)
	must(t, err)
	if len(got) != 1 {
		t.Errorf("other stage's blocks = %+v", got)
	}
}

func testCommands(t *testing.T, s store.Store) {
	for i := 0; i < 5; i++ {
		c := &model.Command{
			ID: fmt.Sprint("c", i), ProjectID: "p", AgentID: "a", Kind: model.CommandSyncApplication, ApplicationID: "app",
			Commander: "alice", Args: model.CommandArgs{SyncStrategy: model.SyncStrategyPipeline}, Status: model.CommandNotHandledYet,
			CreatedAt: ts(i), UpdatedAt: ts(i),
		}
		must(t, s.CreateCommand(ctx, c))
		if i == 0 {
			got, err := s.GetCommand(ctx, "c0")
			must(t, err)
			if d := cmp.Diff(c, got); d != "" {
				t.Errorf("command round trip (-want +got):\n%s", d)
			}
		}
	}
	_, err := s.UpdateCommand(ctx, "c1", func(c *model.Command) error {
		c.Status, c.HandledAt, c.Metadata = model.CommandSucceeded, ts(9), map[string]string{model.MetadataTriggeredDeploymentID: "d"}
		return nil
	})
	must(t, err)
	list, next, err := s.ListCommands(ctx, store.CommandFilter{AgentID: "a", Statuses: []model.CommandStatus{model.CommandNotHandledYet}}, store.Page{Limit: 3})
	must(t, err)
	if d := cmp.Diff([]string{"c0", "c2", "c3"}, ids(list, func(c *model.Command) string { return c.ID })); d != "" || next == "" {
		t.Errorf("unhandled commands (-want +got):\n%s", d)
	}
	list, _, err = s.ListCommands(ctx, store.CommandFilter{AgentID: "a", Statuses: []model.CommandStatus{model.CommandNotHandledYet}}, store.Page{Limit: 3, Cursor: next})
	must(t, err)
	if len(list) != 1 || list[0].ID != "c4" {
		t.Errorf("second page = %+v", list)
	}
}

func testEvents(t *testing.T, s store.Store) {
	key := model.EventKey("image", map[string]string{"app": "x"})
	for i := 0; i < 3; i++ {
		must(t, s.CreateEvent(ctx, &model.Event{
			ID: fmt.Sprint("e", i), ProjectID: "p", Name: "image", Data: fmt.Sprint("v", i), Labels: map[string]string{"app": "x"},
			Key: key, Status: model.EventNotHandled, CreatedAt: ts(i), UpdatedAt: ts(i),
		}))
	}
	_, err := s.UpdateEvent(ctx, "e0", func(e *model.Event) error { e.Status = model.EventOutdated; return nil })
	must(t, err)
	list, _, err := s.ListEvents(ctx, store.EventFilter{Key: key, Statuses: []model.EventStatus{model.EventNotHandled}}, store.Page{})
	must(t, err)
	if d := cmp.Diff([]string{"e2", "e1"}, ids(list, func(e *model.Event) string { return e.ID })); d != "" {
		t.Errorf("events (-want +got):\n%s", d)
	}
	got, err := s.GetEvent(ctx, "e1")
	must(t, err)
	if got.Data != "v1" || got.Labels["app"] != "x" {
		t.Errorf("event = %+v", got)
	}
}

func testAPIKeys(t *testing.T, s store.Store) {
	k := &model.APIKey{ID: "k1", ProjectID: "p", Name: "ci", KeyHash: "h", Role: model.RoleEditor, Creator: "admin", CreatedAt: ts(0), UpdatedAt: ts(0)}
	must(t, s.CreateAPIKey(ctx, k))
	must(t, s.CreateAPIKey(ctx, &model.APIKey{ID: "k2", ProjectID: "p", Name: "old", KeyHash: "h2", Role: model.RoleViewer, CreatedAt: ts(1), UpdatedAt: ts(1)}))
	got, err := s.GetAPIKey(ctx, "k1")
	must(t, err)
	if d := cmp.Diff(k, got); d != "" {
		t.Errorf("API key round trip (-want +got):\n%s", d)
	}
	_, err = s.UpdateAPIKey(ctx, "k2", func(k *model.APIKey) error { k.Revoked = true; return nil })
	must(t, err)
	must(t, s.TouchAPIKey(ctx, "k1", ts(30)))
	active := false
	list, err := s.ListAPIKeys(ctx, store.APIKeyFilter{ProjectID: "p", Revoked: &active})
	must(t, err)
	if len(list) != 1 || list[0].ID != "k1" || !list[0].LastUsedAt.Equal(ts(30)) {
		t.Errorf("active keys = %+v", list)
	}
}

func newSession(id, project, subject string, created, ttl int) *model.ConsoleSession {
	return &model.ConsoleSession{
		ID: id, TokenHash: "hash-" + id, ProjectID: project, Subject: subject, Name: subject, Role: model.RoleEditor,
		CSRFToken: "csrf-" + id, UserAgent: "Firefox", CreatedAt: ts(created), ExpiresAt: ts(created + ttl),
	}
}

func sessionID(c *model.ConsoleSession) string { return c.ID }

func testConsoleSessions(t *testing.T, s store.Store) {
	a := newSession("s1", "p", "user:alice", 0, 3600)
	a.Provider, a.Groups = "corp", []string{"platform", "Auditors"}
	must(t, s.CreateConsoleSession(ctx, a))
	must(t, s.CreateConsoleSession(ctx, newSession("s2", "p", "user:bob", 10, 3600)))
	must(t, s.CreateConsoleSession(ctx, newSession("s3", "p", "user:alice", 20, 3600)))
	must(t, s.CreateConsoleSession(ctx, newSession("s4", "q", "user:alice", 30, 3600)))
	must(t, s.CreateConsoleSession(ctx, newSession("short", "p", "user:carol", 40, 5)))

	got, err := s.GetConsoleSessionByToken(ctx, "hash-s1", ts(60))
	must(t, err)
	if d := cmp.Diff(a, got); d != "" {
		t.Errorf("session round trip (-want +got):\n%s", d)
	}
	must(t, s.SetConsoleSessionRole(ctx, "s1", model.RoleViewer))
	got, err = s.GetConsoleSessionByToken(ctx, "hash-s1", ts(60))
	must(t, err)
	if got.Role != model.RoleViewer {
		t.Errorf("session role after SetConsoleSessionRole = %q, want viewer", got.Role)
	}
	wantKind(t, s.SetConsoleSessionRole(ctx, "nosuch", model.RoleViewer), model.KindNotFound)
	_, err = s.GetConsoleSessionByToken(ctx, "hash-short", ts(60))
	wantKind(t, err, model.KindNotFound)
	_, err = s.GetConsoleSessionByToken(ctx, "hash-nobody", ts(60))
	wantKind(t, err, model.KindNotFound)

	list, err := s.ListConsoleSessions(ctx, store.ConsoleSessionFilter{ProjectID: "p"}, ts(60))
	must(t, err)
	if d := cmp.Diff([]string{"s3", "s2", "s1"}, ids(list, sessionID)); d != "" {
		t.Errorf("project p's live sessions, newest first (-want +got):\n%s", d)
	}
	list, err = s.ListConsoleSessions(ctx, store.ConsoleSessionFilter{ProjectID: "p", Subject: "user:alice"}, ts(60))
	must(t, err)
	if d := cmp.Diff([]string{"s3", "s1"}, ids(list, sessionID)); d != "" {
		t.Errorf("alice's sessions in p (-want +got):\n%s", d)
	}

	_, err = s.DeleteConsoleSessions(ctx, store.ConsoleSessionFilter{})
	wantKind(t, err, model.KindInvalid)
	// Another project's id is not deleted through this project.
	n, err := s.DeleteConsoleSessions(ctx, store.ConsoleSessionFilter{ProjectID: "p", IDs: []string{"s2", "s4"}})
	must(t, err)
	if n != 1 {
		t.Errorf("deleted %d sessions by id, want 1 (s4 is another project's)", n)
	}
	n, err = s.DeleteConsoleSessions(ctx, store.ConsoleSessionFilter{ProjectID: "p", Subject: "user:alice"})
	must(t, err)
	if n != 2 {
		t.Errorf("deleted %d of alice's sessions, want 2", n)
	}
	_, err = s.GetConsoleSessionByToken(ctx, "hash-s1", ts(60))
	wantKind(t, err, model.KindNotFound)
	if _, err := s.GetConsoleSessionByToken(ctx, "hash-s4", ts(60)); err != nil {
		t.Errorf("project q's session: %v", err)
	}
	// A new sign-in drops sessions that have expired by its time.
	must(t, s.CreateConsoleSession(ctx, newSession("s5", "p", "user:dave", 7200, 3600)))
	n, err = s.DeleteConsoleSessions(ctx, store.ConsoleSessionFilter{ProjectID: "p", Subject: "user:carol"})
	must(t, err)
	if n != 0 {
		t.Errorf("carol's expired session was still stored at the next sign-in")
	}
}

func testNotFound(t *testing.T, s store.Store) {
	_, err := s.GetProject(ctx, "x")
	wantKind(t, err, model.KindNotFound)
	_, err = s.GetAgent(ctx, "x")
	wantKind(t, err, model.KindNotFound)
	_, err = s.GetApplication(ctx, "")
	wantKind(t, err, model.KindNotFound)
	_, err = s.GetDeployment(ctx, "x")
	wantKind(t, err, model.KindNotFound)
	_, err = s.GetCommand(ctx, "x")
	wantKind(t, err, model.KindNotFound)
	_, err = s.GetEvent(ctx, "x")
	wantKind(t, err, model.KindNotFound)
	_, err = s.GetAPIKey(ctx, "x")
	wantKind(t, err, model.KindNotFound)
	_, err = s.UpdateDeployment(ctx, "x", func(*model.Deployment) error { return nil })
	wantKind(t, err, model.KindNotFound)
}

func testMutateError(t *testing.T, s store.Store) {
	must(t, s.CreateDeployment(ctx, newDeployment("d", "app", "a", 0, model.DeploymentRunning, 1)))
	_, err := s.UpdateDeployment(ctx, "d", func(d *model.Deployment) error {
		d.Status = model.DeploymentFailure
		return model.Invalid("no")
	})
	wantKind(t, err, model.KindInvalid)
	got, err := s.GetDeployment(ctx, "d")
	must(t, err)
	if got.Status != model.DeploymentRunning || got.Revision != 1 {
		t.Errorf("deployment changed by a failed mutate: %+v", got)
	}
}

// testConcurrentFailuresAreIsolated runs many writers at once, every other
// one failing after it changed its stage, so backends that commit
// concurrent writes together (SQLite's group commit) must undo exactly the
// failed ones.
func testConcurrentFailuresAreIsolated(t *testing.T, s store.Store) {
	const writers = 40
	must(t, s.CreateDeployment(ctx, newDeployment("d", "app", "a", 0, model.DeploymentRunning, writers)))
	var wg sync.WaitGroup
	errs := make([]error, writers)
	for i := 0; i < writers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = s.UpdateStage(ctx, "d", fmt.Sprintf("s%d", i), func(st *model.Stage) error {
				st.Status = model.StageSuccess
				if i%2 == 1 {
					return model.Invalid("writer %d fails", i)
				}
				return nil
			})
		}()
	}
	wg.Wait()
	got, err := s.GetDeployment(ctx, "d")
	must(t, err)
	for i, st := range got.Stages {
		wantStatus, wantErr := model.StageSuccess, false
		if i%2 == 1 {
			wantStatus, wantErr = model.StageNotStartedYet, true
		}
		if st.Status != wantStatus || (errs[i] != nil) != wantErr {
			t.Errorf("stage %d: status %s, error %v; want %s, error %v", i, st.Status, errs[i], wantStatus, wantErr)
		}
	}
}

func testApplicationIdentity(t *testing.T, s store.Store) {
	// Two agents both discover "web", and one agent has two folders whose
	// configs name the same app: PipeCD allows both, so must the store.
	web := newApp("1", "p", "a1", "web", nil)
	must(t, s.CreateApplication(ctx, web))
	otherAgent := newApp("2", "p", "a2", "web", nil)
	must(t, s.CreateApplication(ctx, otherAgent))
	otherFolder := newApp("3", "p", "a1", "web", nil)
	otherFolder.GitPath.Path = "canary/web"
	must(t, s.CreateApplication(ctx, otherFolder))
	otherFile := newApp("4", "p", "a1", "web", nil)
	otherFile.GitPath.ConfigFilename = "web-canary.pipecd.yaml"
	must(t, s.CreateApplication(ctx, otherFile))

	// The same config of the same agent is one application, whatever its name.
	sameConfig := newApp("5", "p", "a1", "other-name", nil)
	sameConfig.GitPath = web.GitPath
	wantKind(t, s.CreateApplication(ctx, sameConfig), model.KindAlreadyExists)
	_, err := s.UpdateApplication(ctx, "3", func(a *model.Application) error { a.GitPath = web.GitPath; return nil })
	wantKind(t, err, model.KindAlreadyExists)

	list, _, err := s.ListApplications(ctx, store.ApplicationFilter{ProjectID: "p", Name: "web"}, store.Page{})
	must(t, err)
	if d := cmp.Diff([]string{"1", "2", "3", "4"}, ids(list, appID)); d != "" {
		t.Errorf("apps named web (-want +got):\n%s", d)
	}
	for _, tc := range []struct {
		name, repo, at string
		want           []string
	}{
		{"a directory", "apps", "web", []string{"1", "2", "4"}},
		{"a directory with a trailing slash", "apps", "web/", []string{"1", "2", "4"}},
		{"a config file", "apps", "web/web-canary.pipecd.yaml", []string{"4"}},
		{"a nested directory only", "apps", "canary/web", []string{"3"}},
		{"a parent directory holds no config itself", "apps", "canary", nil},
		{"another repository", "infra", "web", nil},
	} {
		list, _, err := s.ListApplications(ctx, store.ApplicationFilter{RepoID: tc.repo, ConfigPath: tc.at}, store.Page{})
		must(t, err)
		if d := cmp.Diff(tc.want, ids(list, appID)); d != "" {
			t.Errorf("apps at %s (-want +got):\n%s", tc.name, d)
		}
	}
	// Moving an application's folder keeps it one application.
	moved, err := s.UpdateApplication(ctx, "1", func(a *model.Application) error { a.GitPath.Path = "moved/web"; return nil })
	must(t, err)
	if moved.GitPath.Path != "moved/web" {
		t.Errorf("moved path = %q", moved.GitPath.Path)
	}
	sameConfig.GitPath = web.GitPath // the old folder is free again
	must(t, s.CreateApplication(ctx, sameConfig))
}
