package agent_test

import (
	"context"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"

	ferryv1 "github.com/ferrycd/ferry/api/gen/ferry/v1"
	"github.com/ferrycd/ferry/api/gen/ferry/v1/ferryv1connect"
	"github.com/ferrycd/ferry/internal/agent"
	"github.com/ferrycd/ferry/internal/config"
	"github.com/ferrycd/ferry/internal/platform"
	"github.com/ferrycd/ferry/internal/server/servertest"
	"github.com/ferrycd/ferry/internal/testenv"
)

// examplesDir holds the PipeCD-style example applications, one directory
// each, and the repository's AnalysisTemplates (.pipe).
var examplesDir = filepath.Join("testdata", "examples")

// exampleApps lists the example applications: the directories with an
// app.pipecd.yaml.
func exampleApps(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(examplesDir, "*", "app.pipecd.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var apps []string
	for _, f := range files {
		apps = append(apps, filepath.Base(filepath.Dir(f)))
	}
	return apps
}

// copyExamples copies testdata/examples (only the applications named in
// only, when any are, and always the AnalysisTemplates in .pipe) into the
// repository in dir and commits them, with every application in namespace
// (the examples say "namespace: examples", and drift ignoreFields
// ":examples:") and each old, new pair of replace applied to their YAML
// files.
func copyExamples(t *testing.T, dir, namespace string, replace []string, only ...string) {
	t.Helper()
	r := strings.NewReplacer(append([]string{"namespace: examples", "namespace: " + namespace, ":examples:", ":" + namespace + ":"}, replace...)...)
	err := filepath.WalkDir(examplesDir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(examplesDir, p)
		app, _, _ := strings.Cut(rel, string(filepath.Separator))
		if len(only) > 0 && app != config.AnalysisTemplateDir && !slices.Contains(only, app) {
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if strings.HasSuffix(d.Name(), ".yaml") {
			data = []byte(r.Replace(string(data)))
		}
		if err := os.MkdirAll(filepath.Join(dir, filepath.Dir(rel)), 0o755); err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dir, rel), data, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	git(t, dir, "add", "-A")
	git(t, dir, "commit", "-q", "-m", "examples")
}

// newVersion matches where the examples name the greeter's version v1: an
// image, a Kustomize image's newTag, a chart's image tag in values files.
var newVersion = regexp.MustCompile(`(ghcr\.io/ferrycd/greeter:|newTag: |\btag: )v1\b`)

// bumpExamples moves every example from the greeter v1 to v2, but for
// canary-by-config-change, whose ConfigMap alone changes, in one commit.
func bumpExamples(t *testing.T, repo string) {
	t.Helper()
	err := filepath.WalkDir(repo, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.Contains(p, "/.git/") || !strings.HasSuffix(p, ".yaml") {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		s := string(b)
		switch {
		case strings.HasSuffix(p, "canary-by-config-change/configmap.yaml"):
			s = strings.ReplaceAll(s, "greeting: hello", "greeting: hello again")
		case !strings.Contains(p, "canary-by-config-change"):
			s = newVersion.ReplaceAllString(s, "${1}v2")
		}
		return os.WriteFile(p, []byte(s), 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	git(t, repo, "commit", "-q", "-am", "greeter v2")
}

// examplesEnv is what the example checks look at.
type examplesEnv struct {
	kube *testenv.KubeEnv
	cp   *servertest.ControlPlane
	ctx  context.Context
	// approvers are the people of the examples' approvers lists, each
	// through an API key of their own (see nameApprovers).
	approvers map[string]ferryv1connect.UserServiceClient
	// subjects are the approvers' subjects, by name.
	subjects map[string]string
}

// nameApprovers gives each person the examples' approvers lists name an
// API key, and writes the key's subject (apikey:<id>) for the name in the
// lists of the repository's examples, as an operator names the identities
// of their own Ferry: approvals are matched on the caller's subject, and
// a bare name is the static admin's (model.ApproverSubject). Like the
// Prometheus address, it is a value of the test's own environment; the
// lists keep their shape.
func nameApprovers(t *testing.T, e *examplesEnv, repo string) {
	t.Helper()
	e.approvers, e.subjects = map[string]ferryv1connect.UserServiceClient{}, map[string]string{}
	var subjects []string
	for _, who := range []string{"alice", "bob", "carol", "release-manager"} {
		res, err := e.cp.User().CreateAPIKey(e.ctx, connect.NewRequest(&ferryv1.CreateAPIKeyRequest{Name: who, Role: ferryv1.Role_ROLE_EDITOR}))
		if err != nil {
			t.Fatal(err)
		}
		e.approvers[who], e.subjects[who] = e.cp.UserWithKey(res.Msg.Key), "apikey:"+res.Msg.ApiKey.Id
		subjects = append(subjects, who, "apikey:"+res.Msg.ApiKey.Id)
	}
	r := strings.NewReplacer(subjects...)
	for _, file := range []string{"wait-approval/app.pipecd.yaml", "bluegreen/app.pipecd.yaml"} {
		b, err := os.ReadFile(filepath.Join(repo, file))
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, line := range strings.Split(string(b), "\n") {
			if strings.Contains(line, "approvers:") {
				line = r.Replace(line)
			}
			out = append(out, line)
		}
		if err := os.WriteFile(filepath.Join(repo, file), []byte(strings.Join(out, "\n")), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// startExamplesAgent starts a control plane and an agent on the local
// cluster for the examples in repo, with what they need beyond their own
// files given as a user gives it, in the agent config: the analysis
// provider prometheus-dev (prom), the chart repository ferrycd, the Git
// mirror of https://github.com/ferrycd/ (urlRewrites) and the key pair of
// the sealed secrets.
func startExamplesAgent(t *testing.T, kube *testenv.KubeEnv, repo string, prom *testenv.PrometheusEnv, remotes exampleRemotes) *servertest.ControlPlane {
	t.Helper()
	cp := servertest.Start(t)
	cfg := agentConfig(t, cp, repo)
	cfg.Spec.AnalysisProviders = []config.AnalysisProvider{{Name: "prometheus-dev", Type: "PROMETHEUS", Config: map[string]any{"address": prom.URL}}}
	cfg.Spec.ChartRepositories = []config.ChartRepository{{Type: "HTTP", Name: "ferrycd", Address: remotes.ChartRepo}}
	cfg.Spec.Git.URLRewrites = []config.URLRewrite{{From: "https://github.com/ferrycd/", To: "file://" + remotes.GitRoot + "/"}}
	keys, err := filepath.Abs(filepath.Join("testdata", "agent"))
	if err != nil {
		t.Fatal(err)
	}
	cfg.Spec.SecretManagement = &config.SecretManagement{Type: config.SecretManagementKeyPair, Config: config.SecretKeyPair{
		PrivateKeyFile: filepath.Join(keys, "secret-management-key.pem"),
		PublicKeyFile:  filepath.Join(keys, "secret-management-key.pub.pem"),
	}}
	prov := kubeProviderFor(t, kube, cfg)
	startAgent(t, cfg, agent.Options{Providers: []platform.Provider{prov}})
	return cp
}

// TestEveryExampleDeploysAndRunsItsPipeline deploys every PipeCD-style
// example of testdata/examples with one real agent on the local cluster,
// the Istio and SMI CRDs installed: the first commit deploys them all by
// quick sync, and each is checked in the cluster; the second moves them
// to the greeter v2 (one only changes its ConfigMap), and each with a
// pipeline runs it to SUCCESS, approvals sent by people through the API,
// analyses against a real Prometheus, HTTP checks against the test's
// server, while the others quick-sync. Then only the primary variants are
// left, at the new version, with all traffic on them.
func TestEveryExampleDeploysAndRunsItsPipeline(t *testing.T) {
	kube := testenv.Kube(t)
	installCRDs(t, kube, meshCRDs...)
	target := testenv.NewMetricsTarget(t)
	prom := testenv.Prometheus(t, target.Addr)
	remotes := serveExampleRemotes(t)
	repo := t.TempDir()
	git(t, repo, "init", "-q", "-b", "main")
	copyExamples(t, repo, kube.Namespace, []string{metricsTargetHost, target.URL})
	env := &examplesEnv{kube: kube, cp: startExamplesAgent(t, kube, repo, prom, remotes), ctx: context.Background()}
	apps := exampleApps(t)
	if len(apps) != 22 {
		t.Fatalf("%d examples %v, want the 22 of testdata/examples/README.md", len(apps), apps)
	}
	checked := slices.Concat(slices.Collect(maps.Keys(exampleWarnings)), slices.Collect(maps.Keys(firstDeployChecks)),
		slices.Collect(maps.Keys(upgradeImages)), quickSyncExamples)
	for _, app := range checked {
		if !slices.Contains(apps, app) {
			t.Errorf("a check for %s, which is not an example", app)
		}
	}

	t.Run("first deploy", func(t *testing.T) {
		for _, app := range apps {
			t.Run(app, func(t *testing.T) {
				d := waitNewest(t, env.cp, app, 1)
				checkWarnings(t, env, app)
				if d.Status != ferryv1.DeploymentStatus_DEPLOYMENT_STATUS_SUCCESS {
					t.Fatalf("first deployment = %v %q; stages %s", d.Status, d.StatusReason, stagesOf(d))
				}
				if d.Trigger.Strategy != ferryv1.SyncStrategy_SYNC_STRATEGY_QUICK_SYNC {
					t.Errorf("first deployment = %v (%s), want a quick sync", d.Trigger.Strategy, d.Trigger.StrategySummary)
				}
				if check := firstDeployChecks[app]; check != nil {
					check(t, env)
				}
			})
		}
	})
	prom.WaitForSamples(t, strings.ReplaceAll(testenv.ErrorRatioQuery, "{{ .Variant.Name }}", "canary"), 5, 60*time.Second)

	nameApprovers(t, env, repo)
	bumpExamples(t, repo)
	for _, app := range apps {
		if _, err := env.cp.User().SyncApplication(env.ctx, connect.NewRequest(&ferryv1.SyncApplicationRequest{Application: app})); err != nil {
			t.Fatal(err)
		}
	}
	during := watchPipelines(t, env)
	t.Run("upgrade", func(t *testing.T) {
		for _, app := range apps {
			t.Run(app, func(t *testing.T) {
				d := waitNewest(t, env.cp, app, 2)
				if app == "analysis-by-log" {
					checkLogAnalysisRefused(t, env, d)
					return
				}
				checkUpgrade(t, env, app, d, during)
			})
		}
	})
}
