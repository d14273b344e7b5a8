package cli_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/rogpeppe/go-internal/testscript"

	ferryv1 "github.com/ferrycd/ferry/api/gen/ferry/v1"
	"github.com/ferrycd/ferry/api/gen/ferry/v1/ferryv1connect"
	"github.com/ferrycd/ferry/internal/cli"
	"github.com/ferrycd/ferry/internal/server"
)

// TestMain lets the scripts run the real ferry binary: testscript re-runs
// this test binary as "ferry", which calls the same entry point as
// cmd/ferry.
func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"ferry": func() { os.Exit(cli.Main(context.Background(), os.Args[1:], os.Stdout, os.Stderr)) },
	})
}

// TestScripts runs testdata/script/*.txtar. Each script gets its own control
// plane on a free loopback port with a fresh SQLite database, and these
// variables:
//
//	SERVER     the control plane's URL
//	ADMIN_KEY  an admin API key
//	FERRY_CONFIG  the CLI's config file, inside $WORK
//
// and these commands besides testscript's own:
//
//	jsonvar VAR PATH          set VAR from the last stdout, a JSON document,
//	                          at a dotted PATH (.agent.id, .applications.0.name)
//	agent-deploy KEY APP VAR  as the agent with key KEY, create a running
//	                          deployment of APP with a log line, a running
//	                          WAIT_APPROVAL stage and a later stage; set VAR
//	                          to its id
//	agent-log KEY APP DEPLOYMENT STAGE N
//	                          as the agent with key KEY, append N lines
//	                          "line 0" to "line N-1" to a stage's log
//	agent-register KEY APP [FILE]
//	                          as the agent with key KEY, register APP (repo
//	                          apps, path APP, app.pipecd.yaml) as discovery
//	                          does, with a config warning per line of FILE,
//	                          each "LINE FIELD MESSAGE"
//	agent-sync-state KEY APP STATUS [FILE]
//	                          as the agent with key KEY, report APP's sync
//	                          state: STATUS (OUT_OF_SYNC, SYNCED...), the
//	                          short reason FILE's first line and the reason
//	                          the rest of it
func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir:                 "testdata/script",
		RequireExplicitExec: true,
		Setup:               setupScript,
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"jsonvar":          cmdJSONVar,
			"agent-deploy":     cmdAgentDeploy,
			"agent-log":        cmdAgentLog,
			"agent-register":   cmdAgentRegister,
			"agent-sync-state": cmdAgentSyncState,
		},
	})
}

func setupScript(env *testscript.Env) error {
	dir, err := os.MkdirTemp("", "ferry-script-*")
	if err != nil {
		return err
	}
	keyFile := filepath.Join(dir, "admin.key")
	srv, err := server.New(server.Config{
		Address:             "127.0.0.1:0",
		DataDir:             dir,
		BootstrapAPIKeyFile: keyFile,
		Logger:              slog.New(slog.DiscardHandler),
	})
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := srv.Start(ctx); err != nil {
		return err
	}
	env.Defer(func() {
		_ = srv.Close()
		_ = os.RemoveAll(dir)
	})
	key, err := os.ReadFile(keyFile)
	if err != nil {
		return err
	}
	env.Setenv("SERVER", srv.Addr())
	env.Setenv("ADMIN_KEY", strings.TrimSpace(string(key)))
	env.Setenv("FERRY_CONFIG", filepath.Join(env.WorkDir, ".ferry", "config.yaml"))
	return nil
}

// cmdJSONVar implements `jsonvar VAR PATH`.
func cmdJSONVar(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: jsonvar VAR .path")
	}
	var doc any
	ts.Check(json.Unmarshal([]byte(ts.ReadFile("stdout")), &doc))
	v := doc
	for _, part := range strings.Split(strings.TrimPrefix(args[1], "."), ".") {
		switch x := v.(type) {
		case map[string]any:
			v = x[part]
		case []any:
			var i int
			if _, err := fmt.Sscan(part, &i); err != nil || i < 0 || i >= len(x) {
				ts.Fatalf("jsonvar: no element %s in %s", part, args[1])
			}
			v = x[i]
		default:
			ts.Fatalf("jsonvar: %s not found in stdout", args[1])
		}
	}
	if v == nil {
		ts.Fatalf("jsonvar: %s not found in stdout", args[1])
	}
	ts.Setenv(args[0], fmt.Sprint(v))
}

