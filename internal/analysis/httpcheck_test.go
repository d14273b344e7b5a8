package analysis

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// app is an HTTP server standing in for an application under analysis:
// it answers GET /checkout/healthz with status and body, requiring the
// token header, and counts the requests and notes when they came.
type app struct {
	*httptest.Server
	status atomic.Int32
	body   atomic.Value // string
	hits   atomic.Int32
	// firstHit is closed by the first request.
	firstHit chan struct{}
	once     sync.Once
	// await, a chan struct{} when set, holds every answer until it is
	// closed (or the request ends).
	await atomic.Value

	mu sync.Mutex
	at []time.Time // when each request came
}

// times returns when the requests came, in order.
func (a *app) times() []time.Time {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]time.Time(nil), a.at...)
}

func newApp(t testing.TB) *app {
	a := &app{firstHit: make(chan struct{})}
	a.status.Store(http.StatusOK)
	a.body.Store("status: ok")
	a.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.mu.Lock()
		a.at = append(a.at, time.Now())
		a.mu.Unlock()
		a.hits.Add(1)
		a.once.Do(func() { close(a.firstHit) })
		if c, ok := a.await.Load().(chan struct{}); ok {
			select {
			case <-c:
			case <-r.Context().Done():
				return
			}
		}
		if r.URL.Path != "/checkout/healthz" || r.Header.Get("X-Token") != "s3cret-token" {
			http.Error(w, "no such page or no token", http.StatusNotFound)
			return
		}
		w.WriteHeader(int(a.status.Load()))
		_, _ = w.Write([]byte(a.body.Load().(string)))
	}))
	t.Cleanup(a.Close)
	return a
}

// check is an https entry against the app, the path templated with the
// application's name.
func (a *app) check(extra string) string {
	return "https:\n  - url: " + a.URL + "/{{ .App.Name }}/healthz?key=s3cret-query\n    interval: 300ms\n" +
		"    headers: [{key: X-Token, value: s3cret-token}]\n    expectedResponse: ok\n" + extra
}

