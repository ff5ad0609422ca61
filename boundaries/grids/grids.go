// Package grids proposes grids (网格), the level below communities: it
// cuts communities into grids of a profile's size with the plan's
// partition (blocks along roads and rivers where barriers are loaded, else
// straight cuts between building points), numbers them west→east,
// north→south under their community's code, renumbers a community's grids,
// and, for scenarios, proposes the grids of the communities a scenario
// changes. Like a plan it writes nothing: its result is a plan document of
// grid units, which becomes live only through a scenario adopted with an
// approval, so grids keep the history of every other unit.
package grids

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/jiedao/jiedao/boundaries"
	"github.com/jiedao/jiedao/boundaries/analysis"
	"github.com/jiedao/jiedao/boundaries/plan"
	"github.com/jiedao/jiedao/boundaries/store"
	"github.com/jiedao/jiedao/boundaries/units"
)

// Options choose the communities a generation covers and how it cuts.
type Options struct {
	At time.Time
	// One of: a community (regenerated when it has grids), the
	// communities of a street that have no grids, or every community
	// without grids.
	Community string
	Street    string
	All       bool
	// Households is the target households per grid (0: the middle of the
	// profile's range).
	Households int
	// Method is plan.SplitAuto ("" too), SplitBlocks or SplitCuts.
	Method string
	Seed   int64
}

// ErrNoCommunity is returned when the community or street asked for has no
// community on the day.
var ErrNoCommunity = errors.New("no community in scope")

// gen is one generation's state; its working tables live in a transaction
// that is rolled back.
type gen struct {
	tx     pgx.Tx
	p      *analysis.Profile
	rules  Rules
	method string
	seed   int64
	at     time.Time
	div    *plan.Division
	// towerBy names what a building point over the maximum gets as its
	// grid: its block, or its Voronoi cell when there are no blocks.
	towerBy string
	// barrierShare measures each grid's boundary on barriers (one
	// community's grids, not a city's: it is a buffer per grid).
	barrierShare bool
}

// Propose proposes grids for the communities in scope: k = households /
// target grids each (see Rules.K), connected, covering the community, and
// numbered by OrderRule. A community that has grids (named with
// Community) is regenerated: a grid equal to a live one keeps its code and
// is left out; the live grids not kept are the plan's removed units.
//
// Communities are independent of each other (a grid never leaves its
// community, numbers are per community), so a large scope is cut in
// chunks of communities, each in its own transaction, side by side.
func Propose(ctx context.Context, st *store.Store, p *analysis.Profile, opt Options) (*plan.Plan, error) {
	scope, err := checkOptions(&opt)
	if err != nil {
		return nil, err
	}
	rules, err := RulesOf(p, opt.Households)
	if err != nil {
		return nil, boundaries.Invalid("grids: %v", err)
	}
	pl := &plan.Plan{Profile: p.Name, At: opt.At.Format("2006-01-02"), Scope: scope, Seed: opt.Seed, Method: opt.Method,
		Order: OrderRule, Ops: []plan.Op{}, Units: []plan.Unit{}, Infeasible: []plan.Issue{}, Removed: []units.Base{},
		Before: plan.Remaining{Zones: map[string]int{}}, Remaining: plan.Remaining{Zones: map[string]int{}}}
	codes, err := scopeCodes(ctx, st, opt)
	if err != nil {
		return nil, fmt.Errorf("grids (%s): %w", scope, err)
	}
	if len(codes) == 0 {
		pl.MethodNote = "every community in scope has grids: name one with --community to regenerate it"
		return pl, nil
	}
	chunks := chunked(codes)
	parts := make([]*plan.Plan, len(chunks))
	errs := make([]error, len(chunks))
	var wg sync.WaitGroup
	for i, c := range chunks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			g := &gen{p: p, rules: rules, method: opt.Method, seed: opt.Seed, at: opt.At, barrierShare: len(chunks) == 1}
			parts[i], errs[i] = g.propose(ctx, st, c, opt.Community != "")
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("grids (%s): %w", scope, err)
	}
	merge(pl, parts)
	return pl, nil
}

// chunkSize is the communities one transaction cuts: below it a scope is
// one chunk (and its grids' boundary on barriers is measured).
const chunkSize = 300

