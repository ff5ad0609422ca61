package boundaries_test

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/text/encoding/simplifiedchinese"

	"github.com/jiedao/jiedao/boundaries"
	"github.com/jiedao/jiedao/boundaries/pgtest"
	"github.com/jiedao/jiedao/geo"
)

func mustCRS(t *testing.T, s string) *geo.CRS {
	t.Helper()
	c, err := geo.ParseCRS(s)
	if err != nil {
		t.Fatal(err)
	}
	return &c
}

func TestImportDongchengStreets(t *testing.T) {
	dir := pgtest.SharedData(t, "beijing")
	ctx := context.Background()
	s, _ := pgtest.NewStore(t)
	file := filepath.Join(dir, "dongcheng_streets.geojson")
	rep, err := s.Import(ctx, file, boundaries.ImportOptions{Level: boundaries.Street, CRS: mustCRS(t, "gcj02"), CodeField: "code_2023"})
	if err != nil {
		t.Fatalf("import: %v (%+v)", err, rep)
	}
	if rep.Created != 17 || len(rep.Rejected) != 0 {
		t.Fatalf("created %d rejected %v, want 17 and none", rep.Created, rep.Rejected)
	}
	units, err := s.Units(ctx, boundaries.UnitQuery{Level: boundaries.Street})
	if err != nil {
		t.Fatal(err)
	}
	if len(units) != 17 {
		t.Fatalf("%d streets, want 17", len(units))
	}
	stated := readStatedAreas(t, filepath.Join(dir, "dongcheng_street_population.csv"))
	var sum float64
	for _, u := range units {
		sum += u.AreaKM2
		want, ok := stated[u.Code]
		if !ok {
			t.Errorf("street %s %s not in the population table", u.Code, u.Name)
			continue
		}
		if d := (u.AreaKM2 - want) / want; math.Abs(d) > 0.12 {
			t.Errorf("street %s %s: area %.3f km², stated %.2f (%.1f%%), want within 12%%", u.Code, u.Name, u.AreaKM2, want, 100*d)
		}
		if u.ParentCode == nil || *u.ParentCode != "110101" {
			t.Errorf("street %s parent %v, want 110101 (derived from the code)", u.Code, u.ParentCode)
		}
	}
	if math.Abs(sum-41.84)/41.84 > 0.01 {
		t.Errorf("streets sum to %.3f km², want 41.84 ± 1%%", sum)
	}

	// The same file read as WGS84 lands about 500 m off.
	s2, _ := pgtest.NewStore(t)
	if _, err := s2.Import(ctx, file, boundaries.ImportOptions{Level: boundaries.Street, CRS: mustCRS(t, "wgs84"), CodeField: "code_2023"}); err != nil {
		t.Fatal(err)
	}
	right, wrong := centroids(t, s), centroids(t, s2)
	for code, c := range right {
		w := wrong[code]
		d := geo.Distance(c[0], c[1], w[0], w[1])
		if d < 300 || d > 800 {
			t.Errorf("street %s: GCJ-02 read as WGS84 is %.0f m off, want 300–800 m", code, d)
		}
	}
}

func readStatedAreas(t *testing.T, path string) map[string]float64 {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	var total float64
	for _, r := range recs[1:] {
		a, err := strconv.ParseFloat(r[2], 64)
		if err != nil {
			t.Fatal(err)
		}
		out[r[0]] = a
		total += a
	}
	if math.Abs(total-41.84) > 0.01 {
		t.Fatalf("stated areas sum to %.2f, the test expects 41.84", total)
	}
	return out
}

func centroids(t *testing.T, s *boundaries.Store) map[string][2]float64 {
	t.Helper()
	rows, err := s.Pool.Query(context.Background(), `SELECT code, ST_X(ST_Centroid(geom)), ST_Y(ST_Centroid(geom)) FROM units WHERE valid_to IS NULL`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string][2]float64{}
	for rows.Next() {
		var code string
		var x, y float64
		if err := rows.Scan(&code, &x, &y); err != nil {
			t.Fatal(err)
		}
		out[code] = [2]float64{x, y}
	}
	return out
}

