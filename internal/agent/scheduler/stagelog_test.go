package scheduler_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"

	ferryv1 "github.com/ferrycd/ferry/api/gen/ferry/v1"
	"github.com/ferrycd/ferry/internal/model"
	"github.com/ferrycd/ferry/internal/platform"
	"github.com/ferrycd/ferry/internal/testenv"
)

// readLog reads a stage's whole log through the API, pageSize blocks at a
// time, and returns its blocks and how many calls it took.
func (e *env) readLog(deploymentID, stageID string, pageSize int32) ([]*ferryv1.LogBlock, int) {
	e.t.Helper()
	var out []*ferryv1.LogBlock
	calls := 0
	for after := int64(-1); ; calls++ {
		res, err := e.cp.User().GetStageLog(context.Background(), connect.NewRequest(&ferryv1.GetStageLogRequest{
			DeploymentId: deploymentID, StageId: stageID, AfterIndex: after, PageSize: pageSize,
		}))
		if err != nil {
			e.t.Fatal(err)
		}
		out = append(out, res.Msg.Blocks...)
		if !res.Msg.HasMore {
			return out, calls + 1
		}
		if len(res.Msg.Blocks) > int(pageSize) {
			e.t.Fatalf("a page of %d blocks, asked for %d", len(res.Msg.Blocks), pageSize)
		}
		after = res.Msg.Blocks[len(res.Msg.Blocks)-1].Index
	}
}

// A line longer than a log block is kept whole (split over blocks), and
// the lines after it are kept too: the control plane refused such a block
// and the agent retried it until the stage ended, losing the rest of the
// log while the deployment said SUCCESS.
func TestALongLineAndTheLinesAfterItAreKept(t *testing.T) {
	e := newEnv(t, quickApp)
	long := strings.Repeat("0123456789", 10_000) + "é" // 100 KB, a two-byte character at the end
	e.prov.steps["K8S_SYNC"] = func(_ context.Context, in platform.StageInput) error {
		in.Log.Info("before")
		in.Log.Info(long)
		in.Log.Info("after")
		in.Log.Error("not \xffUTF-8") // would sink its whole batch
		return nil
	}
	d := e.create(ferryv1.SyncStrategy_SYNC_STRATEGY_AUTO)
	if err := e.sched.Run(context.Background(), d, nil); err != nil {
		t.Fatal(err)
	}
	blocks, _ := e.readLog(d.Id, "stage-0", 0)
	var text []string
	for _, b := range blocks {
		text = append(text, b.Log)
	}
	joined := strings.Join(text, "|")
	if want := "before|" + long[:model.MaxLogBlockBytes] + "|" + long[model.MaxLogBlockBytes:] + "|after|not \uFFFDUTF-8"; joined != want {
		t.Errorf("log = %d blocks, %d bytes (starts %.40q, ends %q); want before, the long line in two blocks, after, the bad line",
			len(blocks), len(joined), joined, joined[max(0, len(joined)-30):])
	}
}

// A stage that logs more than a stage log keeps has its first lines
// stored, then one line saying how much was cut; the log is read in pages,
// from the datastore while it runs and from the archive once it ended.
func TestAStageLogIsCutAtItsLimitWithAMarkerAndReadInPages(t *testing.T) {
	e := newEnv(t, quickApp)
	line := strings.Repeat("x", model.MaxLogBlockBytes)
	fit := model.MaxStageLogBytes / model.MaxLogBlockBytes
	running := make(chan struct{})
	release := make(chan struct{})
	e.prov.steps["K8S_SYNC"] = func(_ context.Context, in platform.StageInput) error {
		for range fit + 10 {
			in.Log.Info(line)
		}
		close(running)
		<-release
		return nil
	}
	d := e.create(ferryv1.SyncStrategy_SYNC_STRATEGY_AUTO)
	done := make(chan error, 1)
	go func() { done <- e.sched.Run(context.Background(), d, nil) }()
	<-running
	check := func(when string) {
		t.Helper()
		blocks, calls := e.readLog(d.Id, "stage-0", 50)
		if calls < 3 {
			t.Errorf("%s: the log came in %d calls of 50 blocks", when, calls)
		}
		last := blocks[len(blocks)-1]
		if len(blocks) != fit+1 || last.Severity != ferryv1.LogSeverity_LOG_SEVERITY_ERROR ||
			!strings.HasPrefix(last.Log, "[log cut] 10 more line(s), 640.0 KiB, were not kept") {
			t.Errorf("%s: %d blocks, the last %.80q; want %d and the cut marker", when, len(blocks), last.Log, fit+1)
		}
	}
	// The agent sends in the background: wait until every line arrived.
	waitForCut(t, e, d.Id, 10)
	check("while the stage runs")
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	check("from the archive")
}

// waitForCut waits until the stage-0 log of deploymentID says n lines were
// cut.
func waitForCut(t *testing.T, e *env, deploymentID string, n int) {
	t.Helper()
	testenv.WaitFor(t, 20*time.Second, "the cut marker counts every line", func() bool {
		blocks, _ := e.readLog(deploymentID, "stage-0", 5000)
		return len(blocks) > 0 && strings.HasPrefix(blocks[len(blocks)-1].Log, fmt.Sprintf("[log cut] %d ", n))
	})
}
