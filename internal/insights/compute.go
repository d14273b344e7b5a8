package insights

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/ferrycd/ferry/internal/model"
	"github.com/ferrycd/ferry/internal/store"
)

// DeploymentLister is the part of the store a report reads;
// store.DeploymentStore has it.
type DeploymentLister interface {
	ListDeployments(ctx context.Context, f store.DeploymentFilter, p store.Page) ([]*model.Deployment, string, error)
}

// Compute builds the report q asks for from the deployments in s. It reads
// every deployment of the selection created since q.From - q.Lookback, page
// by page. Errors: KindInvalid for a bad query (no project, To before From,
// an unknown Step, more than MaxBuckets buckets), or the store's error.
func Compute(ctx context.Context, s DeploymentLister, q Query) (*Report, error) {
	q, err := q.normalise()
	if err != nil {
		return nil, err
	}
	ds, err := list(ctx, s, q)
	if err != nil {
		return nil, err
	}
	r := &Report{Query: q, Buckets: buckets(q)}
	r.Summary.Days = q.To.Sub(q.From).Hours() / 24
	acc := newAccumulator(r)
	for _, d := range ds {
		acc.add(d)
	}
	acc.finish()
	return r, nil
}

// normalise fills q's defaults and checks it.
func (q Query) normalise() (Query, error) {
	if q.ProjectID == "" {
		return q, model.Invalid("insights need a project")
	}
	if q.Location == nil {
		q.Location = time.UTC
	}
	if q.Step == "" {
		q.Step = Day
	}
	if q.Step != Day && q.Step != Week {
		return q, model.Invalid("unknown step %q: use %s or %s", q.Step, Day, Week)
	}
	if q.From.IsZero() || q.To.IsZero() {
		return q, model.Invalid("insights need a range: from and to")
	}
	if q.To.Before(q.From) {
		return q, model.Invalid("the range ends (%s) before it starts (%s)", q.To.Format(time.RFC3339), q.From.Format(time.RFC3339))
	}
	if q.Lookback <= 0 {
		q.Lookback = DefaultLookback
	}
	q.From, q.To = q.From.In(q.Location), q.To.In(q.Location)
	n := 0
	for start := q.floor(q.From); start.Before(q.To); start = q.next(start) {
		if n++; n > MaxBuckets {
			return q, model.Invalid("the range holds more than %d %s buckets: shorten it or use a wider step", MaxBuckets, q.Step)
		}
	}
	return q, nil
}

// floor returns the start of the bucket holding t: midnight of its day, or
// of the Monday of its week, in q.Location.
func (q Query) floor(t time.Time) time.Time {
	t = t.In(q.Location)
	day := time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, q.Location)
	if q.Step == Week {
		back := (int(day.Weekday()) + 6) % 7 // days since Monday
		day = time.Date(day.Year(), day.Month(), day.Day()-back, 0, 0, 0, 0, q.Location)
	}
	return day
}

// next returns the start of the bucket after the one starting at start.
// Calendar arithmetic, not 24-hour steps, so a day across a daylight-saving
// change lasts 23 or 25 hours.
func (q Query) next(start time.Time) time.Time {
	days := 1
	if q.Step == Week {
		days = 7
	}
	return time.Date(start.Year(), start.Month(), start.Day()+days, 0, 0, 0, 0, q.Location)
}

func buckets(q Query) []Bucket {
	var bs []Bucket
	for start := q.floor(q.From); start.Before(q.To); start = q.next(start) {
		bs = append(bs, Bucket{Start: start, End: q.next(start)})
	}
	return bs
}

// list reads every deployment of q's selection created since the lookback
// began. A deployment created before that but completed in the range (one
// that ran for longer than the lookback) is missed; none does.
func list(ctx context.Context, s DeploymentLister, q Query) ([]*model.Deployment, error) {
	f := store.DeploymentFilter{
		ProjectID:     q.ProjectID,
		ApplicationID: q.ApplicationID,
		Labels:        q.Labels,
		Statuses:      []model.DeploymentStatus{model.DeploymentSuccess, model.DeploymentFailure, model.DeploymentCancelled},
		CreatedAfter:  q.From.Add(-q.Lookback),
	}
	var out []*model.Deployment
	p := store.Page{Limit: store.MaxLimit}
	for {
		ds, next, err := s.ListDeployments(ctx, f, p)
		if err != nil {
			return nil, fmt.Errorf("list deployments: %w", err)
		}
		out = append(out, ds...)
		if next == "" {
			return out, nil
		}
		p.Cursor = next
	}
}

// outcome is what a completed deployment counts as.
type outcome int

const (
	success outcome = iota
	failure
	cancelled
)

