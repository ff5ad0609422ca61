package demo

import (
	"fmt"
	"slices"
)

// spec sizes a scale. The city is cut guillotine-style: columns of districts,
// each column into districts, each district into columns of streets, each
// column into streets; streets are blocks of cells, some cells paired into
// 1×2 communities until the community target is met exactly.
type spec struct {
	gx, gy      int    // city size in cells
	distW       [2]int // district column width range, cells
	distH       [2]int // district height range
	strW        [2]int // street column width range
	strH        [2]int // street height range
	communities int    // regular communities (the orphan comes on top)
	inject      int    // problems per kind (the orphan is always one)
	// perPoint is the households per building point; alleys, whether the
	// network has alleys. National has neither dense points nor alleys:
	// its files would grow by a few hundred MB.
	perPoint int32
	alleys   bool
}

var specs = map[Scale]spec{
	Small:    {gx: 20, gy: 18, distW: [2]int{8, 12}, distH: [2]int{8, 10}, strW: [2]int{3, 5}, strH: [2]int{4, 5}, communities: 300, inject: 2, perPoint: 150, alleys: true},
	Beijing:  {gx: 88, gy: 100, distW: [2]int{18, 26}, distH: [2]int{20, 30}, strW: [2]int{4, 6}, strH: [2]int{4, 6}, communities: 7500, inject: 10, perPoint: 150, alleys: true},
	National: {gx: 832, gy: 884, distW: [2]int{14, 18}, distH: [2]int{15, 19}, strW: [2]int{3, 5}, strH: [2]int{3, 6}, communities: 600000, inject: 100, perPoint: 1000},
}

type district struct {
	r            rect
	first, count int32 // its streets
}

type street struct {
	r            rect
	district     int32
	index        int32 // 1-based within the district: the code suffix
	first, count int32 // its communities
}

type community struct {
	x, y   int32 // south-west cell
	w, h   int8  // 1×1, 2×1 or 1×2 cells
	index  int16 // 1-based within the street
	street int32
}

func (c *community) rect() rect { return rect{c.x, c.y, c.x + int32(c.w), c.y + int32(c.h)} }

type city struct {
	lat         lattice
	districts   []district
	streets     []street
	communities []community
	cellComm    []int32 // cell (y*gx+x) -> community
}

// split cuts length L into parts within [lo,hi], about as many as the mean
// part size suggests, extra length spread at random.
func split(L int, lim [2]int, r *rng) ([]int, error) {
	lo, hi := lim[0], lim[1]
	nMin, nMax := (L+hi-1)/hi, L/lo
	if nMin > nMax {
		return nil, fmt.Errorf("cannot split %d into parts of %d–%d", L, lo, hi)
	}
	// Randomised rounding keeps the expected count at L/mean, so the totals
	// per scale land near their targets rather than drifting with rounding.
	n := int(float64(L)/(float64(lo+hi)/2) + r.float())
	n = min(max(n, nMin), nMax)
	parts := make([]int, n)
	for i := range parts {
		parts[i] = lo
	}
	for extra := L - n*lo; extra > 0; {
		i := r.intn(n)
		if parts[i] < hi {
			parts[i]++
			extra--
		}
	}
	return parts, nil
}

func buildCity(sp spec, seed int64) (*city, error) {
	c := &city{lat: lattice{seed: seed, gx: sp.gx, gy: sp.gy}}
	r := newRNG(seed, saltLayout)
	cols, err := split(sp.gx, sp.distW, r)
	if err != nil {
		return nil, fmt.Errorf("district columns: %w", err)
	}
	// Reading order: columns west to east, each north to south.
	x := int32(0)
	for _, w := range cols {
		rows, err := split(sp.gy, sp.distH, r)
		if err != nil {
			return nil, fmt.Errorf("district rows: %w", err)
		}
		y := int32(sp.gy)
		for _, h := range rows {
			y -= int32(h)
			c.districts = append(c.districts, district{r: rect{x, y, x + int32(w), y + int32(h)}})
		}
		x += int32(w)
	}
	cellStreet := make([]int32, sp.gx*sp.gy)
	for di := range c.districts {
		d := &c.districts[di]
		d.first = int32(len(c.streets))
		scols, err := split(int(d.r.w()), sp.strW, r)
		if err != nil {
			return nil, fmt.Errorf("street columns: %w", err)
		}
		x := d.r.x0
		for _, w := range scols {
			rows, err := split(int(d.r.h()), sp.strH, r)
			if err != nil {
				return nil, fmt.Errorf("street rows: %w", err)
			}
			y := d.r.y1
			for _, h := range rows {
				y -= int32(h)
				s := street{r: rect{x, y, x + int32(w), y + int32(h)}, district: int32(di)}
				s.index = int32(len(c.streets)) - d.first + 1
				for cy := s.r.y0; cy < s.r.y1; cy++ {
					for cx := s.r.x0; cx < s.r.x1; cx++ {
						cellStreet[int(cy)*sp.gx+int(cx)] = int32(len(c.streets))
					}
				}
				c.streets = append(c.streets, s)
			}
			x += int32(w)
		}
		d.count = int32(len(c.streets)) - d.first
		if d.count > 998 {
			return nil, fmt.Errorf("district %d has %d streets; codes allow 998", di, d.count)
		}
	}
	if err := c.pairCells(sp, cellStreet, r); err != nil {
		return nil, err
	}
	return c, nil
}

