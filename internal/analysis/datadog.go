package analysis

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// datadog queries Datadog's metrics query API (GET /api/v1/query), which
// answers over a time range for every strategy.
type datadog struct {
	address                string // base URL, https://api.datadoghq.com
	apiKey, applicationKey string
	client                 *http.Client
}

// datadogResponse is the part of /api/v1/query's answer read here.
type datadogResponse struct {
	Status string `json:"status"`
	Error  string `json:"error"`
	Series []struct {
		Metric string `json:"metric"`
		Scope  string `json:"scope"`
		// Pointlist holds [milliseconds since the epoch, value] pairs; a
		// value is null where the series has a gap.
		Pointlist [][2]*float64 `json:"pointlist"`
	} `json:"series"`
}

// Current implements source with the points of the last window.
func (d *datadog) Current(ctx context.Context, query string, now time.Time, window time.Duration) ([]float64, error) {
	return d.Series(ctx, query, now.Add(-window), now)
}

// Series implements source.
func (d *datadog) Series(ctx context.Context, query string, from, to time.Time) ([]float64, error) {
	q := url.Values{}
	q.Set("from", strconv.FormatInt(from.Unix(), 10))
	q.Set("to", strconv.FormatInt(to.Unix(), 10))
	q.Set("query", query)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, d.address+"/api/v1/query?"+q.Encode(), nil)
	if err != nil {
		return nil, fmt.Errorf("datadog query: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("DD-API-KEY", d.apiKey)
	req.Header.Set("DD-APPLICATION-KEY", d.applicationKey)
	resp, err := d.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("datadog query to %s: %w", redactURL(d.address), unwrapURLError(err))
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return nil, fmt.Errorf("datadog query: read the answer: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("datadog query: %s: %s", resp.Status, datadogErrors(body))
	}
	var r datadogResponse
	if err := json.Unmarshal(body, &r); err != nil {
		return nil, fmt.Errorf("datadog query: the answer is not the API's JSON: %w", err)
	}
	if r.Status == "error" || r.Error != "" {
		return nil, fmt.Errorf("datadog query: %s", r.Error)
	}
	var out []float64
	for _, s := range r.Series {
		for _, p := range s.Pointlist {
			if p[1] != nil {
				out = append(out, *p[1])
			}
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: the query returned no points between %s and %s", errNoData, from.Format(time.RFC3339), to.Format(time.RFC3339))
	}
	return out, nil
}

// datadogErrors returns what an error answer says: its "errors" list, or
// the start of its body.
func datadogErrors(body []byte) string {
	var e struct {
		Errors []string `json:"errors"`
	}
	if json.Unmarshal(body, &e) == nil && len(e.Errors) > 0 {
		return strings.Join(e.Errors, "; ")
	}
	s := strings.TrimSpace(string(body))
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	if s == "" {
		return "(no body)"
	}
	return s
}

// unwrapURLError drops the request URL *url.Error carries (it repeats the
// query) and keeps the cause.
func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}
