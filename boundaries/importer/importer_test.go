package importer_test

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

	"golang.org/x/text/encoding/simplifiedchinese"

	"github.com/jiedao/jiedao/boundaries"
	"github.com/jiedao/jiedao/boundaries/importer"
	"github.com/jiedao/jiedao/boundaries/layers"
	"github.com/jiedao/jiedao/boundaries/pgtest"
	"github.com/jiedao/jiedao/boundaries/store"
	"github.com/jiedao/jiedao/boundaries/units"
	"github.com/jiedao/jiedao/geo"
)

func TestImportDongchengStreets(t *testing.T) {
	dir := pgtest.SharedData(t, "beijing")
	ctx := context.Background()
	s, _ := pgtest.NewStore(t)
	file := filepath.Join(dir, "dongcheng_streets.geojson")
	rep, err := importer.Import(ctx, s, file, importer.Options{Level: boundaries.Street, CRS: pgtest.MustCRS(t, "gcj02"), CodeField: "code_2023"})
	if err != nil {
		t.Fatalf("import: %v (%+v)", err, rep)
	}
	if rep.Created != 17 || len(rep.Rejected) != 0 {
		t.Fatalf("created %d rejected %v, want 17 and none", rep.Created, rep.Rejected)
	}
	us, err := units.List(ctx, s, units.Query{Level: boundaries.Street})
	if err != nil {
		t.Fatal(err)
	}
	if len(us) != 17 {
		t.Fatalf("%d streets, want 17", len(us))
	}
	stated := readStatedAreas(t, filepath.Join(dir, "dongcheng_street_population.csv"))
	var sum float64
	for _, u := range us {
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
	if _, err := importer.Import(ctx, s2, file, importer.Options{Level: boundaries.Street, CRS: pgtest.MustCRS(t, "wgs84"), CodeField: "code_2023"}); err != nil {
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

func centroids(t *testing.T, s *store.Store) map[string][2]float64 {
	t.Helper()
	rows, err := s.Primary().Query(context.Background(), `SELECT code, ST_X(ST_Centroid(geom)), ST_Y(ST_Centroid(geom)) FROM units WHERE valid_to IS NULL`)
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

func TestImportBeixinqiao(t *testing.T) {
	ctx := context.Background()
	s, _ := pgtest.NewStore(t)
	rep := pgtest.ImportBeixinqiao(t, s)
	if rep.Created != 12 {
		t.Fatalf("created %d communities, want 12", rep.Created)
	}
	us, err := units.List(ctx, s, units.Query{Level: boundaries.Community, Parent: "110101005"})
	if err != nil {
		t.Fatal(err)
	}
	var hh, pop int64
	var prov []string
	for _, u := range us {
		hh += *u.Households
		pop += *u.Population
		if u.Provisional {
			prov = append(prov, u.Code)
			if !strings.HasPrefix(u.Code, "P110101005-") {
				t.Errorf("provisional code %s, want P110101005-…", u.Code)
			}
		}
	}
	if len(us) != 12 || len(prov) != 2 || hh != 23873 || pop != 62165 {
		t.Fatalf("%d communities, %d provisional, households %d, population %d; want 12, 2, 23873, 62165", len(us), len(prov), hh, pop)
	}
	// Same input, same provisional codes: a second import changes nothing.
	rep2 := pgtest.ImportBeixinqiao(t, s)
	if rep2.Created != 0 || rep2.Changed != 0 || rep2.Unchanged != 12 {
		t.Fatalf("re-import: created %d changed %d unchanged %d, want 0/0/12", rep2.Created, rep2.Changed, rep2.Unchanged)
	}
}

const square = `[[[116.40,39.90],[116.41,39.90],[116.41,39.91],[116.40,39.91],[116.40,39.90]]]`

func TestImportRejects(t *testing.T) {
	good := pgtest.Feature(`{"code":"110101001","name":"好街道"}`, pgtest.Poly(square))
	cases := []struct {
		name, body, reason string
		badIndex           int
		opts               importer.Options
	}{
		{"null geometry", pgtest.FC(good, pgtest.Feature(`{"code":"110101002","name":"空"}`, `null`)), "empty geometry", 1, importer.Options{}},
		{"empty polygon", pgtest.FC(good, pgtest.Feature(`{"code":"110101002","name":"空"}`, pgtest.Poly(`[]`))), "empty", 1, importer.Options{}},
		{"point", pgtest.FC(pgtest.Feature(`{"code":"110101002","name":"点"}`, `{"type":"Point","coordinates":[116.4,39.9]}`), good), "not a polygon", 0, importer.Options{}},
		{"line", pgtest.FC(good, pgtest.Feature(`{"code":"110101002","name":"线"}`, `{"type":"LineString","coordinates":[[116.4,39.9],[116.5,39.9]]}`)), "not a polygon", 1, importer.Options{}},
		{"infinite coordinate", pgtest.FC(good, pgtest.Feature(`{"code":"110101002","name":"大"}`, pgtest.Poly(`[[[116.40,39.90],[1e400,39.90],[116.41,39.91],[116.40,39.90]]]`))), "", 1, importer.Options{}},
		{"outside lon/lat", pgtest.FC(good, pgtest.Feature(`{"code":"110101002","name":"远"}`, pgtest.Poly(`[[[200,39.90],[201,39.90],[201,39.91],[200,39.90]]]`))), "outside lon", 1, importer.Options{}},
		{"unclosed ring", pgtest.FC(good, pgtest.Feature(`{"code":"110101002","name":"开"}`, pgtest.Poly(`[[[116.40,39.90],[116.41,39.90],[116.41,39.91],[116.40,39.91]]]`))), "not closed", 1, importer.Options{}},
		{"too few points", pgtest.FC(good, pgtest.Feature(`{"code":"110101002","name":"少"}`, pgtest.Poly(`[[[116.40,39.90],[116.41,39.90],[116.40,39.90]]]`))), "at least 4", 1, importer.Options{}},
		{"missing code", pgtest.FC(good, pgtest.Feature(`{"name":"无码"}`, pgtest.Poly(square))), "missing code", 1, importer.Options{}},
		{"duplicate code", pgtest.FC(good, pgtest.Feature(`{"code":"110101001","name":"重"}`, pgtest.Poly(square))), "duplicate code", 1, importer.Options{}},
		{"missing name", pgtest.FC(good, pgtest.Feature(`{"code":"110101002"}`, pgtest.Poly(square))), "missing name", 1, importer.Options{}},
		{"bad households", pgtest.FC(good, pgtest.Feature(`{"code":"110101002","name":"负","hh":-5}`, pgtest.Poly(square))), "non-negative", 1, importer.Options{HouseholdsField: "hh"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ctx := context.Background()
			s, _ := pgtest.NewStore(t)
			o := c.opts
			o.Level = boundaries.Street
			rep, err := importer.Import(ctx, s, pgtest.WriteFile(t, "bad.geojson", c.body), o)
			if !errors.Is(err, boundaries.ErrRejected) {
				t.Fatalf("err = %v, want ErrRejected", err)
			}
			if len(rep.Rejected) != 1 || rep.Rejected[0].Index != c.badIndex || !strings.Contains(rep.Rejected[0].Reason, c.reason) {
				t.Fatalf("rejected %+v, want feature %d with %q", rep.Rejected, c.badIndex, c.reason)
			}
			if n, _ := units.Count(ctx, s); n != 0 {
				t.Fatalf("%d units written, want none", n)
			}
			var status string
			var stored int
			if err := s.Primary().QueryRow(ctx, `SELECT status, rejected FROM imports WHERE id=$1`, rep.ImportID).Scan(&status, &stored); err != nil {
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
	bowtie := pgtest.Poly(`[[[116.40,39.90],[116.41,39.91],[116.41,39.90],[116.40,39.91],[116.40,39.90]]]`)
	clockwise := pgtest.Poly(`[[[116.42,39.90],[116.42,39.91],[116.43,39.91],[116.43,39.90],[116.42,39.90]]]`)
	rep, err := importer.Import(ctx, s, pgtest.WriteFile(t, "s.geojson", pgtest.FC(
		pgtest.Feature(`{"code":"110101001","name":"蝴蝶"}`, bowtie),
		pgtest.Feature(`{"code":"110101002","name":"顺时针"}`, clockwise),
	)), importer.Options{Level: boundaries.Street})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Repaired) != 2 || !strings.Contains(rep.Repaired[0].Reason, "made valid") || !strings.Contains(rep.Repaired[1].Reason, "orientation") {
		t.Fatalf("repaired %+v, want the bowtie made valid and the clockwise ring reoriented", rep.Repaired)
	}
	var valid, ccw bool
	if err := s.Primary().QueryRow(ctx, `SELECT bool_and(ST_IsValid(geom)), bool_and(ST_IsPolygonCCW(geom)) FROM units`).Scan(&valid, &ccw); err != nil {
		t.Fatal(err)
	}
	if !valid || !ccw {
		t.Fatalf("stored geometries valid=%v ccw=%v, want both", valid, ccw)
	}
	// Streets are loaded now, so a community naming an unknown street is
	// rejected unless orphans are allowed.
	orphan := pgtest.WriteFile(t, "c.geojson", pgtest.FC(pgtest.Feature(`{"code":"110101009001","name":"孤儿社区"}`, pgtest.Poly(square))))
	if _, err := importer.Import(ctx, s, orphan, importer.Options{Level: boundaries.Community}); !errors.Is(err, boundaries.ErrRejected) {
		t.Fatalf("orphan import err = %v, want rejection", err)
	}
	if _, err := importer.Import(ctx, s, orphan, importer.Options{Level: boundaries.Community, AllowOrphans: true}); err != nil {
		t.Fatalf("orphan with AllowOrphans: %v", err)
	}
	child := pgtest.WriteFile(t, "c2.geojson", pgtest.FC(pgtest.Feature(`{"code":"110101001001","name":"子社区"}`, pgtest.Poly(square))))
	if _, err := importer.Import(ctx, s, child, importer.Options{Level: boundaries.Community}); err != nil {
		t.Fatalf("community under a loaded street: %v", err)
	}
}

func TestImportHistory(t *testing.T) {
	ctx := context.Background()
	s, _ := pgtest.NewStore(t)
	other := pgtest.Feature(`{"code":"110101002","name":"乙"}`, pgtest.Poly(`[[[116.41,39.90],[116.42,39.90],[116.42,39.91],[116.41,39.91],[116.41,39.90]]]`))
	v1 := pgtest.WriteFile(t, "v1.geojson", pgtest.FC(pgtest.Feature(`{"code":"110101001","name":"甲"}`, pgtest.Poly(square)), other))
	v2 := pgtest.WriteFile(t, "v2.geojson", pgtest.FC(pgtest.Feature(`{"code":"110101001","name":"甲"}`, pgtest.Poly(`[[[116.40,39.90],[116.41,39.90],[116.41,39.92],[116.40,39.92],[116.40,39.90]]]`)), other))
	d1, d2 := pgtest.Date(t, "2024-01-01"), pgtest.Date(t, "2025-01-01")
	if _, err := importer.Import(ctx, s, v1, importer.Options{Level: boundaries.Street, ValidFrom: d1, Approval: "京政函〔2024〕1号"}); err != nil {
		t.Fatal(err)
	}
	rep, err := importer.Import(ctx, s, v2, importer.Options{Level: boundaries.Street, ValidFrom: d2, Approval: "京政函〔2025〕2号"})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Changed != 1 || rep.Unchanged != 1 || rep.Created != 0 {
		t.Fatalf("second import: created %d changed %d unchanged %d, want 0/1/1", rep.Created, rep.Changed, rep.Unchanged)
	}
	hist, err := units.History(ctx, s, "110101001")
	if err != nil {
		t.Fatal(err)
	}
	if len(hist) != 2 || hist[0].ValidTo == nil || !hist[0].ValidTo.Equal(d2) || hist[1].ValidTo != nil || *hist[1].Approval != "京政函〔2025〕2号" {
		t.Fatalf("history %+v, want two versions split on %s", hist, d2)
	}
	old, err := units.List(ctx, s, units.Query{Level: boundaries.Street, At: pgtest.Date(t, "2024-06-01")})
	if err != nil {
		t.Fatal(err)
	}
	if len(old) != 2 || math.Abs(old[0].AreaKM2*2-hist[1].AreaKM2) > 0.01*hist[1].AreaKM2 {
		t.Fatalf("as of 2024-06-01: %d units, area %.3f (current %.3f), want the old, half-size square", len(old), old[0].AreaKM2, hist[1].AreaKM2)
	}
	var buf strings.Builder
	if _, err := pgtest.Reader(s).Export(ctx, &buf, layers.ExportOptions{Layer: "streets", At: pgtest.Date(t, "2024-06-01")}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), "[116.41,39.91]") || strings.Contains(buf.String(), "39.92") {
		t.Fatalf("export as of 2024-06-01 is not the old geometry: %s", buf.String())
	}
	// Re-importing the identical file changes nothing.
	before, _ := s.DataVersion(ctx)
	rep, err = importer.Import(ctx, s, v2, importer.Options{Level: boundaries.Street, ValidFrom: d2})
	if err != nil {
		t.Fatal(err)
	}
	after, _ := s.DataVersion(ctx)
	if rep.Created+rep.Changed != 0 || before != after {
		t.Fatalf("identical re-import: created %d changed %d, data version %d→%d; want a no-op", rep.Created, rep.Changed, before, after)
	}
	// A change dated before the current version is refused.
	if _, err := importer.Import(ctx, s, v1, importer.Options{Level: boundaries.Street, ValidFrom: d1}); !errors.Is(err, boundaries.ErrRejected) {
		t.Fatalf("back-dated change: err %v, want rejection", err)
	}
}

func TestImportCounts(t *testing.T) {
	ctx := context.Background()
	s, _ := pgtest.NewStore(t)
	if _, err := importer.Import(ctx, s, pgtest.WriteFile(t, "s.geojson", pgtest.FC(pgtest.Feature(`{"code":"110101001","name":"甲"}`, pgtest.Poly(square)))),
		importer.Options{Level: boundaries.Street, ValidFrom: pgtest.Date(t, "2024-01-01")}); err != nil {
		t.Fatal(err)
	}
	// GBK-encoded CSV, as Excel in China saves it.
	gbk, err := simplifiedchinese.GBK.NewEncoder().String("code,名称,households,population\n110101001,甲街道,1234,3456\n")
	if err != nil {
		t.Fatal(err)
	}
	rep, err := importer.Counts(ctx, s, pgtest.WriteFile(t, "c.csv", gbk), importer.CountsOptions{ValidFrom: pgtest.Date(t, "2024-06-01")})
	if err != nil || rep.Changed != 1 {
		t.Fatalf("import counts: %v %+v", err, rep)
	}
	us, _ := units.List(ctx, s, units.Query{Level: boundaries.Street})
	if *us[0].Households != 1234 || *us[0].Population != 3456 {
		t.Fatalf("counts %v/%v, want 1234/3456", *us[0].Households, *us[0].Population)
	}
	if _, err := importer.Counts(ctx, s, pgtest.WriteFile(t, "bad.csv", "\ufeffcode,households\n110101001,10\n999,5\n"), importer.CountsOptions{}); !errors.Is(err, boundaries.ErrRejected) {
		t.Fatalf("unknown code: err %v, want rejection", err)
	}
	us, _ = units.List(ctx, s, units.Query{Level: boundaries.Street})
	if *us[0].Households != 1234 {
		t.Fatalf("a rejected counts file changed households to %d", *us[0].Households)
	}
}

// TestImportFormats imports the same streets as GeoJSON, plain and zipped
// Shapefile (GBK .dbf, CGCS2000 .prj) and GeoPackage, with no --crs: each
// file states its CRS. The fixtures hold a feature without geometry, which
// every format rejects the same way; copies without it (made with GDAL's
// ogr2ogr, the QGIS-side tool) import to the same units.
func TestImportFormats(t *testing.T) {
	ctx := context.Background()
	dir := "../layerfile/testdata"
	tmp := t.TempDir()
	ogr, err := exec.LookPath("ogr2ogr")
	if err != nil {
		if os.Getenv("CI") != "" || os.Getenv("JIEDAO_REQUIRE_TOOLS") != "" {
			t.Fatal("ogr2ogr missing: install the Debian package gdal-bin (make test runs scripts/testdeps.sh)")
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
		rep, err := importer.Import(ctx, s, filepath.Join(dir, file), importer.Options{Level: boundaries.Street})
		if !errors.Is(err, boundaries.ErrRejected) || len(rep.Rejected) != 1 || rep.Rejected[0].Index != 3 ||
			rep.Rejected[0].Code != "110101010001" || rep.Rejected[0].Reason != "empty geometry" || rep.CRS != "cgcs2000" {
			t.Fatalf("%s: %v %+v, want feature 3 rejected for its empty geometry", file, err, rep)
		}
	}
	for _, file := range []string{"clean.geojson", "clean.shp", "clean.gpkg"} {
		s, _ := pgtest.NewStore(t)
		rep, err := importer.Import(ctx, s, filepath.Join(tmp, file), importer.Options{Level: boundaries.Street})
		if err != nil {
			t.Fatalf("%s: %v %+v", file, err, rep)
		}
		us, err := units.List(ctx, s, units.Query{Level: boundaries.Street})
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
	if err := s.Primary().QueryRow(ctx, `SELECT ST_AsGeoJSON(ST_Transform(ST_GeomFromText('POLYGON((116.40 39.90,116.41 39.90,116.41 39.91,116.40 39.91,116.40 39.90))', 4326), 4548), 4)`).Scan(&gk); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(gk, "[448688.") { // easting, northing in metres
		t.Fatalf("not projected: %s", gk)
	}
	file := pgtest.WriteFile(t, "gk.geojson", pgtest.FC(pgtest.Feature(`{"code":"110101001","name":"高斯街道"}`, gk)))
	if _, err := importer.Import(ctx, s, file, importer.Options{Level: boundaries.Street, CRS: pgtest.MustCRS(t, "EPSG:4548")}); err != nil {
		t.Fatal(err)
	}
	var maxErr float64
	if err := s.Primary().QueryRow(ctx, `SELECT ST_HausdorffDistance(geom::geography::geometry, ST_GeomFromText('POLYGON((116.40 39.90,116.41 39.90,116.41 39.91,116.40 39.91,116.40 39.90))', 4326)) FROM units`).Scan(&maxErr); err != nil {
		t.Fatal(err)
	}
	if maxErr*111000 > 0.001 {
		t.Fatalf("EPSG:4548 round trip off by %.4f m", maxErr*111000)
	}
}

// A file whose every feature is bad gets a report of bounded size: the
// first MaxListed rejections listed, all of them counted, nothing written.
func TestImportRejectionsCapped(t *testing.T) {
	ctx := context.Background()
	s, _ := pgtest.NewStore(t)
	const n = importer.MaxListed + 500
	fs := make([]string, n)
	for i := range fs {
		fs[i] = pgtest.Feature(fmt.Sprintf(`{"code":"1101010%05d"}`, i), pgtest.PolyOf(pgtest.Rect(0, 0, 1, 1)))
	}
	rep, err := importer.Import(ctx, s, pgtest.WriteFile(t, "nameless.geojson", pgtest.FC(fs...)), importer.Options{Level: boundaries.Street})
	if !errors.Is(err, boundaries.ErrRejected) {
		t.Fatalf("err %v, want ErrRejected", err)
	}
	if len(rep.Rejected) != importer.MaxListed || rep.RejectedTotal != n || !strings.Contains(err.Error(), fmt.Sprintf("%d of %d", n, n)) {
		t.Fatalf("listed %d, total %d, err %v; want %d listed of %d", len(rep.Rejected), rep.RejectedTotal, err, importer.MaxListed, n)
	}
	if c, _ := units.Count(ctx, s); c != 0 {
		t.Fatalf("%d units written", c)
	}
}

// An import left "running" by a dead process is marked failed at start;
// one whose transaction is alive (another process) is left alone.
func TestInterruptedImports(t *testing.T) {
	ctx := context.Background()
	s, _ := pgtest.NewStore(t)
	var dead, live int64
	for _, id := range []*int64{&dead, &live} {
		if err := s.Primary().QueryRow(ctx, `INSERT INTO imports (file, checksum, level) VALUES ('x.geojson', 'x', 'street') RETURNING id`).Scan(id); err != nil {
			t.Fatal(err)
		}
	}
	tx, err := s.Primary().Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(7347003, $1::int)`, live); err != nil {
		t.Fatal(err)
	}
	n, err := importer.Interrupted(ctx, s)
	if err != nil || n != 1 {
		t.Fatalf("marked %d, %v; want 1", n, err)
	}
	for id, want := range map[int64]string{dead: "failed", live: "running"} {
		var st string
		if err := s.Primary().QueryRow(ctx, `SELECT status FROM imports WHERE id = $1`, id).Scan(&st); err != nil || st != want {
			t.Errorf("import %d: %s %v, want %s", id, st, err, want)
		}
	}
}

// Import limits refuse a file with the limit it hit, naming it, and write
// nothing.
func TestImportLimits(t *testing.T) {
	ctx := context.Background()
	s, _ := pgtest.NewStore(t)
	path := pgtest.WriteFile(t, "three.geojson", pgtest.FC(
		pgtest.Feature(`{"code":"110101001","name":"甲"}`, pgtest.PolyOf(pgtest.Rect(0, 0, 1, 1))),
		pgtest.Feature(`{"code":"110101002","name":"乙"}`, pgtest.PolyOf(pgtest.Rect(1, 0, 2, 1))),
		pgtest.Feature(`{"code":"110101003","name":"丙"}`, pgtest.PolyOf(pgtest.Rect(2, 0, 3, 1)))))
	for _, c := range []struct {
		l    importer.Limits
		want string
	}{
		{importer.Limits{Features: 2}, "more than 2 features"},
		{importer.Limits{FeatureVertices: 4}, "feature 0 has 5 vertices"},
		{importer.Limits{Vertices: 12}, "more than 12 vertices by feature 2"},
	} {
		_, err := importer.Import(ctx, s, path, importer.Options{Level: boundaries.Street, Limits: c.l})
		var ve *boundaries.ValidationError
		if !errors.As(err, &ve) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v, want a validation error with %q", c.l, err, c.want)
		}
	}
	if n, _ := units.Count(ctx, s); n != 0 {
		t.Fatalf("%d units written", n)
	}
}

// A count table over the row or size limit is refused before anything is
// written.
func TestImportCountsLimits(t *testing.T) {
	ctx := context.Background()
	s, _ := pgtest.NewStore(t)
	path := pgtest.WriteFile(t, "c.csv", "code,households\n110101001,1\n110101002,2\n110101003,3\n")
	for _, c := range []struct {
		l    importer.Limits
		want string
	}{
		{importer.Limits{Features: 2}, "more than 2 rows"},
		{importer.Limits{CSVBytes: 10}, "over 10"},
	} {
		_, err := importer.Counts(ctx, s, path, importer.CountsOptions{Limits: c.l})
		var ve *boundaries.ValidationError
		if !errors.As(err, &ve) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v, want a validation error with %q", c.l, err, c.want)
		}
	}
}
