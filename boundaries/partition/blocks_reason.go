package partition

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Reasons a partition of blocks is out of range, in words for the user:
// first what no search could fix (one block too big, the total, a piece
// cut off from the rest), then what the search found.

// piecesReason: the blocks form more pieces than there are parts.
func (bg *blockGraph) piecesReason(comps [][]int, k int) string {
	var names []string
	for _, c := range comps {
		names = append(names, bg.names(c))
	}
	return fmt.Sprintf("the blocks form %d pieces not connected to each other (%s), more than the %d %s asked for",
		len(comps), strings.Join(names, "; "), k, plural(k, "part", "parts"))
}

// names lists a few of the blocks' ids.
func (bg *blockGraph) names(idx []int) string {
	const most = 5
	var ids []string
	for _, i := range idx[:min(len(idx), most)] {
		ids = append(ids, strconv.Itoa(bg.b[i].ID))
	}
	s := plural(len(idx), "block ", "blocks ") + strings.Join(ids, ", ")
	if len(idx) > most {
		s += fmt.Sprintf(" and %d more", len(idx)-most)
	}
	return s
}

// reason explains why res is out of range; exact says the search was
// exhaustive, so the parts it found are the best the blocks allow.
func (bg *blockGraph) reason(res *Result, comps [][]int, ks []int, s Spec, exact bool) string {
	hh := func(b Block) float64 { return b.W }
	pop := func(b Block) float64 { return b.P }
	for _, m := range []struct {
		what string
		r    Range
		of   func(Block) float64
	}{{"households", s.Households, hh}, {"residents", s.Population, pop}} {
		if m.r.Hi <= 0 {
			continue
		}
		if why := bg.plainReason(m.what, m.r, m.of, comps, ks, s.K); why != "" {
			return why
		}
	}
	for _, m := range []struct {
		what string
		r    Range
		of   func(Block) float64
	}{{"households", s.Households, hh}, {"residents", s.Population, pop}} {
		if m.r.Hi <= 0 {
			continue
		}
		var total float64
		ws := make([]float64, len(res.Parts))
		ok := true
		for a, part := range res.Parts {
			for _, i := range part {
				ws[a] += m.of(bg.b[i])
			}
			ok = ok && inRange(m.r, ws[a])
			total += ws[a]
		}
		if ok {
			continue
		}
		found := "the best partition found has parts of "
		if exact {
			found = "the blocks only allow parts of "
		}
		return fmt.Sprintf("%s %s cannot make %d parts within %s–%s: total/k = %s but %s%s",
			num(total), m.what, s.K, num(m.r.Lo), num(m.r.Hi), num(total/float64(s.K)), found, list(ws))
	}
	return "the parts are out of range"
}

// plainReason is a reason no search could fix, or "".
func (bg *blockGraph) plainReason(what string, r Range, of func(Block) float64, comps [][]int, ks []int, k int) string {
	var total float64
	for _, b := range bg.b {
		if of(b) > r.Hi {
			return fmt.Sprintf("block %d alone has %s %s, above the maximum %s", b.ID, num(of(b)), what, num(r.Hi))
		}
		total += of(b)
	}
	kf := float64(k)
	if total < kf*r.Lo {
		return fmt.Sprintf("%s %s cannot make %d parts of at least %s (that needs %s)", num(total), what, k, num(r.Lo), num(kf*r.Lo))
	}
	if total > kf*r.Hi {
		return fmt.Sprintf("%s %s cannot make %d parts of at most %s (that holds %s)", num(total), what, k, num(r.Hi), num(kf*r.Hi))
	}
	if len(comps) == 1 {
		return ""
	}
	for c, idx := range comps {
		var w float64
		for _, i := range idx {
			w += of(bg.b[i])
		}
		kc := float64(ks[c])
		if w < kc*r.Lo {
			return fmt.Sprintf("%s, not connected to the other blocks, hold %s %s: too few for %d %s of at least %s",
				bg.names(idx), num(w), what, ks[c], plural(ks[c], "part", "parts"), num(r.Lo))
		}
		if w > kc*r.Hi {
			return fmt.Sprintf("%s, not connected to the other blocks, hold %s %s: too many for %d %s of at most %s",
				bg.names(idx), num(w), what, ks[c], plural(ks[c], "part", "parts"), num(r.Hi))
		}
	}
	return ""
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// list is "1,100 and 4,500", or "1,100, 2,000 and 4,500".
func list(ws []float64) string {
	s := make([]string, len(ws))
	for i, w := range ws {
		s[i] = num(w)
	}
	if len(s) == 1 {
		return s[0]
	}
	return strings.Join(s[:len(s)-1], ", ") + " and " + s[len(s)-1]
}

// num is x with thousands separators, to a tenth when not whole.
func num(x float64) string {
	dec := 0
	if math.Abs(x-math.Round(x)) >= 0.05 {
		dec = 1
	}
	s := strconv.FormatFloat(math.Abs(x), 'f', dec, 64)
	whole, frac, _ := strings.Cut(s, ".")
	var b strings.Builder
	if x < 0 {
		b.WriteByte('-')
	}
	for i, c := range whole {
		if i > 0 && (len(whole)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if frac != "" {
		b.WriteString("." + frac)
	}
	return b.String()
}