func outcomeOf(d *model.Deployment) (o outcome, rolledBack bool) {
	rolledBack = rolledBackOf(d)
	switch {
	case d.Status == model.DeploymentSuccess:
		return success, false
	case d.Status == model.DeploymentFailure || rolledBack:
		return failure, rolledBack
	default:
		return cancelled, false
	}
}

// rolledBackOf reports whether one of d's rollback stages ran; a cancel
// that asked for no rollback marks them SKIPPED.
func rolledBackOf(d *model.Deployment) bool {
	for _, st := range d.Stages {
		if !st.Rollback {
			continue
		}
		switch st.Status {
		case model.StageSuccess, model.StageFailure, model.StageCancelled, model.StageExited:
			return true
		}
	}
	return false
}

// accumulator adds deployments to a report's buckets and summary.
type accumulator struct {
	r *Report
	// Per bucket, then the summary at index len(r.Buckets): the raw
	// durations, summarised by finish.
	lead, restore [][]time.Duration
	byApp         map[string][]*model.Deployment
}

func newAccumulator(r *Report) *accumulator {
	n := len(r.Buckets) + 1
	return &accumulator{r: r, lead: make([][]time.Duration, n), restore: make([][]time.Duration, n), byApp: map[string][]*model.Deployment{}}
}

// bucket returns the index of the bucket t falls in, or -1 when t is
// outside [From, To).
func (a *accumulator) bucket(t time.Time) int {
	q := a.r.Query
	if t.IsZero() || t.Before(q.From) || !t.Before(q.To) {
		return -1
	}
	i, _ := slices.BinarySearchFunc(a.r.Buckets, t, func(b Bucket, t time.Time) int {
		if !b.End.After(t) {
			return -1
		}
		if b.Start.After(t) {
			return 1
		}
		return 0
	})
	return i
}

func (a *accumulator) add(d *model.Deployment) {
	if !d.Status.Completed() || d.CompletedAt.IsZero() {
		return
	}
	a.byApp[d.ApplicationID] = append(a.byApp[d.ApplicationID], d)
	i := a.bucket(d.CompletedAt)
	if i < 0 {
		return
	}
	o, rolledBack := outcomeOf(d)
	for _, c := range []*Counts{&a.r.Buckets[i].Counts, &a.r.Summary.Counts} {
		c.Deployments++
		switch o {
		case success:
			c.Successes++
		case failure:
			c.Failures++
			if rolledBack {
				c.RolledBack++
			}
		case cancelled:
			c.Cancelled++
		}
	}
}

// record adds a duration ending at end to the bucket it falls in and to
// the summary.
func (a *accumulator) record(into [][]time.Duration, end time.Time, d time.Duration) {
	i := a.bucket(end)
	if i < 0 {
		return
	}
	d = max(d, 0) // a commit clock ahead of the control plane's
	into[i] = append(into[i], d)
	into[len(into)-1] = append(into[len(into)-1], d)
}

// finish walks each application's deployments in the order they ended for
// lead times and restores, then summarises the durations.
func (a *accumulator) finish() {
	for _, ds := range a.byApp {
		slices.SortFunc(ds, func(x, y *model.Deployment) int {
			return cmp.Or(x.CompletedAt.Compare(y.CompletedAt), x.CreatedAt.Compare(y.CreatedAt), cmp.Compare(x.ID, y.ID))
		})
		deployed := map[string]bool{}
		var incident time.Time // end of the first failure not yet restored
		for _, d := range ds {
			switch o, _ := outcomeOf(d); o {
			case failure:
				if incident.IsZero() {
					incident = d.CompletedAt
				}
			case success:
				if !incident.IsZero() {
					a.record(a.restore, d.CompletedAt, d.CompletedAt.Sub(incident))
					incident = time.Time{}
				}
				c := d.Trigger.Commit
				if c.Timestamp.IsZero() || (c.Hash != "" && deployed[c.Hash]) {
					continue
				}
				deployed[c.Hash] = true
				a.record(a.lead, d.CompletedAt, d.CompletedAt.Sub(c.Timestamp))
			}
		}
	}
	for i := range a.r.Buckets {
		a.r.Buckets[i].LeadTime = summarise(a.lead[i])
		a.r.Buckets[i].TimeToRestore = summarise(a.restore[i])
	}
	a.r.Summary.LeadTime = summarise(a.lead[len(a.lead)-1])
	a.r.Summary.TimeToRestore = summarise(a.restore[len(a.restore)-1])
}

func summarise(ds []time.Duration) Durations {
	if len(ds) == 0 {
		return Durations{}
	}
	slices.Sort(ds)
	var sum time.Duration
	for _, d := range ds {
		sum += d
	}
	n := len(ds)
	median := ds[n/2]
	if n%2 == 0 {
		median = ds[n/2-1] + (ds[n/2]-ds[n/2-1])/2
	}
	return Durations{Count: n, Median: median, Mean: sum / time.Duration(n), Min: ds[0], Max: ds[n-1]}
}
