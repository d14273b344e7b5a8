package analysis

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/ferrycd/ferry/internal/config"
	"github.com/ferrycd/ferry/internal/platform"
)

// errNoPrevious ends a PREVIOUS metric that has nothing to compare with:
// it passes, as on a first deployment.
var errNoPrevious = errors.New("no earlier successful analysis of this application to compare with")

// metricCheck is one metric, ready to evaluate: its queries rendered for
// the variants its strategy compares (one for THRESHOLD and PREVIOUS, the
// primary; two for the others, the canary first).
type metricCheck struct {
	provider            string
	src                 source
	strategy, deviation string
	expected            config.AnalysisExpected
	interval, timeout   time.Duration
	variants            []variant
	queries             []string
	previous            *previousLookup
}

// evaluate runs the metric's queries once and judges them by its
// strategy. start is when the analysis began, for PREVIOUS.
func (m *metricCheck) evaluate(ctx context.Context, start time.Time) (verdict, error) {
	now := time.Now()
	switch m.strategy {
	case config.AnalysisStrategyThreshold:
		vals, err := m.query(ctx, func(ctx context.Context) ([]float64, error) {
			return m.src.Current(ctx, m.queries[0], now, m.interval)
		})
		if err != nil {
			return verdict{}, err
		}
		return m.threshold(vals), nil
	case config.AnalysisStrategyPrevious:
		pstart, pend, ok, err := m.previous.get(ctx)
		if err != nil {
			return verdict{}, fmt.Errorf("find the previous analysis: %w", err)
		}
		if !ok {
			return verdict{}, errNoPrevious
		}
		// The same point of the previous analysis as this one has reached,
		// but not past its end.
		prevTo := pstart.Add(now.Sub(start))
		if prevTo.After(pend) {
			prevTo = pend
		}
		cur, err := m.series(ctx, m.queries[0], now.Add(-m.interval), now, "now")
		if err != nil {
			return verdict{}, err
		}
		prev, err := m.series(ctx, m.queries[0], prevTo.Add(-m.interval), prevTo, "in the previous analysis")
		if err != nil {
			return verdict{}, err
		}
		return m.compare(cur, prev, "primary now", fmt.Sprintf("primary at %s", prevTo.Format(time.RFC3339)))
	default: // CANARY_BASELINE, CANARY_PRIMARY
		from := now.Add(-m.interval)
		exp, err := m.series(ctx, m.queries[0], from, now, m.variants[0].role)
		if err != nil {
			return verdict{}, err
		}
		ctl, err := m.series(ctx, m.queries[1], from, now, m.variants[1].role)
		if err != nil {
			return verdict{}, err
		}
		return m.compare(exp, ctl, m.variants[0].role, m.variants[1].role)
	}
}

// query runs one query under the metric's timeout.
func (m *metricCheck) query(ctx context.Context, run func(context.Context) ([]float64, error)) ([]float64, error) {
	qctx, cancel := context.WithTimeout(ctx, m.timeout)
	defer cancel()
	vals, err := run(qctx)
	if err != nil {
		return nil, queryError(qctx, m.timeout, err)
	}
	return vals, nil
}

// series returns a query's values over [from, to]; what names the series
// in errors.
func (m *metricCheck) series(ctx context.Context, query string, from, to time.Time, what string) ([]float64, error) {
	vals, err := m.query(ctx, func(ctx context.Context) ([]float64, error) {
		return m.src.Series(ctx, query, from, to)
	})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return vals, nil
}

// threshold judges values against expected: all must be within.
func (m *metricCheck) threshold(vals []float64) verdict {
	var out []string
	for _, v := range vals {
		switch {
		case m.expected.Min != nil && v < *m.expected.Min:
			out = append(out, fmt.Sprintf("%s is below min %s", num(v), num(*m.expected.Min)))
		case m.expected.Max != nil && v > *m.expected.Max:
			out = append(out, fmt.Sprintf("%s is above max %s", num(v), num(*m.expected.Max)))
		}
	}
	if len(out) > 0 {
		d := out[0]
		if len(vals) > 1 {
			d = fmt.Sprintf("%d of %d values out of range: %s", len(out), len(vals), strings.Join(out, ", "))
		}
		return verdict{detail: d}
	}
	if len(vals) == 1 {
		return verdict{pass: true, detail: fmt.Sprintf("%s is within %s", num(vals[0]), m.bounds())}
	}
	return verdict{pass: true, detail: fmt.Sprintf("%d values from %s to %s are within %s",
		len(vals), num(slices.Min(vals)), num(slices.Max(vals)), m.bounds())}
}

// bounds writes expected as "[min 0, max 0.1]".
func (m *metricCheck) bounds() string {
	var b []string
	if m.expected.Min != nil {
		b = append(b, "min "+num(*m.expected.Min))
	}
	if m.expected.Max != nil {
		b = append(b, "max "+num(*m.expected.Max))
	}
	return "[" + strings.Join(b, ", ") + "]"
}

// compare judges an experiment series against a control series with the
// Mann-Whitney U test in the metric's deviation.
func (m *metricCheck) compare(exp, ctl []float64, expName, ctlName string) (verdict, error) {
	c, err := compare(exp, ctl, m.deviation)
	if err != nil {
		return verdict{}, err
	}
	d := fmt.Sprintf("%s median %s (%d points) vs %s median %s (%d points): ",
		expName, num(c.median1), c.n1, ctlName, num(c.median2), c.n2)
	switch {
	case c.equal:
		d += "all values equal"
	case c.significant:
		d += fmt.Sprintf("significantly %s (p=%.3g ≤ %g)", c.direction(), c.p, alpha)
	default:
		d += fmt.Sprintf("no significant %s (p=%.3g > %g)", deviationWords[m.deviation], c.p, alpha)
	}
	if !c.significant && min(c.n1, c.n2) < minPointsForSignificance {
		d += fmt.Sprintf("; fewer than %d points a side can never differ significantly: lengthen the interval", minPointsForSignificance)
	}
	return verdict{pass: !c.significant, detail: d}, nil
}

// deviationWords says what a deviation looks for.
var deviationWords = map[string]string{
	config.AnalysisDeviationEither: "difference",
	config.AnalysisDeviationHigh:   "increase",
	config.AnalysisDeviationLow:    "decrease",
}

// describeQueries writes the rendered queries for the opening log line.
func (m *metricCheck) describeQueries() string {
	if len(m.queries) == 1 {
		return oneLine(m.queries[0])
	}
	var parts []string
	for i, q := range m.queries {
		parts = append(parts, fmt.Sprintf("%s %s", m.variants[i].role, oneLine(q)))
	}
	return fmt.Sprintf("%s; deviation %s", strings.Join(parts, "; "), m.deviation)
}

// oneLine folds a multi-line query onto one line.
func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// num writes a value with up to 4 significant digits.
func num(v float64) string { return fmt.Sprintf("%.4g", v) }

// previousLookup asks the agent, once per stage run, for the window of the
// application's last successful analysis.
type previousLookup struct {
	fn PreviousFunc
	in platform.StageInput

	mu         sync.Mutex
	done       bool
	start, end time.Time
	ok         bool
}

// get returns the window; a failed lookup is tried again next time.
func (p *previousLookup) get(ctx context.Context) (start, end time.Time, ok bool, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.done && p.fn != nil {
		s, e, ok, err := p.fn(ctx, p.in.Deployment)
		if err != nil {
			return time.Time{}, time.Time{}, false, err
		}
		p.start, p.end, p.ok = s, e, ok
	}
	p.done = true
	return p.start, p.end, p.ok, nil
}
