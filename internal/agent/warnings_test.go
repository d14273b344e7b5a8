package agent_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"

	ferryv1 "github.com/ferrycd/ferry/api/gen/ferry/v1"
	"github.com/ferrycd/ferry/internal/agent"
	"github.com/ferrycd/ferry/internal/platform"
	"github.com/ferrycd/ferry/internal/server/servertest"
	"github.com/ferrycd/ferry/internal/testenv"
)

// A PipeCD app whose config has fields Ferry does not act on deploys, and
// its warnings reach the user through the API: the agent's discovery sends
// them, the control plane keeps them, and the next registration replaces
// them.
func TestAPipeCDAppsFieldsWithoutEffectShowAsWarningsThroughTheAPI(t *testing.T) {
	repo := t.TempDir()
	git(t, repo, "init", "-q", "-b", "main")
	const app = `apiVersion: pipecd.dev/v1beta1
kind: KubernetesApp
spec:
  name: web
  encryption:
    encryptedSecrets: {password: AQBxyz}
    decryptionTargets: [secret.yaml]
  pipeline:
    stages:
      - name: WAIT
        with: {duration: 1m, threshold: 2}
`
	commit(t, repo, "web/app.pipecd.yaml", app)
	cp := servertest.Start(t)
	prov := &countingProvider{}
	cfg := agentConfig(t, cp, repo)
	stop := runAgent(t, cfg, agent.Options{Providers: []platform.Provider{prov}})

	// The first deployment is a quick sync: the warnings do not stop it.
	waitDeployments(t, cp, 1)
	got := appWarnings(t, cp)
	want := []string{
		"web/app.pipecd.yaml:5: spec.encryption: has no effect: this agent has no secretManagement",
		"web/app.pipecd.yaml:11: spec.pipeline.stages[0].with.threshold: unknown option of WAIT, ignored",
	}
	if len(got) != len(want) {
		t.Fatalf("warnings = %q, want %d", got, len(want))
	}
	for i := range want {
		if !strings.HasPrefix(got[i], want[i]) {
			t.Errorf("warning %d = %q, want it to start %q", i, got[i], want[i])
		}
	}

	// Fixed in Git, the warning goes with the next discovery, here the one
	// a restarted agent makes at once.
	commit(t, repo, "web/app.pipecd.yaml", strings.Replace(app, "duration: 1m, threshold: 2", "duration: 1m", 1))
	stop()
	runAgent(t, cfg, agent.Options{Providers: []platform.Provider{prov}})
	testenv.WaitFor(t, 20*time.Second, "web's threshold warning is gone", func() bool {
		got = appWarnings(t, cp)
		return len(got) == 1 && strings.Contains(got[0], "spec.encryption")
	})
}

// appWarnings returns the app web's config warnings as the API gives them,
// each as "file:line: field: message".
func appWarnings(t *testing.T, cp *servertest.ControlPlane) []string {
	t.Helper()
	res, err := cp.User().GetApplication(context.Background(), connect.NewRequest(&ferryv1.GetApplicationRequest{Application: "web"}))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, w := range res.Msg.GetApplication().GetConfigWarnings() {
		out = append(out, fmt.Sprintf("%s:%d: %s: %s", w.GetFile(), w.GetLine(), w.GetField(), w.GetMessage()))
	}
	return out
}
