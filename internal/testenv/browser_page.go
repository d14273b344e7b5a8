package testenv

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// tabDriver is what a browser's protocol must do for a tab; page builds
// Browser's methods on it, so both browsers wait, type and click the same
// way.
type tabDriver interface {
	// navigate loads url and returns after its load event.
	navigate(ctx context.Context, url string) error
	// evalJSON evaluates the JavaScript expression js, which yields a
	// string or a promise of one, and returns the string.
	evalJSON(ctx context.Context, js string) (string, error)
	// keys presses and releases each character of keys in turn; a Key's
	// code point presses that key.
	keys(ctx context.Context, keys string) error
	// click presses and releases the left mouse button at x, y in CSS
	// pixels from the viewport's top left.
	click(ctx context.Context, x, y float64) error
	// setViewport resizes the viewport to width by height CSS pixels.
	setViewport(ctx context.Context, width, height int) error
	// screenshot returns a PNG of the viewport.
	screenshot(ctx context.Context) ([]byte, error)
	// documentGone reports whether err means the page's document went
	// away while the call ran: the tab navigated.
	documentGone(err error) bool
}

// page implements Browser on a tabDriver.
type page struct {
	name          string
	drv           tabDriver
	width, height int
}

var _ Browser = (*page)(nil)

func (p *page) Name() string { return p.name }

func (p *page) Navigate(t testing.TB, url string) {
	t.Helper()
	p.do(t, "navigate to "+url, func(ctx context.Context) error { return p.drv.navigate(ctx, url) })
}

func (p *page) WaitVisible(t testing.TB, sel string) {
	t.Helper()
	p.wait(t, sel, "visible", "")
}

func (p *page) WaitGone(t testing.TB, sel string) {
	t.Helper()
	p.wait(t, sel, "gone", "")
}

func (p *page) WaitText(t testing.TB, sel, text string) {
	t.Helper()
	p.wait(t, sel, "text", text)
}

func (p *page) Focus(t testing.TB, sel string) {
	t.Helper()
	p.wait(t, sel, "visible", "")
	p.call(t, "focus "+sel, focusJS, nil, sel)
}

func (p *page) Type(t testing.TB, sel, text string) {
	t.Helper()
	p.Focus(t, sel)
	p.do(t, "type into "+sel, func(ctx context.Context) error { return p.drv.keys(ctx, text) })
}

func (p *page) Press(t testing.TB, key Key) {
	t.Helper()
	p.do(t, fmt.Sprintf("press %q", key), func(ctx context.Context) error { return p.drv.keys(ctx, string(key)) })
}

func (p *page) Click(t testing.TB, sel string) {
	t.Helper()
	p.wait(t, sel, "visible", "")
	var at struct {
		X, Y    float64
		Covered string
	}
	p.call(t, "find where to click "+sel, clickPointJS, &at, sel)
	if at.Covered != "" {
		t.Fatalf("%s: click %s: its middle (%g, %g) is covered by %s", p.name, sel, at.X, at.Y, at.Covered)
	}
	p.do(t, fmt.Sprintf("click %s at (%g, %g)", sel, at.X, at.Y), func(ctx context.Context) error { return p.drv.click(ctx, at.X, at.Y) })
}

func (p *page) Submit(t testing.TB, sel string) {
	t.Helper()
	p.wait(t, sel, "present", "")
	p.call(t, "submit the form of "+sel, submitJS, nil, sel)
}

func (p *page) SetValue(t testing.TB, sel, value string) {
	t.Helper()
	p.wait(t, sel, "present", "")
	p.call(t, "set the value of "+sel, setValueJS, nil, sel, value)
}

func (p *page) Text(t testing.TB, sel string) string {
	t.Helper()
	p.wait(t, sel, "present", "")
	var text string
	p.call(t, "read the text of "+sel, textJS, &text, sel)
	return text
}

func (p *page) Eval(t testing.TB, js string, out any) {
	t.Helper()
	p.do(t, "evaluate "+js, func(ctx context.Context) error { return p.eval(ctx, js, out) })
}

func (p *page) SetViewport(t testing.TB, width, height int) {
	t.Helper()
	p.do(t, fmt.Sprintf("set the viewport to %dx%d", width, height), func(ctx context.Context) error {
		return p.drv.setViewport(ctx, width, height)
	})
	p.width, p.height = width, height
}

func (p *page) Screenshot(t testing.TB, name string) string {
	t.Helper()
	var png []byte
	p.do(t, "screenshot "+name, func(ctx context.Context) (err error) {
		png, err = p.drv.screenshot(ctx)
		return err
	})
	return saveScreenshot(t, name, png, p.width, p.height)
}

