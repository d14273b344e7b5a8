package analysis

import (
	"strings"
	"testing"
	"time"

	"github.com/ferrycd/ferry/internal/config"
	"github.com/ferrycd/ferry/internal/testenv"
)

// TestComparativeStrategiesAgainstPrometheus runs CANARY_BASELINE and
// CANARY_PRIMARY against a real Prometheus scraping a target where the
// primary, baseline and canary fail 5% of their requests, "bad" half of
// them and "better" none.
func TestComparativeStrategiesAgainstPrometheus(t *testing.T) {
	t.Parallel()
	target := testenv.NewMetricsTarget(t, "primary", "baseline", "canary", "bad", "better")
	for _, v := range []string{"primary", "baseline", "canary"} {
		target.SetErrorRate(v, 0.05)
	}
	target.SetErrorRate("bad", 0.5)
	prom := testenv.Prometheus(t, target.Addr)
	for _, v := range []string{"primary", "baseline", "canary", "bad", "better"} {
		prom.WaitForSamples(t, errorRatio(v), 2, 30*time.Second)
	}
	opts := Options{Providers: []config.AnalysisProvider{prometheusProvider("prom", prom.URL)}}

	// byArg is the error ratio of the variant the metric's variant args
	// name, so one canary can stand for a bad one.
	byArg := strings.ReplaceAll(testenv.ErrorRatioQuery, "{{ .Variant.Name }}", "{{ .VariantCustomArgs.v }}")
	// A 5s interval is a 5s window at a 1s step: six points a side, two
	// more than the least with which a difference can be significant.
	metric := func(strategy, query, extra string) string {
		return "duration: 5s\nmetrics:\n  - provider: prom\n    interval: 5s\n    strategy: " + strategy +
			"\n    query: " + quoteYAML(query) + "\n" + extra
	}

	for _, tc := range []struct {
		name, with string
		// wantErr is what the stage's error holds; nil when it passes.
		wantErr []string
		// wantLog is what a passing evaluation's log line holds.
		wantLog []string
	}{
		{
			name:    "CANARY_BASELINE passes a canary like the baseline",
			with:    metric("CANARY_BASELINE", testenv.ErrorRatioQuery, ""),
			wantLog: []string{"INFO metrics[0]: canary median 0.05 (", "vs baseline median 0.05 (", "all values equal"},
		},
		{
			name:    "CANARY_BASELINE fails a canary with more errors than the baseline",
			with:    metric("CANARY_BASELINE", byArg, "    canaryArgs: {v: bad}\n    baselineArgs: {v: baseline}\n"),
			wantErr: []string{"metrics[0] failed once, more than its failureLimit 0; last: canary median 0.5 (", "vs baseline median 0.05 (", "significantly higher"},
		},
		{
			name:    "CANARY_PRIMARY passes a canary like the primary",
			with:    metric("CANARY_PRIMARY", testenv.ErrorRatioQuery, ""),
			wantLog: []string{"INFO metrics[0]: canary median 0.05 (", "vs primary median 0.05 (", "all values equal"},
		},
		{
			name:    "CANARY_PRIMARY with deviation HIGH fails a canary with more errors",
			with:    metric("CANARY_PRIMARY", byArg, "    deviation: HIGH\n    canaryArgs: {v: bad}\n    primaryArgs: {v: primary}\n"),
			wantErr: []string{"canary median 0.5 (", "vs primary median 0.05 (", "significantly higher"},
		},
		{
			name:    "deviation HIGH passes a canary with fewer errors",
			with:    metric("CANARY_PRIMARY", byArg, "    deviation: HIGH\n    canaryArgs: {v: better}\n    primaryArgs: {v: primary}\n"),
			wantLog: []string{"canary median 0 (", "no significant increase"},
		},
		{
			name:    "deviation LOW fails a canary with fewer errors",
			with:    metric("CANARY_PRIMARY", byArg, "    deviation: LOW\n    canaryArgs: {v: better}\n    primaryArgs: {v: primary}\n"),
			wantErr: []string{"canary median 0 (", "vs primary median 0.05 (", "significantly lower"},
		},
		{
			name:    "deviation EITHER fails a canary with fewer errors",
			with:    metric("CANARY_BASELINE", byArg, "    canaryArgs: {v: better}\n    baselineArgs: {v: baseline}\n"),
			wantErr: []string{"vs baseline median 0.05 (", "significantly lower"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := newRun(t, tc.with, t.TempDir())
			_, err := r.execute(t, opts)
			if tc.wantErr != nil {
				wantErr(t, err, tc.wantErr...)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if r.log.matching(append(tc.wantLog, ": pass")...) == nil {
				t.Errorf("no passing line with %q:\n%s", tc.wantLog, r.log.text())
			}
		})
	}
}
