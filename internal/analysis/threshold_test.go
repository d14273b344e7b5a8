package analysis

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ferrycd/ferry/internal/config"
	"github.com/ferrycd/ferry/internal/testenv"
)

// errorRatio is testenv.ErrorRatioQuery for one named variant of the
// metrics target.
func errorRatio(variant string) string {
	return strings.ReplaceAll(testenv.ErrorRatioQuery, "{{ .Variant.Name }}", variant)
}

// TestThresholdAgainstPrometheus runs THRESHOLD metrics against a real
// Prometheus scraping a target whose variants stand for applications:
// good (no errors), bad (half fail) and idle (no traffic, so no data).
func TestThresholdAgainstPrometheus(t *testing.T) {
	t.Parallel()
	target := testenv.NewMetricsTarget(t, "good", "bad", "idle")
	target.SetErrorRate("bad", 0.5)
	target.SetRequestRate("idle", 0)
	prom := testenv.Prometheus(t, target.Addr)
	prom.WaitForSamples(t, errorRatio("good"), 2, 30*time.Second)
	prom.WaitForSamples(t, errorRatio("bad"), 2, 30*time.Second)
	opts := Options{Providers: []config.AnalysisProvider{prometheusProvider("prom", prom.URL)}}

	metric := func(variant, extra string) string {
		return "metrics:\n  - provider: prom\n    interval: 1s\n    query: " + quoteYAML(errorRatio(variant)) + "\n" + extra
	}

	t.Run("passes when every value stays within expected", func(t *testing.T) {
		t.Parallel()
		r := newRun(t, "duration: 2s\n"+metric("good", "    expected: {max: 0.1}\n"), t.TempDir())
		took, err := r.execute(t, opts)
		if err != nil {
			t.Fatal(err)
		}
		if n := len(r.log.matching("INFO metrics[0]: 0 is within [max 0.1]: pass")); n != 2 {
			t.Errorf("%d passing evaluations logged, want 2 (at 1s and 2s):\n%s", n, r.log.text())
		}
		if len(r.log.matching("SUCCESS Analysis passed: 1 metric, over 2s")) != 1 {
			t.Errorf("no success line:\n%s", r.log.text())
		}
		if took < 2*time.Second {
			t.Errorf("the stage ended after %s, before its duration of 2s", took)
		}
	})

	t.Run("fails at the first value above max with failureLimit 0", func(t *testing.T) {
		t.Parallel()
		r := newRun(t, "duration: 30s\n"+metric("bad", "    expected: {max: 0.1}\n"), t.TempDir())
		_, err := r.execute(t, opts)
		wantErr(t, err, "metrics[0] failed once, more than its failureLimit 0; last: 0.5 is above max 0.1")
		if n := len(r.log.matching("metrics[0]: ", ": fail")) + len(r.log.matching("metrics[0]: ", ": pass")); n != 1 {
			t.Errorf("%d evaluations logged, want the stage to fail at its first:\n%s", n, r.log.text())
		}
		if r.log.matching("ERROR metrics[0]: 0.5 is above max 0.1: fail (1 of failureLimit 0)") == nil {
			t.Errorf("no failing evaluation logged:\n%s", r.log.text())
		}
	})

	t.Run("fails below min", func(t *testing.T) {
		t.Parallel()
		r := newRun(t, "duration: 30s\n"+metric("good", "    expected: {min: 0.2, max: 1}\n"), t.TempDir())
		_, err := r.execute(t, opts)
		wantErr(t, err, "metrics[0]", "0 is below min 0.2")
	})

	t.Run("fails only once failures exceed failureLimit", func(t *testing.T) {
		t.Parallel()
		r := newRun(t, "duration: 30s\n"+metric("bad", "    expected: {max: 0.1}\n    failureLimit: 2\n"), t.TempDir())
		_, err := r.execute(t, opts)
		wantErr(t, err, "metrics[0] failed 3 times, more than its failureLimit 2")
		if n := len(r.log.matching("ERROR metrics[0]: 0.5 is above max 0.1: fail")); n != 3 {
			t.Errorf("%d failures logged, want 3:\n%s", n, r.log.text())
		}
		if got := r.meta.Snapshot()[MetaFailuresPrefix+"metrics[0]"]; got != "2" {
			t.Errorf("recorded failure count %q, want 2 (the third failed the stage)", got)
		}
	})

	t.Run("passes with failures up to failureLimit", func(t *testing.T) {
		t.Parallel()
		r := newRun(t, "duration: 2s\n"+metric("bad", "    expected: {max: 0.1}\n    failureLimit: 2\n"), t.TempDir())
		if _, err := r.execute(t, opts); err != nil {
			t.Fatal(err)
		}
		if n := len(r.log.matching("ERROR metrics[0]: 0.5 is above max 0.1: fail")); n != 2 {
			t.Errorf("%d failures logged, want 2:\n%s", n, r.log.text())
		}
	})

	t.Run("skips evaluations without data with skipOnNoData", func(t *testing.T) {
		t.Parallel()
		r := newRun(t, "duration: 2s\n"+metric("idle", "    expected: {max: 0.1}\n    skipOnNoData: true\n"), t.TempDir())
		if _, err := r.execute(t, opts); err != nil {
			t.Fatal(err)
		}
		if n := len(r.log.matching("INFO metrics[0]: no data: the query returned no values: skipped (skipOnNoData)")); n != 2 {
			t.Errorf("%d skipped evaluations logged, want 2:\n%s", n, r.log.text())
		}
	})

	t.Run("counts no data as a failure without skipOnNoData", func(t *testing.T) {
		t.Parallel()
		r := newRun(t, "duration: 30s\n"+metric("idle", "    expected: {max: 0.1}\n"), t.TempDir())
		_, err := r.execute(t, opts)
		wantErr(t, err, "metrics[0] failed once", "no data: the query returned no values (skipOnNoData would skip it)")
	})

	t.Run("uses a template from .pipe with its appArgs", func(t *testing.T) {
		t.Parallel()
		repo := t.TempDir()
		writeFile(t, filepath.Join(repo, ".pipe", "analysis.yaml"), `apiVersion: pipecd.dev/v1beta1
kind: AnalysisTemplate
spec:
  metrics:
    error_rate:
      provider: prom
      interval: 1s
      expected: {max: 0.1}
      query: >-
        sum(rate(http_requests_total{variant="{{ .AppCustomArgs.variant }}",code="500"}[5s]))
        / sum(rate(http_requests_total{variant="{{ .AppCustomArgs.variant }}"}[5s]))
`)
		good := newRun(t, "duration: 1s\nmetrics:\n  - template: {name: error_rate, appArgs: {variant: good}}\n", repo)
		if _, err := good.execute(t, opts); err != nil {
			t.Fatal(err)
		}
		if good.log.matching(`INFO metrics[0] (template error_rate): THRESHOLD every 1s on prom: sum(rate(http_requests_total{variant="good",code="500"}[5s]))`) == nil {
			t.Errorf("the rendered query is not logged:\n%s", good.log.text())
		}
		bad := newRun(t, "duration: 30s\nmetrics:\n  - template: {name: error_rate, appArgs: {variant: bad}}\n", repo)
		_, err := bad.execute(t, opts)
		wantErr(t, err, "metrics[0] (template error_rate) failed once", "0.5 is above max 0.1")
	})
}

// writeFile writes a file, creating its folder.
func writeFile(t testing.TB, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}