func TestHTTPChecks(t *testing.T) {
	t.Parallel()

	t.Run("pass while the app answers 200 with the expected text", func(t *testing.T) {
		t.Parallel()
		a := newApp(t)
		r := newRun(t, "duration: 1s\n"+a.check(""), t.TempDir())
		took, err := r.execute(t, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if n := a.hits.Load(); n != 3 {
			t.Errorf("%d requests in 1s at a 300ms interval, want 3", n)
		}
		want := `INFO https[0]: GET ` + a.URL + `/checkout/healthz?… answered 200 with "ok" in its body: pass`
		if n := len(r.log.matching(want)); n != 3 {
			t.Errorf("%d lines %q, want 3:\n%s", n, want, r.log.text())
		}
		if took < time.Second {
			t.Errorf("the stage ended after %s, before its duration", took)
		}
		if strings.Contains(r.log.text(), "s3cret") {
			t.Errorf("the log shows a header value or the query string:\n%s", r.log.text())
		}
	})

	t.Run("fail on another status code", func(t *testing.T) {
		t.Parallel()
		a := newApp(t)
		a.status.Store(http.StatusServiceUnavailable)
		r := newRun(t, "duration: 10s\n"+a.check(""), t.TempDir())
		_, err := r.execute(t, Options{})
		wantErr(t, err, "https[0] failed once, more than its failureLimit 0; last: GET "+a.URL+"/checkout/healthz?… answered 503, not the expected 200")
		if strings.Contains(err.Error(), "s3cret") {
			t.Errorf("the error shows a secret: %v", err)
		}
	})

	t.Run("fail without the expected text", func(t *testing.T) {
		t.Parallel()
		a := newApp(t)
		a.body.Store("status: degraded")
		r := newRun(t, "duration: 10s\n"+a.check("    method: POST\n    expectedCode: 405\n"), t.TempDir())
		a.status.Store(http.StatusMethodNotAllowed)
		_, err := r.execute(t, Options{})
		wantErr(t, err, "POST "+a.URL+`/checkout/healthz?… answered 405 without "ok" in its body`)
	})

	t.Run("count an app that does not answer as a failure", func(t *testing.T) {
		t.Parallel()
		a := newApp(t)
		a.Close()
		r := newRun(t, "duration: 10s\n"+a.check("    failureLimit: 1\n"), t.TempDir())
		_, err := r.execute(t, Options{})
		wantErr(t, err, "https[0] failed twice, more than its failureLimit 1; last: no response to GET "+a.URL+"/checkout/healthz?…")
	})

	t.Run("skip an app that does not answer with skipOnNoData", func(t *testing.T) {
		t.Parallel()
		a := newApp(t)
		a.Close()
		r := newRun(t, "duration: 700ms\n"+a.check("    skipOnNoData: true\n"), t.TempDir())
		if _, err := r.execute(t, Options{}); err != nil {
			t.Fatal(err)
		}
		if n := len(r.log.matching("INFO https[0]: no response to GET", "skipped (skipOnNoData)")); n != 2 {
			t.Errorf("%d skipped checks, want 2:\n%s", n, r.log.text())
		}
	})

	t.Run("fail a request over its timeout", func(t *testing.T) {
		t.Parallel()
		release := make(chan struct{})
		slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-release:
			case <-r.Context().Done():
			}
		}))
		t.Cleanup(slow.Close)
		t.Cleanup(func() { close(release) })
		r := newRun(t, "duration: 10s\nhttps:\n  - {url: "+slow.URL+", interval: 100ms, timeout: 100ms}\n", t.TempDir())
		_, err := r.execute(t, Options{})
		wantErr(t, err, "https[0] failed once", "no response to GET "+slow.URL+": no answer within the timeout of 100ms")
	})

	t.Run("come from a template with appArgs", func(t *testing.T) {
		t.Parallel()
		a := newApp(t)
		repo := t.TempDir()
		writeFile(t, filepath.Join(repo, ".pipe", "template.yml"), `apiVersion: ferry.dev/v1
kind: AnalysisTemplate
spec:
  https:
    health:
      url: "{{ .AppCustomArgs.base }}/{{ .App.Name }}/healthz"
      headers: [{key: X-Token, value: s3cret-token}]
      expectedCode: 200
      interval: 300ms
`)
		r := newRun(t, "duration: 300ms\nhttps:\n  - template: {name: health, appArgs: {base: \""+a.URL+"\"}}\n", repo)
		if _, err := r.execute(t, Options{}); err != nil {
			t.Fatal(err)
		}
		if r.log.matching("INFO https[0] (template health): GET "+a.URL+"/checkout/healthz answered 200: pass") == nil {
			t.Errorf("no passing check from the template:\n%s", r.log.text())
		}
	})
}

func TestMetricsAndChecksRunConcurrently(t *testing.T) {
	t.Parallel()
	// Each app holds its answers until the other has had a request: checks
	// run one after the other would wait out their timeout and fail.
	a, b := newApp(t), newApp(t)
	a.await.Store(b.firstHit)
	b.await.Store(a.firstHit)
	r := newRun(t, "duration: 600ms\n"+a.check("")+strings.TrimPrefix(b.check(""), "https:\n"), t.TempDir())
	if _, err := r.execute(t, Options{}); err != nil {
		t.Fatalf("%v: the checks did not run at once\n%s", err, r.log.text())
	}
	for i, x := range []*app{a, b} {
		passes := len(r.log.matching(fmt.Sprintf("INFO https[%d]: GET "+x.URL, i), ": pass"))
		if n := int(x.hits.Load()); n == 0 || passes != n {
			t.Errorf("https[%d]: %d requests, %d passes logged; want each request passed:\n%s", i, n, passes, r.log.text())
		}
	}
}
