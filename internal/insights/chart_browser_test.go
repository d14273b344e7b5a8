package insights_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/google/go-cmp/cmp"

	"github.com/ferrycd/ferry/internal/insights"
	"github.com/ferrycd/ferry/internal/testenv"
)

// TestChartsTakeTheThemeFromCSSProperties draws a chart in a light and a
// dark container in a real browser, on a phone-width screen, and reads the
// colours the browser computed.
func TestChartsTakeTheThemeFromCSSProperties(t *testing.T) {
	s := days(2, 0, 5, 1, -1, 3, 7)
	page := fmt.Sprintf(`<!doctype html>
<html><head><meta name="viewport" content="width=device-width, initial-scale=1"><title>charts</title>
<style>%s
body { margin: 8px; color: rgb(20, 20, 20); background: white; }
[data-theme=dark] { color: rgb(230, 230, 230); background: rgb(15, 15, 15);
  --ferry-chart-bar: rgb(10, 200, 30); --ferry-chart-grid: rgb(60, 60, 60); }
</style></head><body>
<div id="light">%s</div>
<div id="dark" data-theme="dark">%s%s</div>
</body></html>`, insights.ChartCSS,
		insights.BarChart(s, insights.ChartOptions{ID: "light-bars"}),
		insights.BarChart(s, insights.ChartOptions{ID: "dark-bars"}),
		insights.LineChart(s, insights.ChartOptions{ID: "dark-line"}))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, page)
	}))
	t.Cleanup(srv.Close)

	b := testenv.Chromium(t, testenv.PhoneWidth())
	b.Do(t, chromedp.Navigate(srv.URL), chromedp.WaitReady("#dark-line-title"))
	got, err := chromedp.Run(b.Ctx, chromedp.Evaluate[map[string]string](`(() => {
		const css = (sel, prop) => getComputedStyle(document.querySelector(sel))[prop];
		const svg = document.querySelector("#light svg");
		return {
			lightBar: css("#light .ferry-chart-bar", "fill"),
			lightText: css("#light .ferry-chart-axis", "fill"),
			darkBar: css("#dark .ferry-chart-bar-chart .ferry-chart-bar", "fill"),
			darkLine: css("#dark .ferry-chart-line", "stroke"),
			darkGrid: css("#dark .ferry-chart-grid line", "stroke"),
			darkText: css("#dark .ferry-chart-axis", "fill"),
			fitsThePhone: String(svg.getBoundingClientRect().width <= innerWidth && svg.getBoundingClientRect().width > 300),
			title: document.getElementById(svg.getAttribute("aria-labelledby").split(" ")[0]).textContent,
		};
	})()`))
	if err != nil {
		t.Fatal(err)
	}
	b.Screenshot(t, "charts on a phone")
	want := map[string]string{
		"lightBar":     "rgb(47, 111, 235)", // ChartCSS's default
		"lightText":    "rgb(20, 20, 20)",   // the text colour
		"darkBar":      "rgb(10, 200, 30)",
		"darkLine":     "rgb(10, 200, 30)", // the line falls back to the bar colour
		"darkGrid":     "rgb(60, 60, 60)",
		"darkText":     "rgb(230, 230, 230)",
		"fitsThePhone": "true",
		"title":        "Deployment frequency",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("computed styles (-want +got):\n%s", diff)
	}
}
