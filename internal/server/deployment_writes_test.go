package server_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"

	"connectrpc.com/connect"

	ferryv1 "github.com/ferrycd/ferry/api/gen/ferry/v1"
	"github.com/ferrycd/ferry/api/gen/ferry/v1/ferryv1connect"
)

// registerApp registers one application for the agent and returns its id.
func registerApp(t *testing.T, agent ferryv1connect.AgentServiceClient, name string) string {
	t.Helper()
	reg, err := agent.RegisterApplications(context.Background(), req(&ferryv1.RegisterApplicationsRequest{Applications: []*ferryv1.ApplicationSpec{{
		Name: name, Kind: ferryv1.ApplicationKind_APPLICATION_KIND_KUBERNETES, PlatformProvider: "dev",
		GitPath: &ferryv1.GitPath{RepoId: "apps", Path: name, ConfigFilename: "app.pipecd.yaml"},
	}}}))
	if err != nil {
		t.Fatal(err)
	}
	return reg.Msg.Applications[0].Id
}

// A deployment's end and its application's record of it are one write:
// when the application's part fails, the deployment has not ended either,
// and the agent's retry ends both. The deployment used to end first, its
// application stayed "deploying", and the retry, finding the deployment
// ended, left it so.
func TestADeploymentEndsTogetherWithItsApplicationsRecord(t *testing.T) {
	ctx := context.Background()
	s := startServer(t)
	_, key := s.registerAgent(t, "dev")
	agent, user := s.agent(key), s.user(s.adminKey)
	appID := registerApp(t, agent, "web")
	created, err := agent.CreateDeployment(ctx, req(&ferryv1.CreateDeploymentRequest{ApplicationId: appID, Trigger: &ferryv1.Trigger{Commit: &ferryv1.Commit{Hash: "c1"}}}))
	if err != nil {
		t.Fatal(err)
	}
	id := created.Msg.Deployment.Id

	// A real write failure, in the database itself: a trigger refuses the
	// application's move out of "deploying" while the fault row exists.
	db, err := sql.Open("sqlite", "file:"+filepath.Join(s.dataDir, "ferry.db")+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, q := range []string{
		"CREATE TABLE test_fault (x INTEGER)",
		"INSERT INTO test_fault VALUES (1)",
		`CREATE TRIGGER test_fault_app BEFORE UPDATE ON applications
		 WHEN OLD.deploying = 1 AND NEW.deploying = 0 AND EXISTS (SELECT 1 FROM test_fault)
		 BEGIN SELECT RAISE(ABORT, 'injected fault'); END`,
	} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	complete := func() error {
		_, err := agent.ReportDeploymentCompleted(ctx, req(&ferryv1.ReportDeploymentCompletedRequest{DeploymentId: id, Status: ferryv1.DeploymentStatus_DEPLOYMENT_STATUS_SUCCESS}))
		return err
	}
	state := func() (ended, deploying bool) {
		t.Helper()
		d, err := user.GetDeployment(ctx, req(&ferryv1.GetDeploymentRequest{DeploymentId: id}))
		if err != nil {
			t.Fatal(err)
		}
		a, err := user.GetApplication(ctx, req(&ferryv1.GetApplicationRequest{Application: appID}))
		if err != nil {
			t.Fatal(err)
		}
		return d.Msg.Deployment.Status == ferryv1.DeploymentStatus_DEPLOYMENT_STATUS_SUCCESS, a.Msg.Application.Deploying
	}
	if err := complete(); err == nil {
		t.Fatal("the report succeeded although the application could not be written")
	}
	if ended, deploying := state(); ended == deploying {
		t.Errorf("after the failed write the deployment ended=%v and its application deploying=%v: they disagree", ended, deploying)
	}
	if _, err := db.ExecContext(ctx, "DELETE FROM test_fault"); err != nil {
		t.Fatal(err)
	}
	if err := complete(); err != nil {
		t.Fatal(err)
	}
	if ended, deploying := state(); !ended || deploying {
		t.Errorf("after the retry the deployment ended=%v and its application deploying=%v; want ended and not deploying", ended, deploying)
	}
}

// CreateDeployment sent again with the same request id, as after a timeout
// whose first attempt was stored, returns the first deployment instead of
// creating a second; another id, or another application, creates anew.
func TestARetriedCreateDeploymentReturnsTheFirst(t *testing.T) {
	ctx := context.Background()
	s := startServer(t)
	_, key := s.registerAgent(t, "dev")
	agent, user := s.agent(key), s.user(s.adminKey)
	web, api := registerApp(t, agent, "web"), registerApp(t, agent, "api")
	create := func(appID, requestID string) string {
		t.Helper()
		res, err := agent.CreateDeployment(ctx, req(&ferryv1.CreateDeploymentRequest{
			ApplicationId: appID, RequestId: requestID, Trigger: &ferryv1.Trigger{Commit: &ferryv1.Commit{Hash: "c1"}},
		}))
		if err != nil {
			t.Fatal(err)
		}
		return res.Msg.Deployment.Id
	}
	first := create(web, "command:c1")
	if again := create(web, "command:c1"); again != first {
		t.Errorf("the retry created deployment %s; want the first, %s", again, first)
	}
	if other := create(web, "command:c2"); other == first {
		t.Error("another request id returned the first deployment")
	}
	if other := create(api, "command:c1"); other == first {
		t.Error("the same request id for another application returned the first deployment")
	}
	list, err := user.ListDeployments(ctx, req(&ferryv1.ListDeploymentsRequest{Application: "web"}))
	if err != nil {
		t.Fatal(err)
	}
	if n := len(list.Msg.Deployments); n != 2 {
		t.Errorf("web has %d deployments, want 2", n)
	}
	_, err = agent.CreateDeployment(ctx, req(&ferryv1.CreateDeploymentRequest{
		ApplicationId: web, RequestId: string(make([]byte, 129)), Trigger: &ferryv1.Trigger{Commit: &ferryv1.Commit{Hash: "c1"}},
	}))
	wantCode(t, err, connect.CodeInvalidArgument)
}