// importBeixinqiao loads 北新桥 street and its 12 communities as the issue
// prescribes.
func importBeixinqiao(t *testing.T, s *boundaries.Store) *boundaries.ImportReport {
	t.Helper()
	dir := pgtest.SharedData(t, "beijing")
	ctx := context.Background()
	if _, err := s.Import(ctx, filepath.Join(dir, "beixinqiao_street.geojson"), boundaries.ImportOptions{Level: boundaries.Street, CRS: mustCRS(t, "gcj02")}); err != nil {
		t.Fatal(err)
	}
	rep, err := s.Import(ctx, filepath.Join(dir, "beixinqiao_communities.geojson"), boundaries.ImportOptions{
		Level: boundaries.Community, CRS: mustCRS(t, "gcj02"), ParentField: "street_code", CodeField: "code_2023",
		ProvisionalCodes: true, HouseholdsField: "res_households", PopulationField: "res_population"})
	if err != nil {
		t.Fatalf("import communities: %v %+v", err, rep)
	}
	return rep
}

func TestImportBeixinqiao(t *testing.T) {
	ctx := context.Background()
	s, _ := pgtest.NewStore(t)
	rep := importBeixinqiao(t, s)
	if rep.Created != 12 {
		t.Fatalf("created %d communities, want 12", rep.Created)
	}
	units, err := s.Units(ctx, boundaries.UnitQuery{Level: boundaries.Community, Parent: "110101005"})
	if err != nil {
		t.Fatal(err)
	}
	var hh, pop int64
	var prov []string
	for _, u := range units {
		hh += *u.Households
		pop += *u.Population
		if u.Provisional {
			prov = append(prov, u.Code)
			if !strings.HasPrefix(u.Code, "P110101005-") {
				t.Errorf("provisional code %s, want P110101005-…", u.Code)
			}
		}
	}
	if len(units) != 12 || len(prov) != 2 || hh != 23873 || pop != 62165 {
		t.Fatalf("%d communities, %d provisional, households %d, population %d; want 12, 2, 23873, 62165", len(units), len(prov), hh, pop)
	}
	// Same input, same provisional codes: a second import changes nothing.
	rep2 := importBeixinqiao(t, s)
	if rep2.Created != 0 || rep2.Changed != 0 || rep2.Unchanged != 12 {
		t.Fatalf("re-import: created %d changed %d unchanged %d, want 0/0/12", rep2.Created, rep2.Changed, rep2.Unchanged)
	}
}

const square = `[[[116.40,39.90],[116.41,39.90],[116.41,39.91],[116.40,39.91],[116.40,39.90]]]`

func fc(features ...string) string {
	return `{"type":"FeatureCollection","features":[` + strings.Join(features, ",") + `]}`
}

func feature(props, geometry string) string {
	return `{"type":"Feature","properties":` + props + `,"geometry":` + geometry + `}`
}

func poly(coords string) string { return `{"type":"Polygon","coordinates":` + coords + `}` }

