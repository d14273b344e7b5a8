package agentscale

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// apiCounts are kube-apiserver's apiserver_request_total summed by verb
// and resource: "GET pods", "APPLY(dry run) deployments".
type apiCounts map[string]float64

// apiRequests scrapes kube-apiserver's /metrics. Every client of the
// cluster counts (kwok's node leases, the controllers), but in a quiet
// window or a deployment burst the agent's requests dominate.
func (r *rig) apiRequests(ctx context.Context) (apiCounts, error) {
	raw, err := r.kube.Discovery().RESTClient().Get().AbsPath("/metrics").DoRaw(ctx)
	if err != nil {
		return nil, fmt.Errorf("read kube-apiserver metrics: %w", err)
	}
	return parseRequestTotals(string(raw)), nil
}

// parseRequestTotals sums apiserver_request_total samples by verb and
// resource; dry-run requests (the agent's drift checks) are told apart.
func parseRequestTotals(metrics string) apiCounts {
	out := apiCounts{}
	for _, line := range strings.Split(metrics, "\n") {
		rest, ok := strings.CutPrefix(line, "apiserver_request_total{")
		if !ok {
			continue
		}
		labels, value, ok := strings.Cut(rest, "} ")
		if !ok {
			continue
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(value), 64)
		if err != nil {
			continue
		}
		verb := label(labels, "verb")
		if label(labels, "dry_run") != "" {
			verb += "(dry run)"
		}
		out[verb+" "+label(labels, "resource")] += v
	}
	return out
}

// label returns the value of name in a Prometheus label set, "" when
// absent.
func label(labels, name string) string {
	for _, pair := range strings.Split(labels, ",") {
		if k, v, ok := strings.Cut(pair, "="); ok && k == name {
			return strings.Trim(v, `"`)
		}
	}
	return ""
}

// APIRate is kube-apiserver's request rate over an interval, by verb and
// resource ("GET pods").
type APIRate map[string]float64

// rate is the request rate from before to after over d; WATCH requests
// count when they open, so they are left out.
func rate(before, after apiCounts, d time.Duration) APIRate {
	out := APIRate{}
	if before == nil || after == nil || d <= 0 {
		return out
	}
	for key, n := range after {
		if strings.HasPrefix(key, "WATCH ") {
			continue
		}
		if per := (n - before[key]) / d.Seconds(); per > 0 {
			out[key] = per
		}
	}
	return out
}

// byVerb sums the rate over resources.
func (a APIRate) byVerb() APIRate {
	out := APIRate{}
	for key, v := range a {
		verb := key
		if i := strings.LastIndexByte(key, ' '); i >= 0 {
			verb = key[:i] // resources hold no spaces; "APPLY(dry run)" does
		}
		out[verb] += v
	}
	return out
}

// Total is the rate of all verbs.
func (a APIRate) Total() float64 {
	var t float64
	for _, v := range a {
		t += v
	}
	return t
}

// String reads "2410/s (GET 2300, PATCH 80, LIST 30)": the total and the
// three busiest verbs.
func (a APIRate) String() string { return a.byVerb().top(3) }

// Detail names the five busiest verbs and resources, for the log.
func (a APIRate) Detail() string { return a.top(5) }

// top renders the total and the n busiest keys.
func (a APIRate) top(n int) string {
	if len(a) == 0 {
		return "–"
	}
	verbs := make([]string, 0, len(a))
	for v := range a {
		verbs = append(verbs, v)
	}
	slices.SortFunc(verbs, func(x, y string) int {
		if a[x] != a[y] {
			if a[x] > a[y] {
				return -1
			}
			return 1
		}
		return strings.Compare(x, y)
	})
	parts := make([]string, 0, n)
	for _, v := range verbs[:min(n, len(verbs))] {
		parts = append(parts, fmt.Sprintf("%s %.0f", v, a[v]))
	}
	return fmt.Sprintf("%.0f/s (%s)", a.Total(), strings.Join(parts, ", "))
}
