package server_test

import (
	"context"
	"strings"
	"testing"

	"connectrpc.com/connect"

	ferryv1 "github.com/ferrycd/ferry/api/gen/ferry/v1"
	"github.com/ferrycd/ferry/internal/model"
)

func kubeSpec(name, path, file string) *ferryv1.ApplicationSpec {
	return &ferryv1.ApplicationSpec{
		Name: name, Kind: ferryv1.ApplicationKind_APPLICATION_KIND_KUBERNETES, PlatformProvider: "dev",
		GitPath: &ferryv1.GitPath{RepoId: "apps", Branch: "main", Path: path, ConfigFilename: file},
	}
}

// TestApplicationNamesRepeat: two agents both discover "web", and one agent
// has a "simple" in two folders and two configs in one folder. All are
// registered; a name they share is refused with the candidates listed, and
// an id or REPO:PATH picks one.
func TestApplicationNamesRepeat(t *testing.T) {
	ctx := context.Background()
	s := startServer(t)
	user := s.user(s.adminKey)
	_, keyA := s.registerAgent(t, "cluster-a")
	_, keyB := s.registerAgent(t, "cluster-b")

	regA, err := s.agent(keyA).RegisterApplications(ctx, req(&ferryv1.RegisterApplicationsRequest{Applications: []*ferryv1.ApplicationSpec{
		kubeSpec("web", "web", "app.pipecd.yaml"),
		kubeSpec("simple", "kubernetes/simple", "app.pipecd.yaml"),
		kubeSpec("simple", "cloudrun/simple", "app.pipecd.yaml"),
		kubeSpec("canary", "kubernetes/canary", "app.pipecd.yaml"),
		kubeSpec("canary", "kubernetes/canary", "canary-2.pipecd.yaml"),
	}}))
	if err != nil {
		t.Fatal(err)
	}
	if len(regA.Msg.Applications) != 5 || len(regA.Msg.Failures) != 0 {
		t.Fatalf("agent A registered %d, failures %v; want 5, none", len(regA.Msg.Applications), regA.Msg.Failures)
	}
	regB, err := s.agent(keyB).RegisterApplications(ctx, req(&ferryv1.RegisterApplicationsRequest{Applications: []*ferryv1.ApplicationSpec{
		kubeSpec("web", "web", "app.pipecd.yaml"),
	}}))
	if err != nil || len(regB.Msg.Applications) != 1 {
		t.Fatalf("agent B registered %v, %v", regB, err)
	}
	webA, webB := regA.Msg.Applications[0], regB.Msg.Applications[0]

	get := func(ref string) (*ferryv1.Application, error) {
		res, err := user.GetApplication(ctx, req(&ferryv1.GetApplicationRequest{Application: ref}))
		if err != nil {
			return nil, err
		}
		return res.Msg.Application, nil
	}
	for _, tc := range []struct {
		ref  string
		want []string
	}{
		{"web", []string{webA.Id, webB.Id, "agent cluster-a", "agent cluster-b", "apps:web", "KUBERNETES"}},
		{"simple", []string{"apps:kubernetes/simple", "apps:cloudrun/simple"}},
		{"apps:web", []string{webA.Id, webB.Id}},
		{"apps:kubernetes/canary", []string{"apps:kubernetes/canary", "apps:kubernetes/canary/canary-2.pipecd.yaml"}},
	} {
		_, err := get(tc.ref)
		if connect.CodeOf(err) != connect.CodeInvalidArgument || !strings.Contains(err.Error(), "ambiguous") {
			t.Errorf("get %s = %v, want an ambiguous-name error", tc.ref, err)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("get %s: the error does not list %q: %v", tc.ref, w, err)
			}
		}
	}
	for ref, want := range map[string]string{
		webB.Id:                webB.Id,
		"apps:cloudrun/simple": regA.Msg.Applications[2].Id,
		"apps:kubernetes/canary/canary-2.pipecd.yaml": regA.Msg.Applications[4].Id,
	} {
		a, err := get(ref)
		if err != nil || a.Id != want {
			t.Errorf("get %s = %v, %v; want %s", ref, a, err, want)
		}
	}
	// Every verb that takes an application resolves it the same way.
	_, err = user.DisableApplication(ctx, req(&ferryv1.DisableApplicationRequest{Application: "web"}))
	if connect.CodeOf(err) != connect.CodeInvalidArgument {
		t.Errorf("disable web = %v, want ambiguous", err)
	}
	if _, err := user.DisableApplication(ctx, req(&ferryv1.DisableApplicationRequest{Application: webB.Id})); err != nil {
		t.Errorf("disable by id: %v", err)
	}
}

// TestRegisterApplicationsRegistersEachOnItsOwn: one spec the control plane
// refuses does not stop the agent's others.
func TestRegisterApplicationsRegistersEachOnItsOwn(t *testing.T) {
	ctx := context.Background()
	s := startServer(t)
	_, key := s.registerAgent(t, "dev")
	bad := kubeSpec("", "nameless", "app.pipecd.yaml")
	res, err := s.agent(key).RegisterApplications(ctx, req(&ferryv1.RegisterApplicationsRequest{Applications: []*ferryv1.ApplicationSpec{
		kubeSpec("web", "web", "app.pipecd.yaml"), bad, kubeSpec("api", "api", "app.pipecd.yaml"),
	}}))
	if err != nil {
		t.Fatalf("register with one bad spec: %v", err)
	}
	var names []string
	for _, a := range res.Msg.Applications {
		names = append(names, a.Name)
	}
	if strings.Join(names, ",") != "web,api" {
		t.Errorf("registered %v, want web and api", names)
	}
	if f := res.Msg.Failures; len(f) != 1 || f[0].GitPath.GetPath() != "nameless" || !strings.Contains(f[0].Reason, "name") {
		t.Errorf("failures = %v, want the nameless spec with its reason", f)
	}
}

