package plan

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"math"
	"runtime"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/jiedao/jiedao/boundaries/blocks"
	"github.com/jiedao/jiedao/boundaries/partition"
	"github.com/jiedao/jiedao/geo"
)

// splitMethods are the partition methods; a job's method is an index in
// it, and splitOrder says which are tried in what order.
var splitMethods = []string{MethodStraight, MethodVoronoi, MethodGrid, MethodBlocks}

// splitJob is one oversized community to split, and the parts the methods
// found for it.
type splitJob struct {
	code, street string
	hp, pp       *int64
	h, p         float64
	k            int
	parts        []partition.Part
	method       int // -1: none yet; else an index in splitMethods
	codes        []string
	why          string // why the blocks could not split it within range
}

// splitRows is what the split writes back: the jobs split (done), one row
// per cell of a part (pparts, prow) or per region of a part (pregion,
// rrow), each part's group (the parts of its split) and every part's code.
type splitRows struct {
	done       []*splitJob
	prow, rrow [][]any
	group      map[string][]string
	allCodes   []string
}

// split cuts each oversized community into k = ceil(households / normal)
// parts (at least 2, more when population needs it), each one piece,
// minimising imbalance first and then non-compactness (partCost). Methods
// in order, the next one for communities the previous could not split
// within range:
//   - straight cuts: recursive bisection of the community (one polygon) by
//     straight lines between its building points, each crossing the piece
//     it cuts once (cut.go; the planar geometry is geo/planar.go);
//   - Voronoi cells of the building points clipped to the community, each
//     carrying its points' households, grouped into connected parts
//     (partition.go): for any shape, e.g. a community in several pieces;
//   - a grid of about 8k cells weighted by area, likewise, when there are
//     no points.
//
// Splits are independent of each other (each touches only its community
// and its new parts), so they run set-based: the sub-units of every
// oversized community are loaded in a few statements per method, the
// partition runs in Go, and the parts are written back, tidied and counted
// in a handful of statements for all communities at once.
func (pn *planner) split(ctx context.Context) error {
	c := pn.p.Community
	if !c.MaxHouseholds.On() && !c.MaxPopulation.On() {
		return nil
	}
	jobs, err := pn.splitJobs(ctx)
	if err != nil {
		return err
	}
	if len(jobs) == 0 {
		return nil
	}
	_, err = pn.splitRun(ctx, jobs)
	return err
}

// splitRun splits the jobs chosen (by splitJobs, or by Divide) and writes
// the parts back to pw; it returns what was split.
func (pn *planner) splitRun(ctx context.Context, jobs []*splitJob) (*splitRows, error) {
	if err := pn.exec(ctx, `DROP TABLE IF EXISTS pcell; CREATE TEMP TABLE pcell (code text, m int, id int, geom geometry, w float8)`); err != nil {
		return nil, err
	}
	if err := pn.partitionJobs(ctx, jobs); err != nil {
		return nil, err
	}
	out := pn.splitParts(jobs)
	if len(out.done) == 0 {
		return out, nil
	}
	// The communities as they were, to tell a part's new boundary from its old one.
	if err := pn.exec2(ctx, `DROP TABLE IF EXISTS porig`, `CREATE TEMP TABLE porig ON COMMIT DROP AS SELECT code, ST_Buffer(ST_Boundary(geom), 1e-6) AS near FROM pw WHERE code = ANY($1)`,
		jobCodes(out.done)); err != nil {
		return nil, err
	}
	if err := pn.writeParts(ctx, out); err != nil {
		return nil, err
	}
	// Parts must be contiguous: stray pieces go to the adjacent part of
	// the same split.
	t0 := time.Now()
	if err := pn.tidySplit(ctx, out.allCodes, out.group); err != nil {
		return nil, err
	}
	slog.Debug("plan split tidy", "ms", time.Since(t0).Milliseconds())
	parts, origs := splitEdges(out)
	t0 = time.Now()
	if err := pn.onBarriers(ctx, parts, origs); err != nil {
		return nil, err
	}
	slog.Debug("plan split on barriers", "ms", time.Since(t0).Milliseconds())
	t0 = time.Now()
	wt, areas, err := pn.partWeights(ctx)
	if err != nil {
		return nil, err
	}
	slog.Debug("plan split weights", "ms", time.Since(t0).Milliseconds())
	ucodes, uh, up := pn.recordSplits(out.done, wt, areas)
	return out, pn.exec(ctx, `UPDATE pw SET h = u.h, p = u.p FROM unnest($1::text[], $2::bigint[], $3::bigint[]) u(code, h, p) WHERE pw.code = u.code`,
		ucodes, uh, up)
}

