package importer_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jiedao/jiedao/boundaries"
	"github.com/jiedao/jiedao/boundaries/importer"
	"github.com/jiedao/jiedao/boundaries/pgtest"
	"github.com/jiedao/jiedao/boundaries/store"
	"github.com/jiedao/jiedao/boundaries/units"
	"github.com/jiedao/jiedao/geo"
)

const (
	gcjRefusal = "looks like GCJ-02 coordinates (Amap/Tencent): re-run with --crs gcj02"
	bdRefusal  = "looks like BD-09 coordinates (Baidu): re-run with --crs bd09"
)

// refusedForCRS checks an import was refused as a whole for its CRS, with
// want in the message, wrote no unit of the level and stored why.
func refusedForCRS(t *testing.T, s *store.Store, rep *importer.Report, err error, want string, level boundaries.Level) {
	t.Helper()
	var ve *boundaries.ValidationError
	if !errors.As(err, &ve) || !strings.Contains(err.Error(), want) {
		t.Fatalf("err = %v, want a validation error (422, exit 1) with %q", err, want)
	}
	us, lerr := units.List(context.Background(), s, units.Query{Level: level})
	if lerr != nil {
		t.Fatal(lerr)
	}
	if len(us) != 0 {
		t.Fatalf("%d %ss written by a refused import, want none", len(us), level)
	}
	var status, stored string
	if err := s.Primary().QueryRow(context.Background(), `SELECT status, report->>'error' FROM imports WHERE id = $1`, rep.ImportID).Scan(&status, &stored); err != nil {
		t.Fatal(err)
	}
	if status != "failed" || !strings.Contains(stored, want) {
		t.Fatalf("stored import: status %q, error %q; want failed with %q", status, stored, want)
	}
}

// The real Beixinqiao communities are GCJ-02 (see ../shared/data). Read
// as WGS84 under their street imported right, they are refused with the
// CRS to use; with it they import.
func TestImportShiftGuardBeixinqiao(t *testing.T) {
	dir := pgtest.SharedData(t, "beijing")
	ctx := context.Background()
	s, _ := pgtest.NewStore(t)
	if _, err := importer.Import(ctx, s, filepath.Join(dir, "beixinqiao_street.geojson"), importer.Options{Level: boundaries.Street, CRS: pgtest.MustCRS(t, "gcj02")}); err != nil {
		t.Fatal(err)
	}
	comms := filepath.Join(dir, "beixinqiao_communities.geojson")
	opt := importer.Options{Level: boundaries.Community, ParentField: "street_code", CodeField: "code_2023", ProvisionalCodes: true}
	rep, err := importer.Import(ctx, s, comms, opt)
	refusedForCRS(t, s, rep, err, gcjRefusal, boundaries.Community)
	t.Logf("as refused: %v", err)

	opt.CRS = pgtest.MustCRS(t, "gcj02")
	rep, err = importer.Import(ctx, s, comms, opt)
	if err != nil || rep.Status != "committed" || rep.Created != 12 {
		t.Fatalf("with --crs gcj02: %v %+v, want 12 created", err, rep)
	}
}

// The Dongcheng streets (GCJ-02) under Beijing's districts imported right
// are refused the same way: the guard works a level up, on bigger units.
func TestImportShiftGuardDongcheng(t *testing.T) {
	dir := pgtest.SharedData(t, "beijing")
	ctx := context.Background()
	s, _ := pgtest.NewStore(t)
	if rep, err := importer.Import(ctx, s, filepath.Join(dir, "beijing_districts.geojson"),
		importer.Options{Level: boundaries.District, CRS: pgtest.MustCRS(t, "gcj02"), CodeField: "adcode"}); err != nil {
		t.Fatalf("districts: %v %+v", err, rep)
	}
	streets := filepath.Join(dir, "dongcheng_streets.geojson")
	rep, err := importer.Import(ctx, s, streets, importer.Options{Level: boundaries.Street, CodeField: "code_2023"})
	refusedForCRS(t, s, rep, err, gcjRefusal, boundaries.Street)
	t.Logf("as refused: %v", err)
	if rep, err := importer.Import(ctx, s, streets, importer.Options{Level: boundaries.Street, CodeField: "code_2023", CRS: pgtest.MustCRS(t, "gcj02")}); err != nil || rep.Created != 17 {
		t.Fatalf("with --crs gcj02: %v %+v, want 17 created", err, rep)
	}
}

