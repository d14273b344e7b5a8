package insights

import (
	"fmt"
	"hash/fnv"
	"html"
	"html/template"
	"math"
	"regexp"
	"strings"
)

// ChartCSS styles the charts through CSS custom properties, so a console
// theme recolours them by setting the properties, for example on
// [data-theme=dark]:
//
//	--ferry-chart-bar, --ferry-chart-line: the data (default #2f6feb)
//	--ferry-chart-grid: the grid lines (default: the text colour, faint)
//	--ferry-chart-text: the axis labels (default: the text colour)
//
// The console includes it in its stylesheet. It is a stylesheet, not a
// <style> in each chart, so a Content-Security-Policy without
// 'unsafe-inline' still applies it. Without it the charts are still
// readable: their presentation attributes draw in the text colour.
const ChartCSS = `.ferry-chart { display: block; width: 100%; height: auto; overflow: visible; }
.ferry-chart .ferry-chart-bar { fill: var(--ferry-chart-bar, #2f6feb); }
.ferry-chart .ferry-chart-line { fill: none; stroke: var(--ferry-chart-line, var(--ferry-chart-bar, #2f6feb)); stroke-width: 2; }
.ferry-chart .ferry-chart-point { fill: var(--ferry-chart-line, var(--ferry-chart-bar, #2f6feb)); }
.ferry-chart .ferry-chart-grid line { stroke: var(--ferry-chart-grid, currentColor); }
.ferry-chart .ferry-chart-axis, .ferry-chart .ferry-chart-empty { fill: var(--ferry-chart-text, currentColor); }
`

// ChartOptions says how to draw a chart. Zero fields take defaults.
type ChartOptions struct {
	// ID prefixes the ids of the chart's title and description, which
	// must be unique in the page; empty derives one from the title and
	// the data, the same for the same chart.
	ID string
	// Title names the chart for screen readers and tooltips; empty uses
	// the series' name.
	Title string
	// Desc is read before the values by screen readers: what the chart
	// shows, for whom.
	Desc string
	// Width and Height are the viewBox's size; the chart scales to its
	// container's width. Defaults 640 by 240.
	Width, Height int
	// Empty is shown when the series has no value; default "No data in
	// this range".
	Empty string
}

// The layout, in viewBox units.
const (
	defaultWidth, defaultHeight = 640, 240
	marginLeft, marginRight     = 56, 16
	marginTop, marginBottom     = 16, 36
	// minLabelGap is the least room per x-axis label; labels are thinned to
	// keep it.
	minLabelGap = 64
	yTicks      = 4
)

// BarChart draws s as an SVG bar chart, one bar per point; missing points
// leave a gap. The output is deterministic: the same series and options
// give the same bytes.
func BarChart(s Series, opts ChartOptions) template.HTML {
	return draw(s, opts, "bar-chart")
}

// LineChart draws s as an SVG line with a dot per point; a missing point
// breaks the line. Suited to the durations and the rate, whose buckets
// often have no value. Deterministic, as BarChart.
func LineChart(s Series, opts ChartOptions) template.HTML {
	return draw(s, opts, "line-chart")
}

type layout struct {
	w, h, left, top, plotW, plotH float64
	yTop                          float64
	n                             int
}

func (l layout) band() float64 { return l.plotW / float64(l.n) }

// x is the centre of point i's band.
func (l layout) x(i int) float64 { return l.left + (float64(i)+0.5)*l.band() }

func (l layout) y(v float64) float64 { return l.top + l.plotH*(1-v/l.yTop) }

func draw(s Series, opts ChartOptions, kind string) template.HTML {
	if opts.Width <= 0 {
		opts.Width = defaultWidth
	}
	if opts.Height <= 0 {
		opts.Height = defaultHeight
	}
	if opts.Title == "" {
		opts.Title = s.Name
	}
	if opts.Empty == "" {
		opts.Empty = "No data in this range"
	}
	id := chartID(s, opts)
	maxV, hasData := 0.0, false
	for _, p := range s.Points {
		if !p.Missing {
			maxV, hasData = math.Max(maxV, p.Value), true
		}
	}
	yTop, step := yAxis(maxV, s.Unit)
	l := layout{
		w: float64(opts.Width), h: float64(opts.Height), left: marginLeft, top: marginTop,
		plotW: float64(opts.Width - marginLeft - marginRight), plotH: float64(opts.Height - marginTop - marginBottom),
		yTop: yTop, n: max(len(s.Points), 1),
	}

	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" class="ferry-chart ferry-chart-%s" viewBox="0 0 %d %d" role="img" aria-labelledby="%s-title %s-desc" focusable="false">`+"\n",
		kind, opts.Width, opts.Height, id, id)
	fmt.Fprintf(&b, `<title id="%s-title">%s</title>`+"\n", id, esc(opts.Title))
	fmt.Fprintf(&b, `<desc id="%s-desc">%s</desc>`+"\n", id, esc(describe(s, opts, hasData)))

	b.WriteString(`<g class="ferry-chart-grid" aria-hidden="true">` + "\n")
	ticks := int(math.Round(yTop / step))
	for i := 0; i <= ticks; i++ {
		v := float64(i) * step
		fmt.Fprintf(&b, `<line x1="%s" y1="%s" x2="%s" y2="%s" stroke="currentColor" stroke-opacity="0.2"/>`+"\n",
			num(l.left), num(l.y(v)), num(l.left+l.plotW), num(l.y(v)))
	}
	b.WriteString("</g>\n")

	b.WriteString(`<g class="ferry-chart-axis" aria-hidden="true" fill="currentColor" font-size="11">` + "\n")
	for i := 0; i <= ticks; i++ {
		v := float64(i) * step
		fmt.Fprintf(&b, `<text x="%s" y="%s" text-anchor="end" dominant-baseline="middle">%s</text>`+"\n",
			num(l.left-6), num(l.y(v)), esc(s.Unit.Format(v)))
	}
	every := int(math.Ceil(float64(len(s.Points)) / math.Max(1, math.Floor(l.plotW/minLabelGap))))
	for i, p := range s.Points {
		if i%max(every, 1) == 0 {
			fmt.Fprintf(&b, `<text x="%s" y="%s" text-anchor="middle">%s</text>`+"\n", num(l.x(i)), num(l.h-14), esc(p.Label))
		}
	}
	b.WriteString("</g>\n")

	if !hasData {
		fmt.Fprintf(&b, `<text class="ferry-chart-empty" x="%s" y="%s" text-anchor="middle" fill="currentColor" font-size="13">%s</text>`+"\n",
			num(l.left+l.plotW/2), num(l.top+l.plotH/2), esc(opts.Empty))
	} else if kind == "bar-chart" {
		drawBars(&b, s, l)
	} else {
		drawLine(&b, s, l)
	}
	b.WriteString("</svg>")
	// Every text and attribute above is escaped or a number.
	return template.HTML(b.String())
}

