// Package analysis runs the ANALYSIS stage: for the stage's duration it
// queries metrics providers (Prometheus, Datadog) and sends HTTP checks,
// each at its own interval and all at once, and fails the stage as soon as
// one of them has failed more often than its failureLimit.
//
// A metric is judged by its strategy:
//
//   - THRESHOLD (the default) checks the query's current values against
//     expected{min, max};
//   - CANARY_BASELINE and CANARY_PRIMARY run the query for two variants
//     over the last interval and compare the two series with a
//     Mann-Whitney U test, failing on a significant difference (at 5%) in
//     the direction deviation names (LOW, HIGH or EITHER, the default);
//   - PREVIOUS compares, the same way, the primary now with the primary at
//     the same point of the application's last successful analysis.
//
// Queries are Go templates over QueryArgs. Metrics and checks may come from
// the repository's AnalysisTemplate files (config.LoadAnalysisTemplates).
//
// The stage keeps its start time in its metadata (MetaStartedAt), so an
// agent restarted mid-analysis carries on with the same schedule and ends
// at the original deadline, and each metric's failure count
// (MetaFailuresPrefix), so failures before the restart still count.
package analysis

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	ferryv1 "github.com/ferrycd/ferry/api/gen/ferry/v1"
	"github.com/ferrycd/ferry/internal/config"
	"github.com/ferrycd/ferry/internal/platform"
)

// StageName is the name of the stage this package runs.
const StageName = "ANALYSIS"

// Stage metadata keys.
const (
	// MetaStartedAt is when the analysis began (RFC 3339, UTC): its
	// evaluations fall at MetaStartedAt + k×interval and it ends at
	// MetaStartedAt + duration, across agent restarts.
	MetaStartedAt = "AnalysisStartedAt"
	// MetaEndedAt is when the analysis ended successfully (RFC 3339, UTC).
	// With MetaStartedAt it is the window a later PREVIOUS analysis of the
	// same application compares with (see PreviousWindow).
	MetaEndedAt = "AnalysisEndedAt"
	// MetaFailuresPrefix, followed by a metric's or check's id
	// ("metrics[0]", "https[1]"), holds how many times it has failed so far.
	MetaFailuresPrefix = "AnalysisFailures."
)

// PreviousFunc finds the window of the last successful analysis of the
// deployment's application, which PREVIOUS metrics compare with; ok is
// false when there is none (a first deployment, or no earlier analysis).
// The agent's implementation looks through the application's earlier
// successful deployments with PreviousWindow.
type PreviousFunc func(ctx context.Context, d *ferryv1.Deployment) (start, end time.Time, ok bool, err error)

// Options configures a Stage.
type Options struct {
	// Providers are the agent's analysisProviders.
	Providers []config.AnalysisProvider
	// HTTPClient sends the queries and HTTP checks; nil means a client of
	// its own. Every request is bounded by its metric's or check's timeout.
	HTTPClient *http.Client
	// Previous finds the window PREVIOUS metrics compare with; nil means
	// there is never one, so PREVIOUS metrics pass as on a first deployment.
	Previous PreviousFunc
}

// Stage is the ANALYSIS stage's executor. It is safe for concurrent use by
// many deployments.
type Stage struct {
	providers map[string]source
	names     []string // provider names, for error messages
	client    *http.Client
	previous  PreviousFunc
}

var _ platform.StageExecutor = (*Stage)(nil)

// NewStage checks the agent's analysis providers and returns the stage's
// executor. An invalid provider is an error naming it and its field; a
// provider's secrets (passwords, API keys) are read from their files now.
func NewStage(opts Options) (*Stage, error) {
	s := &Stage{providers: map[string]source{}, client: opts.HTTPClient, previous: opts.Previous}
	if s.client == nil {
		s.client = &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
	}
	var errs []error
	for i, p := range opts.Providers {
		src, err := newSource(p, s.client)
		if err == nil && s.providers[p.Name] != nil {
			err = errors.New("name: is used by an earlier provider")
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("analysisProviders[%d] (%q): %w", i, p.Name, err))
			continue
		}
		s.providers[p.Name] = src
		s.names = append(s.names, p.Name)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return s, nil
}