// A synthetic street (WGS84, about 1.7 × 2.2 km) and its four communities,
// given in WGS84, GCJ-02 or BD-09, with and without a CRS: only the
// shifted files whose CRS nobody stated are refused.
func TestImportShiftGuard(t *testing.T) {
	quads := [][4]float64{{0, 0, 1, 1}, {1, 0, 2, 1}, {0, 1, 1, 2}, {1, 1, 2, 2}}
	comms := func(shift func(lon, lat float64) (float64, float64)) string {
		var fs []string
		for i, q := range quads {
			fs = append(fs, pgtest.Comm("11010100100"+string(rune('1'+i)), pgtest.PolyOf(pgtest.ShiftedRect(q[0], q[1], q[2], q[3], shift)), 100))
		}
		return pgtest.FC(fs...)
	}
	same := func(lon, lat float64) (float64, float64) { return lon, lat }
	declared := strings.Replace(comms(geo.ToGCJ02), `{"type":"FeatureCollection",`,
		`{"type":"FeatureCollection","crs":{"type":"name","properties":{"name":"urn:ogc:def:crs:OGC:1.3:CRS84"}},`, 1)
	cases := []struct {
		name, body, crs, refusal string
		day                      string
	}{
		{"GCJ-02, no CRS", comms(geo.ToGCJ02), "", gcjRefusal, ""},
		{"BD-09, no CRS", comms(geo.ToBD09), "", bdRefusal, ""},
		{"GCJ-02 with --crs gcj02", comms(geo.ToGCJ02), "gcj02", "", ""},
		{"BD-09 with --crs bd09", comms(geo.ToBD09), "bd09", "", ""},
		{"WGS84, no CRS", comms(same), "", "", ""},
		// Stated, so not second-guessed: the file is read as it says.
		{"GCJ-02 with --crs wgs84", comms(geo.ToGCJ02), "wgs84", "", ""},
		{"GCJ-02 declaring CRS84", declared, "", "", ""},
		// Before the street's first day there is no parent to compare with.
		{"GCJ-02 before the street existed", comms(geo.ToGCJ02), "", "", "2023-06-01"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ctx := context.Background()
			s, _ := pgtest.NewStore(t)
			street := pgtest.WriteFile(t, "street.geojson", pgtest.FC(pgtest.Feature(`{"code":"110101001","name":"合街道"}`, pgtest.PolyOf(pgtest.Rect(0, 0, 2, 2)))))
			if _, err := importer.Import(ctx, s, street, importer.Options{Level: boundaries.Street, ValidFrom: pgtest.Date(t, "2024-01-01")}); err != nil {
				t.Fatal(err)
			}
			opt := importer.Options{Level: boundaries.Community, HouseholdsField: "hh"}
			if c.crs != "" {
				opt.CRS = pgtest.MustCRS(t, c.crs)
			}
			if c.day != "" {
				opt.ValidFrom = pgtest.Date(t, c.day)
			}
			rep, err := importer.Import(ctx, s, pgtest.WriteFile(t, "c.geojson", c.body), opt)
			if c.refusal != "" {
				refusedForCRS(t, s, rep, err, c.refusal, boundaries.Community)
				t.Logf("refused: %v", err)
				return
			}
			if err != nil || rep.Created != 4 {
				t.Fatalf("%v %+v, want 4 created", err, rep)
			}
		})
	}
}
