package analysis

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/ferrycd/ferry/internal/config"
)

func TestNewStageRefusesBadProvidersNamingThem(t *testing.T) {
	keyFile := filepath.Join(t.TempDir(), "key")
	writeFile(t, keyFile, "top-secret-key")
	emptyFile := filepath.Join(t.TempDir(), "empty")
	writeFile(t, emptyFile, "\n")
	prom := func(cfg map[string]any) config.AnalysisProvider {
		return config.AnalysisProvider{Name: "prom", Type: ProviderPrometheus, Config: cfg}
	}
	dd := func(cfg map[string]any) config.AnalysisProvider {
		return config.AnalysisProvider{Name: "dd", Type: ProviderDatadog, Config: cfg}
	}
	for _, tc := range []struct {
		name      string
		providers []config.AnalysisProvider
		want      string
	}{
		{"an unknown type", []config.AnalysisProvider{{Name: "cw", Type: "CLOUDWATCH"}},
			`analysisProviders[0] ("cw"): type: unknown analysis provider type "CLOUDWATCH": use PROMETHEUS or DATADOG`},
		{"a log provider", []config.AnalysisProvider{{Name: "sd", Type: "STACKDRIVER"}}, "STACKDRIVER is a log provider"},
		{"no name", []config.AnalysisProvider{{Type: ProviderPrometheus}}, `analysisProviders[0] (""): name: is required`},
		{"a name used twice", []config.AnalysisProvider{prom(map[string]any{"address": "http://a"}), prom(map[string]any{"address": "http://b"})},
			`analysisProviders[1] ("prom"): name: is used by an earlier provider`},
		{"no address", []config.AnalysisProvider{prom(nil)}, `analysisProviders[0] ("prom"): config.address: is required`},
		{"an address that is no URL", []config.AnalysisProvider{prom(map[string]any{"address": "prometheus:9090"})},
			`config.address: "prometheus:9090" is not an http or https URL`},
		{"credentials in the address", []config.AnalysisProvider{prom(map[string]any{"address": "http://u:pw@prometheus:9090"})},
			"config.address: put no credentials in the URL"},
		{"an unknown field", []config.AnalysisProvider{prom(map[string]any{"address": "http://p", "adress": "x"})},
			"config.adress: unknown field: use address, usernameFile, passwordFile"},
		{"a username without password", []config.AnalysisProvider{prom(map[string]any{"address": "http://p", "usernameFile": keyFile})},
			"config: usernameFile and passwordFile go together"},
		{"a missing password file", []config.AnalysisProvider{prom(map[string]any{"address": "http://p", "usernameFile": keyFile, "passwordFile": "/nonexistent/pw"})},
			"config.passwordFile: open /nonexistent/pw: no such file or directory"},
		{"a number for a string", []config.AnalysisProvider{prom(map[string]any{"address": 9090})}, "config.address: want a string, not int"},
		{"datadog without keys", []config.AnalysisProvider{dd(nil)}, `analysisProviders[0] ("dd"): config.apiKeyFile: is required`},
		{"datadog with an empty key file", []config.AnalysisProvider{dd(map[string]any{"apiKeyFile": emptyFile})}, "config.apiKeyFile: " + emptyFile + " is empty"},
		{"datadog with both file and data", []config.AnalysisProvider{dd(map[string]any{"apiKeyFile": keyFile, "apiKeyData": "eA=="})},
			"config.apiKeyFile: give the file or the data, not both"},
		{"datadog key data not base64", []config.AnalysisProvider{dd(map[string]any{"apiKeyFile": keyFile, "applicationKeyData": "top-secret-key!"})},
			"config.applicationKeyData: is not base64"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewStage(Options{Providers: tc.providers})
			wantErr(t, err, tc.want)
			if strings.Contains(err.Error(), "top-secret") {
				t.Errorf("the error shows a secret: %v", err)
			}
		})
	}
}

