package testenv

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// FirefoxBinEnv names the variable holding the path of the Firefox binary,
// the last line `bash hack/firefox/install.sh` prints. Unset,
// DefaultFirefoxBin is used.
const FirefoxBinEnv = "FERRY_FIREFOX_BIN"

// DefaultFirefoxBin is where Debian's firefox-esr package installs the
// browser.
const DefaultFirefoxBin = "/usr/bin/firefox-esr"

// RequireFirefoxEnv names the variable that, set to 1, makes tests that
// need Firefox fail rather than skip when its binary is missing.
const RequireFirefoxEnv = "FERRY_TEST_REQUIRE_FIREFOX"

// ErrNoFirefox is wrapped by FindFirefox's error when the binary is not
// where it was looked for.
var ErrNoFirefox = errors.New("firefox binary not found")

// FindFirefox returns the path of the Firefox binary: $FERRY_FIREFOX_BIN,
// or else /usr/bin/firefox-esr. The error wraps ErrNoFirefox and says how
// to install it.
func FindFirefox() (string, error) {
	return findInstalled(FirefoxBinEnv, DefaultFirefoxBin, "hack/firefox/install.sh", ErrNoFirefox)
}

// firefoxPrefs go into the temporary profile's user.js. The tests' network
// is closed, so everything Firefox would fetch by itself is off: updates,
// telemetry, remote settings and experiments, safe browsing lists, captive
// portal and connectivity checks, add-on and plugin downloads. The remote
// agent sets more of the same itself (its "recommended preferences").
var firefoxPrefs = map[string]any{
	"app.normandy.enabled":                               false,
	"app.normandy.api_url":                               "",
	"app.shield.optoutstudies.enabled":                   false,
	"app.update.auto":                                    false,
	"app.update.disabledForTesting":                      true,
	"app.update.enabled":                                 false,
	"browser.aboutwelcome.enabled":                       false,
	"browser.backup.enabled":                             false,
	"browser.backup.scheduled.enabled":                   false,
	"browser.discovery.enabled":                          false,
	"browser.newtabpage.activity-stream.feeds.telemetry": false,
	"browser.newtabpage.activity-stream.telemetry":       false,
	"browser.newtabpage.enabled":                         false,
	"browser.ping-centre.telemetry":                      false,
	"browser.region.network.url":                         "",
	"browser.region.update.enabled":                      false,
	"browser.safebrowsing.blockedURIs.enabled":           false,
	"browser.safebrowsing.downloads.enabled":             false,
	"browser.safebrowsing.malware.enabled":               false,
	"browser.safebrowsing.phishing.enabled":              false,
	"browser.safebrowsing.update.enabled":                false,
	"browser.search.update":                              false,
	"browser.sessionstore.resume_from_crash":             false,
	// No back-forward cache: a page left behind is destroyed, so a script
	// call waiting in it ends (see firefoxTab.evalJSON).
	"browser.sessionhistory.max_total_viewers":                    0,
	"browser.shell.checkDefaultBrowser":                           false,
	"browser.startup.homepage":                                    "about:blank",
	"browser.startup.homepage_override.mstone":                    "ignore",
	"browser.startup.page":                                        0,
	"browser.tabs.warnOnClose":                                    false,
	"browser.translations.enable":                                 false,
	"browser.ml.enable":                                           false,
	"browser.ml.chat.enabled":                                     false,
	"datareporting.healthreport.uploadEnabled":                    false,
	"datareporting.policy.dataSubmissionEnabled":                  false,
	"datareporting.policy.dataSubmissionPolicyBypassNotification": true,
	"dom.push.connection.enabled":                                 false,
	"dom.push.serverURL":                                          "",
	"extensions.blocklist.enabled":                                false,
	"extensions.getAddons.cache.enabled":                          false,
	"extensions.update.enabled":                                   false,
	// Focus as in a window with the system's focus, though headless has
	// none: without it a focused button ignores Enter.
	"focusmanager.testmode":                           true,
	"geo.provider.network.url":                        "",
	"identity.fxaccounts.enabled":                     false,
	"media.gmp-gmpopenh264.enabled":                   false,
	"media.gmp-manager.updateEnabled":                 false,
	"messaging-system.rsexperimentloader.enabled":     false,
	"network.captive-portal-service.enabled":          false,
	"network.connectivity-service.enabled":            false,
	"network.dns.disablePrefetch":                     true,
	"network.http.speculative-parallel-limit":         0,
	"network.prefetch-next":                           false,
	"network.trr.mode":                                5,
	"nimbus.rsexperimentloader.enabled":               false,
	"security.OCSP.enabled":                           0,
	"security.remote_settings.crlite_filters.enabled": false,
	"security.remote_settings.intermediates.enabled":  false,
	"services.settings.server":                        "data:,#remote-settings-dummy/v1",
	"toolkit.startup.max_resumed_crashes":             -1,
	"toolkit.telemetry.archive.enabled":               false,
	"toolkit.telemetry.enabled":                       false,
	"toolkit.telemetry.server":                        "",
	"toolkit.telemetry.unified":                       false,
}

