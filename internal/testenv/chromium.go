package testenv

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// ChromiumBinEnv names the variable holding the path of the chromium binary,
// the last line `bash hack/chromium/install.sh` prints. Unset,
// DefaultChromiumBin is used.
const ChromiumBinEnv = "FERRY_CHROMIUM_BIN"

// DefaultChromiumBin is where the Debian package installs the browser.
const DefaultChromiumBin = "/usr/bin/chromium"

// RequireChromiumEnv names the variable that, set to 1, makes tests that
// need Chromium fail rather than skip when its binary is missing.
const RequireChromiumEnv = "FERRY_TEST_REQUIRE_CHROMIUM"

// ArtifactsEnv names the variable holding the folder browser tests write
// screenshots to. Unset, they go to os.TempDir()/ferry-test-artifacts.
const ArtifactsEnv = "FERRY_TEST_ARTIFACTS"

// ErrNoChromium is wrapped by FindChromium's error when the binary is not
// where it was looked for.
var ErrNoChromium = errors.New("chromium binary not found")

// FindChromium returns the path of the chromium binary: $FERRY_CHROMIUM_BIN,
// or else /usr/bin/chromium. The error wraps ErrNoChromium and says how to
// install it.
func FindChromium() (string, error) {
	return findInstalled(ChromiumBinEnv, DefaultChromiumBin, "hack/chromium/install.sh", ErrNoChromium)
}

// ChromiumEnv is a headless Chromium started for one test: its own process
// and temporary user data folder (made and removed by chromedp), and one tab.
type ChromiumEnv struct {
	// Ctx is the chromedp context of the tab: pass it to chromedp.Run and
	// chromedp.Do, or to chromedp.NewContext for another tab of the same
	// browser. It is cancelled, and the browser stopped, when the test ends.
	Ctx context.Context
	// Bin is the browser binary that runs.
	Bin string

	width, height int
}

// Chromium starts a headless Chromium for t and returns once its first tab
// is open; the browser is stopped when t ends. The page's console messages
// and uncaught exceptions are written to t.Log, so a failing test shows
// what the page said.
//
// When the binary is missing the test is skipped, saying how to install it,
// or fails when FERRY_TEST_REQUIRE_CHROMIUM=1; any other start-up failure
// fails the test.
func Chromium(t testing.TB, opts ...BrowserOption) *ChromiumEnv {
	t.Helper()
	bin, err := FindChromium()
	if err != nil {
		skipMissing(t, "Chromium", RequireChromiumEnv, err)
	}
	cfg := newBrowserConfig(opts)
	allocOpts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(bin),
		chromedp.WindowSize(cfg.width, cfg.height),
		chromedp.DisableGPU,
	)
	if os.Getuid() == 0 {
		// Chromium refuses to start its sandbox as root (a CI container).
		allocOpts = append(allocOpts, chromedp.NoSandbox)
	}
	begin := time.Now()
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), allocOpts...)
	ctx, cancelTab := chromedp.NewContext(allocCtx)
	var consoleDone sync.WaitGroup
	t.Cleanup(func() {
		cancelTab()
		cancelAlloc() // waits for the browser process to exit
		consoleDone.Wait()
	})

	// The first Run starts the browser; it must not carry a timeout, which
	// would stop the browser with it. A browser that does not start ends
	// the Run with its error.
	setup := []chromedp.Action[chromedp.Void]{}
	if cfg.mobile {
		setup = append(setup, chromedp.EmulateViewport(int64(cfg.width), int64(cfg.height),
			chromedp.EmulatePortrait, chromedp.EmulateMobile, chromedp.EmulateTouch))
	}
	if err := chromedp.Do(ctx, setup...); err != nil {
		t.Fatalf("start Chromium %s: %v", bin, err)
	}
	messages := chromedp.Console(ctx)
	consoleDone.Go(func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			if ctx.Err() != nil {
				return
			}
			t.Logf("browser console: %s", m)
		}
	})
	t.Logf("Chromium %s ready in %s (%dx%d)", bin, time.Since(begin).Round(time.Millisecond), cfg.width, cfg.height)
	return &ChromiumEnv{Ctx: ctx, Bin: bin, width: cfg.width, height: cfg.height}
}

// Do runs steps in the tab, in order, failing t on the first error or when
// they take longer than BrowserTimeout together.
func (c *ChromiumEnv) Do(t testing.TB, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(c.Ctx, BrowserTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatalf("browser: %v", err)
	}
}

// Screenshot saves a PNG of the tab's viewport as name.png in ArtifactsDir(t)
// and returns its path, as Browser's Screenshot does. It is for people
// reading a failed or finished run; tests assert on the DOM, not on pixels.
func (c *ChromiumEnv) Screenshot(t testing.TB, name string) string {
	t.Helper()
	return c.Browser().Screenshot(t, name)
}

// ArtifactsDir returns, creating it, the folder for t's artifacts:
// $FERRY_TEST_ARTIFACTS/<test name>, or os.TempDir()/ferry-test-artifacts/<test
// name>. Artifacts outlive the test so CI can keep them; they are never
// committed.
func ArtifactsDir(t testing.TB) string {
	t.Helper()
	root := os.Getenv(ArtifactsEnv)
	if root == "" {
		root = filepath.Join(os.TempDir(), "ferry-test-artifacts")
	}
	dir := filepath.Join(root, safeName(t.Name()))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatalf("artifacts folder: %v", err)
	}
	return dir
}

var unsafeChars = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// safeName turns a test or screenshot name into one path element: subtest
// slashes and spaces become underscores.
func safeName(s string) string {
	s = strings.Trim(unsafeChars.ReplaceAllString(s, "_"), "_.")
	if s == "" {
		return "unnamed"
	}
	return s
}
