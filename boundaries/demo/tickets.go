package demo

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"time"
)

// Synthetic hotline tickets (12345, 接诉即办): a background in proportion to
// households, clusters at some injected problems (overlaps, gaps, parts
// outside the parent), and reassignments (改派) — most of the clusters'
// at overlaps and gaps, a thin share of the rest — so the disputes
// analysis has places to find and the manifest says where they are.

// File names of the tickets and their reassignments.
const (
	TicketsFile       = "tickets.csv"
	ReassignmentsFile = "ticket_reassignments.csv"
)

const (
	// ticketsPerHouseholdMonth gives about 100,000 tickets a year at
	// beijing scale (16.9 million households).
	ticketsPerHouseholdMonth        = 100_000.0 / 16_913_770 / 12
	defaultTicketMonths             = 12
	clusterTickets                  = 40         // at each overlap and gap
	crossingTickets                 = 25         // in each part outside the parent
	clusterReassigned               = 0.7        // share of a cluster reassigned
	backgroundReassigned            = 0.02       // share of the background
	saltTickets              uint64 = 0x7469636b // distinct from the salts of rng.go
)

// ticketsStart is the first day of the demo period (Beijing time).
var ticketsStart = time.Date(2025, 1, 1, 0, 0, 0, 0, time.FixedZone("CST", 8*3600))

// TicketCategories are the demo's request categories, most frequent first.
var TicketCategories = []string{"噪音扰民", "垃圾清运", "道路破损", "违章停车", "占道经营", "供暖", "物业管理", "路灯照明"}

var categoryWeights = []float64{0.2, 0.18, 0.14, 0.13, 0.1, 0.1, 0.1, 0.05}

// TicketsInfo describes the tickets files.
type TicketsInfo struct {
	File          FileInfo `json:"file"`
	Reassignments FileInfo `json:"reassignments"`
	Count         int      `json:"count"`
	Reassigned    int      `json:"reassigned"`
	Since         string   `json:"since"` // YYYY-MM-DD, inclusive
	Until         string   `json:"until"` // exclusive
	// PerHouseholdMonth is the background rate.
	PerHouseholdMonth float64  `json:"per_household_month"`
	Categories        []string `json:"categories"`
}

// DisputeSpot is a cluster of reassigned tickets at an injected problem:
// what the disputes analysis should rank first.
type DisputeSpot struct {
	Kind       string   `json:"kind"`  // overlap or gap
	Codes      []string `json:"codes"` // the two communities involved
	Street     string   `json:"street"`
	Lon        float64  `json:"lon"` // the cluster's centroid
	Lat        float64  `json:"lat"`
	Tickets    int      `json:"tickets"`
	Reassigned int      `json:"reassigned"`
}

// ticketWriter writes one CSV with its checksum and row count.
type ticketWriter struct {
	f    *os.File
	bw   *bufio.Writer
	sum  hash.Hash
	n    int
	name string
	line []byte
}

func createCSV(dir, name, header string) (*ticketWriter, error) {
	f, err := os.Create(filepath.Join(dir, name))
	if err != nil {
		return nil, err
	}
	w := &ticketWriter{f: f, sum: sha256.New(), name: name}
	w.bw = bufio.NewWriterSize(io.MultiWriter(f, w.sum), 64<<10)
	w.bw.WriteString(header + "\n")
	return w, nil
}

func (w *ticketWriter) close() (FileInfo, error) {
	if err := w.bw.Flush(); err != nil {
		w.f.Close()
		return FileInfo{}, err
	}
	st, err := w.f.Stat()
	if err != nil {
		w.f.Close()
		return FileInfo{}, err
	}
	if err := w.f.Close(); err != nil {
		return FileInfo{}, err
	}
	return FileInfo{Name: w.name, Features: w.n, Bytes: st.Size(), SHA256: hex.EncodeToString(w.sum.Sum(nil))}, nil
}

// tickets is one generation of the tickets files.
type tickets struct {
	g        *gen
	r        *rng
	tw, rw   *ticketWriter
	months   int
	n, moved int
}