func TestExecuteRefusesBadOptionsNamingTheField(t *testing.T) {
	providers := []config.AnalysisProvider{
		prometheusProvider("prom", "http://127.0.0.1:1"),
		prometheusProvider("prom-2", "http://127.0.0.1:1"),
	}
	repo := t.TempDir()
	writeFile(t, filepath.Join(repo, ".pipe", "analysis.yaml"), `apiVersion: pipecd.dev/v1beta1
kind: AnalysisTemplate
spec:
  metrics:
    errors: {provider: prom, query: up, interval: 1m, expected: {max: 1}}
    elsewhere: {provider: prom-3, query: up, interval: 1m, expected: {max: 1}}
`)
	brokenRepo := t.TempDir()
	writeFile(t, filepath.Join(brokenRepo, ".pipe", "analysis.yaml"), "apiVersion: pipecd.dev/v1beta1\nkind: AnalysisTemplate\nspec:\n  metrics: {m: {provider: p}}\n")
	const m = "duration: 1m\nmetrics:\n  - "
	// want holds the parts of the error, separated by |.
	for _, tc := range []struct{ name, with, repo, want string }{
		{"an unknown provider", m + "{provider: thanos, query: up, interval: 1m, expected: {max: 1}}", repo,
			`invalid ANALYSIS options in app.pipecd.yaml: metrics[0].provider: unknown analysis provider "thanos": the agent has prom, prom-2`},
		{"an unknown strategy", m + "{provider: prom, query: up, interval: 1m, strategy: CANARY}", repo,
			`metrics[0].strategy: unknown strategy "CANARY": use THRESHOLD, PREVIOUS, CANARY_BASELINE, CANARY_PRIMARY`},
		{"an unknown deviation", m + "{provider: prom, query: up, interval: 1m, strategy: PREVIOUS, deviation: UP}", repo,
			`metrics[0].deviation: unknown deviation "UP"`},
		{"a missing query", m + "{provider: prom, interval: 1m, expected: {max: 1}}", repo, "metrics[0].query: is required"},
		{"a missing interval", m + "{provider: prom, query: up, expected: {max: 1}}", repo, "metrics[0].interval: is required"},
		{"a threshold without bounds", m + "{provider: prom, query: up, interval: 1m}", repo, "metrics[0].expected: is required by the THRESHOLD strategy"},
		{"a bad query template", m + "{provider: prom, query: 'up{app=\"{{ .App.Name }\"}', interval: 1m, expected: {max: 1}}", repo,
			`metrics[0].query: bad template: template: query:1: unexpected "}" in operand`},
		{"an unknown template field", m + "{provider: prom, query: 'up{app=\"{{ .Application.Name }}\"}', interval: 1m, expected: {max: 1}}", repo,
			"metrics[0].query: bad template:|can't evaluate field Application"},
		{"a missing app arg", m + "{provider: prom, query: 'up{team=\"{{ .AppCustomArgs.team }}\"}', interval: 1m, expected: {max: 1}}", repo,
			`metrics[0].query: bad template:|map has no entry for key "team"`},
		{"a missing variant arg", m + "{provider: prom, strategy: CANARY_BASELINE, query: 'up{v=\"{{ .VariantCustomArgs.v }}\"}', interval: 1m, canaryArgs: {v: c}}", repo,
			`metrics[0].query: bad template:|map has no entry for key "v"`},
		{"an unknown template", m + "{template: {name: latency}}", repo,
			`metrics[0].template.name: no metric template "latency" in .pipe/ (there are elsewhere, errors)`},
		{"a template without name", m + "{template: {appArgs: {a: b}}}", repo, "metrics[0].template.name: is required"},
		{"a template naming an unknown provider", m + "{template: {name: elsewhere}}", repo,
			`metrics[0].provider: unknown analysis provider "prom-3" (from template "elsewhere" in .pipe/analysis.yaml)`},
		{"a broken template file", m + "{template: {name: m}}", brokenRepo,
			"metrics[0].template: .pipe/analysis.yaml:4:|spec.metrics.m.query: is required"},
		{"a template in a repository without any", m + "{template: {name: errors}}", t.TempDir(),
			`metrics[0].template.name: no metric template "errors" in .pipe/ (there are none)`},
		{"an HTTP check without url", "duration: 1m\nhttps:\n  - {interval: 1m}", repo, "https[0].url: is required"},
		{"an HTTP check with a relative url", "duration: 1m\nhttps:\n  - {url: /healthz, interval: 1m}", repo, `https[0].url: "/healthz" is not an http or https URL`},
		{"logs", "duration: 1m\nlogs:\n  - {provider: sd, query: severity>=ERROR}", repo, "logs: Ferry runs no log analysis"},
		{"every error at once", m + "{provider: nope, query: up, interval: 1m, expected: {max: 1}}\n  - {provider: prom, query: up}", repo,
			`metrics[0].provider: unknown analysis provider "nope"|metrics[1].interval: is required`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRun(t, tc.with, tc.repo)
			_, err := r.execute(t, Options{Providers: providers})
			wantErr(t, err, strings.Split(tc.want, "|")...)
			if len(r.meta.Snapshot()) != 0 {
				t.Errorf("a refused analysis recorded metadata: %v", r.meta.Snapshot())
			}
		})
	}
}

func TestQueriesSeeTheApplicationItsVariantsAndTheirArgs(t *testing.T) {
	repo := t.TempDir()
	writeFile(t, filepath.Join(repo, ".pipe", "analysis.yaml"), `apiVersion: pipecd.dev/v1beta1
kind: AnalysisTemplate
spec:
  metrics:
    all_args:
      provider: prom
      strategy: CANARY_PRIMARY
      interval: 1m
      query: 'up{app="{{ .App.Name }}",ns="{{ .K8s.Namespace }}",v="{{ .Variant.Name }}",team="{{ .AppCustomArgs.team }}",x="{{ .VariantCustomArgs.x }}"}'
      canaryArgs: {x: c}
      primaryArgs: {x: p}
`)
	// The stage's entry adds to the template: a deviation and its own
	// primary args.
	r := newRun(t, "duration: 10ms\nmetrics:\n  - {template: {name: all_args, appArgs: {team: pay}}, deviation: HIGH, primaryArgs: {x: q}}\n", repo)
	r.in.App.Kubernetes.VariantLabel.CanaryValue = "green"
	if _, err := r.execute(t, Options{Providers: []config.AnalysisProvider{prometheusProvider("prom", "http://127.0.0.1:1")}}); err != nil {
		t.Fatal(err)
	}
	want := `INFO metrics[0] (template all_args): CANARY_PRIMARY every 1m0s on prom: ` +
		`canary up{app="checkout",ns="shop",v="green",team="pay",x="c"}; ` +
		`primary up{app="checkout",ns="shop",v="primary",team="pay",x="q"}; deviation HIGH`
	if r.log.matching(want) == nil {
		t.Errorf("no line %s:\n%s", want, r.log.text())
	}
}
