package testenv

import (
	"context"
	"errors"
	"math"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/model"
)

func TestFindPrometheusSaysHowToInstallIt(t *testing.T) {
	t.Setenv(PrometheusBinEnv, filepath.Join(t.TempDir(), "prometheus"))
	_, err := FindPrometheus()
	if !errors.Is(err, ErrNoPrometheus) || !strings.Contains(err.Error(), "bash hack/prometheus/install.sh") {
		t.Fatalf("FindPrometheus(missing file) = %v, want ErrNoPrometheus naming hack/prometheus/install.sh", err)
	}
}

// TestPrometheusScrapesTheMetricsTarget checks the two halves together: the
// server scrapes the target, a target added later included, and the error
// ratio it computes is the one the test set.
func TestPrometheusScrapesTheMetricsTarget(t *testing.T) {
	target := NewMetricsTarget(t)
	target.SetErrorRate("canary", 0.25)
	prom := Prometheus(t, target.Addr)

	late := NewMetricsTarget(t, "late")
	late.SetErrorRate("late", 1)
	prom.AddTargets(t, late.URL+"/metrics")

	canary := strings.ReplaceAll(ErrorRatioQuery, "{{ .Variant.Name }}", "canary")
	prom.WaitForSamples(t, canary, 3, 30*time.Second)
	lateQuery := strings.ReplaceAll(ErrorRatioQuery, "{{ .Variant.Name }}", "late")
	prom.WaitForSamples(t, lateQuery, 3, 30*time.Second)

	for query, want := range map[string]float64{
		canary:    0.25,
		lateQuery: 1,
		strings.ReplaceAll(ErrorRatioQuery, "{{ .Variant.Name }}", "baseline"): 0,
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		v, _, _, err := prom.API.Query(ctx, query, time.Now())
		cancel()
		if err != nil {
			t.Fatalf("query %s: %v", query, err)
		}
		vec, ok := v.(model.Vector)
		if !ok || len(vec) != 1 {
			t.Fatalf("query %s = %v, want one sample", query, v)
		}
		if got := float64(vec[0].Value); math.Abs(got-want) > 1e-9 {
			t.Errorf("query %s = %v, want %v", query, got, want)
		}
	}
}

func TestMetricsTargetRejectsAnUnknownVariant(t *testing.T) {
	target := NewMetricsTarget(t, "a")
	defer func() {
		if recover() == nil {
			t.Error("SetErrorRate on an unknown variant did not panic")
		}
	}()
	target.SetErrorRate("b", 0.1)
}
