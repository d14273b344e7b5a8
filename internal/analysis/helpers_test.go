package analysis

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	ferryv1 "github.com/ferrycd/ferry/api/gen/ferry/v1"
	"github.com/ferrycd/ferry/internal/config"
	"github.com/ferrycd/ferry/internal/platform"
	"github.com/ferrycd/ferry/internal/platform/platformtest"
)

// stageLog records a stage's log lines and writes them to t.Log.
type stageLog struct {
	t     testing.TB
	mu    sync.Mutex
	lines []string
}

func (l *stageLog) add(sev, msg string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, sev+" "+msg)
	l.t.Log(sev + " " + msg)
}

func (l *stageLog) Info(msg string)    { l.add("INFO", msg) }
func (l *stageLog) Success(msg string) { l.add("SUCCESS", msg) }
func (l *stageLog) Error(msg string)   { l.add("ERROR", msg) }

// matching returns the lines containing every one of parts.
func (l *stageLog) matching(parts ...string) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, line := range l.lines {
		ok := true
		for _, p := range parts {
			ok = ok && strings.Contains(line, p)
		}
		if ok {
			out = append(out, line)
		}
	}
	return out
}

// text returns the whole log.
func (l *stageLog) text() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n")
}

// run is one run of the stage in a test.
type run struct {
	in   platform.StageInput
	log  *stageLog
	meta *platformtest.Metadata
}

// newRun builds the input of an ANALYSIS stage of a Kubernetes application
// "checkout" in namespace shop whose options are with (YAML, as under
// `with:`), reading templates from repoDir.
func newRun(t testing.TB, with, repoDir string) *run {
	t.Helper()
	var b strings.Builder
	b.WriteString("apiVersion: pipecd.dev/v1beta1\nkind: KubernetesApp\nspec:\n  name: checkout\n  input: {namespace: shop}\n")
	b.WriteString("  pipeline:\n    stages:\n      - name: ANALYSIS\n        with:\n")
	for _, line := range strings.Split(strings.TrimRight(with, "\n"), "\n") {
		b.WriteString("          " + line + "\n")
	}
	app, err := config.ParseApp("app.pipecd.yaml", []byte(b.String()))
	if err != nil {
		t.Fatalf("app config: %v\n%s", err, b.String())
	}
	r := &run{log: &stageLog{t: t}, meta: &platformtest.Metadata{}}
	r.in = platform.StageInput{
		Deployment: &ferryv1.Deployment{Id: "d1", ApplicationId: "a1", ApplicationName: "checkout"},
		Stage:      &ferryv1.Stage{Id: "stage-0", Name: StageName},
		Config:     &app.Generic.Pipeline.Stages[0],
		App:        app,
		RepoDir:    repoDir,
		Log:        r.log,
		Metadata:   r.meta,
	}
	return r
}

// execute runs the stage with providers and returns its error and how
// long it took.
func (r *run) execute(t testing.TB, opts Options) (time.Duration, error) {
	t.Helper()
	s, err := NewStage(opts)
	if err != nil {
		t.Fatalf("NewStage: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	begin := time.Now()
	err = s.Execute(ctx, r.in)
	return time.Since(begin), err
}

// prometheusProvider is an agent's PROMETHEUS provider at url.
func prometheusProvider(name, url string) config.AnalysisProvider {
	return config.AnalysisProvider{Name: name, Type: ProviderPrometheus, Config: map[string]any{"address": url}}
}

// wantErr fails t unless err holds every one of parts.
func wantErr(t testing.TB, err error, parts ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("err = nil, want an error containing %q", parts)
	}
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			t.Fatalf("err = %v\nwant it to contain %q", err, p)
		}
	}
}

// quoteYAML quotes s as a YAML double-quoted string.
func quoteYAML(s string) string { return fmt.Sprintf("%q", s) }
