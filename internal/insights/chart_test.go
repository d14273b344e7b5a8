package insights_test

import (
	"encoding/xml"
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ferrycd/ferry/internal/insights"
)

var update = flag.Bool("update", false, "rewrite the golden SVG files in testdata")

// node is an SVG element as the tests compare it: name, attributes, text
// and children.
type node struct {
	Name     string
	Attrs    map[string]string
	Text     string
	Children []*node
}

// parse reads svg into a tree, failing t when it is not well-formed XML.
func parse(t *testing.T, svg string) *node {
	t.Helper()
	dec := xml.NewDecoder(strings.NewReader(svg))
	var stack []*node
	var root *node
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("chart is not well-formed: %v\n%s", err, svg)
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			n := &node{Name: tok.Name.Local, Attrs: map[string]string{}}
			for _, a := range tok.Attr {
				n.Attrs[a.Name.Local] = a.Value
			}
			if len(stack) > 0 {
				top := stack[len(stack)-1]
				top.Children = append(top.Children, n)
			} else {
				root = n
			}
			stack = append(stack, n)
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		case xml.CharData:
			if len(stack) > 0 {
				stack[len(stack)-1].Text += strings.TrimSpace(string(tok))
			}
		}
	}
	return root
}

// find returns every element named name with class class ("" for any),
// depth first.
func (n *node) find(name, class string) []*node {
	var out []*node
	if n.Name == name && (class == "" || n.Attrs["class"] == class) {
		out = append(out, n)
	}
	for _, c := range n.Children {
		out = append(out, c.find(name, class)...)
	}
	return out
}

func (n *node) child(name string) *node {
	for _, c := range n.Children {
		if c.Name == name {
			return c
		}
	}
	return nil
}

func days(values ...float64) insights.Series {
	s := insights.Series{Name: "Deployment frequency", Unit: insights.UnitCount}
	for i, v := range values {
		start := time.Date(2026, 11, 2+i, 0, 0, 0, 0, time.UTC)
		s.Points = append(s.Points, insights.Point{Label: start.Format("Jan 2"), Title: start.Format("Mon Jan 2, 2006"), Start: start, Value: v, Missing: v < 0})
	}
	return s
}