// splitJobs chooses the communities to split (in scope, street loaded,
// over a maximum; by code) and the number of parts k of each: enough for
// the normal households and population, at least 2.
func (pn *planner) splitJobs(ctx context.Context) ([]*splitJob, error) {
	c := pn.p.Community
	maxH, maxP := math.Inf(1), math.Inf(1)
	if c.MaxHouseholds.On() {
		maxH = c.MaxHouseholds.Float()
	}
	if c.MaxPopulation.On() {
		maxP = c.MaxPopulation.Float()
	}
	rows, err := pn.tx.Query(ctx, `SELECT code, street, h, p FROM pw WHERE scope AND street IN (SELECT code FROM ps)
		AND (h > $1 OR p > $2) ORDER BY code`, maxH, maxP)
	if err != nil {
		return nil, err
	}
	jobs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (*splitJob, error) {
		var o splitJob
		return &o, r.Scan(&o.code, &o.street, &o.hp, &o.pp)
	})
	if err != nil {
		return nil, err
	}
	for _, j := range jobs {
		if j.hp != nil {
			j.h = float64(*j.hp)
		}
		if j.pp != nil {
			j.p = float64(*j.pp)
		}
		j.k = 2
		if c.NormalHouseholds.On() && c.NormalHouseholds.Float() > 0 {
			j.k = max(j.k, int(math.Ceil(j.h/c.NormalHouseholds.Float())))
		}
		if c.NormalPopulation.On() && c.NormalPopulation.Float() > 0 {
			j.k = max(j.k, int(math.Ceil(j.p/c.NormalPopulation.Float())))
		}
		j.method = -1
	}
	return jobs, nil
}

// partitionJobs runs the methods in order (straight, Voronoi, grid), each
// on the jobs the previous ones could not split within range, until none
// is left.
func (pn *planner) partitionJobs(ctx context.Context, jobs []*splitJob) error {
	c := pn.p.Community
	// Whether a part with this share of the community is within range.
	fits := func(j *splitJob, share float64) bool {
		ph := j.h * share
		if c.MaxHouseholds.On() && ph > c.MaxHouseholds.Float() || c.MinHouseholds.On() && ph < c.MinHouseholds.Float() {
			return false
		}
		return !c.MaxPopulation.On() || j.p*share <= c.MaxPopulation.Float()
	}
	order, err := pn.splitOrder(ctx)
	if err != nil {
		return err
	}
	pending := jobs
	for _, m := range order {
		if m == methodGrid && pn.pointsFirst {
			pending = slices.DeleteFunc(pending, func(j *splitJob) bool { return j.method >= 0 })
		}
		if len(pending) == 0 {
			break
		}
		var err error
		if pending, err = pn.partitionWith(ctx, m, pending, fits); err != nil {
			return err
		}
	}
	return nil
}