// cmdAgentDeploy implements `agent-deploy KEY APP VAR` through the real
// AgentService, as an agent would.
func cmdAgentDeploy(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 3 {
		ts.Fatalf("usage: agent-deploy AGENT_KEY APP VAR")
	}
	agent, appID := agentApp(ts, args[0], args[1])
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	created, err := agent.CreateDeployment(ctx, connect.NewRequest(&ferryv1.CreateDeploymentRequest{
		ApplicationId: appID,
		Summary:       "Deploy commit 0123456789abcdef",
		Trigger: &ferryv1.Trigger{
			Kind:   ferryv1.TriggerKind_TRIGGER_KIND_ON_COMMIT,
			Commit: &ferryv1.Commit{Hash: "0123456789abcdef", Message: "bump image", Author: "alice", Branch: "main"},
		},
	}))
	ts.Check(err)
	id := created.Msg.GetDeployment().GetId()
	_, err = agent.ReportDeploymentPlanned(ctx, connect.NewRequest(&ferryv1.ReportDeploymentPlannedRequest{
		DeploymentId: id, Summary: "canary then approval", RunningCommitHash: "0123456789abcdef",
		Strategy: ferryv1.SyncStrategy_SYNC_STRATEGY_PIPELINE,
		Stages: []*ferryv1.Stage{
			{Id: "stage-0", Name: "K8S_CANARY_ROLLOUT", Index: 0, Visible: true},
			{Id: "stage-1", Name: "WAIT_APPROVAL", Index: 1, Requires: []string{"stage-0"}, Visible: true},
			{Id: "stage-2", Name: "K8S_PRIMARY_ROLLOUT", Index: 2, Requires: []string{"stage-1"}, Visible: true},
		},
	}))
	ts.Check(err)
	_, err = agent.ReportDeploymentStatusChanged(ctx, connect.NewRequest(&ferryv1.ReportDeploymentStatusChangedRequest{
		DeploymentId: id, Status: ferryv1.DeploymentStatus_DEPLOYMENT_STATUS_RUNNING,
	}))
	ts.Check(err)
	for _, st := range []struct {
		id     string
		status ferryv1.StageStatus
	}{{"stage-0", ferryv1.StageStatus_STAGE_STATUS_SUCCESS}, {"stage-1", ferryv1.StageStatus_STAGE_STATUS_RUNNING}} {
		_, err = agent.ReportStageStatusChanged(ctx, connect.NewRequest(&ferryv1.ReportStageStatusChangedRequest{DeploymentId: id, StageId: st.id, Status: st.status}))
		ts.Check(err)
	}
	_, err = agent.ReportStageLogs(ctx, connect.NewRequest(&ferryv1.ReportStageLogsRequest{DeploymentId: id, StageId: "stage-0", Blocks: []*ferryv1.LogBlock{
		{Index: 0, Log: "canary: 1 of 1 pods ready", Severity: ferryv1.LogSeverity_LOG_SEVERITY_INFO},
		{Index: 1, Log: "canary rolled out", Severity: ferryv1.LogSeverity_LOG_SEVERITY_SUCCESS},
	}}))
	ts.Check(err)
	_, err = agent.ReportStageLogs(ctx, connect.NewRequest(&ferryv1.ReportStageLogsRequest{DeploymentId: id, StageId: "stage-1", Blocks: []*ferryv1.LogBlock{
		{Index: 0, Log: "waiting for an approval", Severity: ferryv1.LogSeverity_LOG_SEVERITY_INFO},
	}}))
	ts.Check(err)
	ts.Setenv(args[2], id)
}

