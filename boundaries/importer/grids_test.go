package importer_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/jiedao/jiedao/boundaries"
	"github.com/jiedao/jiedao/boundaries/importer"
	"github.com/jiedao/jiedao/boundaries/pgtest"
	"github.com/jiedao/jiedao/boundaries/units"
)

// TestImportGrids: grids take their community from the code's first 12
// digits or --parent-field, a grid whose community is not loaded is
// refused (nothing written) unless orphans are allowed, the usual checks
// apply, the codes are recorded as issued, and history and the change
// feed see level grid.
func TestImportGrids(t *testing.T) {
	ctx := context.Background()
	s, _ := pgtest.NewStore(t)
	comms := pgtest.FC(pgtest.Comm("110101001001", pgtest.PolyOf(pgtest.Rect(0, 0, 1, 1)), 900),
		pgtest.Comm("110101001002", pgtest.PolyOf(pgtest.Rect(1, 0, 2, 1)), 900))
	if _, err := importer.Import(ctx, s, pgtest.WriteFile(t, "c.geojson", comms), importer.Options{Level: boundaries.Community, HouseholdsField: "hh"}); err != nil {
		t.Fatal(err)
	}
	bowtie := pgtest.Poly(`[[[116.40,39.90],[116.405,39.91],[116.405,39.90],[116.40,39.91],[116.40,39.90]]]`)
	gridFile := func(features ...string) string { return pgtest.WriteFile(t, "g.geojson", pgtest.FC(features...)) }
	opt := importer.Options{Level: boundaries.Grid, HouseholdsField: "hh"}
	cases := []struct {
		name     string
		file     string
		opt      func(importer.Options) importer.Options
		reject   string // "" = accepted
		parents  map[string]string
		repaired int
	}{
		{"parent from the code", gridFile(
			pgtest.Feature(`{"code":"110101001001001","name":"一网格","hh":400}`, bowtie),
			pgtest.Feature(`{"code":"110101001001002","name":"二网格","hh":380}`, pgtest.PolyOf(pgtest.Rect(0.5, 0, 1, 1)))),
			nil, "", map[string]string{"110101001001001": "110101001001", "110101001001002": "110101001001"}, 1},
		{"parent field", gridFile(pgtest.Feature(`{"code":"G-7","name":"七网格","sq":"110101001002"}`, pgtest.PolyOf(pgtest.Rect(1, 0, 2, 1)))),
			func(o importer.Options) importer.Options { o.ParentField = "sq"; return o }, "", map[string]string{"G-7": "110101001002"}, 0},
		{"orphan refused", gridFile(
			pgtest.Feature(`{"code":"110101001002001","name":"好网格"}`, pgtest.PolyOf(pgtest.Rect(1, 0, 2, 1))),
			pgtest.Feature(`{"code":"110101001009001","name":"孤儿网格"}`, pgtest.PolyOf(pgtest.Rect(5, 5, 6, 6)))),
			nil, "parent 110101001009 is not a loaded community; use --allow-orphans to accept it", nil, 0},
		{"orphan allowed", gridFile(pgtest.Feature(`{"code":"110101001009001","name":"孤儿网格"}`, pgtest.PolyOf(pgtest.Rect(5, 5, 6, 6)))),
			func(o importer.Options) importer.Options { o.AllowOrphans = true; return o }, "", map[string]string{"110101001009001": "110101001009"}, 0},
		{"bad count", gridFile(pgtest.Feature(`{"code":"110101001002003","name":"三网格","hh":"many"}`, pgtest.PolyOf(pgtest.Rect(1, 0, 2, 1)))),
			nil, "hh:", nil, 0},
		{"code of another level", gridFile(pgtest.Feature(`{"code":"110101001001","name":"社区冒充"}`, pgtest.PolyOf(pgtest.Rect(1, 0, 2, 1)))),
			nil, "code 110101001001 is already a community", nil, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			o := opt
			if c.opt != nil {
				o = c.opt(o)
			}
			var before int
			if err := s.Primary().QueryRow(ctx, `SELECT count(*) FROM units WHERE level = 'grid'`).Scan(&before); err != nil {
				t.Fatal(err)
			}
			rep, err := importer.Import(ctx, s, c.file, o)
			if c.reject != "" {
				if !errors.Is(err, boundaries.ErrRejected) || !slices.ContainsFunc(rep.Rejected, func(is importer.Issue) bool {
					return strings.Contains(is.Reason, c.reject)
				}) {
					t.Fatalf("err %v, rejected %+v; want a rejection %q", err, rep.Rejected, c.reject)
				}
				var after int
				if err := s.Primary().QueryRow(ctx, `SELECT count(*) FROM units WHERE level = 'grid'`).Scan(&after); err != nil || after != before {
					t.Fatalf("%d grids before, %d after a rejected import (%v)", before, after, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("%v %+v", err, rep)
			}
			if rep.Level != boundaries.Grid || rep.Created != len(c.parents) || len(rep.Repaired) != c.repaired {
				t.Fatalf("report %+v", rep)
			}
			for code, parent := range c.parents {
				var got string
				var issued bool
				if err := s.Primary().QueryRow(ctx, `SELECT u.parent_code, EXISTS (SELECT 1 FROM grid_codes WHERE code = u.code AND community = u.parent_code)
					FROM units u WHERE u.code = $1 AND u.level = 'grid' AND u.valid_to IS NULL`, code).Scan(&got, &issued); err != nil {
					t.Fatalf("grid %s: %v", code, err)
				}
				if got != parent || issued != (len(code) == 15) {
					t.Errorf("grid %s: parent %s (want %s), code recorded %v", code, got, parent, issued)
				}
			}
		})
	}
	// History and the change feed are generic: a grid has versions and
	// changes like any unit.
	h, err := units.History(ctx, s, "110101001001001")
	if err != nil || len(h) != 1 || h[0].Level != boundaries.Grid || h[0].ParentCode == nil || *h[0].ParentCode != "110101001001" {
		t.Fatalf("history %+v, %v", h, err)
	}
	var changes int
	if err := s.Primary().QueryRow(ctx, `SELECT count(*) FROM changes WHERE level = 'grid' AND kind = 'created'`).Scan(&changes); err != nil || changes != 4 {
		t.Errorf("%d grid changes in the feed, want 4 (%v)", changes, err)
	}
}
