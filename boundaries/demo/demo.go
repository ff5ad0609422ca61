// Package demo generates a synthetic city — districts, streets, communities,
// building points and the roads, river and railway that cut communities
// into blocks, as GeoJSON — deterministic for a seed, for `jiedao
// demo` to import through the normal importer and analyse. Codes use the
// non-existent province 99 and district names start with 示例, so the data
// cannot be mistaken for real boundaries.
//
// The geometry is a jittered lattice whose subdivided edges are shared
// bit-for-bit by neighbours, so every level tiles its parent exactly; the
// only boundary problems are the ones injected on purpose and listed in the
// manifest.
package demo

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// Scale selects the city size.
type Scale string

const (
	Small    Scale = "small"    // 4 districts, ≈20 streets, 300 communities
	Beijing  Scale = "beijing"  // 16 districts, ≈350 streets, 7,500 communities
	National Scale = "national" // ≈2,700 districts, ≈40,000 streets, 600,000 communities
)

// Scales lists the valid scales, smallest first.
var Scales = []Scale{Small, Beijing, National}

// Config is one generation run.
type Config struct {
	Seed  int64
	Scale Scale
	Dir   string // output folder, created if missing
	// Progress, when set, is called as features are written; total is the
	// number of features in all files.
	Progress func(done, total int)
	// TicketMonths is the period of the synthetic tickets (default 12).
	TicketMonths int
}

// File names in the output folder.
const (
	DistrictsFile   = "districts.geojson"
	StreetsFile     = "streets.geojson"
	CommunitiesFile = "communities.geojson"
	PointsFile      = "points.geojson"
	BarriersFile    = "barriers.geojson"
	ManifestFile    = "manifest.json"
)

// ManifestVersion changes when the output format does (2: barriers, 3:
// grids).
const ManifestVersion = 3

// Manifest describes a generated city; it is written last, so a folder with
// a manifest holds complete files.
type Manifest struct {
	Synthetic    bool    `json:"synthetic"` // always true
	Note         string  `json:"note"`
	Generator    string  `json:"generator"`
	Version      int     `json:"version"`
	Seed         int64   `json:"seed"`
	Scale        Scale   `json:"scale"`
	ProvinceCode string  `json:"province_code"`
	CellSizeM    float64 `json:"cell_size_m"`
	// BBox is [west, south, east, north] of the units and points; the
	// river and the railway reach a cell beyond it.
	BBox             [4]float64    `json:"bbox"`
	Counts           Counts        `json:"counts"`
	Files            []FileInfo    `json:"files"`
	HouseholdBuckets []BucketCount `json:"household_buckets"`
	// Barriers are the features and length of each class in BarriersFile,
	// in the file's order of classes.
	Barriers []BarrierCount `json:"barriers"`
	// Injected lists every boundary problem in the city — there are no
	// others — with the codes an analyser should report.
	Injected []Injected `json:"injected"`
	// GridProblems lists every grid problem in GridsFile (grids.go), in
	// the same form: overlap, crosses_parent, noncontiguous and orphan at
	// level grid, unowned at level community.
	GridProblems []Injected `json:"grid_problems,omitempty"`
	// Tickets describes TicketsFile and ReassignmentsFile (tickets.go);
	// DisputeSpots are where their reassignments cluster.
	Tickets      *TicketsInfo  `json:"tickets,omitempty"`
	DisputeSpots []DisputeSpot `json:"dispute_spots,omitempty"`
}

// Counts are features per layer. Communities include the orphan.
type Counts struct {
	Districts   int `json:"districts"`
	Streets     int `json:"streets"`
	Communities int `json:"communities"`
	Points      int `json:"points"`
	Barriers    int `json:"barriers"`
	Grids       int `json:"grids,omitempty"` // the orphan grid included
}

// BarrierCount is one class of barriers: trunk, primary, secondary, alley,
// river or rail.
type BarrierCount struct {
	Class    string  `json:"class"`
	Features int     `json:"features"`
	LengthKM float64 `json:"length_km"` // planar, to 0.1 km
}