func TestBarChartIsAccessibleAndScaled(t *testing.T) {
	s := days(1, 4, 0, -1) // -1: no value
	svg := parse(t, string(insights.BarChart(s, insights.ChartOptions{ID: "freq", Desc: "Successful deployments of app a per day"})))

	if svg.Name != "svg" || svg.Attrs["role"] != "img" || svg.Attrs["aria-labelledby"] != "freq-title freq-desc" || svg.Attrs["viewBox"] != "0 0 640 240" {
		t.Errorf("svg attributes = %v", svg.Attrs)
	}
	title, desc := svg.child("title"), svg.child("desc")
	if title == nil || title.Attrs["id"] != "freq-title" || title.Text != "Deployment frequency" {
		t.Errorf("title = %+v", title)
	}
	wantDesc := "Successful deployments of app a per day. Mon Nov 2, 2026: 1; Tue Nov 3, 2026: 4; Wed Nov 4, 2026: 0; Thu Nov 5, 2026: no value."
	if desc == nil || desc.Attrs["id"] != "freq-desc" || desc.Text != wantDesc {
		t.Errorf("desc = %+v\nwant %q", desc, wantDesc)
	}

	// The plot is 568 wide from x=56, so 142 a band and 99.4 a bar, and 188
	// high from y=16; the axis tops at 4.
	type bar struct{ X, Y, Width, Height, Title string }
	var got []bar
	for _, r := range svg.find("rect", "ferry-chart-bar") {
		got = append(got, bar{r.Attrs["x"], r.Attrs["y"], r.Attrs["width"], r.Attrs["height"], r.child("title").Text})
	}
	want := []bar{
		{"77.3", "157", "99.4", "47", "Mon Nov 2, 2026: 1"},
		{"219.3", "16", "99.4", "188", "Tue Nov 3, 2026: 4"},
		{"361.3", "204", "99.4", "0", "Wed Nov 4, 2026: 0"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("bars (-want +got):\n%s", diff)
	}
	var ticks []string
	for _, tx := range svg.find("g", "ferry-chart-axis")[0].find("text", "") {
		ticks = append(ticks, tx.Text)
	}
	if diff := cmp.Diff([]string{"0", "1", "2", "3", "4", "Nov 2", "Nov 3", "Nov 4", "Nov 5"}, ticks); diff != "" {
		t.Errorf("axis labels (-want +got):\n%s", diff)
	}
	for _, g := range svg.find("g", "") {
		if c := g.Attrs["class"]; (c == "ferry-chart-grid" || c == "ferry-chart-axis") && g.Attrs["aria-hidden"] != "true" {
			t.Errorf("%s is not hidden from screen readers", c)
		}
	}
}

func TestLineChartBreaksAtMissingPoints(t *testing.T) {
	s := days(0.5, 1, -1, 2) // hours, below
	s.Name, s.Unit = "Lead time for changes", insights.UnitDuration
	for i := range s.Points {
		s.Points[i].Value *= 3600
	}
	svg := parse(t, string(insights.LineChart(s, insights.ChartOptions{ID: "lead"})))
	paths := svg.find("path", "ferry-chart-line")
	if len(paths) != 1 {
		t.Fatalf("%d lines, want 1", len(paths))
	}
	// The axis tops at 2h (ticks of 30m); the third point breaks the line.
	if got, want := paths[0].Attrs["d"], "M127,157 L269,110 M553,16"; got != want {
		t.Errorf("line d = %q, want %q", got, want)
	}
	var dots []string
	for _, c := range svg.find("circle", "ferry-chart-point") {
		dots = append(dots, c.child("title").Text)
	}
	if diff := cmp.Diff([]string{"Mon Nov 2, 2026: 30m", "Tue Nov 3, 2026: 1h", "Thu Nov 5, 2026: 2h"}, dots); diff != "" {
		t.Errorf("points (-want +got):\n%s", diff)
	}
	var ticks []string
	for _, tx := range svg.find("g", "ferry-chart-axis")[0].find("text", "") {
		if tx.Attrs["text-anchor"] == "end" {
			ticks = append(ticks, tx.Text)
		}
	}
	if diff := cmp.Diff([]string{"0s", "30m", "1h", "1.5h", "2h"}, ticks); diff != "" {
		t.Errorf("y ticks (-want +got):\n%s", diff)
	}
}

func TestChartsOfNoDataSaySo(t *testing.T) {
	for name, s := range map[string]insights.Series{
		"no points":         {Name: "Time to restore", Unit: insights.UnitDuration},
		"only missing ones": days(-1, -1),
	} {
		t.Run(name, func(t *testing.T) {
			for _, chart := range []func(insights.Series, insights.ChartOptions) string{
				func(s insights.Series, o insights.ChartOptions) string { return string(insights.BarChart(s, o)) },
				func(s insights.Series, o insights.ChartOptions) string { return string(insights.LineChart(s, o)) },
			} {
				svg := parse(t, chart(s, insights.ChartOptions{Empty: "Nothing deployed"}))
				if empty := svg.find("text", "ferry-chart-empty"); len(empty) != 1 || empty[0].Text != "Nothing deployed" {
					t.Errorf("empty text = %+v", empty)
				}
				if n := len(svg.find("rect", "")) + len(svg.find("circle", "")); n != 0 {
					t.Errorf("%d marks in a chart of no data", n)
				}
				if d := svg.child("desc").Text; d != "Nothing deployed." {
					t.Errorf("desc = %q", d)
				}
			}
		})
	}
}

func TestChartsAreDeterministicAndEscaped(t *testing.T) {
	s := days(3, 1)
	s.Name = `Deploys <of> "a" & b`
	a, b := insights.BarChart(s, insights.ChartOptions{}), insights.BarChart(s, insights.ChartOptions{})
	if a != b {
		t.Fatal("the same chart drawn twice differs")
	}
	svg := parse(t, string(a)) // fails on bad escaping
	if got := svg.child("title").Text; got != s.Name {
		t.Errorf("title = %q, want %q", got, s.Name)
	}
	id := strings.TrimSuffix(svg.child("title").Attrs["id"], "-title")
	if !strings.HasPrefix(id, "ferry-chart-") {
		t.Errorf("derived id %q", id)
	}
	other := parse(t, string(insights.BarChart(days(3, 2), insights.ChartOptions{})))
	if other.child("title").Attrs["id"] == id+"-title" {
		t.Error("two charts of different data share an id")
	}
	if got := parse(t, string(insights.BarChart(s, insights.ChartOptions{ID: `x"><script>`}))).child("title").Attrs["id"]; got != "x-script--title" {
		t.Errorf("unsafe id became %q", got)
	}
}

// TestChartGolden pins the exact output of a week's report drawn both
// ways; run with -update after an intended change, and look at the diff.
func TestChartGolden(t *testing.T) {
	s := days(2, 0, 5, 1, -1, 3, 7)
	for name, svg := range map[string]string{
		"bar.svg":  string(insights.BarChart(s, insights.ChartOptions{ID: "golden", Desc: "A week"})),
		"line.svg": string(insights.LineChart(s, insights.ChartOptions{ID: "golden", Desc: "A week", Width: 400, Height: 160})),
	} {
		path := filepath.Join("testdata", name)
		if *update {
			if err := os.WriteFile(path, []byte(svg+"\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v (run go test -update to create it)", err)
		}
		if diff := cmp.Diff(string(want), svg+"\n"); diff != "" {
			t.Errorf("%s differs (-want +got); run go test -update if intended:\n%s", name, diff)
		}
	}
}

func TestFormat(t *testing.T) {
	for _, tc := range []struct {
		unit insights.Unit
		v    float64
		want string
	}{
		{insights.UnitCount, 3, "3"},
		{insights.UnitCount, 4.0 / 3, "1.33"},
		{insights.UnitPercent, 42.857, "42.9%"},
		{insights.UnitPercent, 0, "0%"},
		{insights.UnitDuration, 0, "0s"},
		{insights.UnitDuration, 45, "45s"},
		{insights.UnitDuration, 12*60 + 20, "12m"},
		{insights.UnitDuration, 5400, "1.5h"},
		{insights.UnitDuration, 26 * 3600, "26h"},
		{insights.UnitDuration, 72 * 3600, "3d"},
		{insights.UnitDuration, -5, "0s"},
	} {
		if got := tc.unit.Format(tc.v); got != tc.want {
			t.Errorf("%s.Format(%v) = %q, want %q", tc.unit, tc.v, got, tc.want)
		}
	}
}

func TestSeriesOfAReport(t *testing.T) {
	b := insights.Bucket{
		Start:  time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC),
		Counts: insights.Counts{Successes: 2, Failures: 1, LeadTime: insights.Durations{Count: 1, Median: 90 * time.Minute}},
	}
	r := &insights.Report{Query: insights.Query{Step: insights.Day}, Buckets: []insights.Bucket{b}}
	for _, tc := range []struct {
		metric insights.Metric
		unit   insights.Unit
		value  float64
		miss   bool
	}{
		{insights.Frequency, insights.UnitCount, 2, false},
		{insights.LeadTime, insights.UnitDuration, 5400, false},
		{insights.ChangeFailureRate, insights.UnitPercent, 33.3, false},
		{insights.TimeToRestore, insights.UnitDuration, 0, true},
	} {
		s := r.Series(tc.metric)
		want := insights.Series{Name: tc.metric.Name(), Unit: tc.unit, Points: []insights.Point{
			{Label: "Nov 2", Title: "Mon Nov 2, 2026", Start: b.Start, Value: tc.value, Missing: tc.miss},
		}}
		if diff := cmp.Diff(want, s); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tc.metric, diff)
		}
	}
}
