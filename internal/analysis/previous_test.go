package analysis

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	promv1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"

	ferryv1 "github.com/ferrycd/ferry/api/gen/ferry/v1"
	"github.com/ferrycd/ferry/internal/config"
	"github.com/ferrycd/ferry/internal/testenv"
)

// TestPreviousAgainstPrometheus runs PREVIOUS metrics against a real
// Prometheus: two applications' primaries ran at a 5% error rate during
// their previous analysis; then one keeps it and the other regresses to
// 30%.
func TestPreviousAgainstPrometheus(t *testing.T) {
	t.Parallel()
	target := testenv.NewMetricsTarget(t, "stable", "regressed")
	prom := testenv.Prometheus(t, target.Addr)
	target.SetErrorRate("stable", 0.05)
	target.SetErrorRate("regressed", 0.05)
	// The previous analysis: six seconds at 5% for both.
	prom.WaitForSamples(t, errorRatio("stable"), 7, 30*time.Second)
	prom.WaitForSamples(t, errorRatio("regressed"), 7, 30*time.Second)
	prevEnd := time.Now()
	prevStart := prevEnd.Add(-6 * time.Second)

	target.SetErrorRate("regressed", 0.3)
	// Until the window a 5s interval looks back on is all at the new rate.
	testenv.WaitFor(t, 30*time.Second, "the regressed error ratio is at 30% for 5s", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		now := time.Now()
		v, _, _, err := prom.API.QueryRange(ctx, errorRatio("regressed"), promv1.Range{Start: now.Add(-5 * time.Second), End: now, Step: time.Second})
		m, ok := v.(model.Matrix)
		if err != nil || !ok || len(m) != 1 || len(m[0].Values) < 6 {
			return false
		}
		for _, p := range m[0].Values {
			if p.Value < 0.25 {
				return false
			}
		}
		return true
	})

	var (
		mu    sync.Mutex
		asked []string
	)
	previous := func(_ context.Context, d *ferryv1.Deployment) (time.Time, time.Time, bool, error) {
		mu.Lock()
		asked = append(asked, d.GetApplicationId())
		mu.Unlock()
		return prevStart, prevEnd, true, nil
	}
	opts := Options{Providers: []config.AnalysisProvider{prometheusProvider("prom", prom.URL)}, Previous: previous}
	byArg := strings.ReplaceAll(testenv.ErrorRatioQuery, "{{ .Variant.Name }}", "{{ .VariantCustomArgs.v }}")
	with := func(variant string) string {
		return "duration: 5s\nmetrics:\n  - provider: prom\n    strategy: PREVIOUS\n    deviation: HIGH\n    interval: 5s\n" +
			"    primaryArgs: {v: " + variant + "}\n    query: " + quoteYAML(byArg) + "\n"
	}

	t.Run("passes a primary like the previous one", func(t *testing.T) {
		t.Parallel()
		r := newRun(t, with("stable"), t.TempDir())
		if _, err := r.execute(t, opts); err != nil {
			t.Fatal(err)
		}
		if r.log.matching("INFO metrics[0]: primary now median 0.05 (", "vs primary at ", "median 0.05 (", ": pass") == nil {
			t.Errorf("no passing comparison logged:\n%s", r.log.text())
		}
		mu.Lock()
		defer mu.Unlock()
		if len(asked) == 0 || asked[0] != "a1" {
			t.Errorf("Previous was asked for applications %v, want the deployment's, a1", asked)
		}
	})

	t.Run("fails a primary with more errors than the previous one", func(t *testing.T) {
		t.Parallel()
		r := newRun(t, with("regressed"), t.TempDir())
		_, err := r.execute(t, opts)
		wantErr(t, err, "metrics[0] failed once", "primary now median 0.3 (", "median 0.05 (", "significantly higher")
	})

	t.Run("passes when there is no previous analysis, as on a first deployment", func(t *testing.T) {
		t.Parallel()
		r := newRun(t, with("regressed"), t.TempDir())
		none := func(context.Context, *ferryv1.Deployment) (time.Time, time.Time, bool, error) {
			return time.Time{}, time.Time{}, false, nil
		}
		if _, err := r.execute(t, Options{Providers: opts.Providers, Previous: none}); err != nil {
			t.Fatal(err)
		}
		if r.log.matching("INFO metrics[0]: no earlier successful analysis of this application to compare with: it passes, as on a first deployment") == nil {
			t.Errorf("no first-deployment line:\n%s", r.log.text())
		}
	})
}
