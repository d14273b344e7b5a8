package analysis

import (
	"errors"
	"fmt"
	"slices"

	"github.com/aclements/go-moremath/stats"

	"github.com/ferrycd/ferry/internal/config"
)

// alpha is the significance level of the comparative strategies, PipeCD's:
// a difference whose p-value is at most alpha fails the metric.
const alpha = 0.05

// minPointsForSignificance is the fewest points a side with which the
// two-sided Mann-Whitney U test can reach p ≤ 0.05 (2/C(8,4) ≈ 0.029;
// three a side give at best 0.1).
const minPointsForSignificance = 4

// comparison is the outcome of a Mann-Whitney U test of an experiment
// (canary, or the primary now) against a control.
type comparison struct {
	n1, n2           int
	median1, median2 float64
	p                float64
	// equal is set when every value of both samples is the same, which
	// the test cannot rank: no difference.
	equal bool
	// significant is set when p ≤ alpha in the deviation tested.
	significant bool
}

// direction says which way the experiment differs from the control.
func (c comparison) direction() string {
	switch {
	case c.median1 > c.median2:
		return "higher"
	case c.median1 < c.median2:
		return "lower"
	}
	return "different"
}

// compare tests, with the Mann-Whitney U test, whether the experiment's
// values lie significantly higher (deviation HIGH), lower (LOW) or either
// (EITHER) than the control's. An empty sample is errNoData.
func compare(experiment, control []float64, deviation string) (comparison, error) {
	c := comparison{n1: len(experiment), n2: len(control)}
	switch {
	case len(experiment) == 0 && len(control) == 0:
		return c, fmt.Errorf("%w: neither series has values", errNoData)
	case len(experiment) == 0:
		return c, fmt.Errorf("%w: the first series has no values", errNoData)
	case len(control) == 0:
		return c, fmt.Errorf("%w: the second series has no values", errNoData)
	}
	c.median1, c.median2 = median(experiment), median(control)
	var alt stats.LocationHypothesis
	switch deviation {
	case config.AnalysisDeviationEither:
		alt = stats.LocationDiffers
	case config.AnalysisDeviationHigh:
		alt = stats.LocationGreater
	case config.AnalysisDeviationLow:
		alt = stats.LocationLess
	default:
		return c, fmt.Errorf("unknown deviation %q", deviation)
	}
	res, err := stats.MannWhitneyUTest(experiment, control, alt)
	if errors.Is(err, stats.ErrSamplesEqual) {
		c.equal, c.p = true, 1
		return c, nil
	}
	if err != nil {
		return c, fmt.Errorf("Mann-Whitney U test: %w", err)
	}
	c.p = res.P
	c.significant = res.P <= alpha
	return c, nil
}

// median returns the median of a non-empty sample.
func median(xs []float64) float64 {
	s := slices.Sorted(slices.Values(xs))
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}
