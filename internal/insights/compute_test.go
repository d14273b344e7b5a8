package insights_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"
	_ "time/tzdata" // the zones below load on machines without a zone database

	"github.com/google/go-cmp/cmp"

	"github.com/ferrycd/ferry/internal/insights"
	"github.com/ferrycd/ferry/internal/model"
	"github.com/ferrycd/ferry/internal/store"
	"github.com/ferrycd/ferry/internal/store/sqlite"
)

var ctx = context.Background()

func openStore(t *testing.T) store.Store {
	s, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "ferry.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// at parses an RFC 3339 time.
func at(t *testing.T, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// dep describes one deployment to store.
type dep struct {
	id, app, project string
	status           model.DeploymentStatus
	completed        string // RFC 3339; empty for a live deployment
	commit           string // the commit's timestamp, RFC 3339
	hash             string
	// rollback is the status of the deployment's rollback stage; empty: it
	// has none.
	rollback model.StageStatus
	labels   map[string]string
}

func create(t *testing.T, s store.Store, deps ...dep) {
	t.Helper()
	for _, d := range deps {
		if d.project == "" {
			d.project = "p"
		}
		m := &model.Deployment{
			ID: d.id, ProjectID: d.project, ApplicationID: d.app, ApplicationName: d.app, Status: d.status,
			Kind: model.AppKindKubernetes, Labels: d.labels,
			Trigger: model.Trigger{Kind: model.TriggerOnCommit, Commit: model.Commit{Hash: d.hash}},
		}
		if d.commit != "" {
			m.Trigger.Commit.Timestamp = at(t, d.commit)
		}
		if d.completed != "" {
			m.CompletedAt = at(t, d.completed)
			m.CreatedAt = m.CompletedAt.Add(-10 * time.Minute)
		} else {
			m.CreatedAt = at(t, "2026-11-04T06:00:00Z")
		}
		m.Stages = []*model.Stage{{ID: d.id + "-sync", Name: "K8S_SYNC", Status: model.StageSuccess}}
		if d.rollback != "" {
			m.Stages = append(m.Stages, &model.Stage{ID: d.id + "-rollback", Name: "ROLLBACK", Index: 1, Rollback: true, Status: d.rollback})
		}
		if err := s.CreateDeployment(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
}

// one is the Durations of a single value; the summaries of several are
// written out in full, so that the tests do not compute them as the code does.
func one(d time.Duration) insights.Durations {
	return insights.Durations{Count: 1, Median: d, Mean: d, Min: d, Max: d}
}

const h, m = time.Hour, time.Minute

func TestComputeCountsTheFourKeysPerDay(t *testing.T) {
	s := openStore(t)
	create(t, s,
		// Before the range: a success, read for the lookback only.
		dep{id: "d00", app: "a", status: model.DeploymentSuccess, completed: "2026-11-01T23:59:00Z", commit: "2026-11-01T20:00:00Z", hash: "c0"},
		// Monday: a success (lead 2h), then a failure opens an incident at 12:00.
		dep{id: "d01", app: "a", status: model.DeploymentSuccess, completed: "2026-11-02T10:00:00Z", commit: "2026-11-02T08:00:00Z", hash: "c1"},
		dep{id: "d02", app: "a", status: model.DeploymentFailure, completed: "2026-11-02T12:00:00Z", commit: "2026-11-02T11:00:00Z", hash: "c2", rollback: model.StageSkipped},
		// Tuesday: a second failure, rolled back, in the same incident; a
		// success 26h after the first failure restores it (lead 30m).
		dep{id: "d03", app: "a", status: model.DeploymentFailure, completed: "2026-11-03T09:00:00Z", commit: "2026-11-02T11:00:00Z", hash: "c2", rollback: model.StageSuccess},
		dep{id: "d04", app: "a", status: model.DeploymentSuccess, completed: "2026-11-03T14:00:00Z", commit: "2026-11-03T13:30:00Z", hash: "c3"},
		// Wednesday: a cancel without rollback (neither success nor
		// failure), a cancel that rolled back (a failure, a new incident at
		// 02:00), a redeploy of c3 that restores it in 3h but is no new
		// change, and another application's first deploy of a commit three
		// days old.
		dep{id: "d05", app: "a", status: model.DeploymentCancelled, completed: "2026-11-04T01:00:00Z", commit: "2026-11-04T00:00:00Z", hash: "c4", rollback: model.StageSkipped},
		dep{id: "d06", app: "a", status: model.DeploymentCancelled, completed: "2026-11-04T02:00:00Z", commit: "2026-11-04T00:00:00Z", hash: "c4", rollback: model.StageFailure},
		dep{id: "d07", app: "a", status: model.DeploymentSuccess, completed: "2026-11-04T05:00:00Z", commit: "2026-11-03T13:30:00Z", hash: "c3"},
		dep{id: "d08", app: "b", status: model.DeploymentSuccess, completed: "2026-11-04T10:00:00Z", commit: "2026-11-01T10:00:00Z", hash: "c1"},
		// Not counted: still running or rolling back, ending at To, another project.
		dep{id: "d09", app: "a", status: model.DeploymentRunning, commit: "2026-11-04T05:30:00Z", hash: "c5"},
		dep{id: "d10", app: "a", status: model.DeploymentRollingBack, commit: "2026-11-04T05:30:00Z", hash: "c5"},
		dep{id: "d11", app: "a", status: model.DeploymentSuccess, completed: "2026-11-05T00:00:00Z", commit: "2026-11-04T23:00:00Z", hash: "c6"},
		dep{id: "d12", app: "x", project: "other", status: model.DeploymentFailure, completed: "2026-11-03T00:00:00Z"},
	)
	q := insights.Query{ProjectID: "p", From: at(t, "2026-11-02T00:00:00Z"), To: at(t, "2026-11-05T00:00:00Z")}
	r, err := insights.Compute(ctx, s, q)
	if err != nil {
		t.Fatal(err)
	}
	day := func(d int) time.Time { return time.Date(2026, 11, d, 0, 0, 0, 0, time.UTC) }
	want := []insights.Bucket{
		{Start: day(2), End: day(3), Counts: insights.Counts{Deployments: 2, Successes: 1, Failures: 1, LeadTime: one(2 * h)}},
		{Start: day(3), End: day(4), Counts: insights.Counts{Deployments: 2, Successes: 1, Failures: 1, RolledBack: 1,
			LeadTime: one(30 * m), TimeToRestore: one(26 * h)}},
		{Start: day(4), End: day(5), Counts: insights.Counts{Deployments: 4, Successes: 2, Failures: 1, RolledBack: 1, Cancelled: 1,
			LeadTime: one(72 * h), TimeToRestore: one(3 * h)}},
	}
	if diff := cmp.Diff(want, r.Buckets); diff != "" {
		t.Errorf("buckets (-want +got):\n%s", diff)
	}
	wantSummary := insights.Summary{Days: 3, Counts: insights.Counts{Deployments: 8, Successes: 4, Failures: 3, RolledBack: 2, Cancelled: 1,
		LeadTime:      insights.Durations{Count: 3, Median: 2 * h, Mean: 24*h + 50*m, Min: 30 * m, Max: 72 * h},
		TimeToRestore: insights.Durations{Count: 2, Median: 14*h + 30*m, Mean: 14*h + 30*m, Min: 3 * h, Max: 26 * h},
	}}
	if diff := cmp.Diff(wantSummary, r.Summary); diff != "" {
		t.Errorf("summary (-want +got):\n%s", diff)
	}
	if rate, ok := r.Summary.ChangeFailureRate(); !ok || rate != 3.0/7 {
		t.Errorf("change failure rate = %v, %t; want 3/7", rate, ok)
	}
	if got := r.Summary.DeploymentsPerDay(); got != 4.0/3 {
		t.Errorf("deployments per day = %v, want 4/3", got)
	}

	// One application only.
	q.ApplicationID = "b"
	r, err = insights.Compute(ctx, s, q)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := r.Summary.Counts, (insights.Counts{Deployments: 1, Successes: 1, LeadTime: one(72 * h)}); !cmp.Equal(got, want) {
		t.Errorf("application b's summary (-want +got):\n%s", cmp.Diff(want, got))
	}
}

func TestComputeEmptyRanges(t *testing.T) {
	s := openStore(t)
	create(t, s, dep{id: "d1", app: "a", status: model.DeploymentSuccess, completed: "2026-11-10T10:00:00Z", commit: "2026-11-10T09:00:00Z", hash: "c1"})
	from := at(t, "2026-11-02T00:00:00Z")

	t.Run("from equal to to has no buckets", func(t *testing.T) {
		r, err := insights.Compute(ctx, s, insights.Query{ProjectID: "p", From: from, To: from})
		if err != nil {
			t.Fatal(err)
		}
		if len(r.Buckets) != 0 || r.Summary != (insights.Summary{}) || r.Summary.DeploymentsPerDay() != 0 {
			t.Fatalf("report of an empty range = %+v", r)
		}
		if _, ok := r.Summary.ChangeFailureRate(); ok {
			t.Error("an empty range has a change failure rate")
		}
	})
	t.Run("a range without deployments has empty buckets", func(t *testing.T) {
		r, err := insights.Compute(ctx, s, insights.Query{ProjectID: "p", From: from, To: from.Add(48 * h)})
		if err != nil {
			t.Fatal(err)
		}
		want := []insights.Bucket{{Start: from, End: from.Add(24 * h)}, {Start: from.Add(24 * h), End: from.Add(48 * h)}}
		if diff := cmp.Diff(want, r.Buckets); diff != "" {
			t.Errorf("buckets (-want +got):\n%s", diff)
		}
		if r.Summary != (insights.Summary{Days: 2}) {
			t.Errorf("summary = %+v", r.Summary)
		}
		for _, metric := range insights.Metrics {
			series := r.Series(metric)
			if len(series.Points) != 2 {
				t.Fatalf("%s has %d points, want 2", metric, len(series.Points))
			}
			wantMissing := metric != insights.Frequency
			for _, p := range series.Points {
				if p.Missing != wantMissing || p.Value != 0 {
					t.Errorf("%s point %+v: want value 0, missing %t", metric, p, wantMissing)
				}
			}
		}
	})
}

func TestComputeRestoresAFailureFromBeforeTheRange(t *testing.T) {
	s := openStore(t)
	create(t, s,
		dep{id: "d1", app: "a", status: model.DeploymentFailure, completed: "2026-10-30T20:00:00Z"},
		dep{id: "d2", app: "a", status: model.DeploymentSuccess, completed: "2026-11-02T02:00:00Z"},
	)
	q := insights.Query{ProjectID: "p", From: at(t, "2026-11-02T00:00:00Z"), To: at(t, "2026-11-03T00:00:00Z")}
	r, err := insights.Compute(ctx, s, q)
	if err != nil {
		t.Fatal(err)
	}
	// The failure is outside the range: only the restore counts.
	want := insights.Counts{Deployments: 1, Successes: 1, TimeToRestore: one(54 * h)}
	if diff := cmp.Diff(want, r.Summary.Counts); diff != "" {
		t.Errorf("summary (-want +got):\n%s", diff)
	}
	// A lookback too short to see the failure sees no incident.
	q.Lookback = 24 * h
	if r, err = insights.Compute(ctx, s, q); err != nil {
		t.Fatal(err)
	}
	if got := r.Summary.TimeToRestore; got.Count != 0 {
		t.Errorf("with a one-day lookback, time to restore = %+v; want none", got)
	}
}

func TestComputeBucketsInTheQueryTimeZone(t *testing.T) {
	s := openStore(t)
	create(t, s,
		// Sunday Nov 1 00:30 EDT; the clocks go back at 02:00.
		dep{id: "d1", app: "a", status: model.DeploymentSuccess, completed: "2026-11-01T04:30:00Z"},
		// Sunday Nov 1 23:30 EST, but Monday in UTC.
		dep{id: "d2", app: "a", status: model.DeploymentSuccess, completed: "2026-11-02T04:30:00Z"},
		// Monday Nov 2 00:30 EST.
		dep{id: "d3", app: "a", status: model.DeploymentSuccess, completed: "2026-11-02T05:30:00Z"},
	)
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	r, err := insights.Compute(ctx, s, insights.Query{ProjectID: "p", Location: ny,
		From: time.Date(2026, 11, 1, 0, 0, 0, 0, ny), To: time.Date(2026, 11, 3, 0, 0, 0, 0, ny)})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Buckets) != 2 {
		t.Fatalf("%d buckets, want 2", len(r.Buckets))
	}
	sunday, monday := r.Buckets[0], r.Buckets[1]
	if got := sunday.End.Sub(sunday.Start); got != 25*h {
		t.Errorf("the day the clocks go back lasts %s, want 25h", got)
	}
	if !sunday.Start.Equal(at(t, "2026-11-01T04:00:00Z")) || !monday.Start.Equal(at(t, "2026-11-02T05:00:00Z")) {
		t.Errorf("buckets start %s and %s, want New York's midnights", sunday.Start, monday.Start)
	}
	if sunday.Start.Location() != ny {
		t.Errorf("bucket start in %s, want %s", sunday.Start.Location(), ny)
	}
	if sunday.Successes != 2 || monday.Successes != 1 {
		t.Errorf("Sunday %d, Monday %d deployments; want 2 and 1", sunday.Successes, monday.Successes)
	}
}

func TestComputeWeeksStartOnMonday(t *testing.T) {
	s := openStore(t)
	create(t, s,
		// Saturday Oct 31 23:00 JST: in the first week, but before From.
		dep{id: "d1", app: "a", status: model.DeploymentSuccess, completed: "2026-10-31T14:00:00Z"},
		// Sunday Nov 1 23:30 JST: the first week.
		dep{id: "d2", app: "a", status: model.DeploymentSuccess, completed: "2026-11-01T14:30:00Z"},
		// Monday Nov 2 00:30 JST: the second week.
		dep{id: "d3", app: "a", status: model.DeploymentSuccess, completed: "2026-11-01T15:30:00Z"},
		// Sunday Nov 15 in the third week.
		dep{id: "d4", app: "a", status: model.DeploymentFailure, completed: "2026-11-15T03:00:00Z"},
	)
	tokyo, err := time.LoadLocation("Asia/Tokyo")
	if err != nil {
		t.Fatal(err)
	}
	r, err := insights.Compute(ctx, s, insights.Query{ProjectID: "p", Location: tokyo, Step: insights.Week,
		From: time.Date(2026, 11, 1, 0, 0, 0, 0, tokyo), To: time.Date(2026, 11, 16, 0, 0, 0, 0, tokyo)})
	if err != nil {
		t.Fatal(err)
	}
	type week struct {
		Start                         string
		Successes, Failures, Deployed int
	}
	var got []week
	for _, b := range r.Buckets {
		got = append(got, week{b.Start.Format("Mon Jan 2 15:04 MST"), b.Successes, b.Failures, b.Deployments})
	}
	want := []week{
		{"Mon Oct 26 00:00 JST", 1, 0, 1},
		{"Mon Nov 2 00:00 JST", 1, 0, 1},
		{"Mon Nov 9 00:00 JST", 0, 1, 1},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("weeks (-want +got):\n%s", diff)
	}
	if got := r.Series(insights.Frequency).Points[1].Title; got != "Week of Mon Nov 2, 2026" {
		t.Errorf("second week's title = %q", got)
	}
}

func TestComputeSelectsByLabels(t *testing.T) {
	s := openStore(t)
	prod, dev := map[string]string{"env": "prod", "team": "pay"}, map[string]string{"env": "dev", "team": "pay"}
	create(t, s,
		dep{id: "d1", app: "a", status: model.DeploymentSuccess, completed: "2026-11-02T01:00:00Z", labels: prod},
		dep{id: "d2", app: "b", status: model.DeploymentFailure, completed: "2026-11-02T02:00:00Z", labels: prod},
		dep{id: "d3", app: "c", status: model.DeploymentFailure, completed: "2026-11-02T03:00:00Z", labels: dev},
		dep{id: "d4", app: "d", status: model.DeploymentSuccess, completed: "2026-11-02T04:00:00Z"},
	)
	for _, tc := range []struct {
		name   string
		labels map[string]string
		want   insights.Counts
	}{
		{"one label", map[string]string{"env": "prod"}, insights.Counts{Deployments: 2, Successes: 1, Failures: 1}},
		{"all labels must match", map[string]string{"env": "dev", "team": "pay"}, insights.Counts{Deployments: 1, Failures: 1}},
		{"a label nobody has", map[string]string{"env": "qa"}, insights.Counts{}},
		{"no labels selects all", nil, insights.Counts{Deployments: 4, Successes: 2, Failures: 2}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := insights.Compute(ctx, s, insights.Query{ProjectID: "p", Labels: tc.labels,
				From: at(t, "2026-11-02T00:00:00Z"), To: at(t, "2026-11-03T00:00:00Z")})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, r.Summary.Counts); diff != "" {
				t.Errorf("summary (-want +got):\n%s", diff)
			}
		})
	}
}

// smallPages makes the store answer two deployments a page, so a report
// needs several.
type smallPages struct {
	store.Store
	pages int
}

func (s *smallPages) ListDeployments(ctx context.Context, f store.DeploymentFilter, p store.Page) ([]*model.Deployment, string, error) {
	s.pages++
	p.Limit = 2
	return s.Store.ListDeployments(ctx, f, p)
}

func TestComputeReadsEveryPage(t *testing.T) {
	s := openStore(t)
	for _, hour := range []string{"01", "02", "03", "04", "05"} {
		create(t, s, dep{id: "d" + hour, app: "a", status: model.DeploymentSuccess, completed: "2026-11-02T" + hour + ":00:00Z",
			commit: "2026-11-02T00:00:00Z", hash: "c" + hour})
	}
	paged := &smallPages{Store: s}
	r, err := insights.Compute(ctx, paged, insights.Query{ProjectID: "p", From: at(t, "2026-11-02T00:00:00Z"), To: at(t, "2026-11-03T00:00:00Z")})
	if err != nil {
		t.Fatal(err)
	}
	if paged.pages != 3 || r.Summary.Successes != 5 {
		t.Errorf("read %d pages and counted %d successes; want 3 pages and 5", paged.pages, r.Summary.Successes)
	}
	if want := (insights.Durations{Count: 5, Median: 3 * h, Mean: 3 * h, Min: h, Max: 5 * h}); r.Summary.LeadTime != want {
		t.Errorf("lead time = %+v, want %+v", r.Summary.LeadTime, want)
	}
}

func TestComputeRefusesBadQueries(t *testing.T) {
	s := openStore(t)
	from := at(t, "2026-11-02T00:00:00Z")
	for _, tc := range []struct {
		name string
		q    insights.Query
	}{
		{"no project", insights.Query{From: from, To: from.Add(h)}},
		{"no range", insights.Query{ProjectID: "p"}},
		{"to before from", insights.Query{ProjectID: "p", From: from, To: from.Add(-h)}},
		{"an unknown step", insights.Query{ProjectID: "p", From: from, To: from.Add(h), Step: "MONTH"}},
		{"too many days", insights.Query{ProjectID: "p", From: from, To: from.AddDate(2, 0, 0)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := insights.Compute(ctx, s, tc.q); !model.IsKind(err, model.KindInvalid) {
				t.Fatalf("Compute = %v, want an invalid-argument error", err)
			}
		})
	}
	// Two years of weeks fit.
	if _, err := insights.Compute(ctx, s, insights.Query{ProjectID: "p", From: from, To: from.AddDate(2, 0, 0), Step: insights.Week}); err != nil {
		t.Fatalf("two years of weeks: %v", err)
	}
}