// FileInfo describes one output file.
type FileInfo struct {
	Name     string `json:"name"`
	Features int    `json:"features"`
	Bytes    int64  `json:"bytes"`
	SHA256   string `json:"sha256"`
}

// BucketCount is one household band: how many communities fall in it and
// the share targeted (Beijing's published distribution).
type BucketCount struct {
	Bucket      string  `json:"bucket"`
	Min         int     `json:"min"`
	Max         int     `json:"max,omitempty"` // 0: open-ended
	Count       int     `json:"count"`
	Share       float64 `json:"share"`
	TargetShare float64 `json:"target_share"`
}

// Injected is one deliberate boundary problem.
type Injected struct {
	Kind  string `json:"kind"`  // overlap, gap, crosses_parent, noncontiguous, orphan
	Level string `json:"level"` // community or street: the level of Codes
	// Codes are exactly the units an analyser should report, sorted.
	Codes      []string `json:"codes"`
	ParentCode string   `json:"parent_code"`
	// Near names the communities involved when Codes does not: the two
	// sides of a gap, the host of a noncontiguous part.
	Near []string `json:"near,omitempty"`
	// AreaM2 is the area of the problem (overlap, gap, part outside the
	// parent, detached part, orphan) in m², to within about 1%.
	AreaM2 float64 `json:"area_m2_approx"`
}

const note = "合成示例城市：区、街道、社区的边界、名称、编码（省级代码 99 并不存在）、户数和人口均由程序按种子生成，不代表任何真实地区。" +
	"Synthetic demo city: every boundary, name, code (province 99 does not exist), household and population figure is generated from the seed and describes no real place."

// Generate writes a synthetic city into cfg.Dir and returns its manifest.
func Generate(cfg Config) (*Manifest, error) {
	if cfg.Scale == "" {
		cfg.Scale = Small
	}
	sp, ok := specs[cfg.Scale]
	if !ok {
		return nil, fmt.Errorf("demo: unknown scale %q (want small, beijing or national)", cfg.Scale)
	}
	if cfg.Dir == "" {
		return nil, errors.New("demo: no output folder")
	}
	if err := os.MkdirAll(cfg.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("demo: %w", err)
	}
	// A stale manifest must not vouch for files we are about to replace.
	if err := os.Remove(filepath.Join(cfg.Dir, ManifestFile)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("demo: %w", err)
	}
	c, err := buildCity(sp, cfg.Seed)
	if err != nil {
		return nil, fmt.Errorf("demo: layout %s: %w", cfg.Scale, err)
	}
	hh, pop, err := assignHouseholds(len(c.communities)+1, cfg.Seed)
	if err != nil {
		return nil, fmt.Errorf("demo: %w", err)
	}
	g := &gen{seed: cfg.Seed, sp: sp, c: c, hh: hh, pop: pop, mods: map[int32]*mod{},
		blocked: make([]bool, len(c.communities)), gapStreet: map[int32]bool{}}
	g.river, g.rail = g.riverLine(), g.railLine()
	g.placeOrphan()
	if err := g.inject(); err != nil {
		return nil, fmt.Errorf("demo: inject problems (seed %d, %s): %w", cfg.Seed, cfg.Scale, err)
	}
	m, err := g.write(cfg)
	if err != nil {
		return nil, fmt.Errorf("demo: %w", err)
	}
	if m.Tickets, m.DisputeSpots, err = g.writeTickets(cfg.Dir, cfg.TicketMonths); err != nil {
		return nil, fmt.Errorf("demo: tickets: %w", err)
	}
	if err := writeManifest(cfg.Dir, m); err != nil {
		return nil, fmt.Errorf("demo: %w", err)
	}
	return m, nil
}