// partitionWith loads the sub-units of the pending jobs for method m (the
// building points for straight cuts, else cells) and partitions each job;
// it returns the jobs still not split within range.
func (pn *planner) partitionWith(ctx context.Context, m int, pending []*splitJob, fits func(*splitJob, float64) bool) ([]*splitJob, error) {
	codes := make([]string, len(pending))
	ks := make([]int32, len(pending))
	for i, j := range pending {
		codes[i], ks[i] = j.code, int32(j.k)
	}
	t0 := time.Now()
	var cs map[string]*partition.Cells
	var ss map[string]*partition.Straight
	var bs map[string]*blocks.Graph
	var err error
	switch m {
	case methodStraight:
		ss, err = pn.straightAll(ctx, codes)
	case methodBlocks:
		bs, err = pn.blockGraphs(ctx, codes)
	default:
		cs, err = pn.cellsAll(ctx, m, codes, ks)
	}
	if err != nil {
		return nil, err
	}
	slog.Debug("plan split sub-units", "method", m, "communities", len(codes), "ms", time.Since(t0).Milliseconds())
	t0 = time.Now()
	// Each job's search is pure and touches only its job, so the jobs are
	// partitioned in parallel, one worker per CPU; the order of next stays
	// the order of pending.
	fitted := make([]bool, len(pending))
	errs := make([]error, len(pending))
	var at atomic.Int64
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), len(pending)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := int(at.Add(1) - 1); i < len(pending); i = int(at.Add(1) - 1) {
				fitted[i], errs[i] = pn.partitionJob(m, pending[i], fits, ss, cs, bs)
			}
		}()
	}
	wg.Wait()
	var next []*splitJob
	for i, j := range pending {
		if errs[i] != nil {
			return nil, errs[i]
		}
		if !fitted[i] {
			next = append(next, j)
		}
	}
	slog.Debug("plan split partition", "method", m, "communities", len(codes), "ms", time.Since(t0).Milliseconds())
	return next, nil
}

// partitionJob partitions one job by method m from its sub-units; it
// reports whether the parts fit.
func (pn *planner) partitionJob(m int, j *splitJob, fits func(*splitJob, float64) bool,
	ss map[string]*partition.Straight, cs map[string]*partition.Cells, bs map[string]*blocks.Graph) (bool, error) {
	fit := func(share float64) bool { return fits(j, share) }
	switch m {
	case methodBlocks:
		return pn.splitBlocks(j, bs[j.code], fit)
	case methodStraight:
		return keepParts(j, m, ss[j.code].Split(j.k, fit), fit), nil
	}
	return keepParts(j, m, cs[j.code].Split(j.k, fit), fit), nil
}

// keepParts keeps the parts method m found for a job when they all fit, or
// when no method has given parts yet (the best effort, noted later if
// nothing better comes); it reports whether they fit, else the next method
// tries.
func keepParts(j *splitJob, m int, parts []partition.Part, fit func(float64) bool) bool {
	ok := false
	var total float64
	for _, p := range parts {
		total += p.W
	}
	if total > 0 {
		ok = true
		for _, p := range parts {
			ok = ok && fit(p.W/total)
		}
		if j.method < 0 || ok {
			j.parts, j.method = parts, m
		}
	}
	return ok
}

// splitParts gives the parts of each split job their codes and the rows
// that write them back; a job no method could split is noted instead.
func (pn *planner) splitParts(jobs []*splitJob) *splitRows {
	// Part 0 keeps the code; the others get provisional codes. One row
	// per cell of a part in pparts, or its region in pregion.
	out := &splitRows{group: map[string][]string{}}
	for _, j := range jobs {
		if j.method < 0 {
			pn.note(j.code, "oversized: "+cmp.Or(j.why, "too few sub-units to split"))
			continue
		}
		j.codes = make([]string, len(j.parts))
		j.codes[0] = j.code
		for i := 1; i < len(j.parts); i++ {
			j.codes[i] = planCode(pn.opt.Seed, j.street, j.code, i)
		}
		for i, p := range j.parts {
			if p.Region != "" {
				out.rrow = append(out.rrow, []any{j.codes[i], j.code, int32(i), int32(j.method), p.Region})
			}
			for _, id := range p.IDs {
				out.prow = append(out.prow, []any{j.codes[i], j.code, int32(i), int32(j.method), int32(id)})
			}
			out.group[j.codes[i]] = j.codes
		}
		out.allCodes = append(out.allCodes, j.codes...)
		out.done = append(out.done, j)
	}
	return out
}