// saveScreenshot writes png as name.png in ArtifactsDir(t).
func saveScreenshot(t testing.TB, name string, png []byte, width, height int) string {
	t.Helper()
	path := filepath.Join(ArtifactsDir(t), safeName(name)+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	t.Logf("screenshot %s (%dx%d)", path, width, height)
	return path
}

// errWaitTimedOut is what the page's wait reports when its deadline
// passes first.
var errWaitTimedOut = errors.New("timed out")

// wait returns once the element sel is in state ("visible", "present",
// "gone", or "text": its innerText contains text). The page itself waits,
// on DOM mutations and on the events that change layout without one, until
// its deadline; a document replaced mid-wait (a form submitted, a link
// followed) has the wait go on in its successor.
func (p *page) wait(t testing.TB, sel, state, text string) {
	t.Helper()
	what := "to be " + state
	if state == "text" {
		what = fmt.Sprintf("to show %q", text)
	}
	deadline := time.Now().Add(BrowserTimeout)
	// The page's own deadline ends the wait; this one only catches a
	// browser that stopped answering.
	ctx, cancel := context.WithDeadline(context.Background(), deadline.Add(5*time.Second))
	defer cancel()
	for {
		left := time.Until(deadline).Milliseconds()
		var ok bool
		err := p.eval(ctx, jsCall(waitJS, sel, state, text, max(left, 0)), &ok)
		switch {
		case err == nil && ok:
			return
		case err == nil:
			err = errWaitTimedOut
		case p.drv.documentGone(err) && time.Now().Before(deadline):
			continue
		}
		t.Fatalf("%s: wait for %s %s (timeout %s): %v", p.name, sel, what, BrowserTimeout, err)
	}
}

// call runs the JavaScript function fn on args in the page and decodes its
// result into out; what says what it was for, in the failure.
func (p *page) call(t testing.TB, what, fn string, out any, args ...any) {
	t.Helper()
	p.do(t, what, func(ctx context.Context) error { return p.eval(ctx, jsCall(fn, args...), out) })
}

// do runs f within BrowserTimeout and fails t on its error, saying what
// it was doing.
func (p *page) do(t testing.TB, what string, f func(ctx context.Context) error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), BrowserTimeout)
	defer cancel()
	if err := f(ctx); err != nil {
		t.Fatalf("%s: %s: %v", p.name, what, err)
	}
}

// eval evaluates js, awaiting a promise, and decodes its JSON into out.
func (p *page) eval(ctx context.Context, js string, out any) error {
	s, err := p.drv.evalJSON(ctx, "(async () => JSON.stringify(await (\n"+js+"\n)) ?? \"null\")()")
	if err != nil {
		return err
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal([]byte(s), out); err != nil {
		return fmt.Errorf("decode %.200s: %w", s, err)
	}
	return nil
}

// jsCall returns the expression that calls the function fn on args, each
// written as a JSON literal.
func jsCall(fn string, args ...any) string {
	js := "(" + fn + ")("
	for i, a := range args {
		b, err := json.Marshal(a)
		if err != nil {
			panic(fmt.Sprintf("testenv: a JavaScript argument: %v", err))
		}
		if i > 0 {
			js += ", "
		}
		js += string(b)
	}
	return js + ")"
}

// waitJS resolves true once the element sel is in state (its text
// containing text, for "text"), false at the deadline ms milliseconds
// away. It checks when the DOM changes and on the
// events that change layout without a mutation (a stylesheet loading, a
// transition ending, the window resizing); it never polls.
const waitJS = `(sel, state, text, ms) => new Promise((resolve, reject) => {
  const events = ["DOMContentLoaded", "load", "transitionend", "animationend", "toggle", "resize"];
  let observer, timer;
  const stop = () => {
    if (observer) observer.disconnect();
    clearTimeout(timer);
    for (const e of events) window.removeEventListener(e, check, true);
  };
  function check() {
    let el;
    try { el = document.querySelector(sel); } catch (err) { stop(); reject(err); return true; }
    let ok;
    if (state === "gone") ok = !el;
    else if (state === "present") ok = !!el;
    else if (state === "text") ok = !!el && el.innerText.includes(text);
    else ok = !!el && Boolean(el.offsetWidth || el.offsetHeight || el.getClientRects().length);
    if (ok) { stop(); resolve(true); }
    return ok;
  }
  if (check()) return;
  observer = new MutationObserver(check);
  observer.observe(document, {childList: true, subtree: true, attributes: true, characterData: true});
  for (const e of events) window.addEventListener(e, check, true);
  timer = setTimeout(() => { stop(); resolve(false); }, ms);
})`

// focusJS focuses sel; the element must take the focus.
const focusJS = `(sel) => {
  const el = document.querySelector(sel);
  el.focus();
  if (document.activeElement !== el) throw new Error("the element did not take the focus");
}`

// clickPointJS scrolls sel into view and returns the middle of its first
// box, and what covers that point when it is not sel or inside it.
const clickPointJS = `(sel) => {
  const el = document.querySelector(sel);
  el.scrollIntoView({block: "center", inline: "center"});
  const r = el.getClientRects()[0];
  const X = Math.round(r.left + r.width / 2), Y = Math.round(r.top + r.height / 2);
  const hit = document.elementFromPoint(X, Y);
  const Covered = hit && (hit === el || el.contains(hit)) ? "" : (hit ? hit.outerHTML.slice(0, 120) : "nothing (outside the viewport)");
  return {X, Y, Covered};
}`

// submitJS submits sel's form as its submit button would.
const submitJS = `(sel) => {
  const el = document.querySelector(sel);
  const form = el instanceof HTMLFormElement ? el : el.form;
  if (!form) throw new Error("not a form nor in one");
  form.requestSubmit();
}`

// setValueJS sets sel's value and fires the events typing would.
const setValueJS = `(sel, value) => {
  const el = document.querySelector(sel);
  el.value = value;
  if (el.value !== value) throw new Error("the control did not take the value " + JSON.stringify(value));
  el.dispatchEvent(new Event("input", {bubbles: true}));
  el.dispatchEvent(new Event("change", {bubbles: true}));
}`

// textJS returns sel's rendered text.
const textJS = `(sel) => document.querySelector(sel).innerText`
