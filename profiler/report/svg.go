package report

import (
	"fmt"
	"html"
	"html/template"
	"math"
	"strconv"
	"strings"
)

// Charts are inline SVG written here: no script, no font or style sheet
// from the network. Every text goes through html.EscapeString.

// palette colours series in order.
var palette = [...]string{"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"}

func colour(i int) string { return palette[(i%len(palette)+len(palette))%len(palette)] }

// Chart geometry, in SVG user units.
const (
	chartW, chartH               = 720.0, 340.0
	padL, padR, padT, padB       = 70.0, 170.0, 36.0, 56.0
	plotW, plotH                 = chartW - padL - padR, chartH - padT - padB
	fontSmall, fontMid, fontHead = 11, 12, 14
)

// axis maps data values to plot coordinates, linear or log10.
type axis struct {
	lo, hi float64
	log    bool
}

func newAxis(values []float64, log bool) axis {
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, v := range values {
		if math.IsNaN(v) || (log && v <= 0) {
			continue
		}
		lo, hi = min(lo, v), max(hi, v)
	}
	if math.IsInf(lo, 1) {
		lo, hi = 0, 1
		if log {
			lo = 0.1
		}
	}
	if log {
		lo, hi = math.Pow(10, math.Floor(math.Log10(lo))), math.Pow(10, math.Ceil(math.Log10(hi)))
		if lo == hi {
			hi = lo * 10
		}
		return axis{lo, hi, true}
	}
	lo = min(lo, 0)
	if hi <= lo {
		hi = lo + 1
	}
	step := niceStep((hi - lo) / 5)
	return axis{lo, math.Ceil(hi/step) * step, false}
}

// frac is v's position in [0, 1] along the axis.
func (a axis) frac(v float64) float64 {
	if a.log {
		if v <= 0 {
			return 0
		}
		return (math.Log10(v) - math.Log10(a.lo)) / (math.Log10(a.hi) - math.Log10(a.lo))
	}
	return (v - a.lo) / (a.hi - a.lo)
}

func (a axis) ticks() []float64 {
	var ts []float64
	if a.log {
		for v := a.lo; v <= a.hi*1.0001; v *= 10 {
			ts = append(ts, v)
		}
		return ts
	}
	step := niceStep((a.hi - a.lo) / 5)
	for v := a.lo; v <= a.hi+step/1000; v += step {
		ts = append(ts, v)
	}
	return ts
}

// niceStep rounds x up to 1, 2 or 5 times a power of ten.
func niceStep(x float64) float64 {
	if x <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(x)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*p >= x {
			return m * p
		}
	}
	return 10 * p
}

// num formats a tick or value label compactly.
func num(v float64) string {
	switch a := math.Abs(v); {
	case a == 0:
		return "0"
	case a >= 1e6:
		return strconv.FormatFloat(v/1e6, 'g', 3, 64) + "M"
	case a >= 1e4:
		return strconv.FormatFloat(v/1e3, 'g', 3, 64) + "k"
	case a >= 100:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case a >= 1:
		return strconv.FormatFloat(v, 'g', 3, 64)
	}
	return strconv.FormatFloat(v, 'g', 2, 64)
}

// svgDoc accumulates one chart.
type svgDoc struct{ b strings.Builder }

func (d *svgDoc) f(format string, args ...any) { fmt.Fprintf(&d.b, format, args...) }

func (d *svgDoc) text(x, y float64, size int, anchor, s string, extra string) {
	d.f(`<text x="%.1f" y="%.1f" font-size="%d" text-anchor="%s"%s>%s</text>`, x, y, size, anchor, extra, html.EscapeString(s))
}

func (d *svgDoc) begin(title string) {
	d.f(`<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 %.0f %.0f" width="%.0f" height="%.0f" role="img" font-family="sans-serif">`, chartW, chartH, chartW, chartH)
	d.f(`<title>%s</title>`, html.EscapeString(title))
	d.text(chartW/2, 20, fontHead, "middle", title, ` font-weight="bold"`)
}

// axes draws the frame, the y ticks and grid, and the axis labels.
func (d *svgDoc) axes(y axis, xLabel, yLabel string) {
	for _, t := range y.ticks() {
		py := padT + plotH*(1-y.frac(t))
		d.f(`<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#ddd"/>`, padL, py, padL+plotW, py)
		d.text(padL-6, py+4, fontSmall, "end", num(t), "")
	}
	d.f(`<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="none" stroke="#444"/>`, padL, padT, plotW, plotH)
	d.text(padL+plotW/2, chartH-10, fontMid, "middle", xLabel, "")
	d.f(`<text x="16" y="%.1f" font-size="%d" text-anchor="middle" transform="rotate(-90 16 %.1f)">%s</text>`,
		padT+plotH/2, fontMid, padT+plotH/2, html.EscapeString(yLabel))
}

func (d *svgDoc) legend(names []string) {
	for i, n := range names {
		y := padT + 8 + float64(i)*18
		d.f(`<rect x="%.1f" y="%.1f" width="12" height="12" fill="%s"/>`, padL+plotW+12, y-10, colour(i))
		d.text(padL+plotW+30, y, fontSmall, "start", n, "")
	}
}

func (d *svgDoc) end() template.HTML {
	d.f(`</svg>`)
	return template.HTML(d.b.String()) // every text above was escaped
}

// empty is a chart with nothing to show but why.
func empty(title, why string) template.HTML {
	var d svgDoc
	d.begin(title)
	d.text(chartW/2, chartH/2, fontMid, "middle", why, ` fill="#777"`)
	return d.end()
}