// TestRemovedConfigDisablesItsApplication: an app moved to another folder
// is a new application; the old one stops deploying (disabled, with the
// reason) and keeps its history, and comes back if its config does.
func TestRemovedConfigDisablesItsApplication(t *testing.T) {
	ctx := context.Background()
	s := startServer(t)
	user := s.user(s.adminKey)
	_, key := s.registerAgent(t, "dev")
	agent := s.agent(key)
	old := kubeSpec("web", "web", "app.pipecd.yaml")
	reg, err := agent.RegisterApplications(ctx, req(&ferryv1.RegisterApplicationsRequest{Applications: []*ferryv1.ApplicationSpec{old}}))
	if err != nil {
		t.Fatal(err)
	}
	oldID := reg.Msg.Applications[0].Id
	moved := kubeSpec("web", "frontend/web", "app.pipecd.yaml")
	reg, err = agent.RegisterApplications(ctx, req(&ferryv1.RegisterApplicationsRequest{
		Applications: []*ferryv1.ApplicationSpec{moved}, Removed: []*ferryv1.GitPath{old.GitPath},
	}))
	if err != nil || len(reg.Msg.Failures) != 0 {
		t.Fatalf("register the move: %v, %v", reg, err)
	}
	newID := reg.Msg.Applications[0].Id
	a, err := user.GetApplication(ctx, req(&ferryv1.GetApplicationRequest{Application: oldID}))
	if err != nil {
		t.Fatal(err)
	}
	st := a.Msg.Application.SyncState
	if !a.Msg.Application.Disabled || st.GetShortReason() != model.ConfigRemovedReason || !strings.Contains(st.GetReason(), "web/app.pipecd.yaml") {
		t.Errorf("old application = disabled %v, %v; want disabled as removed, naming its config", a.Msg.Application.Disabled, st)
	}
	_, err = user.EnableApplication(ctx, req(&ferryv1.EnableApplicationRequest{Application: oldID}))
	if connect.CodeOf(err) != connect.CodeFailedPrecondition || !strings.Contains(err.Error(), "removed from Git") {
		t.Errorf("enable the removed application = %v, want refused, saying why", err)
	}
	// The agent no longer gets it; the name now means the new one.
	list, err := agent.ListApplications(ctx, req(&ferryv1.AgentListApplicationsRequest{}))
	if err != nil || len(list.Msg.Applications) != 1 || list.Msg.Applications[0].Id != newID {
		t.Errorf("agent's applications = %v, %v; want only the moved one", list, err)
	}
	if a, err := user.GetApplication(ctx, req(&ferryv1.GetApplicationRequest{Application: "web"})); err != nil || a.Msg.Application.Id != newID {
		t.Errorf("get web = %v, %v; want the moved one", a, err)
	}
	// The config comes back: its application is enabled again.
	if _, err := agent.RegisterApplications(ctx, req(&ferryv1.RegisterApplicationsRequest{Applications: []*ferryv1.ApplicationSpec{old}})); err != nil {
		t.Fatal(err)
	}
	if a, err := user.GetApplication(ctx, req(&ferryv1.GetApplicationRequest{Application: oldID})); err != nil || a.Msg.Application.Disabled {
		t.Errorf("old application after its config came back = %v, %v; want enabled", a, err)
	}
}

// TestRemotesLoseTheirCredentials: a remote written with a token in it
// (https://user:token@host/...) is stored and shown without it, even when
// an agent reports it so.
func TestRemotesLoseTheirCredentials(t *testing.T) {
	ctx := context.Background()
	s := startServer(t)
	user := s.user(s.adminKey)
	_, key := s.registerAgent(t, "dev")
	agent := s.agent(key)
	const secret = "ghp_s3cr3t"
	spec := kubeSpec("web", "web", "app.pipecd.yaml")
	spec.GitPath.Remote = "https://bot:" + secret + "@git.example.com/org/apps.git"
	if _, err := agent.ReportMeta(ctx, req(&ferryv1.ReportMetaRequest{Version: "v1",
		Repositories: []*ferryv1.Repository{{Id: "apps", Remote: spec.GitPath.Remote, Branch: "main"}}})); err != nil {
		t.Fatal(err)
	}
	reg, err := agent.RegisterApplications(ctx, req(&ferryv1.RegisterApplicationsRequest{Applications: []*ferryv1.ApplicationSpec{spec}}))
	if err != nil {
		t.Fatal(err)
	}
	a, err := user.GetApplication(ctx, req(&ferryv1.GetApplicationRequest{Application: reg.Msg.Applications[0].Id}))
	if err != nil {
		t.Fatal(err)
	}
	if r := a.Msg.Application.GitPath.Remote; r != "https://git.example.com/org/apps.git" {
		t.Errorf("application remote = %q, want it without user info", r)
	}
	ag, err := user.GetAgent(ctx, req(&ferryv1.GetAgentRequest{Agent: "dev"}))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(ag.Msg.String(), secret) {
		t.Errorf("the agent's repositories show the token: %v", ag.Msg.Agent.Repositories)
	}
}