// FirefoxEnv is a headless Firefox started for one test: its own process,
// a temporary profile, and one tab, driven through WebDriver BiDi, which
// Firefox speaks itself (no geckodriver).
type FirefoxEnv struct {
	// Bin is the browser binary that runs.
	Bin string

	conn          *bidiConn
	tab           string // the browsing context id of the tab
	width, height int

	mu       sync.Mutex
	gone     map[string]bool          // realms (documents) destroyed
	watchers map[string]chan struct{} // closed when their realm is destroyed
}

// Firefox starts a headless Firefox for t and returns once its tab is
// open; the browser is stopped when t ends. The page's console messages
// and uncaught exceptions, and Firefox's own output, are written to t.Log.
//
// When the binary is missing the test is skipped, saying how to install it,
// or fails when FERRY_TEST_REQUIRE_FIREFOX=1; any other start-up failure
// fails the test.
func Firefox(t testing.TB, opts ...BrowserOption) *FirefoxEnv {
	t.Helper()
	bin, err := FindFirefox()
	if err != nil {
		skipMissing(t, "Firefox", RequireFirefoxEnv, err)
	}
	cfg := newBrowserConfig(opts)
	begin := time.Now()
	profile := t.TempDir()
	if err := writeFirefoxPrefs(profile); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), BrowserTimeout)
	defer cancel()
	proc, url, err := startFirefox(ctx, t, bin, profile)
	if err != nil {
		t.Fatalf("start Firefox %s: %v", bin, err)
	}
	f := &FirefoxEnv{Bin: bin, width: cfg.width, height: cfg.height, gone: map[string]bool{}, watchers: map[string]chan struct{}{}}
	logs := LogWriter(t)
	conn, err := dialBiDi(ctx, url+"/session", func(method string, params json.RawMessage) {
		switch method {
		case "log.entryAdded":
			var e struct{ Type, Level, Text string }
			if json.Unmarshal(params, &e) == nil {
				fmt.Fprintf(logs, "browser console: %s %s: %s\n", e.Type, e.Level, e.Text)
			}
		case "script.realmDestroyed":
			var e struct{ Realm string }
			if json.Unmarshal(params, &e) == nil {
				f.realmDestroyed(e.Realm)
			}
		}
	})
	if err != nil {
		proc.stop(0)
		t.Fatalf("start Firefox %s: %v", bin, err)
	}
	f.conn = conn
	t.Cleanup(func() {
		// Closing the browser ends the session; the process then exits.
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = conn.call(ctx, "browser.close", nil, nil) // stop kills what does not exit
		_ = conn.close()
		proc.stop(10 * time.Second)
	})
	if err := f.open(ctx, cfg); err != nil {
		t.Fatalf("start Firefox %s: %v", bin, err)
	}
	t.Logf("Firefox %s ready in %s (%dx%d)", bin, time.Since(begin).Round(time.Millisecond), cfg.width, cfg.height)
	return f
}

// open starts the session and finds and sizes the tab.
func (f *FirefoxEnv) open(ctx context.Context, cfg browserConfig) error {
	if err := f.conn.call(ctx, "session.new", map[string]any{"capabilities": map[string]any{}}, nil); err != nil {
		return err
	}
	// The tab Firefox opens with does not have the focus (document.hasFocus
	// is false, and a focused button ignores Enter); a tab opened through
	// BiDi has it. So open one and close the first.
	var tree struct {
		Contexts []struct{ Context string }
	}
	if err := f.conn.call(ctx, "browsingContext.getTree", map[string]any{"maxDepth": 0}, &tree); err != nil {
		return err
	}
	var created struct{ Context string }
	if err := f.conn.call(ctx, "browsingContext.create", map[string]any{"type": "tab"}, &created); err != nil {
		return err
	}
	f.tab = created.Context
	for _, c := range tree.Contexts {
		if err := f.conn.call(ctx, "browsingContext.close", map[string]any{"context": c.Context}, nil); err != nil {
			return err
		}
	}
	if err := f.conn.call(ctx, "browsingContext.activate", map[string]any{"context": f.tab}, nil); err != nil {
		return err
	}
	if err := (firefoxTab{f}).setViewport(ctx, cfg.width, cfg.height); err != nil {
		return err
	}
	return f.conn.call(ctx, "session.subscribe", map[string]any{"events": []string{"log.entryAdded", "script.realmDestroyed"}}, nil)
}

