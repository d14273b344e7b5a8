package web

import (
	"context"
	"strings"
	"testing"

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
