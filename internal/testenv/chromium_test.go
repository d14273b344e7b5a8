package testenv_test

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/ferrycd/ferry/internal/testenv"
)

// page is a button whose click handler changes the DOM and logs to the
// console, and a media query that says which width class the page sees.
const page = `<!doctype html>
<html><head><title>chromium test</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>#width::after { content: "wide"; } @media (max-width: 600px) { #width::after { content: "narrow"; } }</style>
</head><body>
<button id="go" type="button">Deploy</button>
<p id="status">idle</p>
<p id="width"></p>
<script>
let clicks = 0;
document.getElementById("go").addEventListener("click", () => {
  clicks++;
  document.getElementById("status").textContent = "clicked " + clicks;
  document.body.dataset.done = "yes";
  console.log("clicked", clicks);
});
</script>
</body></html>`

func servePage(t *testing.T) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, page)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func TestChromiumClicksReadsTheDOMAndTakesAScreenshot(t *testing.T) {
	b := testenv.Chromium(t)
	b.Do(t,
		chromedp.Navigate(servePage(t)),
		chromedp.Click("#go"),
		// Wait on the handler's own mark rather than a pause.
		chromedp.WaitReady(`body[data-done="yes"]`),
	)
	status, err := chromedp.Run(b.Ctx, chromedp.Text("#status"))
	if err != nil {
		t.Fatal(err)
	}
	if status != "clicked 1" {
		t.Fatalf("status after one click = %q, want %q", status, "clicked 1")
	}
	width, err := chromedp.Run(b.Ctx, chromedp.Evaluate[string](`getComputedStyle(document.getElementById("width"), "::after").content`))
	if err != nil {
		t.Fatal(err)
	}
	if width != `"wide"` {
		t.Errorf("desktop window sees %s, want the wide layout", width)
	}

	checkScreenshot(t, b.Screenshot(t, "after click"), "after_click.png")
}

// checkScreenshot fails t unless path is file in t's artifacts folder and
// holds a PNG.
func checkScreenshot(t *testing.T, path, file string) {
	t.Helper()
	if want := filepath.Join(testenv.ArtifactsDir(t), file); path != want {
		t.Errorf("screenshot path = %s, want %s", path, want)
	}
	png, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(png) < 100 || !bytes.HasPrefix(png, []byte("\x89PNG\r\n\x1a\n")) {
		t.Fatalf("screenshot is not a PNG: %d bytes starting %q", len(png), png[:min(len(png), 8)])
	}
}

func TestPhoneWidthAppliesNarrowCSS(t *testing.T) {
	url := servePage(t)
	testenv.EachBrowser(t, func(t *testing.T, open testenv.Opener) {
		b := open(t, testenv.PhoneWidth())
		b.Navigate(t, url)
		var got string
		b.Eval(t, `innerWidth + " " + getComputedStyle(document.getElementById("width"), "::after").content`, &got)
		if want := `390 "narrow"`; got != want {
			t.Fatalf("phone viewport sees %s, want %s", got, want)
		}
	})
}