// writeParts writes the parts back: their cells (pparts) and regions
// (pregion) are copied in, each part's geometry built (pgeo), part 0
// replaces the community's geometry and the others are inserted as new
// provisional communities with no households yet.
func (pn *planner) writeParts(ctx context.Context, out *splitRows) error {
	if err := pn.exec(ctx, `DROP TABLE IF EXISTS pparts, pregion, pmap; CREATE TEMP TABLE pparts (code text, orig text, part int, m int, id int);
		CREATE TEMP TABLE pregion (code text, orig text, part int, m int, wkt text)`); err != nil {
		return err
	}
	if _, err := pn.tx.CopyFrom(ctx, pgx.Identifier{"pparts"}, []string{"code", "orig", "part", "m", "id"}, pgx.CopyFromRows(out.prow)); err != nil {
		return fmt.Errorf("parts: %w", err)
	}
	if _, err := pn.tx.CopyFrom(ctx, pgx.Identifier{"pregion"}, []string{"code", "orig", "part", "m", "wkt"}, pgx.CopyFromRows(out.rrow)); err != nil {
		return fmt.Errorf("parts: %w", err)
	}
	// A part made of cells is their union; a part cut by straight lines is
	// the community inside its region.
	if err := pn.exec(ctx, `CREATE INDEX ON pcell (code, m, id); ANALYZE pcell; ANALYZE pparts;
		CREATE TEMP TABLE pmap AS SELECT DISTINCT code, orig, part, m FROM pparts UNION SELECT code, orig, part, m FROM pregion;
		CREATE TEMP TABLE pgeo AS SELECT a.code, a.orig, a.part, ST_Multi(ST_CollectionExtract(ST_Union(c.geom), 3)) AS geom
			FROM pparts a JOIN pcell c ON c.code = a.orig AND c.m = a.m AND c.id = a.id WHERE a.m > 0 GROUP BY a.code, a.orig, a.part
		UNION ALL
		SELECT r.code, r.orig, r.part, ST_Multi(ST_CollectionExtract(ST_Intersection(o.geom, ST_GeomFromText(r.wkt, 4326)), 3))
			FROM pregion r JOIN pw o ON o.code = r.orig;
		UPDATE pw SET geom = g.geom, touched = true FROM pgeo g WHERE g.part = 0 AND pw.code = g.code;
		INSERT INTO pw (code, name, street, h, p, provisional, geom, scope, touched)
			SELECT g.code, o.name || '(' || g.part + 1 || ')', o.street, 0, 0, true, g.geom, true, true
			FROM pgeo g JOIN pw o ON o.code = g.orig WHERE g.part > 0 ORDER BY g.orig, g.part;
		DROP TABLE pgeo; ANALYZE pw`); err != nil {
		return fmt.Errorf("write parts: %w", err)
	}
	return nil
}

// partWeights counts households into parts: the weight (households of
// building points, or of cells) inside each part and its area, by part
// code.
func (pn *planner) partWeights(ctx context.Context) (map[string]float64, map[string]float64, error) {
	// Households by the weights inside each part: building points, or
	// cells (a cell cut by the tidy-up shares its weight by area); largest
	// remainder so they add up.
	rows, err := pn.tx.Query(ctx, `SELECT a.code, coalesce(sum(CASE WHEN a.m = 0 THEN CASE WHEN ST_Intersects(pw.geom, c.geom) THEN c.w ELSE 0 END
			ELSE c.w * ST_Area(ST_Intersection(pw.geom, c.geom)) / nullif(ST_Area(c.geom), 0) END), 0),
			max(ST_Area(pw.geom::geography))
		FROM pmap a JOIN pw ON pw.code = a.code LEFT JOIN pcell c ON c.code = a.orig AND c.m = a.m AND c.geom && pw.geom GROUP BY a.code`)
	if err != nil {
		return nil, nil, err
	}
	wt := map[string]float64{}
	areas := map[string]float64{}
	for rows.Next() {
		var cd string
		var w, a float64
		if err := rows.Scan(&cd, &w, &a); err != nil {
			rows.Close()
			return nil, nil, err
		}
		wt[cd], areas[cd] = w, a
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, nil, err
	}
	return wt, areas, nil
}