// Call sends the WebDriver BiDi command method with params and decodes its
// result into result (nil discards it), for what Browser does not offer.
// A command's error answer is a *BiDiError. Context returns the tab's id
// for the commands that need one.
func (f *FirefoxEnv) Call(ctx context.Context, method string, params, result any) error {
	return f.conn.call(ctx, method, params, result)
}

// Context returns the id of the tab's browsing context.
func (f *FirefoxEnv) Context() string { return f.tab }

// Browser returns the tab as a Browser, for tests that run in every
// browser.
func (f *FirefoxEnv) Browser() Browser {
	return &page{name: "firefox", drv: firefoxTab{f}, width: f.width, height: f.height}
}

// writeFirefoxPrefs writes firefoxPrefs as the profile's user.js.
func writeFirefoxPrefs(profile string) error {
	var b strings.Builder
	for name, v := range firefoxPrefs {
		value, err := json.Marshal(v)
		if err != nil {
			return fmt.Errorf("firefox pref %s: %w", name, err)
		}
		fmt.Fprintf(&b, "user_pref(%q, %s);\n", name, value)
	}
	if err := os.WriteFile(filepath.Join(profile, "user.js"), []byte(b.String()), 0o644); err != nil {
		return fmt.Errorf("firefox prefs: %w", err)
	}
	return nil
}

// firefoxProcess is a running Firefox and the reader of its output.
type firefoxProcess struct {
	cmd       *exec.Cmd
	exited    chan struct{} // closed when cmd.Wait returns
	readerEnd sync.WaitGroup
}

// bidiListening is how Firefox says where its WebDriver BiDi server is.
const bidiListening = "WebDriver BiDi listening on "

// startFirefox starts Firefox with the profile and its WebDriver BiDi
// server on a free loopback port, and returns the server's ws:// address
// once Firefox has printed it. Firefox's output goes to t.Log.
func startFirefox(ctx context.Context, t testing.TB, bin, profile string) (*firefoxProcess, string, error) {
	cmd := exec.Command(bin, "--headless", "--no-remote", "--new-instance",
		"--profile", profile, "--remote-debugging-port=0", "about:blank")
	cmd.Env = append(os.Environ(), "MOZ_CRASHREPORTER_DISABLE=1")
	cmd.SysProcAttr = serverSysProcAttr()
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, "", err
	}
	if err := cmd.Start(); err != nil {
		return nil, "", err
	}
	p := &firefoxProcess{cmd: cmd, exited: make(chan struct{})}
	urls := make(chan string, 1)
	logs := LogWriter(t)
	p.readerEnd.Add(1)
	go func() {
		defer p.readerEnd.Done()
		p.readOutput(stderr, logs, urls)
	}()
	go func() {
		_ = cmd.Wait() // closes stderr; stop reports nothing more useful
		close(p.exited)
	}()
	select {
	case url := <-urls:
		return p, url, nil
	case <-p.exited:
		p.readerEnd.Wait()
		return nil, "", fmt.Errorf("firefox exited before its WebDriver BiDi server listened (%s); its output is in the test log", cmd.ProcessState)
	case <-ctx.Done():
		p.stop(0)
		return nil, "", fmt.Errorf("firefox printed no %q: %w", bidiListening, ctx.Err())
	}
}

// readOutput copies Firefox's output to logs, line by line, and sends the
// BiDi server's address to urls when Firefox prints it.
func (p *firefoxProcess) readOutput(r io.Reader, logs io.Writer, urls chan<- string) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		line := sc.Text()
		if _, url, ok := strings.Cut(line, bidiListening); ok {
			select {
			case urls <- strings.TrimSpace(url):
			default:
			}
		}
		fmt.Fprintf(logs, "firefox: %s\n", line)
	}
}

// stop waits up to grace for Firefox to exit by itself, then kills its
// process group (the content processes too), and waits for the output
// reader.
func (p *firefoxProcess) stop(grace time.Duration) {
	select {
	case <-p.exited:
	case <-time.After(grace):
	}
	// The group outlives a parent that exited: content processes may still
	// hold its output open.
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	<-p.exited
	p.readerEnd.Wait()
}
