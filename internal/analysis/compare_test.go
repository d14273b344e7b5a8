package analysis

import (
	"errors"
	"math"
	"testing"
	"time"

	"github.com/ferrycd/ferry/internal/config"
)

// The expected p-values are R's wilcox.test (exact, no continuity
// correction needed): the first is R's own documented example
// (?wilcox.test, the depression data: W = 35, p = 0.2544 two-sided,
// 0.1272 with alternative "greater").
func TestCompareMatchesKnownMannWhitneyPValues(t *testing.T) {
	x := []float64{0.80, 0.83, 1.89, 1.04, 1.45, 1.38, 1.91, 1.64, 0.73, 1.46}
	y := []float64{1.15, 0.88, 0.90, 0.74, 1.21}
	lo := []float64{1, 2, 3, 4, 5}
	hi := []float64{6, 7, 8, 9, 10}
	for _, tc := range []struct {
		name       string
		exp, ctl   []float64
		deviation  string
		wantP      float64
		wantSignif bool
	}{
		{"R's example, two-sided", x, y, config.AnalysisDeviationEither, 0.2544, false},
		{"R's example, greater", x, y, config.AnalysisDeviationHigh, 0.1272, false},
		{"fully separated, two-sided: 2/C(10,5)", hi, lo, config.AnalysisDeviationEither, 2.0 / 252, true},
		{"fully separated, higher and HIGH looked for", hi, lo, config.AnalysisDeviationHigh, 1.0 / 252, true},
		{"fully separated, higher but LOW looked for", hi, lo, config.AnalysisDeviationLow, 1, false},
		{"fully separated, lower and LOW looked for", lo, hi, config.AnalysisDeviationLow, 1.0 / 252, true},
		{"three a side can never be significant: 2/C(6,3)", []float64{4, 5, 6}, []float64{1, 2, 3}, config.AnalysisDeviationEither, 0.1, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := compare(tc.exp, tc.ctl, tc.deviation)
			if err != nil {
				t.Fatal(err)
			}
			if math.Abs(c.p-tc.wantP) > 5e-5 || c.significant != tc.wantSignif {
				t.Errorf("p = %.5f, significant = %v; want %.5f, %v", c.p, c.significant, tc.wantP, tc.wantSignif)
			}
		})
	}
}

func TestCompareCallsIdenticalSamplesEqualAndEmptyOnesNoData(t *testing.T) {
	c, err := compare([]float64{0.05, 0.05, 0.05}, []float64{0.05, 0.05}, config.AnalysisDeviationEither)
	if err != nil || !c.equal || c.significant {
		t.Errorf("identical samples: %+v, %v; want equal, not significant", c, err)
	}
	if _, err := compare(nil, []float64{1}, config.AnalysisDeviationEither); !errors.Is(err, errNoData) {
		t.Errorf("an empty sample: err = %v, want errNoData", err)
	}
}

func TestCompareDescribesTheDirectionOfADifference(t *testing.T) {
	m := &metricCheck{deviation: config.AnalysisDeviationHigh}
	v, err := m.compare([]float64{0.5, 0.5, 0.51, 0.49, 0.5}, []float64{0, 0, 0.01, 0, 0}, "canary", "baseline")
	if err != nil || v.pass {
		t.Fatalf("verdict %+v, %v; want a failure", v, err)
	}
	want := "canary median 0.5 (5 points) vs baseline median 0 (5 points): significantly higher (p=0.00397 ≤ 0.05)" // 1/C(10,5): one arrangement of ten is this far apart
	if v.detail != want {
		t.Errorf("detail = %q\nwant %q", v.detail, want)
	}
}

func TestRangeStepGivesAboutTenPointsBetweenASecondAndAMinute(t *testing.T) {
	for window, want := range map[time.Duration]time.Duration{
		500 * time.Millisecond: 500 * time.Millisecond,
		4 * time.Second:        time.Second,
		time.Minute:            6 * time.Second,
		10 * time.Minute:       time.Minute,
		time.Hour:              time.Minute,
	} {
		if got := rangeStep(window); got != want {
			t.Errorf("rangeStep(%s) = %s, want %s", window, got, want)
		}
	}
}