func writeFile(t *testing.T, name, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestImportRejects(t *testing.T) {
	good := feature(`{"code":"110101001","name":"好街道"}`, poly(square))
	cases := []struct {
		name, body, reason string
		badIndex           int
		opts               boundaries.ImportOptions
	}{
		{"null geometry", fc(good, feature(`{"code":"110101002","name":"空"}`, `null`)), "empty geometry", 1, boundaries.ImportOptions{}},
		{"empty polygon", fc(good, feature(`{"code":"110101002","name":"空"}`, poly(`[]`))), "empty", 1, boundaries.ImportOptions{}},
		{"point", fc(feature(`{"code":"110101002","name":"点"}`, `{"type":"Point","coordinates":[116.4,39.9]}`), good), "not a polygon", 0, boundaries.ImportOptions{}},
		{"line", fc(good, feature(`{"code":"110101002","name":"线"}`, `{"type":"LineString","coordinates":[[116.4,39.9],[116.5,39.9]]}`)), "not a polygon", 1, boundaries.ImportOptions{}},
		{"infinite coordinate", fc(good, feature(`{"code":"110101002","name":"大"}`, poly(`[[[116.40,39.90],[1e400,39.90],[116.41,39.91],[116.40,39.90]]]`))), "", 1, boundaries.ImportOptions{}},
		{"outside lon/lat", fc(good, feature(`{"code":"110101002","name":"远"}`, poly(`[[[200,39.90],[201,39.90],[201,39.91],[200,39.90]]]`))), "outside lon", 1, boundaries.ImportOptions{}},
		{"unclosed ring", fc(good, feature(`{"code":"110101002","name":"开"}`, poly(`[[[116.40,39.90],[116.41,39.90],[116.41,39.91],[116.40,39.91]]]`))), "not closed", 1, boundaries.ImportOptions{}},
		{"too few points", fc(good, feature(`{"code":"110101002","name":"少"}`, poly(`[[[116.40,39.90],[116.41,39.90],[116.40,39.90]]]`))), "at least 4", 1, boundaries.ImportOptions{}},
		{"missing code", fc(good, feature(`{"name":"无码"}`, poly(square))), "missing code", 1, boundaries.ImportOptions{}},
		{"duplicate code", fc(good, feature(`{"code":"110101001","name":"重"}`, poly(square))), "duplicate code", 1, boundaries.ImportOptions{}},
		{"missing name", fc(good, feature(`{"code":"110101002"}`, poly(square))), "missing name", 1, boundaries.ImportOptions{}},
		{"bad households", fc(good, feature(`{"code":"110101002","name":"负","hh":-5}`, poly(square))), "non-negative", 1, boundaries.ImportOptions{HouseholdsField: "hh"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ctx := context.Background()
			s, _ := pgtest.NewStore(t)
			o := c.opts
			o.Level = boundaries.Street
			rep, err := s.Import(ctx, writeFile(t, "bad.geojson", c.body), o)
			if !errors.Is(err, boundaries.ErrRejected) {
				t.Fatalf("err = %v, want ErrRejected", err)
			}
			if len(rep.Rejected) != 1 || rep.Rejected[0].Index != c.badIndex || !strings.Contains(rep.Rejected[0].Reason, c.reason) {
				t.Fatalf("rejected %+v, want feature %d with %q", rep.Rejected, c.badIndex, c.reason)
			}
			if n, _ := s.CountUnits(ctx); n != 0 {
				t.Fatalf("%d units written, want none", n)
			}
			var status string
			var stored int
			if err := s.Pool.QueryRow(ctx, `SELECT status, rejected FROM imports WHERE id=$1`, rep.ImportID).Scan(&status, &stored); err != nil {
				t.Fatal(err)
			}
			if status != "rejected" || stored != 1 {
				t.Fatalf("stored import status %q with %d rejected, want rejected/1", status, stored)
			}
		})
	}
}

func TestImportRepairsAndParents(t *testing.T) {
	ctx := context.Background()
	s, _ := pgtest.NewStore(t)
	bowtie := poly(`[[[116.40,39.90],[116.41,39.91],[116.41,39.90],[116.40,39.91],[116.40,39.90]]]`)
	clockwise := poly(`[[[116.42,39.90],[116.42,39.91],[116.43,39.91],[116.43,39.90],[116.42,39.90]]]`)
	rep, err := s.Import(ctx, writeFile(t, "s.geojson", fc(
		feature(`{"code":"110101001","name":"蝴蝶"}`, bowtie),
		feature(`{"code":"110101002","name":"顺时针"}`, clockwise),
	)), boundaries.ImportOptions{Level: boundaries.Street})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Repaired) != 2 || !strings.Contains(rep.Repaired[0].Reason, "made valid") || !strings.Contains(rep.Repaired[1].Reason, "orientation") {
		t.Fatalf("repaired %+v, want the bowtie made valid and the clockwise ring reoriented", rep.Repaired)
	}
	var valid, ccw bool
	if err := s.Pool.QueryRow(ctx, `SELECT bool_and(ST_IsValid(geom)), bool_and(ST_IsPolygonCCW(geom)) FROM units`).Scan(&valid, &ccw); err != nil {
		t.Fatal(err)
	}
	if !valid || !ccw {
		t.Fatalf("stored geometries valid=%v ccw=%v, want both", valid, ccw)
	}
	// Streets are loaded now, so a community naming an unknown street is
	// rejected unless orphans are allowed.
	orphan := writeFile(t, "c.geojson", fc(feature(`{"code":"110101009001","name":"孤儿社区"}`, poly(square))))
	if _, err := s.Import(ctx, orphan, boundaries.ImportOptions{Level: boundaries.Community}); !errors.Is(err, boundaries.ErrRejected) {
		t.Fatalf("orphan import err = %v, want rejection", err)
	}
	if _, err := s.Import(ctx, orphan, boundaries.ImportOptions{Level: boundaries.Community, AllowOrphans: true}); err != nil {
		t.Fatalf("orphan with AllowOrphans: %v", err)
	}
	child := writeFile(t, "c2.geojson", fc(feature(`{"code":"110101001001","name":"子社区"}`, poly(square))))
	if _, err := s.Import(ctx, child, boundaries.ImportOptions{Level: boundaries.Community}); err != nil {
		t.Fatalf("community under a loaded street: %v", err)
	}
}

