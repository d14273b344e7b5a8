package testenv

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/api"
	promv1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/common/model"
)

// PrometheusBinEnv names the variable holding the path of the prometheus
// binary, the last line `bash hack/prometheus/install.sh` prints. Unset,
// DefaultPrometheusBin is used.
const PrometheusBinEnv = "FERRY_PROMETHEUS_BIN"

// DefaultPrometheusBin is where the Debian package installs the server.
const DefaultPrometheusBin = "/usr/bin/prometheus"

// RequirePrometheusEnv names the variable that, set to 1, makes tests that
// need Prometheus fail rather than skip when its binary is missing.
const RequirePrometheusEnv = "FERRY_TEST_REQUIRE_PROMETHEUS"

// PrometheusScrapeInterval is how often the servers Prometheus starts
// scrape their targets.
const PrometheusScrapeInterval = time.Second

// ErrNoPrometheus is wrapped by FindPrometheus's error when the binary is
// not where it was looked for.
var ErrNoPrometheus = errors.New("prometheus binary not found")

// FindPrometheus returns the path of the prometheus binary: $FERRY_PROMETHEUS_BIN,
// or else /usr/bin/prometheus. The error wraps ErrNoPrometheus and says how to
// install it.
func FindPrometheus() (string, error) {
	return findInstalled(PrometheusBinEnv, DefaultPrometheusBin, "hack/prometheus/install.sh", ErrNoPrometheus)
}

// PrometheusEnv is a Prometheus server started for one test: its own
// process, port, config and data folder, scraping every
// PrometheusScrapeInterval the targets it was given.
type PrometheusEnv struct {
	// URL is the server's base URL, http://127.0.0.1:<port>: the address of
	// an agent's PROMETHEUS analysis provider.
	URL string
	// API is a client of the server's HTTP API.
	API promv1.API

	server
	targetsFile string

	mu      sync.Mutex
	targets []string
}

// Prometheus starts a Prometheus server for t scraping targets, each a
// host:port serving /metrics or a URL (http://host:port/path), and returns
// once the server is ready; it is stopped and its data removed when t ends.
// Scrapes run every PrometheusScrapeInterval, so a target's series appear
// about a second after the server starts: tests wait for the samples they
// need with WaitForSamples.
//
// When the binary is missing the test is skipped, saying how to install it,
// or fails when FERRY_TEST_REQUIRE_PROMETHEUS=1; any other start-up failure
// fails the test.
func Prometheus(t testing.TB, targets ...string) *PrometheusEnv {
	t.Helper()
	bin, err := FindPrometheus()
	if err != nil {
		skipMissing(t, "Prometheus", RequirePrometheusEnv, err)
	}
	begin := time.Now()
	var env *PrometheusEnv
	// A port found free may be taken before Prometheus binds it; try again then.
	for attempt := 1; ; attempt++ {
		env, err = startPrometheus(t, bin, targets)
		if err == nil || !errors.Is(err, errPortTaken) || attempt == 3 {
			break
		}
	}
	if err != nil {
		t.Fatalf("start Prometheus: %v", err)
	}
	t.Logf("Prometheus %s ready in %s", env.URL, time.Since(begin).Round(time.Millisecond))
	return env
}

// AddTargets adds scrape targets, written as for Prometheus. The server
// notices the change within about a second.
func (e *PrometheusEnv) AddTargets(t testing.TB, targets ...string) {
	t.Helper()
	e.mu.Lock()
	defer e.mu.Unlock()
	e.targets = append(e.targets, targets...)
	if err := writeTargets(e.targetsFile, e.targets); err != nil {
		t.Fatal(err)
	}
}

// WaitForSamples waits until query, evaluated once per scrape interval
// over the last n intervals, has a value at every one of those n steps in
// each of its series (and has at least one series), and fails the test
// when timeout passes first. It lets a test start an analysis only when
// the window it queries holds data.
func (e *PrometheusEnv) WaitForSamples(t testing.TB, query string, n int, timeout time.Duration) {
	t.Helper()
	var last string
	WaitFor(t, timeout, fmt.Sprintf("%s has %d samples in a row (last: %s)", query, n, &lastString{&last}), func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		end := time.Now().Truncate(time.Millisecond)
		start := end.Add(-time.Duration(n-1) * PrometheusScrapeInterval)
		v, _, _, err := e.API.QueryRange(ctx, query, promv1.Range{Start: start, End: end, Step: PrometheusScrapeInterval})
		if err != nil {
			last = err.Error()
			return false
		}
		m, ok := v.(model.Matrix)
		if !ok || len(m) == 0 {
			last = "no series"
			return false
		}
		for _, s := range m {
			if len(s.Values) < n {
				last = fmt.Sprintf("%d samples in %s", len(s.Values), s.Metric)
				return false
			}
		}
		return true
	})
}

// lastString prints the string it points at when formatted, so a failure
// message shows the last observation, not the one when it was built.
type lastString struct{ s *string }