func drawBars(b *strings.Builder, s Series, l layout) {
	width := math.Max(1, l.band()*0.7)
	b.WriteString(`<g class="ferry-chart-data">` + "\n")
	for i, p := range s.Points {
		if p.Missing {
			continue
		}
		y := l.y(p.Value)
		fmt.Fprintf(b, `<rect class="ferry-chart-bar" x="%s" y="%s" width="%s" height="%s" fill="currentColor"><title>%s</title></rect>`+"\n",
			num(l.x(i)-width/2), num(y), num(width), num(l.top+l.plotH-y), esc(p.Title+": "+s.Unit.Format(p.Value)))
	}
	b.WriteString("</g>\n")
}

func drawLine(b *strings.Builder, s Series, l layout) {
	b.WriteString(`<g class="ferry-chart-data">` + "\n")
	var d strings.Builder
	pen := false
	for i, p := range s.Points {
		if p.Missing {
			pen = false
			continue
		}
		if d.Len() > 0 {
			d.WriteByte(' ')
		}
		cmd := "L" // a missing point lifts the pen: the next one moves it
		if !pen {
			cmd = "M"
		}
		d.WriteString(cmd + num(l.x(i)) + "," + num(l.y(p.Value)))
		pen = true
	}
	fmt.Fprintf(b, `<path class="ferry-chart-line" d="%s" fill="none" stroke="currentColor" stroke-width="2"/>`+"\n", d.String())
	for i, p := range s.Points {
		if p.Missing {
			continue
		}
		fmt.Fprintf(b, `<circle class="ferry-chart-point" cx="%s" cy="%s" r="3" fill="currentColor"><title>%s</title></circle>`+"\n",
			num(l.x(i)), num(l.y(p.Value)), esc(p.Title+": "+s.Unit.Format(p.Value)))
	}
	b.WriteString("</g>\n")
}

// describe is the text a screen reader reads: the caller's description,
// then every value.
func describe(s Series, opts ChartOptions, hasData bool) string {
	var parts []string
	if opts.Desc != "" {
		parts = append(parts, strings.TrimRight(opts.Desc, ". ")+".")
	}
	if !hasData {
		return strings.Join(append(parts, opts.Empty+"."), " ")
	}
	vals := make([]string, 0, len(s.Points))
	for _, p := range s.Points {
		v := "no value"
		if !p.Missing {
			v = s.Unit.Format(p.Value)
		}
		vals = append(vals, p.Title+": "+v)
	}
	return strings.Join(append(parts, strings.Join(vals, "; ")+"."), " ")
}

// yAxis returns the top of the y axis and the step between its ticks for
// values up to maxV: about yTicks round steps (1, 2 or 5 times a power of
// ten; of minutes, hours or days for durations; whole for counts).
func yAxis(maxV float64, u Unit) (top, step float64) {
	base := 1.0
	if u == UnitDuration {
		switch {
		case maxV < 2*3600:
			base = 60
		case maxV < 2*86400:
			base = 3600
		default:
			base = 86400
		}
	}
	raw := maxV / base / yTicks
	if raw <= 0 {
		raw = 1.0 / yTicks
	}
	step = niceStep(raw)
	if u == UnitCount {
		step = math.Max(step, 1)
	}
	top = math.Max(step, math.Ceil(maxV/base/step-1e-9)*step)
	return top * base, step * base
}

// niceStep rounds raw up to 1, 2 or 5 times a power of ten.
func niceStep(raw float64) float64 {
	pow := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*pow >= raw*(1-1e-9) {
			return m * pow
		}
	}
	return 10 * pow
}

var idUnsafe = regexp.MustCompile(`[^A-Za-z0-9_-]+`)

// chartID is opts.ID made safe for an id attribute, or a hash of what the
// chart shows.
func chartID(s Series, opts ChartOptions) string {
	if id := idUnsafe.ReplaceAllString(opts.ID, "-"); id != "" {
		return id
	}
	h := fnv.New32a()
	fmt.Fprintf(h, "%s|%s|%s|%d|%d", opts.Title, s.Name, s.Unit, opts.Width, opts.Height)
	for _, p := range s.Points {
		fmt.Fprintf(h, "|%s|%v|%t", p.Title, p.Value, p.Missing)
	}
	return fmt.Sprintf("ferry-chart-%08x", h.Sum32())
}

// num writes a coordinate with one decimal at most.
func num(v float64) string { return trimFloat(v, 1) }

func esc(s string) string { return html.EscapeString(s) }
