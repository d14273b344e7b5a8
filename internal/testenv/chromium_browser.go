package testenv

import (
	"context"
	"strings"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// Browser returns the tab as a Browser, for tests that run in every
// browser. Its methods and Do may be mixed: they drive the same tab.
func (c *ChromiumEnv) Browser() Browser {
	return &page{name: "chromium", drv: chromiumTab{c}, width: c.width, height: c.height}
}

// chromiumTab drives a ChromiumEnv's tab through the DevTools protocol.
type chromiumTab struct{ c *ChromiumEnv }

var _ tabDriver = chromiumTab{}

// chromiumKeys maps the code points of Key to chromedp's.
var chromiumKeys = strings.NewReplacer(
	string(Enter), kb.Enter,
	string(Tab), kb.Tab,
	string(Escape), kb.Escape,
	string(Backspace), kb.Backspace,
	string(ArrowUp), kb.ArrowUp,
	string(ArrowDown), kb.ArrowDown,
)

// tabCtx returns the tab's context bounded by ctx's deadline: chromedp
// needs its own context, ctx brings the timeout.
func (d chromiumTab) tabCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	deadline, ok := ctx.Deadline()
	if !ok {
		return context.WithCancel(d.c.Ctx)
	}
	return context.WithDeadline(d.c.Ctx, deadline)
}

func (d chromiumTab) navigate(ctx context.Context, url string) error {
	ctx, cancel := d.tabCtx(ctx)
	defer cancel()
	return chromedp.Do(ctx, chromedp.Navigate(url))
}

func (d chromiumTab) evalJSON(ctx context.Context, js string) (string, error) {
	ctx, cancel := d.tabCtx(ctx)
	defer cancel()
	return chromedp.Run(ctx, chromedp.Evaluate[string](js, chromedp.EvalAwaitPromise))
}

func (d chromiumTab) keys(ctx context.Context, keys string) error {
	ctx, cancel := d.tabCtx(ctx)
	defer cancel()
	return chromedp.Do(ctx, chromedp.KeyEvent(chromiumKeys.Replace(keys)))
}

func (d chromiumTab) click(ctx context.Context, x, y float64) error {
	ctx, cancel := d.tabCtx(ctx)
	defer cancel()
	return chromedp.Do(ctx, chromedp.MouseClickXY(x, y))
}

func (d chromiumTab) setViewport(ctx context.Context, width, height int) error {
	ctx, cancel := d.tabCtx(ctx)
	defer cancel()
	return chromedp.Do(ctx, chromedp.EmulateViewport(int64(width), int64(height)))
}

func (d chromiumTab) screenshot(ctx context.Context) ([]byte, error) {
	ctx, cancel := d.tabCtx(ctx)
	defer cancel()
	return chromedp.Run(ctx, chromedp.CaptureScreenshot())
}

// documentGone recognises the DevTools protocol's errors for a call whose
// JavaScript context was torn down by a navigation.
func (chromiumTab) documentGone(err error) bool {
	msg := err.Error()
	return strings.Contains(msg, "Execution context was destroyed") ||
		strings.Contains(msg, "Cannot find context with specified id") ||
		strings.Contains(msg, "Cannot find default execution context") ||
		strings.Contains(msg, "Inspected target navigated or closed")
}
