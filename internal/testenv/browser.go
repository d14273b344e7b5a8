package testenv

import (
	"testing"
	"time"
)

// BrowserTimeout bounds each Browser method: a page that never shows what
// a test waits for fails the test, saying what it waited for, instead of
// hanging the suite until go test's own timeout.
const BrowserTimeout = 30 * time.Second

// Key is a key of the keyboard, for Browser.Press. Its value is the key's
// code point in WebDriver's keyboard table (Enter is the main one, U+E006
// "Return", not the keypad's U+E007).
type Key string

// The keys a test can press.
const (
	Enter     Key = "\uE006"
	Tab       Key = "\uE004"
	Escape    Key = "\uE00C"
	Backspace Key = "\uE003"
	Space     Key = " "
	ArrowUp   Key = "\uE013"
	ArrowDown Key = "\uE015"
)

// Browser is one tab of a real browser started for one test, driven the
// way a person would use it: real key presses and mouse clicks, waits on
// what the page shows. Chromium and Firefox both implement it, so a test
// written against it runs in each (see EachBrowser).
//
// Every method blocks until it is done and fails t when it does not manage
// within BrowserTimeout, naming the selector and what it waited for. Waits
// follow the tab across navigations: a wait that starts on a page that a
// form submission is replacing goes on in the new page. A Browser is not
// safe for use by several goroutines at once.
type Browser interface {
	// Name says which browser this is: "chromium" or "firefox".
	Name() string
	// Navigate loads url and returns once the page's load event has fired.
	Navigate(t testing.TB, url string)
	// WaitVisible returns once an element matching the CSS selector sel is
	// in the page and laid out: it has a box, as offsetWidth,
	// offsetHeight or getClientRects tell.
	WaitVisible(t testing.TB, sel string)
	// WaitGone returns once no element matches sel.
	WaitGone(t testing.TB, sel string)
	// WaitText returns once the text the first element matching sel shows
	// (its innerText) contains text.
	WaitText(t testing.TB, sel, text string)
	// Focus waits for sel to be visible and gives it the keyboard focus.
	Focus(t testing.TB, sel string)
	// Type focuses the element sel, once visible, and types text into it,
	// one key press per character.
	Type(t testing.TB, sel, text string)
	// Press presses and releases key on whatever has the focus.
	Press(t testing.TB, key Key)
	// Click scrolls the element sel, once visible, into view and clicks
	// the middle of it with the mouse. It fails when something else covers
	// that point, as it would a person's click.
	Click(t testing.TB, sel string)
	// Submit submits the form sel, or the form of the control sel, as its
	// submit button would: submit handlers run and validation applies.
	Submit(t testing.TB, sel string)
	// SetValue sets the value of the form control sel (a select's chosen
	// option) and fires its input and change events.
	SetValue(t testing.TB, sel, value string)
	// Text returns the text the first element matching sel shows (its
	// innerText), once it is in the page.
	Text(t testing.TB, sel string) string
	// Eval evaluates the JavaScript expression js in the page, awaits it
	// when it is a promise, and decodes its value, passed through
	// JSON.stringify, into out (a pointer; nil discards the value).
	Eval(t testing.TB, js string, out any)
	// SetViewport resizes the page's viewport to width by height CSS
	// pixels, as a person resizing the window would; the page gets its
	// resize event.
	SetViewport(t testing.TB, width, height int)
	// Screenshot saves a PNG of the viewport as name.png in ArtifactsDir(t)
	// and returns its path. It is for people reading a failed or finished
	// run; tests assert on the DOM, not on pixels.
	Screenshot(t testing.TB, name string) string
}

// BrowserOption changes how a browser starts.
type BrowserOption func(*browserConfig)

type browserConfig struct {
	width, height int
	mobile        bool
}

func newBrowserConfig(opts []BrowserOption) browserConfig {
	cfg := browserConfig{width: defaultWindowWidth, height: defaultWindowHeight}
	for _, o := range opts {
		o(&cfg)
	}
	return cfg
}

// The window sizes of the options below, in CSS pixels.
const (
	defaultWindowWidth, defaultWindowHeight = 1280, 800
	// A common phone's viewport: narrow enough for a console's mobile layout.
	phoneWidth, phoneHeight = 390, 844
)

// WindowSize sets the page's viewport to width by height CSS pixels. The
// default is 1280 by 800.
func WindowSize(width, height int) BrowserOption {
	return func(c *browserConfig) { c.width, c.height = width, height }
}

// PhoneWidth makes the viewport a phone's, 390 by 844 CSS pixels, so a
// page's narrow-screen CSS applies. Chromium also emulates a mobile device
// with touch: as on a real phone, a page without <meta name="viewport"
// content="width=device-width"> is laid out 980 pixels wide and scaled
// down. Desktop Firefox has no such mode; it lays every page out 390
// pixels wide.
func PhoneWidth() BrowserOption {
	return func(c *browserConfig) { c.width, c.height, c.mobile = phoneWidth, phoneHeight, true }
}

// Opener starts a browser for t, stopped when t ends.
type Opener func(t testing.TB, opts ...BrowserOption) Browser

// EachBrowser runs test once per browser Ferry's console is tested in,
// Chromium then Firefox, as subtests named "chromium" and "firefox"; open
// starts that subtest's browser. A browser that is not installed skips its
// subtest, or fails it under FERRY_TEST_REQUIRE_CHROMIUM=1 or
// FERRY_TEST_REQUIRE_FIREFOX=1.
func EachBrowser(t *testing.T, test func(t *testing.T, open Opener)) {
	t.Helper()
	browsers := []struct {
		name string
		open Opener
	}{
		{"chromium", func(t testing.TB, opts ...BrowserOption) Browser { t.Helper(); return Chromium(t, opts...).Browser() }},
		{"firefox", func(t testing.TB, opts ...BrowserOption) Browser { t.Helper(); return Firefox(t, opts...).Browser() }},
	}
	for _, b := range browsers {
		t.Run(b.name, func(t *testing.T) { test(t, b.open) })
	}
}