// ReadManifest reads the manifest of a generated folder.
func ReadManifest(dir string) (*Manifest, error) {
	b, err := os.ReadFile(filepath.Join(dir, ManifestFile))
	if err != nil {
		return nil, fmt.Errorf("demo: read manifest: %w", err)
	}
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("demo: parse %s: %w", filepath.Join(dir, ManifestFile), err)
	}
	if !m.Synthetic || m.Version != ManifestVersion {
		return nil, fmt.Errorf("demo: %s is not a version %d demo manifest", filepath.Join(dir, ManifestFile), ManifestVersion)
	}
	return &m, nil
}

func writeManifest(dir string, m *Manifest) error {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return fmt.Errorf("encode manifest: %w", err)
	}
	tmp := filepath.Join(dir, ManifestFile+".tmp")
	if err := os.WriteFile(tmp, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("write manifest: %w", err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, ManifestFile)); err != nil {
		return fmt.Errorf("write manifest: %w", err)
	}
	return nil
}

var kindOrder = []string{KindOverlap, KindGap, KindCrossesParent, KindNoncontiguous, KindOrphan}

// write streams the five layers; communities and their points are written
// together so each community's geometry is built once.
func (g *gen) write(cfg Config) (*Manifest, error) {
	c := g.c
	nPoints := g.pointCount()
	grids, err := g.planGrids()
	if err != nil {
		return nil, fmt.Errorf("grids: %w", err)
	}
	total := len(c.districts) + len(c.streets) + len(g.hh) + nPoints + g.barrierFeatures() + grids.features
	progress := newProgress(cfg.Progress, total)
	var files []FileInfo
	var ring []pt

	fi, ring, err := g.writeDistricts(cfg.Dir, progress, ring)
	if err != nil {
		return nil, err
	}
	files = append(files, fi)

	fi, streetKinds, ring, err := g.writeStreets(cfg.Dir, progress, ring)
	if err != nil {
		return nil, err
	}
	files = append(files, fi)

	cfi, pfi, bbox, err := g.writeCommunities(cfg.Dir, progress, streetKinds, ring)
	if err != nil {
		return nil, err
	}
	files = append(files, cfi, pfi)

	bfi, bc, err := g.writeBarriers(cfg.Dir, progress)
	if err != nil {
		return nil, err
	}
	files = append(files, bfi)
	if grids.features > 0 {
		gfi, err := g.writeGrids(cfg.Dir, progress, grids)
		if err != nil {
			return nil, err
		}
		files = append(files, gfi)
	}
	m := g.buildManifest(cfg, files, bbox, nPoints)
	m.Counts.Barriers, m.Barriers = bfi.Features, bc
	m.Counts.Grids, m.GridProblems = grids.features, grids.problems
	return m, nil
}

// pointCount is the number of building points of all communities, for the progress total.
func (g *gen) pointCount() int {
	nPoints := 0
	for _, h := range g.hh {
		nPoints += pointsFor(h, g.sp.perPoint)
	}
	return nPoints
}

// newProgress reports 0 of total and returns the per-feature callback (every 4096, and the last).
func newProgress(report func(done, total int), total int) func() {
	done := 0
	progress := func() {
		done++
		if report != nil && (done%4096 == 0 || done == total) {
			report(done, total)
		}
	}
	if report != nil {
		report(0, total)
	}
	return progress
}

// writeDistricts writes the districts file; ring is a reusable buffer, passed on to the next layer.
func (g *gen) writeDistricts(dir string, progress func(), ring []pt) (FileInfo, []pt, error) {
	c := g.c
	w, err := createFC(dir, DistrictsFile, progress)
	if err != nil {
		return FileInfo{}, ring, err
	}
	for di := range c.districts {
		w.start()
		w.str("code", c.districtCode(int32(di)), true)
		w.str("name", districtName(di), false)
		w.str("kind", "区", false)
		w.geometry("Polygon")
		ring = c.lat.ring(c.districts[di].r, nil, ring[:0])
		w.polygon(ring)
		if err := w.end(); err != nil {
			return FileInfo{}, ring, err
		}
	}
	fi, err := w.close()
	if err != nil {
		return FileInfo{}, ring, err
	}
	return fi, ring, nil
}

