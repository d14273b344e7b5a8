package agentscale

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestParseStatusReadsMemoryInBytesAndThreads(t *testing.T) {
	got := parseStatus("Name:\tferry\nVmHWM:\t   51200 kB\nVmRSS:\t   40960 kB\nRssAnon:\t   30720 kB\nRssFile:\t   10240 kB\nThreads:\t12\n")
	want := procStatus{RSS: 40 << 20, HWM: 50 << 20, Anon: 30 << 20, Threads: 12}
	if got != want {
		t.Errorf("parseStatus = %+v, want %+v", got, want)
	}
}

func TestParseCPUAddsUserAndSystemTimeAfterTheCommandName(t *testing.T) {
	// The command name holds a space and a parenthesis; utime 250, stime 50.
	line := "4242 (fer ry) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 9 0 12345 0 0"
	got, err := parseCPU(line)
	if err != nil {
		t.Fatal(err)
	}
	if want := 3 * time.Second; got != want {
		t.Errorf("parseCPU = %s, want %s", got, want)
	}
	if _, err := parseCPU("4242 ferry S"); err == nil {
		t.Error("parseCPU of a line without a command name: no error")
	}
}

func TestPercentileIsNearestRank(t *testing.T) {
	var ds []time.Duration
	for i := 20; i >= 1; i-- {
		ds = append(ds, time.Duration(i)*time.Millisecond)
	}
	for _, tc := range []struct {
		p    float64
		want time.Duration
	}{{50, 10 * time.Millisecond}, {99, 20 * time.Millisecond}, {5, time.Millisecond}} {
		if got := percentile(ds, tc.p); got != tc.want {
			t.Errorf("percentile(%v) = %s, want %s", tc.p, got, tc.want)
		}
	}
	if got := percentile(nil, 99); got != 0 {
		t.Errorf("percentile of nothing = %s, want 0", got)
	}
}

func TestAppIndexReadsTheNumberOfAnAppName(t *testing.T) {
	for name, want := range map[string]int{"app0001": 1, "app1000": 1000, "app12345": 12345, "web": 0} {
		if got := appIndex(name); got != want {
			t.Errorf("appIndex(%q) = %d, want %d", name, got, want)
		}
	}
	if appName(7) != "app0007" {
		t.Errorf("appName(7) = %q", appName(7))
	}
}

func TestSummariseLogsCountsWarningsAndErrorsByMessage(t *testing.T) {
	dir := t.TempDir()
	log := `time=2026-11-23T20:00:00Z level=INFO msg="agent starting" agent_id=a
time=2026-11-23T20:00:01Z level=WARN msg="sync failed" error="fetch: boom"
time=2026-11-23T20:00:02Z level=WARN msg="sync failed" error="fetch: boom again"
time=2026-11-23T20:00:03Z level=ERROR msg=crashed
`
	if err := os.WriteFile(filepath.Join(dir, "agent-1.log"), []byte(log), 0o644); err != nil {
		t.Fatal(err)
	}
	got := summariseLogs(filepath.Join(dir, "agent-*.log"))
	want := map[string]int{`WARN "sync failed"`: 2, "ERROR crashed": 1}
	if diff := cmp.Diff(want, got.ByMessage); diff != "" {
		t.Errorf("ByMessage (-want +got):\n%s", diff)
	}
	if got.Lines != 4 {
		t.Errorf("Lines = %d, want 4", got.Lines)
	}
	if top := got.Top(1); len(top) != 1 || top[0] != `WARN "sync failed"` {
		t.Errorf("Top(1) = %v", top)
	}
}

func TestParseRequestTotalsSumsByVerbAndRateLeavesWatchesOut(t *testing.T) {
	before := parseRequestTotals(`# HELP apiserver_request_total x
apiserver_request_total{code="200",component="apiserver",group="",resource="pods",verb="GET",version="v1"} 100
apiserver_request_total{code="404",component="apiserver",group="",resource="pods",verb="GET",version="v1"} 10
apiserver_request_total{code="200",component="apiserver",group="",resource="pods",verb="WATCH",version="v1"} 5
apiserver_request_total{code="200",component="apiserver",dry_run="All",group="apps",resource="deployments",verb="APPLY",version="v1"} 7
apiserver_request_total_other{verb="GET"} 99
`)
	want := apiCounts{"GET pods": 110, "WATCH pods": 5, "APPLY(dry run) deployments": 7}
	if diff := cmp.Diff(want, before); diff != "" {
		t.Errorf("parseRequestTotals (-want +got):\n%s", diff)
	}
	after := apiCounts{"GET pods": 120, "GET nodes": 10, "WATCH pods": 50, "PATCH pods": 4, "APPLY(dry run) deployments": 9}
	got := rate(before, after, 2*time.Second)
	if diff := cmp.Diff(APIRate{"GET pods": 5, "GET nodes": 5, "PATCH pods": 2, "APPLY(dry run) deployments": 1}, got); diff != "" {
		t.Errorf("rate (-want +got):\n%s", diff)
	}
	if s := got.String(); s != "13/s (GET 10, PATCH 2, APPLY(dry run) 1)" {
		t.Errorf("String = %q", s)
	}
	if s := got.Detail(); s != "13/s (GET nodes 5, GET pods 5, PATCH pods 2, APPLY(dry run) deployments 1)" {
		t.Errorf("Detail = %q", s)
	}
}
