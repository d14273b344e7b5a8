package web

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ferrycd/ferry/internal/model"
	"github.com/ferrycd/ferry/internal/store"
	"github.com/ferrycd/ferry/internal/testenv"
)

// The console's browser tests run in Chromium and in Firefox, as subtests
// named after each (testenv.EachBrowser); their screenshots go to a folder
// per test and browser under testenv.ArtifactsDir.

// TestBrowserSignInApproveAndWatch drives the console in headless
// browsers as a person would: sign in, see the applications, open a
// deployment, approve its WAIT_APPROVAL stage with the keyboard, and watch
// the next stage's change arrive over the live stream without reloading.
func TestBrowserSignInApproveAndWatch(t *testing.T) {
	testenv.EachBrowser(t, func(t *testing.T, open testenv.Opener) {
		b := open(t)
		c := newConsole(t, Options{})

		signIn(t, b, c, "/applications", `table`)
		list := b.Text(t, `main`)
		if !strings.Contains(list, "checkout") || !strings.Contains(list, "INVALID_CONFIG") {
			t.Fatalf("the applications page does not list checkout as INVALID_CONFIG:\n%s", list)
		}
		b.Screenshot(t, "applications")
		b.Click(t, `a[href="/applications/`+c.app.ID+`"]`)
		b.WaitVisible(t, `#sync details`)
		b.Screenshot(t, "application with an invalid config")

		b.Navigate(t, c.srv.URL+"/deployments/"+c.dep.ID)
		b.WaitVisible(t, `#stage-s2 button.primary`)
		b.Screenshot(t, "deployment waiting for approval")

		// Keyboard: focus Approve; a live redraw of the pipeline keeps the
		// focus there; Enter approves.
		b.Focus(t, `#approve-s2`)
		if _, err := c.store.UpdateStage(context.Background(), c.dep.ID, "s3", func(s *model.Stage) error {
			s.Description = "waits for the approval"
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		b.WaitVisible(t, `#stage-s3 .desc`)
		var focused string
		b.Eval(t, `document.activeElement.id`, &focused)
		if focused != "approve-s2" {
			t.Fatalf("after a live redraw the focus is on %q, want it kept on approve-s2", focused)
		}
		b.Press(t, testenv.Enter)
		b.WaitVisible(t, `p.notice`)
		ops := b.Text(t, `#operations`)
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
		b.WaitVisible(t, `#stage-s3.s-running`)
		b.WaitVisible(t, `#stage-s2.s-success`)
		b.Screenshot(t, "deployment after approval")

		b.Navigate(t, c.srv.URL+"/insights")
		b.WaitVisible(t, `.chart svg`)
		b.Screenshot(t, "insights")
	})
}

// TestBrowserPhoneWidth checks the narrow layout: the pipeline stacks its
// stages and the page does not scroll sideways.
func TestBrowserPhoneWidth(t *testing.T) {
	testenv.EachBrowser(t, func(t *testing.T, open testenv.Opener) {
		b := open(t, testenv.PhoneWidth())
		c := newConsole(t, Options{})
		signIn(t, b, c, "/deployments/"+c.dep.ID, `#stage-s3`)
		var dir string
		b.Eval(t, `getComputedStyle(document.querySelector("ol.graph")).flexDirection + " " + (document.documentElement.scrollWidth <= innerWidth)`, &dir)
		if dir != "column true" {
			t.Errorf("at phone width the pipeline is %q, want its stages in a column and no sideways scroll (\"column true\")", dir)
		}
		b.Screenshot(t, "deployment at phone width")
	})
}

// signIn signs the browser in as the static admin from the sign-in page
// that path sends it to, typing the credentials, and waits for sel on the
// page it lands on.
func signIn(t *testing.T, b testenv.Browser, c *console, path, sel string) {
	t.Helper()
	b.Navigate(t, c.srv.URL+path)
	b.WaitVisible(t, `#username`)
	b.Type(t, `#username`, "admin")
	b.Type(t, `#password`, adminPassword)
	b.Submit(t, `#password`)
	b.WaitVisible(t, sel)
}

// TestBrowserDriftSyncAndCancel follows an application in headless
// browsers as its agent reports drift and then SYNCED, reads the drift
// diff, and cancels a deployment without rollback.
func TestBrowserDriftSyncAndCancel(t *testing.T) {
	testenv.EachBrowser(t, func(t *testing.T, open testenv.Opener) {
		b := open(t)
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
		b.WaitVisible(t, `#sync .badge.s-out_of_sync`)
		b.Click(t, `#sync summary`)
		b.WaitVisible(t, `#sync pre.diff`)
		diff := b.Text(t, `#sync pre.diff`)
		if !strings.Contains(diff, "spec.replicas: 2 (Git) → 5 (live)") {
			t.Errorf("the drift diff reads %q, want the replicas line", diff)
		}
		b.Screenshot(t, "application out of sync with its diff")

		// A sync later: SYNCED arrives without a reload.
		setSync(model.SyncSynced, "", "")
		b.WaitGone(t, `#sync pre.diff`)
		state := b.Text(t, `#sync`)
		if !strings.Contains(state, "SYNCED") || strings.Contains(state, "OUT_OF_SYNC") {
			t.Errorf("after the sync the page says %q, want SYNCED", state)
		}
		b.Screenshot(t, "application synced")

		// Cancel the running deployment, without rollback. The cancel form
		// is part of the summary the live stream redraws: a redraw between
		// choosing and clicking must keep the choice.
		b.Navigate(t, c.srv.URL+"/deployments/"+c.dep.ID)
		b.WaitVisible(t, `#cancel-deployment`)
		b.SetValue(t, `#cancel-rollback`, "no")
		if _, err := c.store.UpdateDeployment(ctx, c.dep.ID, func(d *model.Deployment) error {
			d.StatusReason = "rolling out the primary"
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		b.WaitText(t, `#summary`, "rolling out the primary")
		var choice string
		b.Eval(t, `document.getElementById("cancel-rollback").value`, &choice)
		if choice != "no" {
			t.Fatalf("after the summary was redrawn the rollback choice is %q, want the %q chosen before", choice, "no")
		}
		b.Click(t, `#cancel-deployment`)
		b.WaitVisible(t, `p.notice`)
		ops := b.Text(t, `#operations`)
		if !strings.Contains(ops, "CANCEL") || !strings.Contains(ops, "admin") || !strings.Contains(ops, "without rollback") {
			t.Errorf("after cancelling, the operations read %q, want admin's cancel without rollback", ops)
		}
		b.Screenshot(t, "deployment cancelled")
	})
}

// TestBrowserSettingsSessionsAndPassword signs in twice, signs the other
// session out from the Settings page, changes the static admin's password
// there and signs in with the new one; it takes screenshots of the
// settings, agents and events pages on the way.
func TestBrowserSettingsSessionsAndPassword(t *testing.T) {
	testenv.EachBrowser(t, func(t *testing.T, open testenv.Opener) {
		b := open(t)
		c := newConsole(t, Options{})
		other := c.browser()
		if res := other.signIn("default", adminPassword); res.StatusCode != http.StatusSeeOther {
			t.Fatalf("the other sign-in: %d", res.StatusCode)
		}

		b.Navigate(t, c.srv.URL+"/login")
		b.WaitVisible(t, `#username`)
		b.Screenshot(t, "sign-in")
		signIn(t, b, c, "/settings", `#sessions`)
		if rows := b.Text(t, `#sessions tbody`); strings.Count(rows, "Sign out") != 2 || !strings.Contains(rows, "admin (this session)") {
			t.Fatalf("the sessions table should list both of admin's sessions, this one marked:\n%s", rows)
		}
		b.Screenshot(t, "settings")
		b.Click(t, `form[action="/settings/sessions/revoke"] input[name="others"] ~ button`)
		b.WaitVisible(t, `p.notice`)
		if notice := b.Text(t, `p.notice`); !strings.Contains(notice, "1 session(s) signed out") {
			t.Errorf("after signing the other session out the notice reads %q", notice)
		}
		if res, _ := other.get("/applications"); res.StatusCode != http.StatusSeeOther {
			t.Errorf("the other browser after being signed out from Settings: %d, want a redirect to sign in", res.StatusCode)
		}

		const newPassword = "a new and longer password"
		b.Type(t, `#current-password`, adminPassword)
		b.Type(t, `#new-password`, newPassword)
		b.Type(t, `#new-password-again`, newPassword)
		b.Submit(t, `#new-password-again`)
		b.WaitVisible(t, `#username`)
		if notice := b.Text(t, `p.notice`); !strings.Contains(notice, "Sign in with the new password") {
			t.Errorf("after changing the password the sign-in page says %q", notice)
		}
		b.Type(t, `#username`, "admin")
		b.Type(t, `#password`, newPassword)
		b.Submit(t, `#password`)
		b.WaitVisible(t, `table`)

		b.Navigate(t, c.srv.URL+"/agents")
		b.WaitVisible(t, `main table`)
		b.Screenshot(t, "agents")
		b.Navigate(t, c.srv.URL+"/events")
		b.WaitVisible(t, `main h1`)
		b.Screenshot(t, "events")

		// Signed out from elsewhere while a live page is open: the page
		// goes to the sign-in form by itself.
		b.Navigate(t, c.srv.URL+"/deployments/"+c.dep.ID)
		b.WaitVisible(t, `#stage-s2`)
		if _, err := c.store.DeleteConsoleSessions(context.Background(), store.ConsoleSessionFilter{ProjectID: model.DefaultProjectID, Subject: "user:admin"}); err != nil {
			t.Fatal(err)
		}
		b.WaitVisible(t, `#username`)
	})
}