// cmdAgentLog implements `agent-log KEY APP DEPLOYMENT STAGE N` through
// the real AgentService, in calls of 1,000 blocks as an agent sends them.
func cmdAgentLog(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 5 {
		ts.Fatalf("usage: agent-log AGENT_KEY APP DEPLOYMENT STAGE N")
	}
	agent, _ := agentApp(ts, args[0], args[1])
	var n int
	if _, err := fmt.Sscan(args[4], &n); err != nil {
		ts.Fatalf("agent-log: N: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for first := 0; first < n; first += 1000 {
		var blocks []*ferryv1.LogBlock
		for i := first; i < min(n, first+1000); i++ {
			blocks = append(blocks, &ferryv1.LogBlock{Index: int64(1 + i), Log: fmt.Sprintf("line %d", i), Severity: ferryv1.LogSeverity_LOG_SEVERITY_INFO})
		}
		_, err := agent.ReportStageLogs(ctx, connect.NewRequest(&ferryv1.ReportStageLogsRequest{DeploymentId: args[2], StageId: args[3], Blocks: blocks}))
		ts.Check(err)
	}
}

// cmdAgentRegister implements `agent-register KEY APP [FILE]` through the
// real AgentService, as an agent's discovery would.
func cmdAgentRegister(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 || len(args) > 3 {
		ts.Fatalf("usage: agent-register AGENT_KEY APP [FILE]")
	}
	spec := &ferryv1.ApplicationSpec{
		Name: args[1], Kind: ferryv1.ApplicationKind_APPLICATION_KIND_KUBERNETES,
		GitPath: &ferryv1.GitPath{RepoId: "apps", Path: args[1], ConfigFilename: "app.pipecd.yaml"},
	}
	if len(args) == 3 {
		for _, l := range strings.Split(strings.TrimSpace(ts.ReadFile(args[2])), "\n") {
			var line int32
			var field string
			n, _ := fmt.Sscan(l, &line, &field)
			if n != 2 {
				ts.Fatalf("agent-register: %q is not LINE FIELD MESSAGE", l)
			}
			_, msg, _ := strings.Cut(strings.SplitN(l, " ", 2)[1], " ")
			spec.ConfigWarnings = append(spec.ConfigWarnings, &ferryv1.ConfigWarning{
				Field: field, File: args[1] + "/app.pipecd.yaml", Line: line, Message: msg,
			})
		}
	}
	agent := agentClient(ts, args[0])
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := agent.RegisterApplications(ctx, connect.NewRequest(&ferryv1.RegisterApplicationsRequest{Applications: []*ferryv1.ApplicationSpec{spec}}))
	ts.Check(err)
}

// cmdAgentSyncState implements `agent-sync-state KEY APP STATUS [FILE]`
// through the real AgentService, as an agent's drift check would.
func cmdAgentSyncState(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 3 || len(args) > 4 {
		ts.Fatalf("usage: agent-sync-state AGENT_KEY APP STATUS [FILE]")
	}
	agent, appID := agentApp(ts, args[0], args[1])
	status, ok := ferryv1.SyncStatus_value["SYNC_STATUS_"+args[2]]
	if !ok {
		ts.Fatalf("agent-sync-state: no sync status %s", args[2])
	}
	st := &ferryv1.SyncState{Status: ferryv1.SyncStatus(status)}
	if len(args) == 4 {
		st.ShortReason, st.Reason, _ = strings.Cut(ts.ReadFile(args[3]), "\n")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := agent.ReportApplicationSyncState(ctx, connect.NewRequest(&ferryv1.ReportApplicationSyncStateRequest{ApplicationId: appID, State: st}))
	ts.Check(err)
}

// agentApp returns an AgentService client with the agent key and the id
// of the agent's application named app.
func agentApp(ts *testscript.TestScript, key, app string) (ferryv1connect.AgentServiceClient, string) {
	agent := agentClient(ts, key)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	apps, err := agent.ListApplications(ctx, connect.NewRequest(&ferryv1.AgentListApplicationsRequest{}))
	ts.Check(err)
	for _, a := range apps.Msg.GetApplications() {
		if a.GetName() == app {
			return agent, a.GetId()
		}
	}
	ts.Fatalf("the agent has no application %s", app)
	return nil, ""
}

// agentClient returns an AgentService client with the agent key.
func agentClient(ts *testscript.TestScript, key string) ferryv1connect.AgentServiceClient {
	return ferryv1connect.NewAgentServiceClient(http.DefaultClient, ts.Getenv("SERVER"),
		connect.WithInterceptors(connect.UnaryInterceptorFunc(func(next connect.UnaryFunc) connect.UnaryFunc {
			return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
				req.Header().Set("Authorization", "Bearer "+key)
				return next(ctx, req)
			}
		})))
}
