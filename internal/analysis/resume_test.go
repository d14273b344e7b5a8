package analysis

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	ferryv1 "github.com/ferrycd/ferry/api/gen/ferry/v1"
)

// started records in r's metadata an analysis that began ago.
func (r *run) started(ago time.Duration) time.Time {
	start := time.Now().Add(-ago)
	_ = r.meta.Put(context.Background(), map[string]string{MetaStartedAt: start.UTC().Format(time.RFC3339Nano)})
	return start
}

func TestResumedAnalysisKeepsItsScheduleAndEndsAtTheOriginalDeadline(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	// An hour at 500ms, begun all but 750ms ago: of its 7200 evaluations
	// only the last two remain, at the deadline less 500ms and at the
	// deadline. A fresh hour would outlast the test's context, a schedule
	// restarted from the resume would make its last check before the
	// deadline, and one run late (a loaded machine) only drops the first.
	const interval = 500 * time.Millisecond
	r := newRun(t, "duration: 1h\nhttps:\n  - {url: \""+a.URL+"/checkout/healthz\", interval: 500ms, headers: [{key: X-Token, value: s3cret-token}]}\n", t.TempDir())
	start := r.started(time.Hour - 750*time.Millisecond)
	deadline := start.Add(time.Hour)
	if _, err := r.execute(t, Options{}); err != nil {
		t.Fatal(err)
	}
	if end := time.Now(); end.Before(deadline) {
		t.Errorf("the resumed stage ended %s before the original deadline", deadline.Sub(end))
	}
	hits := a.times()
	if len(hits) == 0 || len(hits) > 2 {
		t.Fatalf("%d checks after resuming, want the 2 left (1 when resumed late)", len(hits))
	}
	if first := hits[0]; first.Before(deadline.Add(-interval)) {
		t.Errorf("a check %s before the deadline: the schedule's earlier evaluations were run again", deadline.Sub(first))
	}
	if last := hits[len(hits)-1]; last.Before(deadline) {
		t.Errorf("the last check came %s before the deadline: the schedule was not kept", deadline.Sub(last))
	}
	if r.log.matching("INFO Resuming the analysis started at "+start.Format(time.RFC3339)) == nil {
		t.Errorf("no resume line:\n%s", r.log.text())
	}
	if got := r.meta.Snapshot()[MetaStartedAt]; got != start.UTC().Format(time.RFC3339Nano) {
		t.Errorf("the start time became %s", got)
	}
}

func TestResumedAnalysisCountsTheFailuresBeforeTheRestart(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	a.status.Store(http.StatusInternalServerError)
	r := newRun(t, "duration: 10s\n"+a.check("    failureLimit: 2\n"), t.TempDir())
	r.started(100 * time.Millisecond)
	_ = r.meta.Put(context.Background(), map[string]string{MetaFailuresPrefix + "https[0]": "2"})
	_, err := r.execute(t, Options{})
	wantErr(t, err, "https[0] failed 3 times, more than its failureLimit 2")
	if n := a.hits.Load(); n != 1 {
		t.Errorf("%d checks, want 1: two failures were recorded before the restart", n)
	}
}

func TestResumedAnalysisAlreadyOverItsFailureLimitFailsAtOnce(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	r := newRun(t, "duration: 10s\n"+a.check(""), t.TempDir())
	r.started(time.Second)
	_ = r.meta.Put(context.Background(), map[string]string{MetaFailuresPrefix + "https[0]": "1"})
	_, err := r.execute(t, Options{})
	wantErr(t, err, "https[0] failed once before the agent restarted, more than its failureLimit 0")
	if a.hits.Load() != 0 {
		t.Errorf("%d checks, want none", a.hits.Load())
	}
}

func TestAnalysisResumedAfterItsDeadlineChecksOnceMore(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	r := newRun(t, "duration: 1s\n"+a.check(""), t.TempDir())
	r.started(time.Hour)
	if _, err := r.execute(t, Options{}); err != nil {
		t.Fatal(err)
	}
	if a.hits.Load() != 1 {
		t.Errorf("%d checks, want 1", a.hits.Load())
	}
	a.status.Store(http.StatusBadGateway)
	r = newRun(t, "duration: 1s\n"+a.check(""), t.TempDir())
	r.started(time.Hour)
	_, err := r.execute(t, Options{})
	wantErr(t, err, "answered 502")
}

func TestAnalysisRecordsItsWindowForPreviousWindow(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	r := newRun(t, "duration: 300ms\n"+a.check(""), t.TempDir())
	before := time.Now()
	if _, err := r.execute(t, Options{}); err != nil {
		t.Fatal(err)
	}
	md := r.meta.Snapshot()
	d := &ferryv1.Deployment{Stages: []*ferryv1.Stage{
		{Name: "K8S_CANARY_ROLLOUT", Index: 0, Status: ferryv1.StageStatus_STAGE_STATUS_SUCCESS},
		{Name: StageName, Index: 1, Status: ferryv1.StageStatus_STAGE_STATUS_SUCCESS, Metadata: md},
	}}
	start, end, ok := PreviousWindow(d)
	if !ok || start.Before(before.Add(-time.Millisecond)) || end.Sub(start) < 300*time.Millisecond || end.Sub(start) > 5*time.Second {
		t.Fatalf("PreviousWindow = %s, %s, %v; want the 300ms analysis that began at %s", start, end, ok, before)
	}

	d.Stages[1].Status = ferryv1.StageStatus_STAGE_STATUS_FAILURE
	if _, _, ok := PreviousWindow(d); ok {
		t.Error("a failed analysis gave a window")
	}
	d.Stages[1].Status = ferryv1.StageStatus_STAGE_STATUS_SUCCESS
	delete(d.Stages[1].Metadata, MetaEndedAt)
	if _, _, ok := PreviousWindow(d); ok {
		t.Error("an analysis without an end gave a window")
	}
}

func TestCancelledAnalysisReturnsTheContextsError(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	r := newRun(t, "duration: 1h\n"+a.check(""), t.TempDir())
	s, err := NewStage(Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Execute(ctx, r.in) }()
	// Cancel once the stage has checked once: it is then surely running.
	select {
	case <-a.firstHit:
	case err := <-done:
		t.Fatalf("the stage ended on its own: %v", err)
	}
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("err = %v, want context.Canceled", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the stage did not stop when cancelled")
	}
	if _, ended := r.meta.Snapshot()[MetaEndedAt]; ended {
		t.Error("a cancelled analysis recorded an end, for PREVIOUS to compare with")
	}
}