// writeTickets writes both files and returns what the manifest lists.
func (g *gen) writeTickets(dir string, months int) (*TicketsInfo, []DisputeSpot, error) {
	if months <= 0 {
		months = defaultTicketMonths
	}
	tw, err := createCSV(dir, TicketsFile, "id,time,lon,lat,category")
	if err != nil {
		return nil, nil, err
	}
	rw, err := createCSV(dir, ReassignmentsFile, "ticket,to,reason")
	if err != nil {
		tw.f.Close()
		return nil, nil, err
	}
	t := &tickets{g: g, r: newRNG(g.seed, saltTickets), tw: tw, rw: rw, months: months}
	t.background()
	spots := t.clusters()
	info := &TicketsInfo{Count: t.n, Reassigned: t.moved, Since: ticketsStart.Format(time.DateOnly),
		Until: ticketsStart.AddDate(0, months, 0).Format(time.DateOnly), PerHouseholdMonth: ticketsPerHouseholdMonth,
		Categories: TicketCategories}
	if info.File, err = tw.close(); err != nil {
		rw.f.Close()
		return nil, nil, err
	}
	if info.Reassignments, err = rw.close(); err != nil {
		return nil, nil, err
	}
	return info, spots, nil
}

// ticket writes one ticket at p (metre frame) and returns its id.
func (t *tickets) ticket(p pt, category string) string {
	t.n++
	id := "D" + strconv.Itoa(t.n)
	span := ticketsStart.AddDate(0, t.months, 0).Sub(ticketsStart)
	at := ticketsStart.Add(time.Duration(t.r.float() * float64(span))).Truncate(time.Minute)
	lon, lat := project(p)
	b := append(t.tw.line[:0], id...)
	b = append(b, ',')
	b = at.AppendFormat(b, time.RFC3339)
	b = append(b, ',')
	b = appendCoord(b, lon)
	b = append(b, ',')
	b = appendCoord(b, lat)
	b = append(b, ',')
	b = append(b, category...)
	b = append(b, '\n')
	t.tw.line = b
	t.tw.bw.Write(b)
	t.tw.n++
	return id
}

func (t *tickets) reassign(id, to, reason string) {
	fmt.Fprintf(t.rw.bw, "%s,%s,%s\n", id, to, reason)
	t.rw.n++
	t.moved++
}

func (t *tickets) category() string {
	u := t.r.float()
	for i, w := range categoryWeights {
		if u < w {
			return TicketCategories[i]
		}
		u -= w
	}
	return TicketCategories[0]
}

// inside says whether p is in community ci and in none of the regions its
// points avoid (an overlap it lends, its part outside its street).
func (g *gen) inside(ci int32, cg commGeom, p pt) bool {
	if !inRing(p, cg.outer) {
		for _, part := range cg.parts {
			if inRing(p, part) {
				return true
			}
		}
		return false
	}
	for _, h := range cg.holes {
		if inRing(p, h) {
			return false
		}
	}
	if m := g.mods[ci]; m != nil {
		for _, a := range m.avoid {
			if inRing(p, a) {
				return false
			}
		}
	}
	return true
}

// background writes each community's tickets in proportion to its
// households; a few of those in communities far from any injected problem
// are reassigned to the neighbour across the nearest cell edge.
func (t *tickets) background() {
	g, c := t.g, t.g.c
	for ci := range c.communities {
		cg := g.geometry(int32(ci), nil)
		want := float64(g.hh[ci]) * ticketsPerHouseholdMonth * float64(t.months)
		n := int(want + t.r.float())
		r := c.communities[ci].rect()
		for range n {
			for range 100 {
				x, y := r.x0+int32(t.r.intn(int(r.w()))), r.y0+int32(t.r.intn(int(r.h())))
				p := bilinear(c.lat.cellCorners(x, y), 0.02+0.96*t.r.float(), 0.02+0.96*t.r.float())
				if !g.inside(int32(ci), cg, p) {
					continue
				}
				id := t.ticket(p, t.category())
				if !g.blocked[ci] && t.r.float() < backgroundReassigned {
					dx, dy := [4]int32{1, -1, 0, 0}, [4]int32{0, 0, 1, -1}
					k := t.r.intn(4)
					if o := c.commAt(x+dx[k], y+dy[k]); o >= 0 && o != int32(ci) {
						t.reassign(id, c.communityCode(o), "不属于本社区")
					}
				}
				break
			}
		}
	}
}