// writeStreets writes the streets file and returns each street's kind, which decides 社区 or 村 below.
func (g *gen) writeStreets(dir string, progress func(), ring []pt) (FileInfo, []string, []pt, error) {
	c := g.c
	w, err := createFC(dir, StreetsFile, progress)
	if err != nil {
		return FileInfo{}, nil, ring, err
	}
	streetKinds := make([]string, len(c.streets))
	for di := range c.districts {
		d := c.districts[di]
		words := uniqueWords(g.seed, di, int(d.count))
		for k := range d.count {
			si := d.first + k
			kind := g.streetKind(si)
			streetKinds[si] = kind
			w.start()
			w.str("code", c.streetCode(si), true)
			w.str("name", words[k]+kind, false)
			w.str("parent_code", c.districtCode(int32(di)), false)
			w.str("kind", kind, false)
			w.geometry("Polygon")
			ring = c.lat.ring(c.streets[si].r, nil, ring[:0])
			w.polygon(ring)
			if err := w.end(); err != nil {
				return FileInfo{}, nil, ring, err
			}
		}
	}
	fi, err := w.close()
	if err != nil {
		return FileInfo{}, nil, ring, err
	}
	return fi, streetKinds, ring, nil
}

// writeCommunities writes the communities and points files together; bbox is the communities'.
func (g *gen) writeCommunities(dir string, progress func(), streetKinds []string, ring []pt) (cfi, pfi FileInfo, bbox [4]float64, err error) {
	cw, err := createFC(dir, CommunitiesFile, progress)
	if err != nil {
		return cfi, pfi, bbox, err
	}
	pw, err := createFC(dir, PointsFile, progress)
	if err != nil {
		cw.f.Close()
		return cfi, pfi, bbox, err
	}
	fail := func(err error) (FileInfo, FileInfo, [4]float64, error) {
		cw.f.Close()
		pw.f.Close()
		return cfi, pfi, bbox, err
	}
	pts, err := g.writeStreetCommunities(cw, pw, streetKinds, ring)
	if err != nil {
		return fail(err)
	}
	if err := g.writeOrphan(cw, pw, pts); err != nil {
		return fail(err)
	}
	bbox = cw.bbox
	if cfi, err = cw.close(); err != nil {
		pw.f.Close()
		return FileInfo{}, pfi, [4]float64{}, err
	}
	if pfi, err = pw.close(); err != nil {
		return FileInfo{}, FileInfo{}, [4]float64{}, err
	}
	return cfi, pfi, bbox, nil
}

// writeStreetCommunities writes every street's communities, each with its points.
func (g *gen) writeStreetCommunities(cw, pw *fcWriter, streetKinds []string, ring []pt) ([]pt, error) {
	c := g.c
	var pts []pt
	var err error
	for si := range c.streets {
		s := c.streets[si]
		words := uniqueWords(g.seed, -1-si, int(s.count))
		scode := c.streetCode(int32(si))
		for k := range s.count {
			ci := s.first + k
			kind := g.communityKind(streetKinds[si], ci)
			ring, pts, err = g.writeLatticeCommunity(cw, pw, ci, words[k]+kind, scode, kind, ring, pts)
			if err != nil {
				return nil, err
			}
		}
	}
	return pts, nil
}

// writeLatticeCommunity writes a community made of lattice cells and its points, reusing buffers.
func (g *gen) writeLatticeCommunity(cw, pw *fcWriter, ci int32, name, scode, kind string, ring, pts []pt) ([]pt, []pt, error) {
	c := g.c
	cg := g.geometry(ci, ring[:0])
	ring = cg.outer
	code := c.communityCode(ci)
	if err := g.writeCommunity(cw, code, name, scode, kind, int(ci), cg); err != nil {
		return ring, pts, err
	}
	var avoid [][]pt
	if m := g.mods[ci]; m != nil {
		avoid = m.avoid
	}
	pts, err := g.points(int(ci), cg, avoid, c.communities[ci].rect(), pts[:0])
	if err != nil {
		return ring, pts, fmt.Errorf("points of %s: %w", code, err)
	}
	if err := g.writePoints(pw, code, int(ci), pts); err != nil {
		return ring, pts, err
	}
	return ring, pts, nil
}