func (l *lastString) String() string { return *l.s }

// startPrometheus starts bin on a free loopback port with a new config
// and data folder and waits until it is ready; t's cleanup stops it.
func startPrometheus(t testing.TB, bin string, targets []string) (*PrometheusEnv, error) {
	root, err := os.MkdirTemp("", "ferry-prometheus-")
	if err != nil {
		return nil, fmt.Errorf("prometheus temp folder: %w", err)
	}
	e := &PrometheusEnv{
		server:      server{name: "prometheus", root: root, log: filepath.Join(root, "prometheus.log")},
		targetsFile: filepath.Join(root, "targets.json"),
		targets:     slices.Clone(targets),
	}
	port, err := freePort()
	if err != nil {
		return nil, errors.Join(err, os.RemoveAll(root))
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	e.URL = "http://" + addr

	if err := writeTargets(e.targetsFile, e.targets); err != nil {
		return nil, errors.Join(err, os.RemoveAll(root))
	}
	// file_sd lets AddTargets change the targets without a reload: the
	// server watches the file and rereads it.
	cfg := fmt.Sprintf(`global:
  scrape_interval: %[1]s
  scrape_timeout: %[1]s
  evaluation_interval: %[1]s
scrape_configs:
  - job_name: ferry-test
    file_sd_configs:
      - files: [%[2]q]
        refresh_interval: 1s
`, model.Duration(PrometheusScrapeInterval), e.targetsFile)
	cfgFile := filepath.Join(root, "prometheus.yml")
	if err := os.WriteFile(cfgFile, []byte(cfg), 0o600); err != nil {
		return nil, errors.Join(fmt.Errorf("prometheus config: %w", err), os.RemoveAll(root))
	}

	cmd := exec.Command(bin,
		"--config.file="+cfgFile,
		"--storage.tsdb.path="+filepath.Join(root, "data"),
		"--web.listen-address="+addr,
		"--storage.tsdb.retention.time=1h",
	)
	cmd.Dir = root
	if err := e.start(cmd); err != nil {
		return nil, errors.Join(err, os.RemoveAll(root))
	}

	client, err := api.NewClient(api.Config{Address: e.URL})
	if err != nil {
		return nil, errors.Join(err, e.stop())
	}
	e.API = promv1.NewAPI(client)

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := e.waitReady(ctx, e.URL+"/-/ready"); err != nil {
		return nil, errors.Join(err, e.stop())
	}
	t.Cleanup(func() {
		if err := e.stop(); err != nil {
			t.Errorf("stop Prometheus: %v", err)
		}
	})
	return e, nil
}

// writeTargets writes the file_sd targets file, one group per target,
// atomically so that the server never reads half of it.
func writeTargets(file string, targets []string) error {
	type group struct {
		Targets []string          `json:"targets"`
		Labels  map[string]string `json:"labels,omitempty"`
	}
	groups := make([]group, 0, len(targets))
	for _, target := range targets {
		g := group{Targets: []string{target}}
		if strings.Contains(target, "://") {
			u, err := url.Parse(target)
			if err != nil || u.Host == "" {
				return fmt.Errorf("prometheus target %q: write host:port or an http URL", target)
			}
			g.Targets = []string{u.Host}
			g.Labels = map[string]string{"__scheme__": u.Scheme}
			if u.Path != "" && u.Path != "/" {
				g.Labels["__metrics_path__"] = u.Path
			}
		}
		groups = append(groups, g)
	}
	data, err := json.Marshal(groups)
	if err != nil {
		return err
	}
	tmp := file + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return fmt.Errorf("prometheus targets: %w", err)
	}
	if err := os.Rename(tmp, file); err != nil {
		return fmt.Errorf("prometheus targets: %w", err)
	}
	return nil
}

// The variants a MetricsTarget serves unless told others: the values of
// Kubernetes applications' default variant label.
var defaultVariants = []string{"primary", "canary", "baseline"}

// MetricsTargetRequestRate is the requests per second a MetricsTarget
// simulates for each variant until SetRequestRate changes it.
const MetricsTargetRequestRate = 100

// ErrorRatioQuery is a PromQL query, written as an ANALYSIS query template,
// of the share of a variant's requests that failed over the last 5s on a
// MetricsTarget: `{{ .Variant.Name }}` is filled with canary, baseline or
// primary by the comparative strategies (and primary by THRESHOLD). Its
// value is the error rate set with SetErrorRate once the target has been
// scraped for a few seconds at that rate.
//
// The ratio is rounded to 0.001: two variants at the same rate whose
// counters started apart (one rate set a few microseconds after the other)
// would otherwise differ in the last bits, always the same way, which a
// rank test such as CANARY_BASELINE's can find significant. Set rates that
// are whole tenths of a percent.
const ErrorRatioQuery = `round(sum(rate(http_requests_total{variant="{{ .Variant.Name }}",code="500"}[5s]))` +
	` / sum(rate(http_requests_total{variant="{{ .Variant.Name }}"}[5s])), 0.001)`