func TestImportHistory(t *testing.T) {
	ctx := context.Background()
	s, _ := pgtest.NewStore(t)
	other := feature(`{"code":"110101002","name":"乙"}`, poly(`[[[116.41,39.90],[116.42,39.90],[116.42,39.91],[116.41,39.91],[116.41,39.90]]]`))
	v1 := writeFile(t, "v1.geojson", fc(feature(`{"code":"110101001","name":"甲"}`, poly(square)), other))
	v2 := writeFile(t, "v2.geojson", fc(feature(`{"code":"110101001","name":"甲"}`, poly(`[[[116.40,39.90],[116.41,39.90],[116.41,39.92],[116.40,39.92],[116.40,39.90]]]`)), other))
	d1, d2 := date(t, "2024-01-01"), date(t, "2025-01-01")
	if _, err := s.Import(ctx, v1, boundaries.ImportOptions{Level: boundaries.Street, ValidFrom: d1, Approval: "京政函〔2024〕1号"}); err != nil {
		t.Fatal(err)
	}
	rep, err := s.Import(ctx, v2, boundaries.ImportOptions{Level: boundaries.Street, ValidFrom: d2, Approval: "京政函〔2025〕2号"})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Changed != 1 || rep.Unchanged != 1 || rep.Created != 0 {
		t.Fatalf("second import: created %d changed %d unchanged %d, want 0/1/1", rep.Created, rep.Changed, rep.Unchanged)
	}
	hist, err := s.History(ctx, "110101001")
	if err != nil {
		t.Fatal(err)
	}
	if len(hist) != 2 || hist[0].ValidTo == nil || !hist[0].ValidTo.Equal(d2) || hist[1].ValidTo != nil || *hist[1].Approval != "京政函〔2025〕2号" {
		t.Fatalf("history %+v, want two versions split on %s", hist, d2)
	}
	old, err := s.Units(ctx, boundaries.UnitQuery{Level: boundaries.Street, At: date(t, "2024-06-01")})
	if err != nil {
		t.Fatal(err)
	}
	if len(old) != 2 || math.Abs(old[0].AreaKM2*2-hist[1].AreaKM2) > 0.01*hist[1].AreaKM2 {
		t.Fatalf("as of 2024-06-01: %d units, area %.3f (current %.3f), want the old, half-size square", len(old), old[0].AreaKM2, hist[1].AreaKM2)
	}
	var buf strings.Builder
	if _, err := s.Export(ctx, &buf, boundaries.ExportOptions{Layer: "streets", At: date(t, "2024-06-01")}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), "[116.41,39.91]") || strings.Contains(buf.String(), "39.92") {
		t.Fatalf("export as of 2024-06-01 is not the old geometry: %s", buf.String())
	}
	// Re-importing the identical file changes nothing.
	before, _ := s.DataVersion(ctx)
	rep, err = s.Import(ctx, v2, boundaries.ImportOptions{Level: boundaries.Street, ValidFrom: d2})
	if err != nil {
		t.Fatal(err)
	}
	after, _ := s.DataVersion(ctx)
	if rep.Created+rep.Changed != 0 || before != after {
		t.Fatalf("identical re-import: created %d changed %d, data version %d→%d; want a no-op", rep.Created, rep.Changed, before, after)
	}
	// A change dated before the current version is refused.
	if _, err := s.Import(ctx, v1, boundaries.ImportOptions{Level: boundaries.Street, ValidFrom: d1}); !errors.Is(err, boundaries.ErrRejected) {
		t.Fatalf("back-dated change: err %v, want rejection", err)
	}
}

