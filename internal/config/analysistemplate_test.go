package config

import (
	"strings"
	"testing"
	"time"
)

func TestLoadAnalysisTemplatesReadsAPipeCDTemplateAndSkipsOtherKinds(t *testing.T) {
	tpl, err := LoadAnalysisTemplates("testdata/analysistemplate/repo")
	if err != nil {
		t.Fatal(err)
	}
	if len(tpl.Metrics) != 3 || len(tpl.HTTPS) != 1 {
		t.Fatalf("loaded %d metrics and %d checks, want 3 and 1: %+v", len(tpl.Metrics), len(tpl.HTTPS), tpl)
	}
	m := tpl.Metrics["container_cpu_usage_seconds_total"]
	if m.Provider != "prometheus-dev" || m.FailureLimit != 2 || m.Interval.Std() != 10*time.Second || *m.Expected.Max != 0.0001 ||
		!strings.Contains(m.Query, `namespace="{{ .K8s.Namespace }}"`) {
		t.Errorf("container_cpu_usage_seconds_total = %+v", m)
	}
	if l := tpl.Metrics["latency_vs_baseline"]; l.Strategy != AnalysisStrategyCanaryBaseline || l.Deviation != AnalysisDeviationHigh {
		t.Errorf("latency_vs_baseline = %+v", l)
	}
	h := tpl.HTTPS["health"]
	if h.ExpectedCode != 200 || h.ExpectedResponse != "ok" || h.HeaderPairs()[0] != [2]string{"Accept", "text/plain"} {
		t.Errorf("health = %+v", h)
	}
	if f := tpl.Files["metrics.http_error_rate"]; f != ".pipe/analysis-template.yaml" {
		t.Errorf("http_error_rate comes from %q", f)
	}
}

func TestLoadAnalysisTemplatesWithoutAPipeFolderIsEmpty(t *testing.T) {
	tpl, err := LoadAnalysisTemplates(t.TempDir())
	if err != nil || tpl == nil || len(tpl.Metrics)+len(tpl.HTTPS) != 0 {
		t.Fatalf("LoadAnalysisTemplates(empty repo) = %+v, %v; want empty templates", tpl, err)
	}
}

func TestLoadAnalysisTemplatesRefusesANameDefinedTwice(t *testing.T) {
	_, err := LoadAnalysisTemplates("testdata/analysistemplate/duplicate")
	want := `.pipe/b.yaml:6:13: spec.metrics.errors: metric template "errors" is also defined in .pipe/a.yaml`
	if err == nil || err.Error() != want {
		t.Fatalf("err = %v, want %s", err, want)
	}
}

func TestParseAnalysisTemplateRefusesBadTemplatesWithFileLineAndField(t *testing.T) {
	const head = "apiVersion: pipecd.dev/v1beta1\nkind: AnalysisTemplate\nspec:\n"
	for _, tc := range []struct{ name, body, want string }{
		{"a missing query", head + "  metrics:\n    m:\n      provider: p\n      interval: 1m\n      expected: {max: 1}\n",
			"t.yaml:6:15: spec.metrics.m.query: is required"},
		{"an unknown strategy", head + "  metrics:\n    m: {provider: p, query: up, interval: 1m, strategy: MEDIAN}\n",
			`t.yaml:5:57: spec.metrics.m.strategy: unknown strategy "MEDIAN": use THRESHOLD, PREVIOUS, CANARY_BASELINE, CANARY_PRIMARY`},
		{"an unknown deviation", head + "  metrics:\n    m: {provider: p, query: up, interval: 1m, strategy: PREVIOUS, deviation: UP}\n",
			`spec.metrics.m.deviation: unknown deviation "UP"`},
		{"a threshold without bounds", head + "  metrics:\n    m: {provider: p, query: up, interval: 1m}\n",
			"t.yaml:5:8: spec.metrics.m.expected: is required by the THRESHOLD strategy"},
		{"min above max", head + "  metrics:\n    m: {provider: p, query: up, interval: 1m, expected: {min: 2, max: 1}}\n",
			"spec.metrics.m.expected: min 2 is more than max 1"},
		{"a missing interval", head + "  metrics:\n    m: {provider: p, query: up, expected: {max: 1}}\n",
			"spec.metrics.m.interval: is required"},
		{"a bad interval", head + "  metrics:\n    m: {provider: p, query: up, interval: often}\n",
			`t.yaml:5:43: spec.metrics.m.interval: invalid duration "often"`},
		{"an unknown field", head + "  metrics:\n    m: {provider: p, query: up, interval: 1m, expected: {max: 1}, treshold: 3}\n",
			`t.yaml:5:67: spec.metrics.m.treshold: unknown field "treshold"`},
		{"a nested template", head + "  metrics:\n    m: {template: {name: other}}\n",
			"spec.metrics.m.template: a template cannot use another template"},
		{"a check without url", head + "  https:\n    h: {interval: 1m}\n", "spec.https.h.url: is required"},
		{"a bad method", head + "  https:\n    h: {url: http://x, method: FETCH, interval: 1m}\n", `spec.https.h.method: "FETCH" is not an HTTP method`},
		{"a bad status code", head + "  https:\n    h: {url: http://x, expectedCode: 42, interval: 1m}\n", "spec.https.h.expectedCode: 42 is not an HTTP status code"},
		{"a header without key", head + "  https:\n    h: {url: http://x, interval: 1m, headers: [{value: v}]}\n", "t.yaml:5:48: spec.https.h.headers[0].key: is required"},
		{"a header as a map", head + "  https:\n    h: {url: http://x, interval: 1m, headers: [{Accept: v}]}\n", `spec.https.h.headers[0]: unknown field "Accept"`},
		{"another kind", "apiVersion: pipecd.dev/v1beta1\nkind: KubernetesApp\nspec: {}\n", `t.yaml:2:7: kind: must be AnalysisTemplate, not "KubernetesApp"`},
		{"a wrong apiVersion", "apiVersion: v1\nkind: AnalysisTemplate\nspec: {}\n", "apiVersion: must be ferry.dev/v1 or pipecd.dev/v1beta1"},
		{"broken YAML", head + "  metrics: [x\n", "t.yaml:"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseAnalysisTemplate("t.yaml", []byte(tc.body))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

func TestAnalysisMetricsCheckAcceptsComparativeStrategiesWithoutExpected(t *testing.T) {
	for _, s := range []string{AnalysisStrategyPrevious, AnalysisStrategyCanaryBaseline, AnalysisStrategyCanaryPrimary} {
		m := AnalysisMetrics{Provider: "p", Query: "up", Interval: Duration(time.Minute), Strategy: s}
		if e := m.Check(); e != nil {
			t.Errorf("%s: %v", s, e)
		}
	}
}