// pairCells merges random adjacent cell pairs of the same street into 1×2
// communities until exactly sp.communities remain, then numbers the
// communities street by street in reading order.
func (c *city) pairCells(sp spec, cellStreet []int32, r *rng) error {
	gx, cells := sp.gx, sp.gx*sp.gy
	merges := cells - sp.communities
	if merges < 0 {
		return fmt.Errorf("%d cells cannot hold %d communities", cells, sp.communities)
	}
	// Candidate pair = cell*2 + dir (0: with east neighbour, 1: with north).
	cand := make([]int32, 0, 2*cells)
	for i := 0; i < cells; i++ {
		x, y := i%gx, i/gx
		if x+1 < gx && cellStreet[i+1] == cellStreet[i] {
			cand = append(cand, int32(2*i))
		}
		if y+1 < sp.gy && cellStreet[i+gx] == cellStreet[i] {
			cand = append(cand, int32(2*i+1))
		}
	}
	shuffle(r, cand)
	partner := make([]int32, cells)
	for i := range partner {
		partner[i] = -1
	}
	done := 0
	for _, p := range cand {
		if done == merges {
			break
		}
		a := int(p / 2)
		b := a + 1
		if p%2 == 1 {
			b = a + gx
		}
		if partner[a] >= 0 || partner[b] >= 0 {
			continue
		}
		partner[a], partner[b] = int32(b), int32(a)
		done++
	}
	if done < merges {
		return fmt.Errorf("could only pair %d of %d cells", done, merges)
	}
	c.cellComm = make([]int32, cells)
	for i := range c.cellComm {
		c.cellComm[i] = -1
	}
	c.communities = make([]community, 0, sp.communities)
	for si := range c.streets {
		s := &c.streets[si]
		s.first = int32(len(c.communities))
		for y := s.r.y1 - 1; y >= s.r.y0; y-- {
			for x := s.r.x0; x < s.r.x1; x++ {
				i := int(y)*gx + int(x)
				if c.cellComm[i] >= 0 {
					continue
				}
				cm := community{x: x, y: y, w: 1, h: 1, street: int32(si)}
				switch p := int(partner[i]); {
				case p < 0: // a single cell
				case p == i+1:
					cm.w = 2
				case p == i-gx: // partner is south: the pair's SW cell is p
					cm.y, cm.h = y-1, 2
				default:
					return fmt.Errorf("internal: unexpected partner %d of cell %d", p, i)
				}
				cm.index = int16(int32(len(c.communities)) - s.first + 1)
				id := int32(len(c.communities))
				cr := cm.rect()
				for cy := cr.y0; cy < cr.y1; cy++ {
					for cx := cr.x0; cx < cr.x1; cx++ {
						c.cellComm[int(cy)*gx+int(cx)] = id
					}
				}
				c.communities = append(c.communities, cm)
			}
		}
		s.count = int32(len(c.communities)) - s.first
		if s.count > 999 {
			return fmt.Errorf("street %d has %d communities; codes allow 999", si, s.count)
		}
	}
	return nil
}

func (c *city) commAt(x, y int32) int32 {
	if x < 0 || y < 0 || int(x) >= c.lat.gx || int(y) >= c.lat.gy {
		return -1
	}
	return c.cellComm[int(y)*c.lat.gx+int(x)]
}

// Codes: province 99 (no such province), then two "city" digits and two
// district digits so the ~2,700 national districts fit.
func (c *city) districtCode(d int32) string {
	return fmt.Sprintf("99%02d%02d", d/99+1, d%99+1)
}

func (c *city) streetCode(s int32) string {
	st := &c.streets[s]
	return fmt.Sprintf("%s%03d", c.districtCode(st.district), st.index)
}

func (c *city) communityCode(ci int32) string {
	cm := &c.communities[ci]
	return fmt.Sprintf("%s%03d", c.streetCode(cm.street), cm.index)
}

// around returns the communities within grow cells of ci's block (grow 1:
// those sharing an edge or a corner with it), ci excluded.
func (c *city) around(ci int32, grow int32) []int32 {
	r := c.communities[ci].rect()
	var out []int32
	for y := r.y0 - grow; y < r.y1+grow; y++ {
		for x := r.x0 - grow; x < r.x1+grow; x++ {
			if o := c.commAt(x, y); o >= 0 && o != ci && !slices.Contains(out, o) {
				out = append(out, o)
			}
		}
	}
	return out
}
