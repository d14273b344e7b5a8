// Package insights computes the four DORA keys from Ferry's deployments —
// deployment frequency, lead time for changes, change failure rate and
// time to restore — per application or label selector, in daily or weekly
// buckets of a time zone, and draws them as server-rendered SVG charts for
// the web console.
//
// Everything is computed on request from the deployments in the store (a
// range of a few months is a few thousand rows); nothing is precomputed or
// stored, so the numbers never disagree with the deployment list. PipeCD
// collects daily chunks into its filestore on a cron instead, and shipped
// only two of the four keys.
//
// Definitions, all keyed on a deployment's CompletedAt, so a deployment
// counts in the bucket where it ended:
//
//   - Only completed deployments count; pending, planned, running and
//     rolling-back ones are left out until they end.
//   - A failure is a deployment that ended FAILURE, or that rolled back
//     (one of its rollback stages ran, which a cancel can also cause).
//     A deployment cancelled without rolling back changed nothing for
//     certain: it is counted as Cancelled, and is neither a success nor a
//     failure.
//   - Deployment frequency is the number of successful deployments.
//   - Change failure rate is failures / (successes + failures).
//   - Lead time for changes runs from the deployed commit's timestamp to
//     the first successful deployment of that commit to the application;
//     a later redeploy of the same commit is not a new change.
//   - Time to restore runs from the end of the first failure of an
//     application to the end of its next success; failures in between
//     belong to the same incident. The failure may lie before the range
//     (up to Query.Lookback), the restore must lie in it.
package insights

import (
	"time"
)

// Step is the width of a report's buckets.
type Step string

// The bucket widths. A week starts on Monday at midnight, as ISO 8601 says.
const (
	Day  Step = "DAY"
	Week Step = "WEEK"
)

// Limits of a query.
const (
	// MaxBuckets bounds a report: a year of days, or seven of weeks.
	MaxBuckets = 366
	// DefaultLookback is how far before From the deployments are read to
	// find the failure a restore in the range ends.
	DefaultLookback = 30 * 24 * time.Hour
)

// Query selects the deployments of a report and how to bucket them.
type Query struct {
	// ProjectID is required.
	ProjectID string
	// ApplicationID, when set, limits the report to one application.
	ApplicationID string
	// Labels, when set, limits it to deployments carrying all these labels.
	// ApplicationID and Labels may be combined.
	Labels map[string]string
	// From and To bound the range, [From, To). From == To is an empty range.
	From, To time.Time
	// Step is Day or Week; empty means Day.
	Step Step
	// Location is the time zone whose midnights start the buckets; nil
	// means UTC.
	Location *time.Location
	// Lookback is how far before From to look for the start of an incident
	// restored in the range; zero means DefaultLookback.
	Lookback time.Duration
}

// Report is the four keys over a range, per bucket and overall.
type Report struct {
	// Query is the query, with its defaults filled in.
	Query Query
	// Buckets cover the range in order. The first starts at the Step's
	// boundary at or before From, the last ends at or after To; only
	// deployments inside [From, To) are counted, so the end buckets may be
	// partial.
	Buckets []Bucket
	// Summary is the whole range.
	Summary Summary
}

// Counts are the deployments that ended in a bucket or range.
type Counts struct {
	// Deployments is every completed deployment:
	// Successes + Failures + Cancelled.
	Deployments int
	Successes   int
	// Failures ended FAILURE or rolled back.
	Failures int
	// RolledBack is how many of Failures ran their rollback stages.
	RolledBack int
	// Cancelled were cancelled without rolling back.
	Cancelled int
	// LeadTime is the lead time of each change deployed successfully.
	LeadTime Durations
	// TimeToRestore is each incident's time to restore.
	TimeToRestore Durations
}

// ChangeFailureRate is Failures / (Successes + Failures), between 0 and 1;
// ok is false when there was no change.
func (c Counts) ChangeFailureRate() (rate float64, ok bool) {
	n := c.Successes + c.Failures
	if n == 0 {
		return 0, false
	}
	return float64(c.Failures) / float64(n), true
}

// Bucket is one day or week of a report.
type Bucket struct {
	// Start and End are the bucket's bounds in the query's Location.
	Start, End time.Time
	Counts
}

// Summary is a report's whole range.
type Summary struct {
	Counts
	// Days is the range's length in days (To - From, in 24-hour days).
	Days float64
}

// DeploymentsPerDay is the deployment frequency: successful deployments per
// day of the range; 0 for an empty range.
func (s Summary) DeploymentsPerDay() float64 {
	if s.Days <= 0 {
		return 0
	}
	return float64(s.Successes) / s.Days
}

// Durations summarises a set of durations.
type Durations struct {
	// Count is how many there are; the other fields are zero when 0.
	Count int
	// Median is the middle value, or the mean of the two middle ones.
	Median time.Duration
	Mean   time.Duration
	Min    time.Duration
	Max    time.Duration
}