// chunked splits codes (in order) into one chunk per CPU when they are
// many, else one.
func chunked(codes []string) [][]string {
	n := 1
	if len(codes) > chunkSize {
		n = min(runtime.GOMAXPROCS(0), (len(codes)+chunkSize-1)/chunkSize)
	}
	out := make([][]string, 0, n)
	for i := range n {
		out = append(out, codes[i*len(codes)/n:(i+1)*len(codes)/n])
	}
	return out
}

// merge adds the chunks' plans, in order, to pl.
func merge(pl *plan.Plan, parts []*plan.Plan) {
	for _, x := range parts {
		pl.MethodNote = cmp.Or(pl.MethodNote, x.MethodNote)
		if len(parts) == 1 {
			pl.BoundaryOnBarriers = x.BoundaryOnBarriers
		}
		pl.Units = append(pl.Units, x.Units...)
		for _, op := range x.Ops {
			op.Seq = len(pl.Ops) + 1
			pl.Ops = append(pl.Ops, op)
		}
		pl.Infeasible = append(pl.Infeasible, x.Infeasible...)
		pl.Removed = append(pl.Removed, x.Removed...)
		pl.Remaining.Undersized += x.Remaining.Undersized
		pl.Remaining.Oversized += x.Remaining.Oversized
	}
	pl.UnitsChanged = len(pl.Units)
}