// Execute implements platform.StageExecutor. It returns nil once the
// duration has passed with no metric or check over its failureLimit, an
// error naming the first that went over and why, an error naming the bad
// field when the options are invalid, and ctx's error when ctx ends first.
func (s *Stage) Execute(ctx context.Context, in platform.StageInput) error {
	opts, err := stageOptions(in)
	if err != nil {
		return err
	}
	log := &syncLog{l: in.Log}
	analyzers, err := s.plan(in, opts, log)
	if err != nil {
		return err
	}

	start, resumed, err := startedAt(ctx, in)
	if err != nil {
		return err
	}
	duration := opts.Duration.Std()
	deadline := start.Add(duration)
	switch {
	case resumed && time.Now().Before(deadline):
		log.Info(fmt.Sprintf("Resuming the analysis started at %s: %s left, until %s",
			start.Format(time.RFC3339), time.Until(deadline).Round(time.Second), deadline.Format(time.RFC3339)))
	case !resumed:
		log.Info(fmt.Sprintf("Analysing for %s, until %s, with %s", duration, deadline.Format(time.RFC3339), describe(analyzers)))
	}

	g, gctx := errgroup.WithContext(ctx)
	for _, a := range analyzers {
		failures := storedFailures(in, a.id)
		g.Go(func() error { return a.run(gctx, in, log, start, deadline, failures) })
	}
	g.Go(func() error {
		// The stage lasts its whole duration, even when the last evaluation
		// falls before the deadline.
		_ = sleepUntil(gctx, deadline)
		return nil
	})
	err = g.Wait()
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if err != nil {
		return err
	}

	end := time.Now()
	if err := in.Metadata.Put(ctx, map[string]string{MetaEndedAt: end.UTC().Format(time.RFC3339Nano)}); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		log.Error(fmt.Sprintf("Could not record the end of the analysis, which a later PREVIOUS analysis compares with: %v", err))
	}
	log.Success(fmt.Sprintf("Analysis passed: %s, over %s", describe(analyzers), duration))
	return nil
}

// PreviousWindow returns the window of the last successful ANALYSIS stage
// of a finished deployment, read from the stages' metadata (MetaStartedAt
// and MetaEndedAt); ok is false when it has none. The agent's PreviousFunc
// applies it to the application's successful deployments, newest first.
func PreviousWindow(d *ferryv1.Deployment) (start, end time.Time, ok bool) {
	var best *ferryv1.Stage
	for _, st := range d.GetStages() {
		if st.GetName() != StageName || st.GetStatus() != ferryv1.StageStatus_STAGE_STATUS_SUCCESS {
			continue
		}
		if _, has := st.GetMetadata()[MetaEndedAt]; !has {
			continue
		}
		if best == nil || st.GetIndex() > best.GetIndex() {
			best = st
		}
	}
	if best == nil {
		return time.Time{}, time.Time{}, false
	}
	start, err1 := time.Parse(time.RFC3339Nano, best.GetMetadata()[MetaStartedAt])
	end, err2 := time.Parse(time.RFC3339Nano, best.GetMetadata()[MetaEndedAt])
	if err1 != nil || err2 != nil || !end.After(start) {
		return time.Time{}, time.Time{}, false
	}
	return start, end, true
}

// stageOptions decodes the stage's options.
func stageOptions(in platform.StageInput) (*config.AnalysisOptions, error) {
	opts, err := platform.StageOptions[config.AnalysisOptions](in)
	if err != nil {
		return nil, err
	}
	if opts.Duration <= 0 {
		return nil, fmt.Errorf("stage %s: duration: is required and must be positive", StageName)
	}
	return opts, nil
}

// startedAt returns when the analysis began, as recorded in the stage's
// metadata, and true; or records now and returns it and false.
func startedAt(ctx context.Context, in platform.StageInput) (time.Time, bool, error) {
	if v, ok := in.Metadata.Get(MetaStartedAt); ok {
		if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
			return t, true, nil
		}
	}
	now := time.Now()
	if err := in.Metadata.Put(ctx, map[string]string{MetaStartedAt: now.UTC().Format(time.RFC3339Nano)}); err != nil {
		if ctx.Err() != nil {
			return now, false, ctx.Err()
		}
		return now, false, fmt.Errorf("record the start of the analysis: %w", err)
	}
	return now, false, nil
}

// describe says what the analysis runs: "2 metrics and 1 HTTP check".
func describe(analyzers []*analyzer) string {
	var metrics, checks int
	for _, a := range analyzers {
		if a.http {
			checks++
		} else {
			metrics++
		}
	}
	var parts []string
	if metrics > 0 {
		parts = append(parts, plural(metrics, "metric"))
	}
	if checks > 0 {
		parts = append(parts, plural(checks, "HTTP check"))
	}
	if len(parts) == 0 {
		return "nothing to check"
	}
	return strings.Join(parts, " and ")
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

// syncLog serialises the analyzers' writes to the stage's log.
type syncLog struct {
	mu sync.Mutex
	l  platform.Logger
}

func (s *syncLog) Info(msg string)    { s.mu.Lock(); defer s.mu.Unlock(); s.l.Info(msg) }
func (s *syncLog) Success(msg string) { s.mu.Lock(); defer s.mu.Unlock(); s.l.Success(msg) }
func (s *syncLog) Error(msg string)   { s.mu.Lock(); defer s.mu.Unlock(); s.l.Error(msg) }
