package server_test

import (
	"context"
	"strings"
	"testing"

	"connectrpc.com/connect"

	ferryv1 "github.com/ferrycd/ferry/api/gen/ferry/v1"
	"github.com/ferrycd/ferry/api/gen/ferry/v1/ferryv1connect"
)

// Approvals are matched on the caller's subject, not on a name: an API key
// named after an approver cannot approve as them; the key the list names
// by id can, and its command carries its subject to the agent.
func TestApprovalsMatchTheSubjectNotTheName(t *testing.T) {
	ctx := context.Background()
	s := startServer(t)
	_, agentKey := s.registerAgent(t, "dev")
	agent, admin := s.agent(agentKey), s.user(s.adminKey)
	appID := registerApp(t, agent, "web")
	created, err := agent.CreateDeployment(ctx, req(&ferryv1.CreateDeploymentRequest{ApplicationId: appID, Trigger: &ferryv1.Trigger{Commit: &ferryv1.Commit{Hash: "c1"}}}))
	if err != nil {
		t.Fatal(err)
	}
	id := created.Msg.Deployment.Id
	newKey := func(name string) (string, ferryv1connect.UserServiceClient) {
		res, err := admin.CreateAPIKey(ctx, req(&ferryv1.CreateAPIKeyRequest{Name: name, Role: ferryv1.Role_ROLE_EDITOR}))
		if err != nil {
			t.Fatal(err)
		}
		return res.Msg.ApiKey.Id, s.user(res.Msg.Key)
	}
	_, namedAlice := newKey("alice")
	ciID, ci := newKey("ci")

	// The agent runs a WAIT_APPROVAL whose list is the static user alice
	// and the ci key, as the stage records it.
	if _, err := agent.ReportDeploymentPlanned(ctx, req(&ferryv1.ReportDeploymentPlannedRequest{DeploymentId: id, Stages: []*ferryv1.Stage{{Id: "s0", Name: "WAIT_APPROVAL"}}})); err != nil {
		t.Fatal(err)
	}
	if _, err := agent.ReportStageStatusChanged(ctx, req(&ferryv1.ReportStageStatusChangedRequest{DeploymentId: id, StageId: "s0", Status: ferryv1.StageStatus_STAGE_STATUS_RUNNING})); err != nil {
		t.Fatal(err)
	}
	if _, err := agent.SaveStageMetadata(ctx, req(&ferryv1.SaveStageMetadataRequest{DeploymentId: id, StageId: "s0", Metadata: map[string]string{"Approvers": "alice,apikey:" + ciID}})); err != nil {
		t.Fatal(err)
	}

	approve := func(c ferryv1connect.UserServiceClient) (*connect.Response[ferryv1.ApproveStageResponse], error) {
		return c.ApproveStage(ctx, req(&ferryv1.ApproveStageRequest{DeploymentId: id, StageId: "s0"}))
	}
	_, err = approve(namedAlice)
	wantCode(t, err, connect.CodePermissionDenied)
	if !strings.Contains(err.Error(), "the approvers are user:alice, apikey:"+ciID) {
		t.Errorf("refusal = %v; want it to list the approvers' subjects", err)
	}
	res, err := approve(ci)
	if err != nil {
		t.Fatal(err)
	}
	cmd, err := admin.GetCommand(ctx, req(&ferryv1.GetCommandRequest{CommandId: res.Msg.CommandId}))
	if err != nil {
		t.Fatal(err)
	}
	if got := cmd.Msg.Command.Commander; got != "apikey:"+ciID {
		t.Errorf("the approval's command is from %q; want the key's subject apikey:%s", got, ciID)
	}
}