// recordSplits shares each split's households and population among its
// parts by their weights and records the split operations (in the order
// of the jobs, by code), noting parts still out of range; it returns the
// counts to write back, by part code.
func (pn *planner) recordSplits(done []*splitJob, wt, areas map[string]float64) ([]string, []*int64, []*int64) {
	c := pn.p.Community
	var ucodes []string
	var uh, up []*int64
	for _, j := range done {
		ws := make([]float64, len(j.codes))
		for i, cd := range j.codes {
			ws[i] = wt[cd]
		}
		hs := shares(j.hp, ws)
		ps := shares(j.pp, ws)
		var moved int64
		var area float64
		for i, cd := range j.codes {
			ucodes, uh, up = append(ucodes, cd), append(uh, hs[i]), append(up, ps[i])
			if i > 0 {
				if hs[i] != nil {
					moved += *hs[i]
				}
				area += areas[cd]
			}
		}
		// AreaM2 is the area of the new parts (what leaves the original code).
		op := Op{Kind: "split", From: []string{j.code}, To: j.codes, HouseholdsMoved: moved, AreaM2: area, Method: splitMethods[j.method],
			Note: fmt.Sprintf("%d households into %d parts", int64(j.h), len(j.codes))}
		for _, x := range hs {
			if x != nil && (c.MinHouseholds.On() && float64(*x) < c.MinHouseholds.Float() || c.MaxHouseholds.On() && float64(*x) > c.MaxHouseholds.Float()) {
				r := fmt.Sprintf("split of %s: parts cannot all be within range with the available sub-units", j.code)
				if j.why != "" && j.method == methodBlocks {
					r = fmt.Sprintf("split of %s: %s", j.code, j.why)
				}
				for _, cd := range j.codes {
					pn.note(cd, r)
				}
				op.Note += "; " + r
				break
			}
		}
		pn.add(op)
	}
	return ucodes, uh, up
}

// shares distributes a total by weights, largest remainder first (ties by
// index), so parts add up exactly.
func shares(total *int64, ws []float64) []*int64 {
	out := make([]*int64, len(ws))
	if total == nil {
		return out
	}
	var sum float64
	for _, w := range ws {
		sum += w
	}
	vals := make([]int64, len(ws))
	type rem struct {
		i int
		r float64
	}
	var rems []rem
	var given int64
	for i, w := range ws {
		x := float64(*total) / float64(len(ws))
		if sum > 0 {
			x = float64(*total) * w / sum
		}
		vals[i] = int64(math.Floor(x))
		given += vals[i]
		rems = append(rems, rem{i, x - math.Floor(x)})
	}
	sort.SliceStable(rems, func(a, b int) bool { return rems[a].r > rems[b].r })
	for j := 0; given < *total && j < len(rems); j++ {
		vals[rems[j].i]++
		given++
	}
	for i := range vals {
		v := vals[i]
		out[i] = &v
	}
	return out
}

