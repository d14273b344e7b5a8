package server_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"

	ferryv1 "github.com/ferrycd/ferry/api/gen/ferry/v1"
	"github.com/ferrycd/ferry/internal/model"
)

func req[T any](m *T) *connect.Request[T] { return connect.NewRequest(m) }

// TestAgentDeploysThroughTheAPI walks the agent's whole path for one
// deployment and checks what a user sees at each step.
func TestAgentDeploysThroughTheAPI(t *testing.T) {
	ctx := context.Background()
	s := startServer(t)
	user := s.user(s.adminKey)
	agentID, agentKey := s.registerAgent(t, "dev-cluster")
	agent := s.agent(agentKey)

	// Meta and heartbeat make the agent ONLINE with its providers.
	if _, err := agent.ReportMeta(ctx, req(&ferryv1.ReportMetaRequest{
		Version:           "v0.1.0",
		Repositories:      []*ferryv1.Repository{{Id: "apps", Remote: "https://git.example.com/apps.git", Branch: "main"}},
		PlatformProviders: []*ferryv1.PlatformProvider{{Name: "dev", Type: ferryv1.ApplicationKind_APPLICATION_KIND_KUBERNETES}},
	})); err != nil {
		t.Fatal(err)
	}
	ag, err := user.GetAgent(ctx, req(&ferryv1.GetAgentRequest{Agent: "dev-cluster"}))
	if err != nil {
		t.Fatal(err)
	}
	if ag.Msg.Agent.Status != ferryv1.ConnectionStatus_CONNECTION_STATUS_ONLINE || ag.Msg.Agent.Version != "v0.1.0" || len(ag.Msg.Agent.PlatformProviders) != 1 {
		t.Errorf("agent after meta = %v", ag.Msg.Agent)
	}

	// Discovered apps are registered; re-registering updates, not duplicates.
	spec := &ferryv1.ApplicationSpec{
		Name: "checkout", Kind: ferryv1.ApplicationKind_APPLICATION_KIND_KUBERNETES, PlatformProvider: "dev",
		GitPath: &ferryv1.GitPath{RepoId: "apps", Path: "checkout", ConfigFilename: "app.pipecd.yaml"},
		Labels:  map[string]string{"env": "dev"},
	}
	reg, err := agent.RegisterApplications(ctx, req(&ferryv1.RegisterApplicationsRequest{Applications: []*ferryv1.ApplicationSpec{spec}}))
	if err != nil {
		t.Fatal(err)
	}
	appID := reg.Msg.Applications[0].Id
	spec.Labels["team"] = "payments"
	if _, err := agent.RegisterApplications(ctx, req(&ferryv1.RegisterApplicationsRequest{Applications: []*ferryv1.ApplicationSpec{spec}})); err != nil {
		t.Fatal(err)
	}
	apps, err := user.ListApplications(ctx, req(&ferryv1.ListApplicationsRequest{Labels: map[string]string{"team": "payments"}}))
	if err != nil {
		t.Fatal(err)
	}
	if len(apps.Msg.Applications) != 1 || apps.Msg.Applications[0].Id != appID {
		t.Fatalf("apps = %v", apps.Msg.Applications)
	}

	// A sync command reaches the agent's open stream at once.
	streamCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := agent.Watch(streamCtx, req(&ferryv1.WatchRequest{}))
	if err != nil {
		t.Fatal(err)
	}
	if !stream.Receive() || stream.Msg().GetNotice() == nil {
		t.Fatalf("first stream message = %v, %v; want the ready notice", stream.Msg(), stream.Err())
	}
	sync, err := user.SyncApplication(ctx, req(&ferryv1.SyncApplicationRequest{Application: "checkout"}))
	if err != nil {
		t.Fatal(err)
	}
	if !stream.Receive() {
		t.Fatal(stream.Err())
	}
	cmd := stream.Msg().GetCommand()
	if cmd.GetId() != sync.Msg.CommandId || cmd.Kind != ferryv1.CommandKind_COMMAND_KIND_SYNC_APPLICATION || cmd.ApplicationId != appID {
		t.Fatalf("streamed %v, want the sync command %s", stream.Msg(), sync.Msg.CommandId)
	}

	// The agent deploys and reports each step.
	created, err := agent.CreateDeployment(ctx, req(&ferryv1.CreateDeploymentRequest{
		ApplicationId: appID,
		Trigger: &ferryv1.Trigger{Kind: ferryv1.TriggerKind_TRIGGER_KIND_ON_COMMAND, Commander: cmd.Commander,
			Commit: &ferryv1.Commit{Hash: "abc123", Message: "bump image"}},
	}))
	if err != nil {
		t.Fatal(err)
	}
	depID := created.Msg.Deployment.Id
	if _, err := agent.ReportCommandHandled(ctx, req(&ferryv1.ReportCommandHandledRequest{
		CommandId: cmd.Id, Status: ferryv1.CommandStatus_COMMAND_STATUS_SUCCEEDED,
		Metadata: map[string]string{model.MetadataTriggeredDeploymentID: depID},
	})); err != nil {
		t.Fatal(err)
	}
	must := func(_ any, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(agent.ReportDeploymentPlanned(ctx, req(&ferryv1.ReportDeploymentPlannedRequest{
		DeploymentId: depID, Summary: "Quick sync", Strategy: ferryv1.SyncStrategy_SYNC_STRATEGY_QUICK_SYNC,
		Stages: []*ferryv1.Stage{{Id: "s0", Name: "K8S_SYNC", Visible: true}},
	})))
	must(agent.ReportDeploymentStatusChanged(ctx, req(&ferryv1.ReportDeploymentStatusChangedRequest{DeploymentId: depID, Status: ferryv1.DeploymentStatus_DEPLOYMENT_STATUS_RUNNING})))
	// The application shows its most recent deployment running.
	running, err := user.GetApplication(ctx, req(&ferryv1.GetApplicationRequest{Application: appID}))
	if err != nil {
		t.Fatal(err)
	}
	if ref := running.Msg.Application.MostRecentDeployment; ref.GetDeploymentId() != depID || ref.GetStatus() != ferryv1.DeploymentStatus_DEPLOYMENT_STATUS_RUNNING || ref.GetSummary() != "Quick sync" {
		t.Errorf("most recent deployment while running = %v, want %s RUNNING", ref, depID)
	}
	must(agent.ReportStageStatusChanged(ctx, req(&ferryv1.ReportStageStatusChangedRequest{DeploymentId: depID, StageId: "s0", Status: ferryv1.StageStatus_STAGE_STATUS_RUNNING})))
	must(agent.ReportStageLogs(ctx, req(&ferryv1.ReportStageLogsRequest{DeploymentId: depID, StageId: "s0", Blocks: []*ferryv1.LogBlock{
		{Index: 1, Log: "applying 3 objects"}, {Index: 2, Log: "all healthy", Severity: ferryv1.LogSeverity_LOG_SEVERITY_SUCCESS},
	}})))
	must(agent.SaveStageMetadata(ctx, req(&ferryv1.SaveStageMetadataRequest{DeploymentId: depID, StageId: "s0", Metadata: map[string]string{"applied": "3"}})))

	// Mid-way, the user sees the running stage and its log.
	logs, err := user.GetStageLog(ctx, req(&ferryv1.GetStageLogRequest{DeploymentId: depID, StageId: "s0", AfterIndex: 1}))
	if err != nil {
		t.Fatal(err)
	}
	if len(logs.Msg.Blocks) != 1 || logs.Msg.Blocks[0].Log != "all healthy" || logs.Msg.Completed {
		t.Errorf("log after index 1 = %v", logs.Msg)
	}

	must(agent.ReportStageStatusChanged(ctx, req(&ferryv1.ReportStageStatusChangedRequest{DeploymentId: depID, StageId: "s0", Status: ferryv1.StageStatus_STAGE_STATUS_SUCCESS})))
	done := req(&ferryv1.ReportDeploymentCompletedRequest{DeploymentId: depID, Status: ferryv1.DeploymentStatus_DEPLOYMENT_STATUS_SUCCESS})
	must(agent.ReportDeploymentCompleted(ctx, done))
	must(agent.ReportDeploymentCompleted(ctx, done)) // a resend is harmless

	d, err := user.GetDeployment(ctx, req(&ferryv1.GetDeploymentRequest{DeploymentId: depID}))
	if err != nil {
		t.Fatal(err)
	}
	st := d.Msg.Deployment.Stages[0]
	if d.Msg.Deployment.Status != ferryv1.DeploymentStatus_DEPLOYMENT_STATUS_SUCCESS || st.Status != ferryv1.StageStatus_STAGE_STATUS_SUCCESS ||
		st.Metadata["applied"] != "3" || st.StartedAt == nil || st.CompletedAt == nil || d.Msg.Deployment.CompletedAt == nil {
		t.Errorf("deployment after completion = %v", d.Msg.Deployment)
	}
	// The log was archived to the filestore and still reads the same.
	logs, err = user.GetStageLog(ctx, req(&ferryv1.GetStageLogRequest{DeploymentId: depID, StageId: "s0", AfterIndex: -1}))
	if err != nil {
		t.Fatal(err)
	}
	if len(logs.Msg.Blocks) != 2 || !logs.Msg.Completed {
		t.Errorf("archived log = %v", logs.Msg)
	}
	app, err := user.GetApplication(ctx, req(&ferryv1.GetApplicationRequest{Application: appID}))
	if err != nil {
		t.Fatal(err)
	}
	if app.Msg.Application.Deploying || app.Msg.Application.MostRecentSuccessfulDeployment.GetCommitHash() != "abc123" {
		t.Errorf("application after deployment = %v", app.Msg.Application)
	}
	c, err := user.GetCommand(ctx, req(&ferryv1.GetCommandRequest{CommandId: cmd.Id}))
	if err != nil {
		t.Fatal(err)
	}
	if c.Msg.Command.Metadata[model.MetadataTriggeredDeploymentID] != depID {
		t.Errorf("command = %v", c.Msg.Command)
	}

	// A completed deployment cannot be cancelled, nor end differently.
	_, err = user.CancelDeployment(ctx, req(&ferryv1.CancelDeploymentRequest{DeploymentId: depID}))
	wantCode(t, err, connect.CodeFailedPrecondition)
	_, err = agent.ReportDeploymentCompleted(ctx, req(&ferryv1.ReportDeploymentCompletedRequest{DeploymentId: depID, Status: ferryv1.DeploymentStatus_DEPLOYMENT_STATUS_FAILURE}))
	wantCode(t, err, connect.CodeFailedPrecondition)

	// The agent, its application, its command and its deployment carry the
	// id it was registered with.
	for what, got := range map[string]string{
		"agent":       ag.Msg.Agent.GetId(),
		"application": apps.Msg.Applications[0].GetAgentId(),
		"command":     c.Msg.Command.GetAgentId(),
		"deployment":  d.Msg.Deployment.GetAgentId(),
	} {
		if got != agentID {
			t.Errorf("the %s's agent id = %q, want %q", what, got, agentID)
		}
	}
}

func TestAgentKeysRotateAndDisabledAgentsAreRefused(t *testing.T) {
	ctx := context.Background()
	s := startServer(t)
	user := s.user(s.adminKey)
	_, oldKey := s.registerAgent(t, "a1")
	ping := func(key string) error {
		_, err := s.agent(key).Heartbeat(ctx, req(&ferryv1.HeartbeatRequest{}))
		return err
	}
	if err := ping(oldKey); err != nil {
		t.Fatal(err)
	}
	wantCode(t, ping(oldKey+"x"), connect.CodeUnauthenticated)
	wantCode(t, ping("no-such-agent.secret"), connect.CodeUnauthenticated)

	rot, err := user.RotateAgentKey(ctx, req(&ferryv1.RotateAgentKeyRequest{Agent: "a1"}))
	if err != nil {
		t.Fatal(err)
	}
	newKey := rot.Msg.Key
	if err := ping(oldKey); err != nil {
		t.Errorf("old key refused while both are valid: %v", err)
	}
	if err := ping(newKey); err != nil {
		t.Errorf("new key refused: %v", err)
	}
	if _, err := user.DeleteOldAgentKeys(ctx, req(&ferryv1.DeleteOldAgentKeysRequest{Agent: "a1"})); err != nil {
		t.Fatal(err)
	}
	wantCode(t, ping(oldKey), connect.CodeUnauthenticated)
	if err := ping(newKey); err != nil {
		t.Errorf("new key refused after deleting old ones: %v", err)
	}

	if _, err := user.DisableAgent(ctx, req(&ferryv1.DisableAgentRequest{Agent: "a1"})); err != nil {
		t.Fatal(err)
	}
	err = ping(newKey)
	wantCode(t, err, connect.CodeUnauthenticated)
	if !strings.Contains(err.Error(), "disabled") {
		t.Errorf("error %q does not say the agent is disabled", err)
	}

	_, err = user.RegisterAgent(ctx, req(&ferryv1.RegisterAgentRequest{Name: "a1"}))
	wantCode(t, err, connect.CodeAlreadyExists)
	_, err = user.RegisterAgent(ctx, req(&ferryv1.RegisterAgentRequest{Name: "bad name!"}))
	wantCode(t, err, connect.CodeInvalidArgument)
}

func TestAPIKeysCarryRolesAndCanBeRevoked(t *testing.T) {
	ctx := context.Background()
	s := startServer(t)
	viewer := s.apiKey(t, ferryv1.Role_ROLE_VIEWER)
	if _, err := s.user(viewer).ListApplications(ctx, req(&ferryv1.ListApplicationsRequest{})); err != nil {
		t.Fatal(err)
	}
	_, err := s.user(viewer).RegisterAgent(ctx, req(&ferryv1.RegisterAgentRequest{Name: "x"}))
	wantCode(t, err, connect.CodePermissionDenied)

	keys, err := s.user(s.adminKey).ListAPIKeys(ctx, req(&ferryv1.ListAPIKeysRequest{}))
	if err != nil {
		t.Fatal(err)
	}
	var viewerID string
	for _, k := range keys.Msg.ApiKeys {
		if k.Role == ferryv1.Role_ROLE_VIEWER {
			viewerID = k.Id
		}
	}
	if viewerID == "" || !strings.HasPrefix(viewer, viewerID+".") {
		t.Fatalf("viewer key not listed: %v", keys.Msg.ApiKeys)
	}
	if _, err := s.user(s.adminKey).RevokeAPIKey(ctx, req(&ferryv1.RevokeAPIKeyRequest{Id: viewerID})); err != nil {
		t.Fatal(err)
	}
	_, err = s.user(viewer).ListApplications(ctx, req(&ferryv1.ListApplicationsRequest{}))
	wantCode(t, err, connect.CodeUnauthenticated)
}

func TestBadInputGetsClearErrors(t *testing.T) {
	ctx := context.Background()
	s := startServer(t)
	user := s.user(s.adminKey)
	_, agentKey := s.registerAgent(t, "a1")
	agent := s.agent(agentKey)

	_, err := user.GetApplication(ctx, req(&ferryv1.GetApplicationRequest{Application: "nope"}))
	wantCode(t, err, connect.CodeNotFound)
	if !strings.Contains(err.Error(), `application "nope" not found`) {
		t.Errorf("error %q does not name the application", err)
	}
	_, err = user.ListApplications(ctx, req(&ferryv1.ListApplicationsRequest{PageToken: "not-a-cursor"}))
	wantCode(t, err, connect.CodeInvalidArgument)

	// A cursor from one query is refused by another.
	for i := 0; i < 3; i++ {
		if _, err := user.AddApplication(ctx, req(&ferryv1.AddApplicationRequest{
			Name: "app" + string(rune('a'+i)), Agent: "a1", GitPath: &ferryv1.GitPath{RepoId: "r", Path: "app" + string(rune('a'+i))},
			Labels: map[string]string{"env": "dev"},
		})); err != nil {
			t.Fatal(err)
		}
	}
	page, err := user.ListApplications(ctx, req(&ferryv1.ListApplicationsRequest{PageSize: 1}))
	if err != nil {
		t.Fatal(err)
	}
	if page.Msg.NextPageToken == "" {
		t.Fatal("no next page token with 3 apps and page size 1")
	}
	_, err = user.ListApplications(ctx, req(&ferryv1.ListApplicationsRequest{PageSize: 1, PageToken: page.Msg.NextPageToken, Labels: map[string]string{"env": "dev"}}))
	wantCode(t, err, connect.CodeInvalidArgument)

	// Oversized and too many log blocks are bounded with a clear error.
	app, err := user.GetApplication(ctx, req(&ferryv1.GetApplicationRequest{Application: "appa"}))
	if err != nil {
		t.Fatal(err)
	}
	d, err := agent.CreateDeployment(ctx, req(&ferryv1.CreateDeploymentRequest{ApplicationId: app.Msg.Application.Id, Trigger: &ferryv1.Trigger{Commit: &ferryv1.Commit{Hash: "c1"}}}))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := agent.ReportDeploymentPlanned(ctx, req(&ferryv1.ReportDeploymentPlannedRequest{DeploymentId: d.Msg.Deployment.Id, Stages: []*ferryv1.Stage{{Id: "s", Name: "K8S_SYNC"}}})); err != nil {
		t.Fatal(err)
	}
	_, err = agent.ReportStageLogs(ctx, req(&ferryv1.ReportStageLogsRequest{DeploymentId: d.Msg.Deployment.Id, StageId: "s",
		Blocks: []*ferryv1.LogBlock{{Index: 1, Log: strings.Repeat("x", model.MaxLogBlockBytes+1)}}}))
	// InvalidArgument, not ResourceExhausted, which agents retry: the
	// same block would be refused again, forever.
	wantCode(t, err, connect.CodeInvalidArgument)
	if !strings.Contains(err.Error(), "split it") {
		t.Errorf("error %q does not say what to do", err)
	}

	// Another agent cannot touch this agent's deployment.
	_, otherKey := s.registerAgent(t, "a2")
	_, err = s.agent(otherKey).ReportStageStatusChanged(ctx, req(&ferryv1.ReportStageStatusChangedRequest{
		DeploymentId: d.Msg.Deployment.Id, StageId: "s", Status: ferryv1.StageStatus_STAGE_STATUS_RUNNING}))
	wantCode(t, err, connect.CodeNotFound)
}

func TestCommandsQueuedWhileAwayArriveOnConnect(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s := startServer(t)
	user := s.user(s.adminKey)
	_, agentKey := s.registerAgent(t, "a1")
	if _, err := user.AddApplication(ctx, req(&ferryv1.AddApplicationRequest{Name: "app", Agent: "a1", GitPath: &ferryv1.GitPath{RepoId: "r", Path: "p"}})); err != nil {
		t.Fatal(err)
	}
	sync, err := user.SyncApplication(ctx, req(&ferryv1.SyncApplicationRequest{Application: "app"}))
	if err != nil {
		t.Fatal(err)
	}
	stream, err := s.agent(agentKey).Watch(ctx, req(&ferryv1.WatchRequest{}))
	if err != nil {
		t.Fatal(err)
	}
	if !stream.Receive() {
		t.Fatal(stream.Err())
	}
	if got := stream.Msg().GetCommand().GetId(); got != sync.Msg.CommandId {
		t.Errorf("first streamed item = %v, want command %s", stream.Msg(), sync.Msg.CommandId)
	}
	// Close ends the stream instead of waiting for it.
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	for stream.Receive() {
	}
}

// An agent may list some of its applications by id; another agent's, an
// unknown id and a disabled one are left out.
func TestAgentListsApplicationsByID(t *testing.T) {
	ctx := context.Background()
	s := startServer(t)
	user := s.user(s.adminKey)
	_, keyA := s.registerAgent(t, "a")
	_, keyB := s.registerAgent(t, "b")
	register := func(key, name string) string {
		t.Helper()
		reg, err := s.agent(key).RegisterApplications(ctx, req(&ferryv1.RegisterApplicationsRequest{Applications: []*ferryv1.ApplicationSpec{{
			Name: name, Kind: ferryv1.ApplicationKind_APPLICATION_KIND_KUBERNETES,
			GitPath: &ferryv1.GitPath{RepoId: "apps", Path: name, ConfigFilename: "app.pipecd.yaml"},
		}}}))
		if err != nil {
			t.Fatal(err)
		}
		return reg.Msg.Applications[0].Id
	}
	web, api, off := register(keyA, "web"), register(keyA, "api"), register(keyA, "off")
	other := register(keyB, "other")
	if _, err := user.DisableApplication(ctx, req(&ferryv1.DisableApplicationRequest{Application: "off"})); err != nil {
		t.Fatal(err)
	}
	res, err := s.agent(keyA).ListApplications(ctx, req(&ferryv1.AgentListApplicationsRequest{ApplicationIds: []string{web, other, off, "no-such-app"}}))
	if err != nil {
		t.Fatal(err)
	}
	if got := res.Msg.Applications; len(got) != 1 || got[0].Id != web {
		t.Errorf("listed by id: %v, want only web", got)
	}
	all, err := s.agent(keyA).ListApplications(ctx, req(&ferryv1.AgentListApplicationsRequest{}))
	if err != nil {
		t.Fatal(err)
	}
	if len(all.Msg.Applications) != 2 || (all.Msg.Applications[0].Id != api && all.Msg.Applications[1].Id != api) {
		t.Errorf("listed without ids: %v, want web and api", all.Msg.Applications)
	}
}
