package agent_test

import (
	"slices"
	"testing"

	"connectrpc.com/connect"
	"github.com/google/go-cmp/cmp"

	ferryv1 "github.com/ferrycd/ferry/api/gen/ferry/v1"
)

// exampleWarnings are the fields of each example that Ferry shows as
// warnings on the application, as it does not act on them (yet); the
// examples not named have none.
var exampleWarnings = map[string][]string{
	"simple":                 {"spec.input.kubectlVersion", "spec.postSync.chain"},
	"canary":                 {"spec.eventWatcher"},
	"multi-steps-canary":     {"spec.plugins.kubernetes.input.kubectlVersion"},
	"analysis-by-log":        {"spec.pipeline.stages[1].with.logs"},
	"analysis-with-baseline": {"spec.pipeline.stages[2].with.threshold"},
	"wait-approval":          {"spec.notification.mentions"},
	"kustomize-local-base":   {"spec.input.kustomizeVersion"},
	"kustomize-remote-base":  {"spec.input.kustomizeVersion"},
	"helm-local-chart":       {"spec.input.helmVersion"},
	"helm-remote-chart":      {"spec.input.helmVersion"},
	"helm-remote-git-chart":  {"spec.input.helmVersion"},
	"secret-management":      {"spec.attachment"},
}

// configWarnings returns the application's config warnings by field.
func (e *examplesEnv) configWarnings(t *testing.T, app string) map[string]string {
	t.Helper()
	res, err := e.cp.User().GetApplication(e.ctx, connect.NewRequest(&ferryv1.GetApplicationRequest{Application: app}))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, w := range res.Msg.Application.GetConfigWarnings() {
		out[w.Field] = w.Message
	}
	return out
}

// checkWarnings checks that the application shows exactly the warnings
// exampleWarnings lists for it, each with its reason.
func checkWarnings(t *testing.T, e *examplesEnv, app string) {
	t.Helper()
	got := e.configWarnings(t, app)
	var fields []string
	for f, msg := range got {
		fields = append(fields, f)
		if msg == "" {
			t.Errorf("the warning on %s says nothing", f)
		}
	}
	slices.Sort(fields)
	if diff := cmp.Diff(exampleWarnings[app], fields); diff != "" {
		t.Errorf("warnings (-want +got):\n%s\n%v", diff, got)
	}
}