// straightAll loads, for straight cuts, the communities that are one
// polygon and their building points (one per location, with the
// households there); the points also go to pcell (method 0) to count the
// parts.
func (pn *planner) straightAll(ctx context.Context, codes []string) (map[string]*partition.Straight, error) {
	out := map[string]*partition.Straight{}
	rows, err := pn.tx.Query(ctx, `SELECT code, ST_AsGeoJSON(ST_GeometryN(geom, 1), 15), ST_XMin(geom), ST_YMin(geom), ST_XMax(geom), ST_YMax(geom)
		FROM pw WHERE code = ANY($1) AND ST_NumGeometries(geom) = 1`, codes)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var code, gj string
		var x0, y0, x1, y1 float64
		if err := rows.Scan(&code, &gj, &x0, &y0, &x1, &y1); err != nil {
			rows.Close()
			return nil, err
		}
		var g struct{ Coordinates [][][2]float64 }
		if err := json.Unmarshal([]byte(gj), &g); err != nil {
			rows.Close()
			return nil, fmt.Errorf("community %s: %w", code, err)
		}
		st := &partition.Straight{Frame: geo.NewFrame(x0, y0, x1, y1)}
		st.Lo, st.Hi = st.Frame.XY(x0, y0), st.Frame.XY(x1, y1)
		for _, r := range g.Coordinates {
			ring := make([]geo.XY, 0, len(r))
			for _, p := range r[:len(r)-1] {
				ring = append(ring, st.Frame.XY(p[0], p[1]))
			}
			st.Polygon = append(st.Polygon, ring)
		}
		out[code] = st
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if err := pn.exec(ctx, `INSERT INTO pcell SELECT code, 0, row_number() OVER (PARTITION BY code ORDER BY x, y), ST_SetSRID(ST_MakePoint(x, y), 4326), w FROM (
			SELECT c.code, ST_X(pt.geom) AS x, ST_Y(pt.geom) AS y, sum(pt.households) AS w
			FROM pw c JOIN points pt ON ST_Intersects(c.geom, pt.geom) AND pt.households > 0 WHERE c.code = ANY($1) GROUP BY 1, 2, 3) x`, codes); err != nil {
		return nil, fmt.Errorf("points: %w", err)
	}
	rows, err = pn.tx.Query(ctx, `SELECT code, id, ST_X(geom), ST_Y(geom), w FROM pcell WHERE m = 0 AND code = ANY($1) ORDER BY code, id`, codes)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var code string
		var id int
		var x, y, w float64
		if err := rows.Scan(&code, &id, &x, &y, &w); err != nil {
			rows.Close()
			return nil, err
		}
		if st := out[code]; st != nil {
			st.IDs = append(st.IDs, id)
			st.Points = append(st.Points, partition.Point{P: st.Frame.XY(x, y), W: w})
		}
	}
	rows.Close()
	return out, rows.Err()
}