// clusters writes tickets inside injected overlaps, gaps and parts outside
// the parent; those at overlaps and gaps are mostly reassigned.
func (t *tickets) clusters() []DisputeSpot {
	g := t.g
	byCode := make(map[string]int32, len(g.c.communities))
	for ci := range g.c.communities {
		byCode[g.c.communityCode(int32(ci))] = int32(ci)
	}
	var spots []DisputeSpot
	for _, inj := range g.injected {
		switch inj.Kind {
		case KindOverlap:
			a, b := byCode[inj.Codes[0]], byCode[inj.Codes[1]]
			ga, gb := g.geometry(a, nil), g.geometry(b, nil)
			in := func(p pt) bool { return inRing(p, ga.outer) && inRing(p, gb.outer) }
			spots = append(spots, t.cluster(inj.Kind, inj.Codes, inj.ParentCode, []int32{a, b}, in, clusterTickets,
				func(int) string { return inj.Codes[1] }))
		case KindGap:
			a, b := byCode[inj.Near[0]], byCode[inj.Near[1]]
			ga, gb := g.geometry(a, nil), g.geometry(b, nil)
			oa, ob := g.c.lat.ring(g.c.communities[a].rect(), nil, nil), g.c.lat.ring(g.c.communities[b].rect(), nil, nil)
			in := func(p pt) bool {
				return (inRing(p, oa) || inRing(p, ob)) && !inRing(p, ga.outer) && !inRing(p, gb.outer)
			}
			spots = append(spots, t.cluster(inj.Kind, inj.Near, inj.Codes[0], []int32{a, b}, in, clusterTickets,
				func(i int) string { return inj.Near[i%2] }))
		case KindCrossesParent:
			a := byCode[inj.Codes[0]]
			ga, oa := g.geometry(a, nil), g.c.lat.ring(g.c.communities[a].rect(), nil, nil)
			in := func(p pt) bool { return inRing(p, ga.outer) && !inRing(p, oa) }
			t.cluster(inj.Kind, inj.Codes, inj.ParentCode, []int32{a}, in, crossingTickets, nil)
		}
	}
	return spots
}

// cluster writes n tickets at random points of the region in (searched in
// the bounding box of the communities cs, grown by a cell for the parts
// outside); to, when set, names the unit ticket i is reassigned to.
func (t *tickets) cluster(kind string, codes []string, street string, cs []int32, in func(pt) bool, n int,
	to func(int) string) DisputeSpot {
	box := [4]float64{math.Inf(1), math.Inf(1), math.Inf(-1), math.Inf(-1)}
	for _, ci := range t.g.cs(cs) {
		b := bounds(ci)
		box = [4]float64{math.Min(box[0], b[0]), math.Min(box[1], b[1]), math.Max(box[2], b[2]), math.Max(box[3], b[3])}
	}
	box = [4]float64{box[0] - cellSize, box[1] - cellSize, box[2] + cellSize, box[3] + cellSize}
	spot := DisputeSpot{Kind: kind, Codes: slices.Clone(codes), Street: street}
	var sx, sy float64
	for i := 0; i < n; i++ {
		var p pt
		found := false
		for range maxAttemptsPerSite {
			p = pt{box[0] + (box[2]-box[0])*t.r.float(), box[1] + (box[3]-box[1])*t.r.float()}
			if found = in(p); found {
				break
			}
		}
		if !found {
			break
		}
		cat := "占道经营"
		if i%3 == 1 {
			cat = t.category()
		}
		id := t.ticket(p, cat)
		spot.Tickets++
		sx, sy = sx+p.x, sy+p.y
		if to != nil && t.r.float() < clusterReassigned {
			t.reassign(id, to(i), "权属不清，退回重派")
			spot.Reassigned++
		}
	}
	if spot.Tickets > 0 {
		spot.Lon, spot.Lat = project(pt{sx / float64(spot.Tickets), sy / float64(spot.Tickets)})
		spot.Lon, spot.Lat = math.Round(spot.Lon*1e7)/1e7, math.Round(spot.Lat*1e7)/1e7
	}
	return spot
}

// cs are the outer rings of communities (for bounding boxes).
func (g *gen) cs(cs []int32) [][]pt {
	out := make([][]pt, len(cs))
	for i, ci := range cs {
		out[i] = g.geometry(ci, nil).outer
	}
	return out
}