// MetricsTarget is a scrape target standing in for an application with
// variants (primary, canary, baseline): it exposes, in the Prometheus text
// format on /metrics, the counter
//
//	http_requests_total{variant="<variant>", code="200"|"500"}
//
// grown as if each variant served MetricsTargetRequestRate requests a second
// of which the share set by SetErrorRate failed (code 500). The counters
// advance with the time passed when they are read, so the rate Prometheus
// computes is the one set, exactly, with no goroutine and no randomness;
// both codes' series exist from the start, so an error ratio is 0, not
// missing, while nothing fails.
//
// For an analysis test: start a target, give its Addr to Prometheus, set
// the error rates of the variants, wait with WaitForSamples until the
// window the analysis queries holds samples, then run the ANALYSIS stage
// with an agent provider {type: PROMETHEUS, config: {address: env.URL}}
// and the query ErrorRatioQuery:
//
//	target := testenv.NewMetricsTarget(t)
//	prom := testenv.Prometheus(t, target.Addr)
//	target.SetErrorRate("canary", 0.5) // a bad canary; baseline stays at 0
//	q := strings.ReplaceAll(testenv.ErrorRatioQuery, "{{ .Variant.Name }}", "canary")
//	prom.WaitForSamples(t, q, 5, 30*time.Second)
type MetricsTarget struct {
	// URL is the server's base URL; metrics are at URL + "/metrics".
	URL string
	// Addr is the server's host:port, as Prometheus takes a target.
	Addr string

	requests *prometheus.CounterVec

	mu       sync.Mutex
	last     time.Time
	variants map[string]*variantTraffic
}

// variantTraffic is the simulated traffic of one variant.
type variantTraffic struct {
	rps, errorRate float64
}

// NewMetricsTarget starts a metrics target for the variants named (primary,
// canary and baseline when none is), each at MetricsTargetRequestRate
// requests a second and no errors. It stops when t ends.
func NewMetricsTarget(t testing.TB, variants ...string) *MetricsTarget {
	t.Helper()
	if len(variants) == 0 {
		variants = defaultVariants
	}
	m := &MetricsTarget{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "http_requests_total",
			Help: "Requests served, by variant and status code (simulated by testenv.MetricsTarget).",
		}, []string{"variant", "code"}),
		last:     time.Now(),
		variants: map[string]*variantTraffic{},
	}
	for _, v := range variants {
		m.variants[v] = &variantTraffic{rps: MetricsTargetRequestRate}
		m.requests.WithLabelValues(v, "200")
		m.requests.WithLabelValues(v, "500")
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(m.requests)
	metrics := promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
	mux := http.NewServeMux()
	mux.HandleFunc("/metrics", func(w http.ResponseWriter, r *http.Request) {
		m.advance()
		metrics.ServeHTTP(w, r)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	m.URL = srv.URL
	m.Addr = strings.TrimPrefix(srv.URL, "http://")
	return m
}

// SetErrorRate sets the share, from 0 to 1, of a variant's requests that
// fail from now on. It panics on a variant the target does not serve or a
// rate out of range: both are mistakes in the test.
func (m *MetricsTarget) SetErrorRate(variant string, rate float64) {
	if rate < 0 || rate > 1 {
		panic(fmt.Sprintf("testenv: error rate %v is not between 0 and 1", rate))
	}
	m.update(variant, func(v *variantTraffic) { v.errorRate = rate })
}

// SetRequestRate sets how many requests a second a variant serves from
// now on; 0 stops its traffic, so its error ratio has no value.
func (m *MetricsTarget) SetRequestRate(variant string, rps float64) {
	if rps < 0 {
		panic(fmt.Sprintf("testenv: request rate %v is negative", rps))
	}
	m.update(variant, func(v *variantTraffic) { v.rps = rps })
}

// update accounts for the traffic so far at the old rates, then applies
// change to the variant.
func (m *MetricsTarget) update(variant string, change func(*variantTraffic)) {
	m.mu.Lock()
	defer m.mu.Unlock()
	v, ok := m.variants[variant]
	if !ok {
		panic(fmt.Sprintf("testenv: the metrics target serves no variant %q", variant))
	}
	m.advanceLocked(time.Now())
	change(v)
}

// advance grows the counters by the traffic since they were last grown.
func (m *MetricsTarget) advance() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.advanceLocked(time.Now())
}

func (m *MetricsTarget) advanceLocked(now time.Time) {
	dt := now.Sub(m.last).Seconds()
	if dt <= 0 {
		return
	}
	m.last = now
	for name, v := range m.variants {
		total := v.rps * dt
		failed := total * v.errorRate
		m.requests.WithLabelValues(name, "200").Add(total - failed)
		m.requests.WithLabelValues(name, "500").Add(failed)
	}
}