// cellsAll builds the sub-units of the given communities (with their k)
// by one method (1: Voronoi, 2: grid) in the temp table pcell and returns
// them by community: cells with a representative point (longitude,
// latitude), weight, area and perimeter, and their shared edges.
func (pn *planner) cellsAll(ctx context.Context, m int, codes []string, ks []int32) (map[string]*partition.Cells, error) {
	var err error
	if m == 1 {
		// One cell per distinct point location (Voronoi merges duplicates);
		// a cell carries the households of the points inside it.
		err = pn.exec(ctx, `WITH c AS MATERIALIZED (SELECT code, geom FROM pw WHERE code = ANY($1)),
			pts AS (SELECT c.code, ST_Collect(pt.geom ORDER BY ST_X(pt.geom), ST_Y(pt.geom)) AS g
				FROM c JOIN points pt ON ST_Intersects(c.geom, pt.geom) AND pt.households > 0 GROUP BY c.code),
			v AS (SELECT c.code, c.geom AS cg, (ST_Dump(ST_VoronoiPolygons(pts.g, 0, ST_Expand(c.geom, 0.01)))).geom AS g FROM pts JOIN c USING (code)),
			cl AS (SELECT v.code, ST_CollectionExtract(ST_Intersection(v.g, v.cg), 3) AS g,
				(SELECT sum(pt.households) FROM points pt WHERE pt.households > 0 AND ST_Intersects(v.g, pt.geom) AND ST_Intersects(v.cg, pt.geom)) AS w FROM v)
			INSERT INTO pcell SELECT code, 1, row_number() OVER (PARTITION BY code ORDER BY ST_XMin(g), ST_YMin(g), ST_XMax(g), ST_YMax(g)), g, w FROM cl
			WHERE NOT ST_IsEmpty(g) AND w > 0`, codes)
	} else {
		// About 8k square cells over each community, weighted by area.
		err = pn.exec(ctx, `WITH c AS MATERIALIZED (SELECT pw.code, pw.geom, sqrt(ST_Area(pw.geom) / (j.k * 8)) AS size
				FROM pw JOIN unnest($1::text[], $2::int[]) j(code, k) ON j.code = pw.code),
			g AS (SELECT c.code, ST_CollectionExtract(ST_Intersection(sq.geom, c.geom), 3) AS g FROM c, ST_SquareGrid(c.size, c.geom) sq
				WHERE ST_Intersects(sq.geom, c.geom))
			INSERT INTO pcell SELECT code, 2, row_number() OVER (PARTITION BY code ORDER BY ST_XMin(g), ST_YMin(g), ST_XMax(g), ST_YMax(g)), g, ST_Area(g::geography) FROM g
			WHERE NOT ST_IsEmpty(g) AND ST_Area(g) > 0`, codes, ks)
	}
	if err != nil {
		return nil, fmt.Errorf("cells: %w", err)
	}
	rows, err := pn.tx.Query(ctx, `SELECT code, id, ST_X(pt), ST_Y(pt), w, ST_Area(geom::geography), ST_Perimeter(geom::geography) FROM (
			SELECT code, id, ST_PointOnSurface(geom) AS pt, w, geom FROM pcell WHERE m = $1 AND code = ANY($2)) x ORDER BY code, id`, m, codes)
	if err != nil {
		return nil, err
	}
	out := map[string]*partition.Cells{}
	type key struct {
		code string
		id   int
	}
	at := map[key]int{}
	for rows.Next() {
		var code string
		var x partition.Cell
		if err := rows.Scan(&code, &x.ID, &x.X, &x.Y, &x.W, &x.Area, &x.Perim); err != nil {
			rows.Close()
			return nil, err
		}
		u := out[code]
		if u == nil {
			u = &partition.Cells{}
			out[code] = u
		}
		at[key{code, x.ID}] = len(u.Cells)
		u.Cells = append(u.Cells, x)
		u.Neighbours = append(u.Neighbours, nil)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	// Shared edges between the cells of a community, so parts can be kept
	// connected and their perimeters known without building them.
	rows, err = pn.tx.Query(ctx, `SELECT * FROM (SELECT a.code, a.id, b.id,
			ST_Length(ST_CollectionExtract(ST_Intersection(ST_Boundary(a.geom), ST_Boundary(b.geom)), 2)::geography) AS l
		FROM pcell a JOIN pcell b ON b.code = a.code AND b.m = a.m AND b.id > a.id AND b.geom && a.geom
		WHERE a.m = $1 AND a.code = ANY($2)) x WHERE l > 0 ORDER BY 1, 2, 3`, m, codes)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var code string
		var a, b int
		var l float64
		if err := rows.Scan(&code, &a, &b, &l); err != nil {
			rows.Close()
			return nil, err
		}
		u, i, j := out[code], at[key{code, a}], at[key{code, b}]
		u.Neighbours[i] = append(u.Neighbours[i], partition.Edge{J: j, L: l})
		u.Neighbours[j] = append(u.Neighbours[j], partition.Edge{J: i, L: l})
	}
	rows.Close()
	return out, rows.Err()
}

// planCode is a split part's provisional code, P<street>-<10 hex> like
// importer.ProvisionalCode, from the seed, the original code and the part index, so
// the same seed gives the same codes.
func planCode(seed int64, street, code string, part int) string {
	h := sha256.New()
	fmt.Fprintf(h, "plan\x00%d\x00%s\x00%d", seed, code, part)
	return "P" + street + "-" + hex.EncodeToString(h.Sum(nil))[:10]
}

func jobCodes(js []*splitJob) []string {
	out := make([]string, len(js))
	for i, j := range js {
		out[i] = j.code
	}
	return out
}
