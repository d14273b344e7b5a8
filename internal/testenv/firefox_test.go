package testenv_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/ferrycd/ferry/internal/testenv"
)

// formPage is a search form whose script answers a search a little later,
// and a second page the form's plain submission goes to. The keydown
// listener records whether the keys were real ones (isTrusted), not
// events a script made up.
const formPage = `<!doctype html>
<html><head><title>firefox test</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>#width::after { content: "wide"; } @media (max-width: 600px) { #width::after { content: "narrow"; } }</style>
</head><body>
<form id="search" action="/next" method="get">
<input id="q" name="q" autocomplete="off">
<select id="mode" name="mode"><option value="fast">fast</option><option value="slow">slow</option></select>
</form>
<p id="result">nothing yet</p>
<p id="width"></p>
<p id="busy">busy</p>
<script>
const keys = [];
document.getElementById("q").addEventListener("keydown", (e) => keys.push(e.isTrusted ? e.key : "untrusted " + e.key));
document.getElementById("search").addEventListener("submit", (e) => {
  if (document.getElementById("mode").value === "slow") return; // a real submission
  e.preventDefault();
  const q = document.getElementById("q").value;
  console.log("searching", q);
  setTimeout(() => {
    document.getElementById("result").textContent = "found " + q + " after " + keys.join(",");
    document.getElementById("busy").remove();
  }, 100);
});
</script>
</body></html>`

func serveForm(t *testing.T) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		if r.URL.Path == "/next" {
			fmt.Fprintf(w, `<!doctype html><title>next</title><h1 id="next">searched %s slowly</h1>`, r.URL.Query().Get("q"))
			return
		}
		fmt.Fprint(w, formPage)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func TestFirefoxTypesPressesEnterReadsTextAndTakesAScreenshot(t *testing.T) {
	b := testenv.Firefox(t).Browser()
	b.Navigate(t, serveForm(t))
	b.Type(t, "#q", "web-7")
	b.Press(t, testenv.Enter)
	// The answer comes 100ms later: the wait is on the page's DOM.
	b.WaitGone(t, "#busy")
	if got, want := b.Text(t, "#result"), "found web-7 after w,e,b,-,7,Enter"; got != want {
		t.Errorf("after typing and Enter the page reads %q, want %q", got, want)
	}
	var width string
	b.Eval(t, `getComputedStyle(document.getElementById("width"), "::after").content`, &width)
	if width != `"wide"` {
		t.Errorf("desktop window sees %s, want the wide layout", width)
	}

	checkScreenshot(t, b.Screenshot(t, "after search"), "after_search.png")
}

// TestChromiumAndFirefoxFollowAFormSubmissionAndAResize runs one script
// in each browser: a wait that begins on a page a form submission replaces
// goes on in the new page, and a narrowed viewport applies narrow CSS.
func TestChromiumAndFirefoxFollowAFormSubmissionAndAResize(t *testing.T) {
	url := serveForm(t)
	testenv.EachBrowser(t, func(t *testing.T, open testenv.Opener) {
		b := open(t)
		b.Navigate(t, url)
		b.SetValue(t, "#mode", "slow")
		b.Click(t, "#q")
		b.Type(t, "#q", "db")
		b.Submit(t, "#q")
		b.WaitText(t, "h1", "searched db")
		if got, want := b.Text(t, "#next"), "searched db slowly"; got != want {
			t.Errorf("after the submission the page reads %q, want %q", got, want)
		}
		var gone bool
		b.Eval(t, `Promise.resolve(document.getElementById("q") === null)`, &gone)
		if !gone {
			t.Error("the form is still there after its submission")
		}
		b.Screenshot(t, "submitted")

		// Narrowing the window applies the narrow CSS to the open page.
		b.Navigate(t, url)
		b.SetViewport(t, 390, 844)
		var width string
		b.Eval(t, `innerWidth + " " + getComputedStyle(document.getElementById("width"), "::after").content`, &width)
		if want := `390 "narrow"`; width != want {
			t.Errorf("after narrowing the viewport the page sees %s, want %s", width, want)
		}
		b.Screenshot(t, "narrowed")
	})
}