// writeOrphan writes the orphan community, which is not on the lattice, and its points, last.
func (g *gen) writeOrphan(cw, pw *fcWriter, pts []pt) error {
	o := g.orphan
	cg := commGeom{outer: o.ring}
	if err := g.writeCommunity(cw, o.code, word(g.seed, math.MinInt32, 0, 0)+"社区", o.parent, "社区", o.household, cg); err != nil {
		return err
	}
	pts, err := g.points(o.household, cg, nil, rect{}, pts[:0])
	if err != nil {
		return fmt.Errorf("points of %s: %w", o.code, err)
	}
	return g.writePoints(pw, o.code, o.household, pts)
}

// buildManifest describes the written city: bbox rounded to 1e-7°, problems by kind then codes.
func (g *gen) buildManifest(cfg Config, files []FileInfo, bbox [4]float64, nPoints int) *Manifest {
	c := g.c
	for i := range bbox {
		bbox[i] = math.Round(bbox[i]*1e7) / 1e7
	}
	inj := slices.Clone(g.injected)
	slices.SortStableFunc(inj, func(a, b Injected) int {
		if d := slices.Index(kindOrder, a.Kind) - slices.Index(kindOrder, b.Kind); d != 0 {
			return d
		}
		return strings.Compare(strings.Join(a.Codes, ","), strings.Join(b.Codes, ","))
	})
	return &Manifest{
		Synthetic: true, Note: note, Generator: "jiedao demo", Version: ManifestVersion,
		Seed: g.seed, Scale: cfg.Scale, ProvinceCode: "99", CellSizeM: cellSize, BBox: bbox,
		Counts: Counts{Districts: len(c.districts), Streets: len(c.streets),
			Communities: len(g.hh), Points: nPoints},
		Files:            files,
		HouseholdBuckets: bucketCounts(g.hh),
		Injected:         inj,
	}
}

func (g *gen) writeCommunity(w *fcWriter, code, name, parent, kind string, hi int, cg commGeom) error {
	w.start()
	w.str("code", code, true)
	w.str("name", name, false)
	w.str("parent_code", parent, false)
	w.str("kind", kind, false)
	w.int("households", int(g.hh[hi]))
	w.int("population", int(g.pop[hi]))
	if len(cg.parts) == 0 {
		w.geometry("Polygon")
		w.polygon(append([][]pt{cg.outer}, cg.holes...)...)
	} else {
		w.geometry("MultiPolygon")
		w.buf = append(w.buf, '[')
		w.polygon(append([][]pt{cg.outer}, cg.holes...)...)
		for _, p := range cg.parts {
			w.buf = append(w.buf, ',')
			w.polygon(p)
		}
		w.buf = append(w.buf, ']')
	}
	return w.end()
}

func (g *gen) writePoints(w *fcWriter, code string, hi int, pts []pt) error {
	hh, pop := int(g.hh[hi]), int(g.pop[hi])
	var hs, ps [16]int
	parts := splitCount(hh, len(pts), hash3(g.seed, saltPoints, hi, -1), hs[:0])
	pparts := splitProportional(pop, parts, hh, ps[:0])
	for i, p := range pts {
		w.start()
		w.str("community_code", code, true)
		w.int("households", parts[i])
		w.int("population", pparts[i])
		w.geometry("Point")
		w.coord(p)
		if err := w.end(); err != nil {
			return err
		}
	}
	return nil
}

