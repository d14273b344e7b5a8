package analysis

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/api"
	promv1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"
)

// prometheus queries a Prometheus server's HTTP API: an instant query for
// THRESHOLD, a range query for the comparative strategies.
type prometheus struct {
	api promv1.API
}

// newPrometheus returns a client of the server at address, sending basic
// auth when user is set.
func newPrometheus(address, user, password string, client *http.Client) (*prometheus, error) {
	c := *client
	if user != "" {
		base := c.Transport
		if base == nil {
			base = http.DefaultTransport
		}
		c.Transport = &basicAuth{base: base, user: user, password: password}
	}
	ac, err := api.NewClient(api.Config{Address: address, Client: &c})
	if err != nil {
		return nil, fmt.Errorf("config.address: %w", err)
	}
	return &prometheus{api: promv1.NewAPI(ac)}, nil
}

// Current implements source with an instant query at now: every sample
// of the result is a value.
func (p *prometheus) Current(ctx context.Context, query string, now time.Time, _ time.Duration) ([]float64, error) {
	v, _, _, err := p.api.Query(ctx, query, now)
	if err != nil {
		return nil, fmt.Errorf("prometheus query: %w", err)
	}
	return values(v)
}

// Series implements source with a range query over [from, to].
func (p *prometheus) Series(ctx context.Context, query string, from, to time.Time) ([]float64, error) {
	v, _, _, err := p.api.QueryRange(ctx, query, promv1.Range{Start: from, End: to, Step: rangeStep(to.Sub(from))})
	if err != nil {
		return nil, fmt.Errorf("prometheus range query: %w", err)
	}
	return values(v)
}

// rangeStep is the resolution of a range query over a window: about ten
// points, at most a minute apart (PipeCD's step) and at least a second
// (finer than most scrape intervals already repeats samples). The
// Mann-Whitney test needs four points a side to find any difference at
// 5%, which a window of 4s or more gives.
func rangeStep(window time.Duration) time.Duration {
	step := window / 10
	step = max(step, time.Second)
	step = min(step, time.Minute)
	return min(step, window)
}

// values flattens a query result into its numbers, NaN left out; a result
// with none is errNoData.
func values(v model.Value) ([]float64, error) {
	var out []float64
	add := func(f model.SampleValue) {
		if !math.IsNaN(float64(f)) {
			out = append(out, float64(f))
		}
	}
	switch r := v.(type) {
	case *model.Scalar:
		add(r.Value)
	case model.Vector:
		for _, s := range r {
			add(s.Value)
		}
	case model.Matrix:
		for _, s := range r {
			for _, p := range s.Values {
				add(p.Value)
			}
		}
	default:
		return nil, fmt.Errorf("prometheus returned a %s, not numbers", v.Type())
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: the query returned no values", errNoData)
	}
	return out, nil
}

// basicAuth adds basic auth to the requests it sends.
type basicAuth struct {
	base           http.RoundTripper
	user, password string
}

func (b *basicAuth) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.SetBasicAuth(b.user, b.password)
	return b.base.RoundTrip(r)
}
