package report

import (
	"fmt"
	"html/template"
	"math"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// The maps are SVG drawn here from the geometries, so a report is one file
// that opens offline: no tiles, no script. Coordinates are projected to a
// local plane (metres from the map's centre), simplified to what the page
// can show, and written as integers of the viewBox (tenths of a millimetre
// on paper).

// Ring is a closed ring of lon/lat points.
type Ring [][2]float64

// Shape is one feature drawn on a map.
type Shape struct {
	Code  string
	Class string // the CSS class: its fill and stroke (see report.css)
	// Polygons are the feature's polygons, each an outer ring and holes.
	Polygons [][]Ring
	// Label is drawn at LabelAt (lon/lat) when set: lines of text.
	Label   []string
	LabelAt *[2]float64
	// Area orders the labels: the largest shapes place theirs first.
	Area float64
}

// LegendItem is one swatch of a map's legend.
type LegendItem struct {
	Class, Text string
	Line        bool // drawn as a line (an outline), not a filled box
}

// Map is a map to draw: shapes in order (later on top), outlines drawn
// over them, a legend.
type Map struct {
	Title    string
	Shapes   []Shape
	Outlines []Shape // street outlines: stroke only, unlabelled
	Legend   []LegendItem
	// Width and Height are in millimetres on paper; a Height of 0 follows
	// the shapes' proportions within MinHeight and MaxHeight.
	Width, Height        float64
	MinHeight, MaxHeight float64
}

const (
	unitsPerMM = 10  // viewBox units per millimetre
	mapMargin  = 60  // viewBox units around the drawing
	fontSize   = 28  // 2.8 mm, about 8 pt
	legendRow  = 38  // viewBox units per legend line
	simplifyTo = 1.2 // viewBox units: finer detail is under 0.12 mm
	minRing    = 6.0 // viewBox units²: smaller rings are invisible
)

// projection maps lon/lat to viewBox units.
type projection struct {
	lon0, lat0, kx, ky float64 // metres per degree at lat0
	scale              float64 // viewBox units per metre
	cx, cy             float64 // viewBox centre
	mx, my             float64 // projected centre in metres
}

func (p *projection) xy(pt [2]float64) (float64, float64) {
	mx := (pt[0] - p.lon0) * p.kx
	my := (pt[1] - p.lat0) * p.ky
	return p.cx + (mx-p.mx)*p.scale, p.cy - (my-p.my)*p.scale
}

// extent is the shapes' bounding box in lon/lat (ok false: none).
func extent(shapes []Shape) (minLon, minLat, maxLon, maxLat float64, ok bool) {
	minLon, minLat, maxLon, maxLat = math.Inf(1), math.Inf(1), math.Inf(-1), math.Inf(-1)
	for _, s := range shapes {
		for _, poly := range s.Polygons {
			for _, r := range poly {
				for _, pt := range r {
					minLon, maxLon = math.Min(minLon, pt[0]), math.Max(maxLon, pt[0])
					minLat, maxLat = math.Min(minLat, pt[1]), math.Max(maxLat, pt[1])
				}
			}
		}
	}
	return minLon, minLat, maxLon, maxLat, !math.IsInf(minLon, 0)
}

const earthRadius = 6371008.8

// aspect is height over width of the shapes' extent on the ground.
func aspect(shapes []Shape) float64 {
	minLon, minLat, maxLon, maxLat, ok := extent(shapes)
	if !ok {
		return 0.6
	}
	dx := (maxLon - minLon) * math.Cos((minLat+maxLat)/2*math.Pi/180)
	return (maxLat - minLat) / math.Max(dx, 1e-9)
}

// fit makes the projection that fits every shape into a w×h viewBox.
func fit(shapes []Shape, w, h, bottom float64) (*projection, bool) {
	minLon, minLat, maxLon, maxLat, ok := extent(shapes)
	if !ok {
		return nil, false
	}
	const r = earthRadius
	lat0 := (minLat + maxLat) / 2
	p := &projection{lon0: (minLon + maxLon) / 2, lat0: lat0,
		kx: r * math.Pi / 180 * math.Cos(lat0*math.Pi/180), ky: r * math.Pi / 180, cx: w / 2, cy: h / 2}
	dx, dy := (maxLon-minLon)*p.kx, (maxLat-minLat)*p.ky
	p.scale = math.Min((w-2*mapMargin)/math.Max(dx, 1), (h-2*mapMargin-bottom)/math.Max(dy, 1))
	p.cy -= bottom / 2 // room for the scale bar (and legend) below
	return p, true
}

// SVG draws the map. Every text is HTML-escaped.
func (m *Map) SVG() template.HTML {
	all := append(append([]Shape{}, m.Shapes...), m.Outlines...)
	// A narrow map keeps its legend below the drawing, not over it.
	bottom := 40.0
	if m.Width < 120 {
		bottom += float64(len(m.Legend)*legendRow + 36)
	}
	if m.Height == 0 {
		inner := m.Width*unitsPerMM - 2*mapMargin
		m.Height = (inner*aspect(all) + 2*mapMargin + bottom) / unitsPerMM
		m.Height = math.Max(m.MinHeight, math.Min(m.Height, m.MaxHeight))
	}
	w, h := m.Width*unitsPerMM, m.Height*unitsPerMM
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="map" xmlns="http://www.w3.org/2000/svg" width="%gmm" height="%gmm" viewBox="0 0 %g %g" role="img" aria-label="%s">`,
		m.Width, m.Height, w, h, esc(m.Title))
	b.WriteString(hatchDefs)
	fmt.Fprintf(&b, `<rect class="frame" x="1" y="1" width="%g" height="%g"/>`, w-2, h-2)
	p, ok := fit(all, w, h, bottom)
	if !ok {
		fmt.Fprintf(&b, `<text class="empty" x="%g" y="%g">无图形 (no geometry)</text></svg>`, w/2, h/2)
		return template.HTML(b.String())
	}
	for _, s := range m.Shapes {
		writeShape(&b, p, s, "unit")
	}
	for _, s := range m.Outlines {
		writeShape(&b, p, s, "outline")
	}
	writeLabels(&b, p, m.Shapes, w, h)
	writeScaleBar(&b, p, h)
	writeNorthArrow(&b, w)
	writeLegend(&b, m.Legend, w, h)
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

// hatchDefs are the patterns of zones (problem areas) and removed units.
const hatchDefs = `<defs><pattern id="hatch" width="16" height="16" patternUnits="userSpaceOnUse" patternTransform="rotate(45)">` +
	`<rect width="16" height="16" fill="#fde0dc"/><line x1="0" y1="0" x2="0" y2="16" stroke="#c62828" stroke-width="5"/></pattern></defs>`

// writeShape writes one shape as a path of its projected, simplified rings.
func writeShape(b *strings.Builder, p *projection, s Shape, kind string) {
	var d strings.Builder
	for _, poly := range s.Polygons {
		for i, r := range poly {
			pts := make([][2]float64, len(r))
			for k, pt := range r {
				pts[k][0], pts[k][1] = p.xy(pt)
			}
			pts = simplify(pts, simplifyTo)
			// A hole or a second piece under a pixel is noise at this
			// scale; the outer ring of a shape's first polygon always stays.
			if len(pts) < 4 || (math.Abs(ringArea(pts)) < minRing && !(i == 0 && d.Len() == 0)) {
				continue
			}
			writeRing(&d, pts)
		}
	}
	if d.Len() == 0 {
		return
	}
	fmt.Fprintf(b, `<path class="%s %s" data-code="%s" d="%s"/>`, kind, esc(s.Class), esc(s.Code), d.String())
}

// writeRing writes a ring as integer moves, dropping repeated points.
func writeRing(d *strings.Builder, pts [][2]float64) {
	lx, ly := math.MaxInt, math.MaxInt
	n := 0
	for _, pt := range pts[:len(pts)-1] {
		x, y := int(math.Round(pt[0])), int(math.Round(pt[1]))
		if x == lx && y == ly {
			continue
		}
		if n == 0 {
			d.WriteString("M")
		} else {
			d.WriteString("L")
		}
		d.WriteString(strconv.Itoa(x))
		d.WriteByte(',')
		d.WriteString(strconv.Itoa(y))
		lx, ly = x, y
		n++
	}
	d.WriteString("Z")
}

// simplify is Douglas–Peucker on a closed ring (first point = last),
// keeping the first point and the one furthest from it.
func simplify(pts [][2]float64, tol float64) [][2]float64 {
	if len(pts) < 5 {
		return pts
	}
	far, best := 0, -1.0
	for i, pt := range pts {
		if d := math.Hypot(pt[0]-pts[0][0], pt[1]-pts[0][1]); d > best {
			far, best = i, d
		}
	}
	keep := make([]bool, len(pts))
	keep[0], keep[far], keep[len(pts)-1] = true, true, true
	dp(pts, 0, far, tol, keep)
	dp(pts, far, len(pts)-1, tol, keep)
	out := make([][2]float64, 0, len(pts)/2)
	for i, k := range keep {
		if k {
			out = append(out, pts[i])
		}
	}
	return out
}

// dp marks the points of pts[i:j] that stay, iteratively (rings of
// thousands of points would recurse deeply).
func dp(pts [][2]float64, i, j int, tol float64, keep []bool) {
	stack := [][2]int{{i, j}}
	for len(stack) > 0 {
		s := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		a, c := pts[s[0]], pts[s[1]]
		far, best := -1, tol
		for k := s[0] + 1; k < s[1]; k++ {
			if d := segDist(pts[k], a, c); d > best {
				far, best = k, d
			}
		}
		if far >= 0 {
			keep[far] = true
			stack = append(stack, [2]int{s[0], far}, [2]int{far, s[1]})
		}
	}
}

func segDist(p, a, b [2]float64) float64 {
	dx, dy := b[0]-a[0], b[1]-a[1]
	l := dx*dx + dy*dy
	if l == 0 {
		return math.Hypot(p[0]-a[0], p[1]-a[1])
	}
	t := math.Max(0, math.Min(1, ((p[0]-a[0])*dx+(p[1]-a[1])*dy)/l))
	return math.Hypot(p[0]-a[0]-t*dx, p[1]-a[1]-t*dy)
}

func ringArea(pts [][2]float64) float64 {
	s := 0.0
	for i := 1; i < len(pts); i++ {
		s += pts[i-1][0]*pts[i][1] - pts[i][0]*pts[i-1][1]
	}
	return s / 2
}

// box is a label's rectangle in viewBox units.
type box struct{ x0, y0, x1, y1 float64 }

func (a box) overlaps(b box) bool { return a.x0 < b.x1 && b.x0 < a.x1 && a.y0 < b.y1 && b.y0 < a.y1 }

// textWidth estimates a line's width: CJK characters are square, others
// about half as wide.
func textWidth(s string, size float64) float64 {
	w := 0.0
	for _, r := range s {
		if utf8.RuneLen(r) >= 3 {
			w += size
		} else {
			w += 0.58 * size
		}
	}
	return w
}

// writeLabels places labels greedily, largest shape first: at the label
// point, else nudged up, down or sideways, else smaller; a label that
// still collides keeps only its first line.
func writeLabels(b *strings.Builder, p *projection, shapes []Shape, w, h float64) {
	order := make([]int, 0, len(shapes))
	for i, s := range shapes {
		if len(s.Label) > 0 && s.LabelAt != nil {
			order = append(order, i)
		}
	}
	sort.SliceStable(order, func(i, j int) bool { return shapes[order[i]].Area > shapes[order[j]].Area })
	var placed []box
	frame := box{mapMargin / 2, mapMargin / 2, w - mapMargin/2, h - 120}
	for _, i := range order {
		s := shapes[i]
		x, y := p.xy(*s.LabelAt)
		bx, lines, size, ok := place(x, y, s.Label, placed, frame)
		if !ok {
			continue
		}
		placed = append(placed, bx)
		cx := (bx.x0 + bx.x1) / 2
		fmt.Fprintf(b, `<text class="label" data-code="%s" x="%.0f" y="%.0f" font-size="%.0f">`, esc(s.Code), cx, bx.y0+size*0.9, size)
		for k, l := range lines {
			dy := "0"
			if k > 0 {
				dy = fmt.Sprintf("%.0f", size*1.15)
			}
			fmt.Fprintf(b, `<tspan x="%.0f" dy="%s">%s</tspan>`, cx, dy, esc(l))
		}
		b.WriteString(`</text>`)
	}
}

// place finds a box for a label near (x, y) that overlaps none placed.
func place(x, y float64, label []string, placed []box, frame box) (box, []string, float64, bool) {
	try := func(lines []string, size, dx, dy float64) (box, bool) {
		wd := 0.0
		for _, l := range lines {
			wd = math.Max(wd, textWidth(l, size))
		}
		ht := size * (1.15*float64(len(lines)) - 0.15)
		bx := box{x + dx - wd/2 - 3, y + dy - ht/2 - 2, x + dx + wd/2 + 3, y + dy + ht/2 + 2}
		if bx.x0 < frame.x0 || bx.x1 > frame.x1 || bx.y0 < frame.y0 || bx.y1 > frame.y1 {
			return bx, false
		}
		for _, o := range placed {
			if bx.overlaps(o) {
				return bx, false
			}
		}
		return bx, true
	}
	for _, lines := range [][]string{label, label[:1]} {
		for _, size := range []float64{fontSize, fontSize * 0.8} {
			step := size * 1.2
			for _, d := range [][2]float64{{0, 0}, {0, -step}, {0, step}, {-2 * step, 0}, {2 * step, 0}, {0, -2 * step}, {0, 2 * step}} {
				if bx, ok := try(lines, size, d[0], d[1]); ok {
					return bx, lines, size, true
				}
			}
		}
	}
	return box{}, nil, 0, false
}

// writeScaleBar draws a bar of a round length about a fifth of the map.
func writeScaleBar(b *strings.Builder, p *projection, h float64) {
	target := 360 / p.scale // metres
	l := math.Pow(10, math.Floor(math.Log10(target)))
	for _, m := range []float64{5, 2, 1} {
		if m*l <= target {
			l *= m
			break
		}
	}
	px := l * p.scale
	x0, y0 := float64(mapMargin), h-50
	fmt.Fprintf(b, `<g class="scalebar"><rect x="%.0f" y="%.0f" width="%.0f" height="12" class="sb-w"/>`, x0, y0, px)
	fmt.Fprintf(b, `<rect x="%.0f" y="%.0f" width="%.0f" height="12" class="sb-b"/>`, x0, y0, px/2)
	unit := func(m float64) string {
		if l >= 1000 {
			return strconv.FormatFloat(m/1000, 'f', -1, 64) + " km"
		}
		return strconv.FormatFloat(m, 'f', -1, 64) + " m"
	}
	fmt.Fprintf(b, `<text x="%.0f" y="%.0f" class="sb-t">0</text><text x="%.0f" y="%.0f" class="sb-t">%s</text></g>`,
		x0, y0-8, x0+px, y0-8, unit(l))
}

// writeNorthArrow draws 北/N over an arrow in the top right corner.
func writeNorthArrow(b *strings.Builder, w float64) {
	x, y := w-70, 40.0
	fmt.Fprintf(b, `<g class="north"><path d="M%.0f,%.0fL%.0f,%.0fL%.0f,%.0fL%.0f,%.0fZ"/>`, x, y+20, x+18, y+80, x, y+68, x-18, y+80)
	fmt.Fprintf(b, `<text x="%.0f" y="%.0f">北 N</text></g>`, x, y+10)
}

// writeLegend draws the swatches in the bottom right corner.
func writeLegend(b *strings.Builder, items []LegendItem, w, h float64) {
	if len(items) == 0 {
		return
	}
	const row = legendRow
	wd := 0.0
	for _, it := range items {
		wd = math.Max(wd, textWidth(it.Text, 24))
	}
	wd += 80
	x0, y0 := w-wd-20, h-20-float64(len(items))*row-16
	fmt.Fprintf(b, `<g class="legend"><rect class="lg-bg" x="%.0f" y="%.0f" width="%.0f" height="%d"/>`, x0, y0, wd, len(items)*row+16)
	for i, it := range items {
		y := y0 + 12 + float64(i)*row
		if it.Line {
			fmt.Fprintf(b, `<path class="unit %s" d="M%.0f,%.0fh44v24h-44Z" fill="none"/>`, esc(it.Class), x0+12, y+2)
		} else {
			fmt.Fprintf(b, `<rect class="unit %s" x="%.0f" y="%.0f" width="44" height="24"/>`, esc(it.Class), x0+12, y+2)
		}
		fmt.Fprintf(b, `<text x="%.0f" y="%.0f">%s</text>`, x0+66, y+23, esc(it.Text))
	}
	b.WriteString(`</g>`)
}

// esc escapes text for SVG inside HTML.
func esc(s string) string { return template.HTMLEscapeString(s) }