// points places a community's building points: inside it, at least 10 m
// from any of its rings, barrierClearance from every barrier (so each lies
// clearly inside one block) and clear of avoid regions (the parts of an
// injected problem another unit also claims). Point m first tries a block
// slot of its own, a ninth of one of its cells, slots taken 5 apart so the
// points spread over the blocks, then anywhere in its cells; the orphan,
// off the lattice, draws from its ring's bounding box.
func (g *gen) points(hi int, cg commGeom, avoid [][]pt, r rect, dst []pt) ([]pt, error) {
	n := pointsFor(g.hh[hi], g.sp.perPoint)
	box := bounds(cg.outer)
	g.segs = g.nearBarriers(r, box, g.segs[:0])
	ok := g.pointOK(cg, avoid)
	slots := 9 * int(r.w()) * int(r.h())
	off := int(hash3(g.seed, saltPoints, hi, -2) % uint64(max(slots, 1)))
	for m := range n {
		placed := false
		for try := 0; try < 200 && !placed; try++ {
			h := hash3(g.seed, saltPoints, hi, m*1000+try)
			var p pt
			switch {
			case slots == 0:
				u, v := 0.15+0.7*unit(h), 0.15+0.7*unit(mix(h))
				p = pt{box[0] + (box[2]-box[0])*u, box[1] + (box[3]-box[1])*v}
			case try < 50:
				s := (off + 5*m) % slots
				cell, b := s/9, s%9
				cx, cy := r.x0+int32(cell%int(r.w())), r.y0+int32(cell/int(r.w()))
				u, v := (float64(b%3)+unit(h))/3, (float64(b/3)+unit(mix(h)))/3
				p = bilinear(g.c.lat.cellCorners(cx, cy), u, v)
			default:
				cx := r.x0 + int32(mix(h+1)%uint64(r.w()))
				cy := r.y0 + int32(mix(h+2)%uint64(r.h()))
				p = bilinear(g.c.lat.cellCorners(cx, cy), unit(h), unit(mix(h)))
			}
			if ok(p) {
				dst = append(dst, p)
				placed = true
			}
		}
		if !placed {
			return nil, fmt.Errorf("no room for building point %d", m+1)
		}
	}
	return dst, nil
}

// pointOK tells whether a building point may go at p (see points); g.segs
// holds the barriers nearby.
func (g *gen) pointOK(cg commGeom, avoid [][]pt) func(pt) bool {
	const clearance = 10.0
	rings := cg.rings()
	return func(p pt) bool {
		if !inRing(p, cg.outer) {
			return false
		}
		for _, h := range cg.holes {
			if inRing(p, h) {
				return false
			}
		}
		for _, rg := range rings {
			if ringDist(p, rg) < clearance {
				return false
			}
		}
		for _, a := range avoid {
			if inRing(p, a) || ringDist(p, a) < clearance {
				return false
			}
		}
		const c = barrierClearance
		for _, s := range g.segs {
			if p.x < math.Min(s[0].x, s[1].x)-c || p.x > math.Max(s[0].x, s[1].x)+c ||
				p.y < math.Min(s[0].y, s[1].y)-c || p.y > math.Max(s[0].y, s[1].y)+c {
				continue // far from its bounding box
			}
			if pointSegDist(p, s[0], s[1]) < c {
				return false
			}
		}
		return true
	}
}

func bucketCounts(hh []int32) []BucketCount {
	counts := map[string]int{}
	for _, h := range hh {
		counts[Bucket(int(h))]++
	}
	var out []BucketCount
	for _, b := range Buckets {
		bc := BucketCount{Bucket: b.Name, Min: b.Min, Count: counts[b.Name],
			Share:       math.Round(float64(counts[b.Name])/float64(len(hh))*1e4) / 1e4,
			TargetShare: math.Round(b.TargetShare()*1e4) / 1e4}
		if b.Max != math.MaxInt {
			bc.Max = b.Max
		}
		out = append(out, bc)
	}
	return out
}
