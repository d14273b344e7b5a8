package api

import (
	"context"
	"errors"
	"time"

	"connectrpc.com/connect"
	"github.com/prometheus/client_golang/prometheus"
)

// Metrics counts and times every RPC by procedure and result code.
type Metrics struct {
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	inFlight *prometheus.GaugeVec
}

// NewMetrics registers the API metrics on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ferry_api_requests_total",
			Help: "API calls handled, by procedure and result code.",
		}, []string{"procedure", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "ferry_api_request_duration_seconds",
			Help:    "Time to handle an API call, by procedure. Streams are timed until they end.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 10},
		}, []string{"procedure"}),
		inFlight: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "ferry_api_requests_in_flight",
			Help: "API calls being handled now, by procedure (agent streams included).",
		}, []string{"procedure"}),
	}
	reg.MustRegister(m.requests, m.latency, m.inFlight)
	return m
}

// Interceptor returns the Connect interceptor that counts and times calls.
// Calls in flight are counted by Authorizer.Handler, from the moment a call
// arrives, its authentication included.
func (m *Metrics) Interceptor() connect.Interceptor { return metricsInterceptor{m} }

type metricsInterceptor struct{ m *Metrics }

func (i metricsInterceptor) observe(proc string, start time.Time, err error) {
	code := "ok"
	if err != nil {
		code = connect.CodeUnknown.String()
		var ce *connect.Error
		if errors.As(err, &ce) {
			code = ce.Code().String()
		}
	}
	i.m.requests.WithLabelValues(proc, code).Inc()
	i.m.latency.WithLabelValues(proc).Observe(time.Since(start).Seconds())
}

// refused counts a call refused before it reached the interceptors
// (Authorizer.Handler).
func (m *Metrics) refused(proc string, err error) {
	metricsInterceptor{m}.observe(proc, time.Now(), err)
}

// inFlightFor counts a call to proc in flight until the returned func is
// called.
func (m *Metrics) inFlightFor(proc string) func() {
	g := m.inFlight.WithLabelValues(proc)
	g.Inc()
	return g.Dec
}

func (i metricsInterceptor) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		start := time.Now()
		res, err := next(ctx, req)
		i.observe(req.Spec().Procedure, start, err)
		return res, err
	}
}

func (i metricsInterceptor) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return next
}

func (i metricsInterceptor) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return func(ctx context.Context, conn connect.StreamingHandlerConn) error {
		start := time.Now()
		err := next(ctx, conn)
		i.observe(conn.Spec().Procedure, start, err)
		return err
	}
}
