package analysis

import (
	"encoding/base64"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ferrycd/ferry/internal/config"
)

const (
	ddAPIKey = "dd-api-key-0123456789"
	ddAppKey = "dd-app-key-9876543210"
)

// datadogProvider is a DATADOG provider of the fake: the API key from a
// file, the application key as base64 data, as PipeCD allows both.
func datadogProvider(t testing.TB, address string) config.AnalysisProvider {
	keyFile := filepath.Join(t.TempDir(), "api-key")
	writeFile(t, keyFile, ddAPIKey+"\n")
	return config.AnalysisProvider{Name: "dd", Type: ProviderDatadog, Config: map[string]any{
		"address":            address,
		"apiKeyFile":         keyFile,
		"applicationKeyData": base64.StdEncoding.EncodeToString([]byte(ddAppKey)),
	}}
}

func TestDatadogThresholdQueriesTheLastIntervalWithTheKeys(t *testing.T) {
	t.Parallel()
	fake := newDatadogFake(t, ddAPIKey, ddAppKey)
	fake.set("avg:errors{app:checkout}", vals(0.01, 0.02)...)
	fake.set("avg:errors{app:broken}", vals(0.01, 0.5)...)
	opts := Options{Providers: []config.AnalysisProvider{datadogProvider(t, fake.URL)}}

	r := newRun(t, "duration: 1s\nmetrics:\n  - {provider: dd, query: 'avg:errors{app:{{ .App.Name }}}', interval: 1s, expected: {max: 0.1}}\n", t.TempDir())
	if _, err := r.execute(t, opts); err != nil {
		t.Fatal(err)
	}
	if r.log.matching("INFO metrics[0]: 2 values from 0.01 to 0.02 are within [max 0.1]: pass") == nil {
		t.Errorf("no passing line:\n%s", r.log.text())
	}
	reqs := fake.requests()
	if len(reqs) != 1 || reqs[0].query != "avg:errors{app:checkout}" || reqs[0].to.Sub(reqs[0].from) != time.Second {
		t.Errorf("requests %+v, want one over the last second", reqs)
	}

	r = newRun(t, "duration: 10s\nmetrics:\n  - {provider: dd, query: 'avg:errors{app:broken}', interval: 1s, expected: {max: 0.1}}\n", t.TempDir())
	_, err := r.execute(t, opts)
	wantErr(t, err, "metrics[0] failed once", "1 of 2 values out of range: 0.5 is above max 0.1")
}

func TestDatadogCanaryBaselineComparesBothSeries(t *testing.T) {
	t.Parallel()
	fake := newDatadogFake(t, ddAPIKey, ddAppKey)
	fake.set("avg:latency{variant:canary}", vals(0.31, 0.30, 0.33, 0.29, 0.35, 0.32)...)
	fake.set("avg:latency{variant:baseline}", vals(0.10, 0.12, 0.11, 0.09, 0.10, 0.13)...)
	fake.set("avg:latency{variant:good}", vals(0.11, 0.10, 0.12, 0.10, 0.09, 0.12)...)
	opts := Options{Providers: []config.AnalysisProvider{datadogProvider(t, fake.URL)}}
	with := "duration: 10s\nmetrics:\n  - provider: dd\n    strategy: CANARY_BASELINE\n    deviation: HIGH\n    interval: 1s\n" +
		"    query: 'avg:latency{variant:{{ .VariantCustomArgs.v }}}'\n    baselineArgs: {v: baseline}\n"

	r := newRun(t, with+"    canaryArgs: {v: canary}\n", t.TempDir())
	_, err := r.execute(t, opts)
	wantErr(t, err, "canary median 0.315 (6 points) vs baseline median 0.105 (6 points): significantly higher")

	r = newRun(t, strings.Replace(with, "duration: 10s", "duration: 1s", 1)+"    canaryArgs: {v: good}\n", t.TempDir())
	if _, err := r.execute(t, opts); err != nil {
		t.Fatal(err)
	}
}

func TestDatadogSkipsGapsAndCallsNoPointsNoData(t *testing.T) {
	t.Parallel()
	fake := newDatadogFake(t, ddAPIKey, ddAppKey)
	fake.set("gappy", nil, vals(0.01)[0], nil)
	fake.set("empty")
	opts := Options{Providers: []config.AnalysisProvider{datadogProvider(t, fake.URL)}}

	r := newRun(t, "duration: 1s\nmetrics:\n  - {provider: dd, query: gappy, interval: 1s, expected: {max: 0.1}}\n", t.TempDir())
	if _, err := r.execute(t, opts); err != nil {
		t.Fatal(err)
	}
	if r.log.matching("INFO metrics[0]: 0.01 is within [max 0.1]: pass") == nil {
		t.Errorf("the gaps were not skipped:\n%s", r.log.text())
	}
	r = newRun(t, "duration: 1s\nmetrics:\n  - {provider: dd, query: empty, interval: 1s, expected: {max: 0.1}, skipOnNoData: true}\n", t.TempDir())
	if _, err := r.execute(t, opts); err != nil {
		t.Fatal(err)
	}
	if r.log.matching("INFO metrics[0]: no data: the query returned no points between", "skipped (skipOnNoData)") == nil {
		t.Errorf("no data was not skipped:\n%s", r.log.text())
	}
}

func TestDatadogRefusalShowsNoKey(t *testing.T) {
	t.Parallel()
	fake := newDatadogFake(t, "another-api-key", ddAppKey)
	fake.set("q", vals(1)...)
	r := newRun(t, "duration: 10s\nmetrics:\n  - {provider: dd, query: q, interval: 1s, expected: {max: 2}}\n", t.TempDir())
	_, err := r.execute(t, Options{Providers: []config.AnalysisProvider{datadogProvider(t, fake.URL)}})
	wantErr(t, err, "metrics[0] failed once", "datadog query: 403 Forbidden: Forbidden")
	for _, secret := range []string{ddAPIKey, ddAppKey} {
		if strings.Contains(err.Error(), secret) || strings.Contains(r.log.text(), secret) {
			t.Errorf("a key shows in the error or the log: %v\n%s", err, r.log.text())
		}
	}
}

func TestDatadogAddressIsTheSiteOrAURL(t *testing.T) {
	for in, want := range map[string]string{
		"":                       "https://api.datadoghq.com",
		"datadoghq.com":          "https://api.datadoghq.com",
		"datadoghq.eu":           "https://api.datadoghq.eu",
		"us3.datadoghq.com":      "https://api.us3.datadoghq.com",
		"api.datadoghq.eu":       "https://api.datadoghq.eu",
		"http://127.0.0.1:8125/": "http://127.0.0.1:8125",
	} {
		if got, err := datadogAddress(in); err != nil || got != want {
			t.Errorf("datadogAddress(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}
