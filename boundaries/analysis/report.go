package analysis

import (
	"bufio"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/jiedao/jiedao/boundaries"
)

// WriteText writes a readable summary of an analysis: counts per status
// and zone kind, the distribution of community sizes drawn against the
// profile's thresholds, and the units furthest from the rules.
func (a *Analysis) WriteText(w io.Writer, p *Profile) error {
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, "jiedao analysis — profile %s (%s), boundaries valid on %s, run %d, %.2fs\n\n", a.Profile, p.Title, a.At, a.RunID, a.Seconds)
	for _, l := range boundaries.Levels {
		st := a.Summary.Status[l]
		if len(st) == 0 {
			continue
		}
		total := 0
		for _, n := range st {
			total += n
		}
		fmt.Fprintf(bw, "%-10s %6d  undersized %d, normal %d, oversized %d, unknown %d\n", l.Layer(), total,
			st[boundaries.Undersized], st[boundaries.Normal], st[boundaries.Oversized], st[boundaries.Unknown])
	}
	fmt.Fprintf(bw, "\nzones (listed ≥ %g m²):", p.MinZoneArea())
	for _, k := range boundaries.ZoneKinds {
		fmt.Fprintf(bw, " %s %d", k, a.Summary.Zones[k])
		if n := a.Summary.Slivers[k]; n > 0 {
			fmt.Fprintf(bw, " (+%d slivers)", n)
		}
		bw.WriteString(",")
	}
	bw.WriteString("\n")
	a.writeHistogram(bw, boundaries.Community, 250, p.Community.MinHouseholds, p.Community.MaxHouseholds)
	g, _ := p.GridRulesFor("", "")
	a.writeHistogram(bw, boundaries.Grid, 50, g.MinHouseholds, g.MaxHouseholds)
	var flagged []UnitResult
	for _, u := range a.Units {
		if u.Status.Flagged() {
			flagged = append(flagged, u)
		}
	}
	// Worst first: furthest from the normal size.
	sort.SliceStable(flagged, func(i, j int) bool { return dev(flagged[i]) > dev(flagged[j]) })
	if len(flagged) > 0 {
		fmt.Fprintf(bw, "\nworst units (%d flagged):\n", len(flagged))
	}
	for i, u := range flagged {
		if i == 15 {
			fmt.Fprintf(bw, "  … and %d more (--format csv lists all)\n", len(flagged)-i)
			break
		}
		fmt.Fprintf(bw, "  %-10s %-14s %-12s %s\n", u.Status, u.Code, u.Name, strings.Join(u.Reasons, "; "))
	}
	for i, z := range a.Zones {
		if i == 0 {
			bw.WriteString("\nzones:\n")
		}
		if i == 15 {
			fmt.Fprintf(bw, "  … and %d more (--format geojson maps all)\n", len(a.Zones)-i)
			break
		}
		fmt.Fprintf(bw, "  %-14s %-28s %10.0f m²\n", z.Kind, strings.Join(z.Codes, "+"), z.AreaM2)
	}
	return bw.Flush()
}

func dev(u UnitResult) float64 {
	if u.RatioToNormal == nil {
		return 0
	}
	r := *u.RatioToNormal
	if r < 1 && r > 0 {
		return 1 / r
	}
	return r
}

// writeHistogram draws the households of a level's units in 24 bins of
// bin households with the merge and split thresholds marked: communities
// in 250s (0 … 6000+), grids in 50s (0 … 1200+; the general grid rules).
func (a *Analysis) writeHistogram(w *bufio.Writer, level boundaries.Level, bin int, minH, maxH Number) {
	const bins = 24
	var counts [bins + 1]int
	n := 0
	for _, u := range a.Units {
		if u.Level != level || u.Households == nil {
			continue
		}
		i := int(*u.Households / int64(bin))
		if i > bins {
			i = bins
		}
		counts[i]++
		n++
	}
	if n == 0 {
		return
	}
	most := 0
	for _, c := range counts {
		most = max(most, c)
	}
	lo, hi := minH.Float(), maxH.Float()
	fmt.Fprintf(w, "\n%s households (%d %s; < %g merge, > %g split):\n", level, n, level.Layer(), lo, hi)
	for i, c := range counts {
		label := fmt.Sprintf("%5d–%-5d", i*bin, (i+1)*bin-1)
		if i == bins {
			label = fmt.Sprintf("%5d+     ", i*bin)
		}
		mark := " "
		from, to := float64(i*bin), float64((i+1)*bin)
		switch {
		case to <= lo:
			mark = "<"
		case from > hi:
			mark = ">"
		case from < lo || to > hi+1:
			mark = "|" // the bin straddles a threshold
		}
		fmt.Fprintf(w, "  %s %s %-50s %d\n", label, mark, strings.Repeat("█", (c*50+most-1)/most), c)
	}
}