// line is one series of a line chart.
type line struct {
	Name string
	X, Y []float64
	// Colour indexes the palette; Dash is an SVG stroke-dasharray ("" solid).
	Colour int
	Dash   string
}

// lineChart draws series against x; logX and logY pick log10 axes.
func lineChart(title, xLabel, yLabel string, logX, logY bool, lines []line) template.HTML {
	var xs, ys []float64
	for _, l := range lines {
		xs, ys = append(xs, l.X...), append(ys, l.Y...)
	}
	if len(xs) == 0 {
		return empty(title, "no data")
	}
	x, y := newAxis(xs, logX), newAxis(ys, logY)
	var d svgDoc
	d.begin(title)
	d.axes(y, xLabel, yLabel)
	for _, t := range x.ticks() {
		px := padL + plotW*x.frac(t)
		d.text(px, padT+plotH+16, fontSmall, "middle", num(t), "")
	}
	for i, l := range lines {
		var pts []string
		for j := range l.X {
			if math.IsNaN(l.Y[j]) || (logY && l.Y[j] <= 0) {
				continue
			}
			px, py := padL+plotW*x.frac(l.X[j]), padT+plotH*(1-y.frac(l.Y[j]))
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", px, py))
			d.f(`<circle cx="%.1f" cy="%.1f" r="3" fill="%s"><title>%s: %s</title></circle>`, px, py, colour(l.Colour),
				html.EscapeString(l.Name), html.EscapeString(num(l.X[j])+" → "+num(l.Y[j])))
		}
		if len(pts) > 1 {
			d.f(`<polyline points="%s" fill="none" stroke="%s" stroke-width="2" stroke-dasharray="%s"/>`, strings.Join(pts, " "), colour(l.Colour), dash(l.Dash))
		}
		y := padT + 8 + float64(i)*16
		d.f(`<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s" stroke-width="2" stroke-dasharray="%s"/>`,
			padL+plotW+10, y-4, padL+plotW+28, y-4, colour(l.Colour), dash(l.Dash))
		d.text(padL+plotW+32, y, fontSmall, "start", l.Name, "")
	}
	return d.end()
}

// group is one cluster of a bar chart: a value per series (NaN: none).
type group struct {
	Label  string
	Values []float64
}

// barChart draws clustered bars, one colour per series.
func barChart(title, yLabel string, logY bool, series []string, groups []group) template.HTML {
	var vs []float64
	for _, g := range groups {
		vs = append(vs, g.Values...)
	}
	if len(groups) == 0 || len(series) == 0 {
		return empty(title, "no data")
	}
	y := newAxis(vs, logY)
	var d svgDoc
	d.begin(title)
	d.axes(y, "", yLabel)
	gw := plotW / float64(len(groups))
	bw := gw * 0.8 / float64(len(series))
	for gi, g := range groups {
		gx := padL + gw*float64(gi) + gw*0.1
		d.text(padL+gw*(float64(gi)+0.5), padT+plotH+16, fontSmall, "middle", g.Label, "")
		for si, v := range g.Values {
			if math.IsNaN(v) || (logY && v <= 0) {
				continue
			}
			top := padT + plotH*(1-y.frac(v))
			d.f(`<rect class="bar" x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"><title>%s</title></rect>`,
				gx+bw*float64(si), top, max(bw-2, 1), padT+plotH-top, colour(si),
				html.EscapeString(g.Label+" "+series[si]+": "+num(v)))
		}
	}
	d.legend(series)
	return d.end()
}

// stack is one row of a 100% stacked bar chart.
type stack struct {
	Label  string
	Values []float64 // per part; shares are computed from the sum
}

// shareChart draws each row as a horizontal bar split into its parts'
// shares of the row's total.
func shareChart(title string, parts []string, rows []stack) template.HTML {
	if len(rows) == 0 {
		return empty(title, "no phase breakdown (the gateway answered no Server-Timing)")
	}
	h := padT + float64(len(rows))*22 + 40
	var d svgDoc
	d.f(`<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 %.0f %.0f" width="%.0f" height="%.0f" role="img" font-family="sans-serif">`, chartW, h, chartW, h)
	d.f(`<title>%s</title>`, html.EscapeString(title))
	d.text(chartW/2, 20, fontHead, "middle", title, ` font-weight="bold"`)
	const left = 170.0
	width := chartW - left - padR
	for ri, r := range rows {
		y := padT + float64(ri)*22
		d.text(left-6, y+13, fontSmall, "end", r.Label, "")
		total := 0.0
		for _, v := range r.Values {
			total += max(v, 0)
		}
		x := left
		for pi, v := range r.Values {
			if total <= 0 || v <= 0 {
				continue
			}
			w := width * v / total
			d.f(`<rect class="bar" x="%.1f" y="%.1f" width="%.1f" height="18" fill="%s"><title>%s</title></rect>`, x, y, w, colour(pi),
				html.EscapeString(fmt.Sprintf("%s %s: %.1f%% (%s ms)", r.Label, parts[pi], 100*v/total, num(v))))
			x += w
		}
	}
	for _, t := range []float64{0, 25, 50, 75, 100} {
		d.text(left+width*t/100, h-14, fontSmall, "middle", num(t)+"%", "")
	}
	for i, n := range parts {
		y := padT + 8 + float64(i)*18
		d.f(`<rect x="%.1f" y="%.1f" width="12" height="12" fill="%s"/>`, left+width+12, y-10, colour(i))
		d.text(left+width+30, y, fontSmall, "start", n, "")
	}
	return d.end()
}

func dash(d string) string {
	if d == "" {
		return "none"
	}
	return d
}