func TestImportCounts(t *testing.T) {
	ctx := context.Background()
	s, _ := pgtest.NewStore(t)
	if _, err := s.Import(ctx, writeFile(t, "s.geojson", fc(feature(`{"code":"110101001","name":"甲"}`, poly(square)))),
		boundaries.ImportOptions{Level: boundaries.Street, ValidFrom: date(t, "2024-01-01")}); err != nil {
		t.Fatal(err)
	}
	// GBK-encoded CSV, as Excel in China saves it.
	gbk, err := simplifiedchinese.GBK.NewEncoder().String("code,名称,households,population\n110101001,甲街道,1234,3456\n")
	if err != nil {
		t.Fatal(err)
	}
	rep, err := s.ImportCounts(ctx, writeFile(t, "c.csv", gbk), boundaries.CountsOptions{ValidFrom: date(t, "2024-06-01")})
	if err != nil || rep.Changed != 1 {
		t.Fatalf("import counts: %v %+v", err, rep)
	}
	us, _ := s.Units(ctx, boundaries.UnitQuery{Level: boundaries.Street})
	if *us[0].Households != 1234 || *us[0].Population != 3456 {
		t.Fatalf("counts %v/%v, want 1234/3456", *us[0].Households, *us[0].Population)
	}
	if _, err := s.ImportCounts(ctx, writeFile(t, "bad.csv", "\ufeffcode,households\n110101001,10\n999,5\n"), boundaries.CountsOptions{}); !errors.Is(err, boundaries.ErrRejected) {
		t.Fatalf("unknown code: err %v, want rejection", err)
	}
	us, _ = s.Units(ctx, boundaries.UnitQuery{Level: boundaries.Street})
	if *us[0].Households != 1234 {
		t.Fatalf("a rejected counts file changed households to %d", *us[0].Households)
	}
}

