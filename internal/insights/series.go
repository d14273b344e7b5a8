package insights

import (
	"math"
	"strconv"
	"strings"
	"time"
)

// Metric names one of the four keys.
type Metric string

// The four keys, as Report.Series draws them.
const (
	// Frequency is successful deployments per bucket.
	Frequency Metric = "FREQUENCY"
	// LeadTime is the median lead time for changes per bucket.
	LeadTime Metric = "LEAD_TIME"
	// ChangeFailureRate is the change failure rate per bucket, in percent.
	ChangeFailureRate Metric = "CHANGE_FAILURE_RATE"
	// TimeToRestore is the median time to restore per bucket.
	TimeToRestore Metric = "TIME_TO_RESTORE"
)

// Metrics lists the four keys in the order DORA gives them.
var Metrics = []Metric{Frequency, LeadTime, ChangeFailureRate, TimeToRestore}

// Unit says what a series' values are, and so how they are written.
type Unit string

// The units.
const (
	UnitCount   Unit = "COUNT"
	UnitPercent Unit = "PERCENT"
	// UnitDuration values are seconds.
	UnitDuration Unit = "DURATION"
)

// Format writes v in unit u: "3", "2.5", "25%", "1.5h".
func (u Unit) Format(v float64) string {
	switch u {
	case UnitPercent:
		return trimFloat(v, 1) + "%"
	case UnitDuration:
		return FormatDuration(time.Duration(v * float64(time.Second)))
	default:
		return trimFloat(v, 2)
	}
}

// FormatDuration writes d briefly, to two significant places at most:
// "45s", "12m", "1.5h", "3d". Negative durations are written as 0s.
func FormatDuration(d time.Duration) string {
	switch {
	case d < time.Minute:
		return strconv.Itoa(int(max(d, 0).Round(time.Second)/time.Second)) + "s"
	case d < time.Hour:
		return strconv.Itoa(int(d.Round(time.Minute)/time.Minute)) + "m"
	case d < 48*time.Hour:
		return trimFloat(d.Hours(), 1) + "h"
	default:
		return trimFloat(d.Hours()/24, 1) + "d"
	}
}

// trimFloat formats v with at most prec decimals and no trailing zeros.
func trimFloat(v float64, prec int) string {
	s := strconv.FormatFloat(v, 'f', prec, 64)
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	if s == "-0" {
		s = "0"
	}
	return s
}

// Point is one bucket's value in a series.
type Point struct {
	// Label is short, for an axis: "Nov 2".
	Label string
	// Title is long, for a tooltip or a screen reader: "Mon Nov 2, 2026",
	// "Week of Mon Nov 2, 2026".
	Title string
	// Start is the bucket's start.
	Start time.Time
	Value float64
	// Missing is true when the bucket has no value (no change, no
	// restore); a bar chart leaves a gap, a line chart breaks the line.
	Missing bool
}

// Series is one metric over a report's buckets.
type Series struct {
	// Name is the metric's human name: "Deployment frequency".
	Name   string
	Unit   Unit
	Points []Point
}

// Series returns metric m over r's buckets. An unknown metric gives an
// empty series.
func (r *Report) Series(m Metric) Series {
	s := Series{Name: m.Name(), Unit: m.Unit()}
	for _, b := range r.Buckets {
		p := Point{Label: b.Start.Format("Jan 2"), Title: b.Start.Format("Mon Jan 2, 2006"), Start: b.Start}
		if r.Query.Step == Week {
			p.Title = "Week of " + p.Title
		}
		switch m {
		case Frequency:
			p.Value = float64(b.Successes)
		case LeadTime:
			p.Value, p.Missing = b.LeadTime.Median.Seconds(), b.LeadTime.Count == 0
		case ChangeFailureRate:
			rate, ok := b.ChangeFailureRate()
			p.Value, p.Missing = math.Round(rate*1000)/10, !ok
		case TimeToRestore:
			p.Value, p.Missing = b.TimeToRestore.Median.Seconds(), b.TimeToRestore.Count == 0
		default:
			return Series{Name: string(m)}
		}
		s.Points = append(s.Points, p)
	}
	return s
}

// Name is m's human name.
func (m Metric) Name() string {
	switch m {
	case Frequency:
		return "Deployment frequency"
	case LeadTime:
		return "Lead time for changes"
	case ChangeFailureRate:
		return "Change failure rate"
	case TimeToRestore:
		return "Time to restore"
	}
	return string(m)
}

// Unit is the unit of m's values.
func (m Metric) Unit() Unit {
	switch m {
	case LeadTime, TimeToRestore:
		return UnitDuration
	case ChangeFailureRate:
		return UnitPercent
	}
	return UnitCount
}
