package viewer

import (
	"bytes"
	"fmt"
	"html/template"
	"math"
	"sort"
)

// bpChart draws blood pressure readings over time as SVG, on the server,
// so it needs no JavaScript: systolic and diastolic lines with their
// points, a labelled value axis and the first and last dates. Colours meet
// WCAG 2.1 AA contrast on white, and each series is also told apart by
// its marker shape (not colour alone); the table beside it has every value.
type chartPoint struct {
	X, Y  float64
	Label string
}

type chartData struct {
	W, H          int
	Left, Bottom  float64
	Top, Right    float64
	Sys, Dia      []chartPoint
	SysPath       string
	DiaPath       string
	Ticks         []chartPoint
	FirstX, LastX float64
	First, Last   string
	Desc          string
}

var chartTmpl = template.Must(template.New("chart").Parse(`<svg class="srv-chart" role="img" aria-labelledby="bp-chart-title bp-chart-desc" viewBox="0 0 {{.W}} {{.H}}" xmlns="http://www.w3.org/2000/svg">
<title id="bp-chart-title">Blood pressure readings over time</title>
<desc id="bp-chart-desc">{{.Desc}}</desc>
<line x1="{{.Left}}" y1="{{.Bottom}}" x2="{{.Right}}" y2="{{.Bottom}}" stroke="#4c6272"/>
<line x1="{{.Left}}" y1="{{.Top}}" x2="{{.Left}}" y2="{{.Bottom}}" stroke="#4c6272"/>
{{range .Ticks}}<line x1="{{$.Left}}" y1="{{.Y}}" x2="{{$.Right}}" y2="{{.Y}}" stroke="#d8dde0"/><text x="{{printf "%.1f" .X}}" y="{{printf "%.1f" .Y}}" dy="4" text-anchor="end" font-size="12" fill="#212b32">{{.Label}}</text>
{{end}}{{if .SysPath}}<polyline points="{{.SysPath}}" fill="none" stroke="#d5281b" stroke-width="2"/>{{end}}
{{range .Sys}}<circle cx="{{printf "%.1f" .X}}" cy="{{printf "%.1f" .Y}}" r="5" fill="#d5281b"><title>{{.Label}}</title></circle>
{{end}}{{if .DiaPath}}<polyline points="{{.DiaPath}}" fill="none" stroke="#005eb8" stroke-width="2" stroke-dasharray="6 3"/>{{end}}
{{range .Dia}}<rect x="{{printf "%.1f" .X}}" y="{{printf "%.1f" .Y}}" transform="translate(-5 -5)" width="10" height="10" fill="#005eb8"><title>{{.Label}}</title></rect>
{{end}}<text x="{{printf "%.1f" .FirstX}}" y="{{.H}}" dy="-6" font-size="12" fill="#212b32">{{.First}}</text>
{{if ne .First .Last}}<text x="{{printf "%.1f" .LastX}}" y="{{.H}}" dy="-6" text-anchor="end" font-size="12" fill="#212b32">{{.Last}}</text>{{end}}
<text x="{{.Left}}" y="14" font-size="12" fill="#212b32">mm[Hg]</text>
</svg>`))

func bpChart(readings []bpReading) template.HTML {
	var pts []bpReading
	for _, r := range readings {
		if !r.When.IsZero() && (r.HasS || r.HasD) {
			pts = append(pts, r)
		}
	}
	if len(pts) == 0 {
		return ""
	}
	sort.Slice(pts, func(i, j int) bool { return pts[i].When.Before(pts[j].When) })
	d := chartData{W: 640, H: 260, Left: 48, Right: 620, Top: 24, Bottom: 226}
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, p := range pts {
		for _, v := range []struct {
			ok bool
			v  float64
		}{{p.HasS, p.Systolic}, {p.HasD, p.Diastolic}} {
			if v.ok {
				lo, hi = math.Min(lo, v.v), math.Max(hi, v.v)
			}
		}
	}
	lo = math.Floor((lo-10)/20) * 20
	hi = math.Ceil((hi+10)/20) * 20
	if lo < 0 {
		lo = 0
	}
	t0, t1 := pts[0].When, pts[len(pts)-1].When
	span := t1.Sub(t0).Seconds()
	x := func(i int) float64 {
		if span <= 0 {
			return (d.Left + d.Right) / 2
		}
		return d.Left + 12 + (d.Right-d.Left-24)*pts[i].When.Sub(t0).Seconds()/span
	}
	y := func(v float64) float64 { return d.Bottom - (d.Bottom-d.Top)*(v-lo)/(hi-lo) }
	for v := lo; v <= hi; v += 20 {
		d.Ticks = append(d.Ticks, chartPoint{X: d.Left - 6, Y: y(v), Label: fmt.Sprintf("%.0f", v)})
	}
	var sysPath, diaPath bytes.Buffer
	for i, p := range pts {
		date := showDate(p.Date)
		if p.HasS {
			d.Sys = append(d.Sys, chartPoint{X: x(i), Y: y(p.Systolic), Label: fmt.Sprintf("%s systolic %g", date, p.Systolic)})
			fmt.Fprintf(&sysPath, "%.1f,%.1f ", x(i), y(p.Systolic))
		}
		if p.HasD {
			d.Dia = append(d.Dia, chartPoint{X: x(i), Y: y(p.Diastolic), Label: fmt.Sprintf("%s diastolic %g", date, p.Diastolic)})
			fmt.Fprintf(&diaPath, "%.1f,%.1f ", x(i), y(p.Diastolic))
		}
	}
	d.SysPath, d.DiaPath = sysPath.String(), diaPath.String()
	d.FirstX, d.LastX = d.Left, d.Right
	d.First, d.Last = showDate(pts[0].Date), showDate(pts[len(pts)-1].Date)
	d.Desc = fmt.Sprintf("%d readings from %s to %s. Systolic: red line with circles. Diastolic: blue dashed line with squares. Every value is in the table.", len(pts), d.First, d.Last)
	var out bytes.Buffer
	if err := chartTmpl.Execute(&out, d); err != nil {
		return ""
	}
	return template.HTML(out.String()) // built by html/template above: escaped
}
