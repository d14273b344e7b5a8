package web

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/ferrycd/ferry/internal/model"
	"github.com/ferrycd/ferry/internal/testenv"
)

// TestBrowserSignInApproveAndWatch drives the console in headless Chromium
// as a person would: sign in, see the applications, open a deployment,
// approve its WAIT_APPROVAL stage, and watch the next stage's change arrive
// over the live stream without reloading.
func TestBrowserSignInApproveAndWatch(t *testing.T) {
	b := testenv.Chromium(t)
	c := newConsole(t, Options{})

	b.Do(t,
		chromedp.Navigate(c.srv.URL+"/applications"),
		chromedp.WaitVisible(`#username`),
		chromedp.SendKeys(`#username`, "admin"),
		chromedp.SendKeys(`#password`, adminPassword),
		chromedp.Submit(`#password`),
		chromedp.WaitVisible(`table`),
	)
	list, err := chromedp.Run(b.Ctx, chromedp.Text(`main`))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(list, "checkout") || !strings.Contains(list, "INVALID_CONFIG") {
		t.Fatalf("the applications page does not list checkout as INVALID_CONFIG:\n%s", list)
	}
	b.Screenshot(t, "applications")
	b.Do(t,
		chromedp.Click(`a[href="/applications/`+c.app.ID+`"]`),
		chromedp.WaitVisible(`#sync details`),
	)
	b.Screenshot(t, "application with an invalid config")

	b.Do(t,
		chromedp.Navigate(c.srv.URL+"/deployments/"+c.dep.ID),
		chromedp.WaitVisible(`#stage-s2 button.primary`),
	)
	b.Screenshot(t, "deployment waiting for approval")

	// Keyboard: focus Approve; a live redraw of the pipeline keeps the
	// focus there; Enter approves.
	b.Do(t, chromedp.Focus(`#approve-s2`))
	if _, err := c.store.UpdateStage(context.Background(), c.dep.ID, "s3", func(s *model.Stage) error {
		s.Description = "waits for the approval"
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	b.Do(t, chromedp.WaitVisible(`#stage-s3 .desc`))
	focused, err := chromedp.Run(b.Ctx, chromedp.Evaluate[string](`document.activeElement.id`))
	if err != nil {
		t.Fatal(err)
	}
	if focused != "approve-s2" {
		t.Fatalf("after a live redraw the focus is on %q, want it kept on approve-s2", focused)
	}
	b.Do(t,
		chromedp.KeyEvent("\r"),
		chromedp.WaitVisible(`p.notice`),
	)
	ops, err := chromedp.Run(b.Ctx, chromedp.Text(`#operations`))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(ops, "APPROVE") || !strings.Contains(ops, "admin") {
		t.Fatalf("after approving, the operations do not show admin's approval:\n%s", ops)
	}

	// The agent moves the pipeline on; the open page follows by itself.
	ctx := context.Background()
	for _, id := range []string{"s2", "s3"} {
		status := model.StageSuccess
		if id == "s3" {
			status = model.StageRunning
		}
		if _, err := c.store.UpdateStage(ctx, c.dep.ID, id, func(s *model.Stage) error {
			s.Status = status
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	b.Do(t, chromedp.WaitVisible(`#stage-s3.s-running`), chromedp.WaitVisible(`#stage-s2.s-success`))
	b.Screenshot(t, "deployment after approval")

	b.Do(t, chromedp.Navigate(c.srv.URL+"/insights"), chromedp.WaitVisible(`.chart svg`))
	b.Screenshot(t, "insights")
}

// TestBrowserPhoneWidth checks the narrow layout: the pipeline stacks its
// stages and the page does not scroll sideways.
func TestBrowserPhoneWidth(t *testing.T) {
	b := testenv.Chromium(t, testenv.PhoneWidth())
	c := newConsole(t, Options{})
	b.Do(t,
		chromedp.Navigate(c.srv.URL+"/deployments/"+c.dep.ID),
		chromedp.WaitVisible(`#username`),
		chromedp.SendKeys(`#username`, "admin"),
		chromedp.SendKeys(`#password`, adminPassword),
		chromedp.Submit(`#password`),
		chromedp.WaitVisible(`#stage-s3`),
	)
	dir, err := chromedp.Run(b.Ctx, chromedp.Evaluate[string](`getComputedStyle(document.querySelector("ol.graph")).flexDirection + " " + (document.documentElement.scrollWidth <= innerWidth)`))
	if err != nil {
		t.Fatal(err)
	}
	if dir != "column true" {
		t.Errorf("at phone width the pipeline is %q, want its stages in a column and no sideways scroll (\"column true\")", dir)
	}
	b.Screenshot(t, "deployment at phone width")
}

// signIn signs the browser in as the static admin from the sign-in page
// that path sends it to, and waits for sel on the page it lands on.
func signIn(t *testing.T, b *testenv.ChromiumEnv, c *console, path, sel string) {
	t.Helper()
	b.Do(t,
		chromedp.Navigate(c.srv.URL+path),
		chromedp.WaitVisible(`#username`),
		chromedp.SendKeys(`#username`, "admin"),
		chromedp.SendKeys(`#password`, adminPassword),
		chromedp.Submit(`#password`),
		chromedp.WaitVisible(sel),
	)
}

// TestBrowserDriftSyncAndCancel follows an application in headless
// Chromium as its agent reports drift and then SYNCED, reads the drift
// diff, and cancels a deployment without rollback.
func TestBrowserDriftSyncAndCancel(t *testing.T) {
	b := testenv.Chromium(t)
	c := newConsole(t, Options{})
	ctx := context.Background()
	signIn(t, b, c, "/applications/"+c.app.ID, `#sync`)

	setSync := func(status model.SyncStatus, short, reason string) {
		t.Helper()
		if _, err := c.store.UpdateApplication(ctx, c.app.ID, func(a *model.Application) error {
			a.SyncState = model.SyncState{Status: status, ShortReason: short, Reason: reason, Timestamp: time.Now().UTC()}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	// The agent sees an out-of-band edit: the open page shows it.
	setSync(model.SyncOutOfSync, "1 object differs from Git", "apps/v1/Deployment checkout/web\n  spec.replicas: 2 (Git) → 5 (live)")
	b.Do(t,
		chromedp.WaitVisible(`#sync .badge.s-out_of_sync`),
		chromedp.Click(`#sync summary`),
		chromedp.WaitVisible(`#sync pre.diff`),
	)
	diff, err := chromedp.Run(b.Ctx, chromedp.Text(`#sync pre.diff`))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(diff, "spec.replicas: 2 (Git) → 5 (live)") {
		t.Errorf("the drift diff reads %q, want the replicas line", diff)
	}
	b.Screenshot(t, "application out of sync with its diff")

	// A sync later: SYNCED arrives without a reload.
	setSync(model.SyncSynced, "", "")
	b.Do(t, chromedp.WaitNotPresent(`#sync pre.diff`))
	state, err := chromedp.Run(b.Ctx, chromedp.Text(`#sync`))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(state, "SYNCED") || strings.Contains(state, "OUT_OF_SYNC") {
		t.Errorf("after the sync the page says %q, want SYNCED", state)
	}
	b.Screenshot(t, "application synced")

	// Cancel the running deployment, without rollback.
	b.Do(t,
		chromedp.Navigate(c.srv.URL+"/deployments/"+c.dep.ID),
		chromedp.WaitVisible(`#cancel-deployment`),
		chromedp.SetValue(`#cancel-rollback`, "no"),
		chromedp.Click(`#cancel-deployment`),
		chromedp.WaitVisible(`p.notice`),
	)
	ops, err := chromedp.Run(b.Ctx, chromedp.Text(`#operations`))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(ops, "CANCEL") || !strings.Contains(ops, "admin") || !strings.Contains(ops, "without rollback") {
		t.Errorf("after cancelling, the operations read %q, want admin's cancel without rollback", ops)
	}
	b.Screenshot(t, "deployment cancelled")
}