func date(t *testing.T, s string) time.Time {
	t.Helper()
	d, err := boundaries.ParseDate(s)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// TestImportFormats imports the same streets as GeoJSON, plain and zipped
// Shapefile (GBK .dbf, CGCS2000 .prj) and GeoPackage, with no --crs: each
// file states its CRS. The fixtures hold a feature without geometry, which
// every format rejects the same way; copies without it (made with GDAL's
// ogr2ogr, the QGIS-side tool) import to the same units.
func TestImportFormats(t *testing.T) {
	ctx := context.Background()
	dir := "layerfile/testdata"
	tmp := t.TempDir()
	ogr, err := exec.LookPath("ogr2ogr")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("ogr2ogr missing in CI (.ci/run installs gdal-bin)")
		}
		t.Skip("ogr2ogr not installed")
	}
	clean := map[string][]string{
		"clean.geojson": {"-f", "GeoJSON"},
		"clean.shp":     {"-f", "ESRI Shapefile", "-lco", "ENCODING=GBK"},
		"clean.gpkg":    {"-f", "GPKG"},
	}
	for name, args := range clean {
		cmd := exec.Command(ogr, append(args, filepath.Join(tmp, name), filepath.Join(dir, "streets.geojson"), "-where", "code <> '110101010001'")...)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("ogr2ogr %s: %v\n%s", name, err, out)
		}
	}
	var want string
	for _, file := range []string{"streets.geojson", "shp/streets.shp", "streets.zip", "streets.gpkg"} {
		s, _ := pgtest.NewStore(t)
		rep, err := s.Import(ctx, filepath.Join(dir, file), boundaries.ImportOptions{Level: boundaries.Street})
		if !errors.Is(err, boundaries.ErrRejected) || len(rep.Rejected) != 1 || rep.Rejected[0].Index != 3 ||
			rep.Rejected[0].Code != "110101010001" || rep.Rejected[0].Reason != "empty geometry" || rep.CRS != "cgcs2000" {
			t.Fatalf("%s: %v %+v, want feature 3 rejected for its empty geometry", file, err, rep)
		}
	}
	for _, file := range []string{"clean.geojson", "clean.shp", "clean.gpkg"} {
		s, _ := pgtest.NewStore(t)
		rep, err := s.Import(ctx, filepath.Join(tmp, file), boundaries.ImportOptions{Level: boundaries.Street})
		if err != nil {
			t.Fatalf("%s: %v %+v", file, err, rep)
		}
		us, err := s.Units(ctx, boundaries.UnitQuery{Level: boundaries.Street})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, u := range us {
			got = append(got, fmt.Sprintf("%s %s %.6f", u.Code, u.Name, u.AreaKM2))
		}
		if len(got) != 3 || !strings.Contains(got[0], "北新桥街道") {
			t.Fatalf("%s: units %v", file, got)
		}
		if want == "" {
			want = strings.Join(got, "\n")
		} else if strings.Join(got, "\n") != want {
			t.Fatalf("%s: units\n%s\ndiffer from the GeoJSON's\n%s", file, strings.Join(got, "\n"), want)
		}
	}
}

// TestImportGaussKruger imports coordinates in CGCS2000 Gauss-Krüger CM
// 117E (EPSG:4548), transformed by PostGIS, and lands within a millimetre
// of the original lon/lat.
func TestImportGaussKruger(t *testing.T) {
	ctx := context.Background()
	s, _ := pgtest.NewStore(t)
	var gk string
	if err := s.Pool.QueryRow(ctx, `SELECT ST_AsGeoJSON(ST_Transform(ST_GeomFromText('POLYGON((116.40 39.90,116.41 39.90,116.41 39.91,116.40 39.91,116.40 39.90))', 4326), 4548), 4)`).Scan(&gk); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(gk, "[448688.") { // easting, northing in metres
		t.Fatalf("not projected: %s", gk)
	}
	file := writeFile(t, "gk.geojson", fc(feature(`{"code":"110101001","name":"高斯街道"}`, gk)))
	if _, err := s.Import(ctx, file, boundaries.ImportOptions{Level: boundaries.Street, CRS: mustCRS(t, "EPSG:4548")}); err != nil {
		t.Fatal(err)
	}
	var maxErr float64
	if err := s.Pool.QueryRow(ctx, `SELECT ST_HausdorffDistance(geom::geography::geometry, ST_GeomFromText('POLYGON((116.40 39.90,116.41 39.90,116.41 39.91,116.40 39.91,116.40 39.90))', 4326)) FROM units`).Scan(&maxErr); err != nil {
		t.Fatal(err)
	}
	if maxErr*111000 > 0.001 {
		t.Fatalf("EPSG:4548 round trip off by %.4f m", maxErr*111000)
	}
}
