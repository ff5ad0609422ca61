package report

import (
	"fmt"
	"html/template"
	"math"
	"strings"
)

// Charts are SVG too, sized in millimetres like the maps.

// Histogram draws community households in bins of 250 (the last bin open)
// with the merge and split thresholds as vertical lines.
func Histogram(households []int64, minHH, maxHH float64) template.HTML {
	const bin, bins = 250, 25 // 0 … 6000+
	var counts [bins]int
	for _, h := range households {
		counts[min(int(h/bin), bins-1)]++
	}
	most := 1
	for _, c := range counts {
		most = max(most, c)
	}
	const w, h, left, bottom, top = 1700.0, 620.0, 90.0, 80.0, 40.0
	bw := (w - left - 20) / bins
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart" xmlns="http://www.w3.org/2000/svg" width="%gmm" height="%gmm" viewBox="0 0 %g %g" role="img" aria-label="households histogram">`, w/unitsPerMM, h/unitsPerMM, w, h)
	y := func(c float64) float64 { return h - bottom - c/float64(most)*(h-bottom-top) }
	for _, t := range niceTicks(float64(most)) {
		fmt.Fprintf(&b, `<line class="grid" x1="%.0f" x2="%.0f" y1="%.0f" y2="%.0f"/><text class="tick" x="%.0f" y="%.0f" text-anchor="end">%g</text>`,
			left, w-20, y(t), y(t), left-10, y(t)+8, t)
	}
	for i, c := range counts {
		from := float64(i * bin)
		class := "bar"
		switch {
		case !math.IsNaN(minHH) && from+bin <= minHH:
			class = "bar undersized"
		case !math.IsNaN(maxHH) && from >= maxHH:
			class = "bar oversized"
		}
		x := left + float64(i)*bw
		fmt.Fprintf(&b, `<rect class="%s" x="%.0f" y="%.0f" width="%.0f" height="%.0f"><title>%d–%d: %d</title></rect>`,
			class, x+2, y(float64(c)), bw-4, h-bottom-y(float64(c)), i*bin, (i+1)*bin-1, c)
		if c > 0 {
			fmt.Fprintf(&b, `<text class="count" x="%.0f" y="%.0f" text-anchor="middle">%d</text>`, x+bw/2, y(float64(c))-6, c)
		}
		if i%4 == 0 {
			fmt.Fprintf(&b, `<text class="tick" x="%.0f" y="%.0f" text-anchor="middle">%d</text>`, x, h-bottom+30, i*bin)
		}
	}
	xOf := func(v float64) float64 { return left + v/bin*bw }
	for _, t := range []struct {
		v    float64
		text string
	}{{minHH, "合并线 merge < %g"}, {maxHH, "拆分线 split > %g"}} {
		if math.IsNaN(t.v) {
			continue
		}
		fmt.Fprintf(&b, `<line class="threshold" x1="%.0f" x2="%.0f" y1="%.0f" y2="%.0f"/><text class="thr" x="%.0f" y="%.0f">%s</text>`,
			xOf(t.v), xOf(t.v), top-10, h-bottom, xOf(t.v)+8, top+12, esc(fmt.Sprintf(t.text, t.v)))
	}
	fmt.Fprintf(&b, `<text class="axis" x="%.0f" y="%.0f" text-anchor="middle">户数 households (每栏 %d 户; 最后一栏 ≥ %d)</text></svg>`,
		(left+w)/2, h-12, bin, (bins-1)*bin)
	return template.HTML(b.String())
}

// Bar is one bar of a bar chart.
type Bar struct {
	Label string
	Value float64
	Class string
}

// BarChart draws horizontal bars, one per street, with the values.
func BarChart(bars []Bar, unit string) template.HTML {
	most := 1.0
	for _, x := range bars {
		most = math.Max(most, x.Value)
	}
	const w, row, left, right = 1700.0, 34.0, 420.0, 220.0
	h := float64(len(bars))*row + 50
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart" xmlns="http://www.w3.org/2000/svg" width="%gmm" height="%gmm" viewBox="0 0 %g %g" role="img" aria-label="%s">`,
		w/unitsPerMM, h/unitsPerMM, w, h, esc(unit))
	for i, x := range bars {
		y := 10 + float64(i)*row
		l := x.Value / most * (w - left - right)
		fmt.Fprintf(&b, `<text class="tick" x="%.0f" y="%.0f" text-anchor="end">%s</text>`, left-10, y+22, esc(x.Label))
		fmt.Fprintf(&b, `<rect class="bar %s" x="%.0f" y="%.0f" width="%.0f" height="%.0f"/>`, esc(x.Class), left, y+4, math.Max(l, 1), row-8)
		fmt.Fprintf(&b, `<text class="count" x="%.0f" y="%.0f">%s</text>`, left+l+8, y+22, thousands(int64(math.Round(x.Value))))
	}
	fmt.Fprintf(&b, `<text class="axis" x="%.0f" y="%.0f">%s</text></svg>`, left, h-8, esc(unit))
	return template.HTML(b.String())
}

// niceTicks are 1, 2 or 5 × 10ⁿ steps up to most.
func niceTicks(most float64) []float64 {
	step := math.Pow(10, math.Floor(math.Log10(math.Max(most, 1))))
	switch {
	case most/step < 2:
		step /= 5
	case most/step < 5:
		step /= 2
	}
	step = math.Max(step, 1)
	var out []float64
	for t := 0.0; t <= most; t += step {
		out = append(out, t)
	}
	return out
}

// thousands writes n with thousands separators.
func thousands(n int64) string {
	s := fmt.Sprint(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// Thousands writes n with thousands separators, as the reports do.
func Thousands(n int64) string { return thousands(n) }
