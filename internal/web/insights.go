package web

import (
	"html/template"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/ferrycd/ferry/internal/insights"
)

type insightsFilter struct {
	App, Labels, Days, Step string
}

type insightsChart struct {
	Name  string
	Chart template.HTML
}

type insightsData struct {
	Filter insightsFilter
	From   time.Time
	To     time.Time
	// The summary of the whole range.
	PerDay        string
	LeadTime      string
	FailureRate   string
	TimeToRestore string
	Deployments   int
	Charts        []insightsChart
	Ranges        []int
	Error         string
}

// insightsRanges are the ranges offered, in days.
var insightsRanges = []int{7, 30, 90, 180}

// insights shows the four DORA keys of the project, an application or a
// label selection, computed from the deployments by package insights.
func (h *Handler) insights(w http.ResponseWriter, r *http.Request, s *session) {
	q := r.URL.Query()
	d := &insightsData{
		Filter: insightsFilter{App: strings.TrimSpace(q.Get("app")), Labels: q.Get("labels"), Days: q.Get("days"), Step: q.Get("step")},
		Ranges: insightsRanges,
	}
	days := 30
	for _, n := range insightsRanges {
		if strconv.Itoa(n) == d.Filter.Days {
			days = n
		}
	}
	d.Filter.Days = strconv.Itoa(days)
	step := insights.Day
	if d.Filter.Step == string(insights.Week) {
		step = insights.Week
	}
	d.Filter.Step = string(step)
	labels, ok := parseLabels(d.Filter.Labels)
	if !ok {
		d.Error = "Labels must be written as key=value, separated by commas (env=prod, team=payments)."
		h.render(w, r, http.StatusOK, "insights", h.view(r, s, "Insights", "insights", d))
		return
	}
	appID, problem := h.appRef(r, s, d.Filter.App)
	if problem != "" {
		d.Error = problem
		h.render(w, r, http.StatusOK, "insights", h.view(r, s, "Insights", "insights", d))
		return
	}
	// Whole days in UTC, today included.
	d.To = h.opts.Now().UTC().Truncate(24 * time.Hour).Add(24 * time.Hour)
	d.From = d.To.Add(-time.Duration(days) * 24 * time.Hour)
	rep, err := insights.Compute(r.Context(), h.store, insights.Query{
		ProjectID: s.ProjectID, ApplicationID: appID, Labels: labels,
		From: d.From, To: d.To, Step: step, Location: time.UTC,
	})
	if err != nil {
		h.callError(w, r, s, err)
		return
	}
	sum := rep.Summary
	d.Deployments = sum.Deployments
	d.PerDay = strconv.FormatFloat(sum.DeploymentsPerDay(), 'f', 2, 64)
	d.LeadTime, d.TimeToRestore = "no change", "no incident"
	if sum.LeadTime.Count > 0 {
		d.LeadTime = insights.FormatDuration(sum.LeadTime.Median) + " median"
	}
	if sum.TimeToRestore.Count > 0 {
		d.TimeToRestore = insights.FormatDuration(sum.TimeToRestore.Median) + " median"
	}
	d.FailureRate = "no change"
	if rate, ok := sum.ChangeFailureRate(); ok {
		d.FailureRate = strconv.FormatFloat(rate*100, 'f', 0, 64) + "%"
	}
	for _, m := range insights.Metrics {
		opts := insights.ChartOptions{ID: "insights-" + strings.ToLower(string(m))}
		chart := insights.BarChart(rep.Series(m), opts)
		if m == insights.LeadTime || m == insights.TimeToRestore {
			chart = insights.LineChart(rep.Series(m), opts)
		}
		d.Charts = append(d.Charts, insightsChart{Name: m.Name(), Chart: chart})
	}
	h.render(w, r, http.StatusOK, "insights", h.view(r, s, "Insights", "insights", d))
}