// scopeCodes lists the communities to cut, by code: the one named (with
// grids or not), or those of the street or city that have none.
func scopeCodes(ctx context.Context, st *store.Store, opt Options) ([]string, error) {
	rows, err := st.Primary().Query(ctx, `SELECT u.code FROM units u WHERE u.level = 'community' AND `+store.AsOf("u", 1)+`
		AND (u.code = $2 OR u.parent_code = $3 OR $4) ORDER BY u.code`, opt.At, opt.Community, opt.Street, opt.All)
	if err != nil {
		return nil, fmt.Errorf("communities: %w", err)
	}
	all, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("communities: %w", err)
	}
	if len(all) == 0 && !opt.All {
		what := "community " + opt.Community
		if opt.Street != "" {
			what = "street " + opt.Street
		}
		return nil, &boundaries.ValidationError{Msg: fmt.Sprintf("%s: %v on %s", what, ErrNoCommunity, opt.At.Format("2006-01-02")), Err: ErrNoCommunity}
	}
	if opt.Community != "" {
		return all, nil
	}
	rows, err = st.Primary().Query(ctx, `SELECT c FROM unnest($2::text[]) c WHERE NOT EXISTS (
		SELECT 1 FROM units x WHERE x.level = 'grid' AND x.parent_code = c AND `+store.AsOf("x", 1)+`) ORDER BY c`, opt.At, all)
	if err != nil {
		return nil, fmt.Errorf("communities without grids: %w", err)
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

// propose runs a generation over communities codes in its own
// transaction, always rolled back.
func (g *gen) propose(ctx context.Context, st *store.Store, codes []string, regenerate bool) (*plan.Plan, error) {
	tx, err := st.Primary().Begin(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	g.tx = tx
	pl := &plan.Plan{Ops: []plan.Op{}, Units: []plan.Unit{}, Infeasible: []plan.Issue{}, Removed: []units.Base{}}
	if err := g.load(ctx, codes, regenerate); err != nil {
		return nil, err
	}
	steps := []struct {
		name string
		f    func(context.Context) error
	}{{"method", g.checkMethod}, {"cut", g.cut}, {"match", g.matchLive}, {"number", func(ctx context.Context) error { return number(ctx, tx, "gpart") }}}
	for _, s := range steps {
		t0 := time.Now()
		if err := s.f(ctx); err != nil {
			return nil, fmt.Errorf("%s: %w", s.name, err)
		}
		slog.Debug("grids step", "step", s.name, "communities", len(codes), "ms", time.Since(t0).Milliseconds())
	}
	return pl, g.fill(ctx, pl)
}

// checkOptions checks the scope, method and day, and names the scope.
func checkOptions(opt *Options) (string, error) {
	n := 0
	for _, set := range []bool{opt.Community != "", opt.Street != "", opt.All} {
		if set {
			n++
		}
	}
	if n != 1 {
		return "", boundaries.Invalid("grids: choose one of a community, a street or all")
	}
	if opt.Method == "" {
		opt.Method = plan.SplitAuto
	}
	if !slices.Contains(plan.SplitChoices, opt.Method) {
		return "", boundaries.Invalid("grids: method %q: want one of %s", opt.Method, strings.Join(plan.SplitChoices, ", "))
	}
	if opt.Households < 0 {
		return "", boundaries.Invalid("grids: households per grid %d: want a number above 0", opt.Households)
	}
	if opt.At.IsZero() {
		opt.At = boundaries.Today()
	}
	switch {
	case opt.Community != "":
		return "community " + opt.Community, nil
	case opt.Street != "":
		return "street " + opt.Street, nil
	}
	return "all", nil
}

// load makes gcomm (the communities the grids belong to) and garea (the
// ground to cut: here each community whole) of the communities codes;
// has_grids marks those regenerated.
func (g *gen) load(ctx context.Context, codes []string, regenerate bool) error {
	if _, err := g.tx.Exec(ctx, `SET LOCAL jit = off`); err != nil {
		return err
	}
	if _, err := g.tx.Exec(ctx, `CREATE TEMP TABLE gcomm ON COMMIT DROP AS
		SELECT u.code, u.name, coalesce(u.parent_code, '') AS street, u.provisional, u.geom, u.households, u.population, $3::bool AS has_grids
		FROM units u WHERE u.level = 'community' AND `+store.AsOf("u", 1)+` AND u.code = ANY($2)`, g.at, codes, regenerate); err != nil {
		return fmt.Errorf("communities: %w", err)
	}
	// Households are the community's own counts; where it has none, its
	// building points'.
	if _, err := g.tx.Exec(ctx, `CREATE TEMP TABLE garea ON COMMIT DROP AS
		SELECT c.code AS key, c.code AS community, ST_Multi(ST_CollectionExtract(c.geom, 3)) AS geom,
			coalesce(c.households, w.h)::bigint AS h, coalesce(c.population, w.p)::bigint AS p
		FROM gcomm c LEFT JOIN LATERAL (SELECT sum(pt.households) AS h, sum(pt.population) AS p FROM points pt
			WHERE c.households IS NULL AND pt.geom && c.geom AND ST_Intersects(c.geom, pt.geom)) w ON true`); err != nil {
		return fmt.Errorf("ground: %w", err)
	}
	_, err := g.tx.Exec(ctx, `CREATE INDEX ON garea USING gist (geom); CREATE INDEX ON gcomm (code); ANALYZE garea; ANALYZE gcomm`)
	return err
}

// checkMethod refuses blocks when no barriers are loaded, and says which
// grids a building point over the maximum gets.
func (g *gen) checkMethod(ctx context.Context) error {
	var loaded bool
	if err := g.tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM barriers)`).Scan(&loaded); err != nil {
		return fmt.Errorf("barriers: %w", err)
	}
	if g.method == plan.SplitBlocks && !loaded {
		return boundaries.Invalid("grids --method blocks: no barriers are loaded (jiedao import-barriers FILE)")
	}
	g.towerBy = "Voronoi cell"
	if loaded && g.method != plan.SplitCuts {
		g.towerBy = "block"
	}
	return nil
}

// matchLive keeps the code of a live grid of a regenerated community that
// a new grid equals (symmetric difference under 1 m²): that grid is
// unchanged and left out of the plan.
func (g *gen) matchLive(ctx context.Context) error {
	_, err := g.tx.Exec(ctx, `UPDATE gpart p SET code = m.code, base = m.version_id, unchanged = true FROM (
			SELECT DISTINCT ON (p.id) p.id, o.code, o.version_id FROM gpart p
			JOIN gcomm c ON c.code = p.community AND c.has_grids
			JOIN units o ON o.level = 'grid' AND o.parent_code = p.community AND `+store.AsOf("o", 1)+` AND o.geom && p.geom
			WHERE ST_Area(ST_SymDifference(o.geom, p.geom)::geography) < 1
			ORDER BY p.id, o.code) m
		WHERE p.id = m.id`, g.at)
	return err
}
