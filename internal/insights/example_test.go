package insights_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/ferrycd/ferry/internal/insights"
	"github.com/ferrycd/ferry/internal/model"
	"github.com/ferrycd/ferry/internal/store/sqlite"
)

// A console page computes a report for the signed-in project and draws one
// chart per key; ChartCSS goes into the page's stylesheet once.
func ExampleCompute() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "insights-example")
	defer os.RemoveAll(dir)
	s, err := sqlite.Open(ctx, filepath.Join(dir, "ferry.db"))
	if err != nil {
		panic(err)
	}
	defer s.Close()
	monday := time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)
	for i, status := range []model.DeploymentStatus{model.DeploymentSuccess, model.DeploymentFailure, model.DeploymentSuccess} {
		end := monday.Add(time.Duration(i) * 3 * time.Hour)
		if err := s.CreateDeployment(ctx, &model.Deployment{
			ID: fmt.Sprint("d", i), ProjectID: "p", ApplicationID: "web", Status: status,
			Trigger:   model.Trigger{Commit: model.Commit{Hash: fmt.Sprint("c", i), Timestamp: end.Add(-time.Hour)}},
			CreatedAt: end.Add(-10 * time.Minute), CompletedAt: end,
		}); err != nil {
			panic(err)
		}
	}

	r, err := insights.Compute(ctx, s, insights.Query{
		ProjectID: "p", ApplicationID: "web", Step: insights.Day, Location: time.UTC,
		From: time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC), To: time.Date(2026, 11, 9, 0, 0, 0, 0, time.UTC),
	})
	if err != nil {
		panic(err)
	}
	rate, _ := r.Summary.ChangeFailureRate()
	fmt.Printf("%d buckets; %.2f deployments a day; lead time %s; failure rate %.0f%%; restored in %s\n",
		len(r.Buckets), r.Summary.DeploymentsPerDay(), insights.FormatDuration(r.Summary.LeadTime.Median),
		rate*100, insights.FormatDuration(r.Summary.TimeToRestore.Median))
	for _, m := range insights.Metrics {
		chart := insights.BarChart(r.Series(m), insights.ChartOptions{ID: "insights-" + string(m)})
		if m == insights.LeadTime || m == insights.TimeToRestore {
			chart = insights.LineChart(r.Series(m), insights.ChartOptions{ID: "insights-" + string(m)})
		}
		_ = chart // template.HTML: {{.Chart}} in the page's template
	}
	// Output: 7 buckets; 0.29 deployments a day; lead time 1h; failure rate 33%; restored in 3h
}
