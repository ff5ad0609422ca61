package web

import (
	"database/sql"
	"fmt"
	"net/url"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jiedao/jiedao/boundaries"
)

// GDAL's OAPIF driver (3.6, QGIS's engine) as a client: -where sent to the
// server, its truncated dates, datetime intervals and the field types it
// reads from the schema.

// gdalDebug runs a GDAL tool with CPL_DEBUG=ON and returns its output.
func gdalDebug(t *testing.T, tool string, args ...string) string {
	t.Helper()
	cmd := exec.Command(tool, args...)
	cmd.Env = append(cmd.Environ(), "CPL_DEBUG=ON")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", tool, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// gpkgCount counts the rows of a GeoPackage table and its distinct
// (code, version_id) pairs.
func gpkgCount(t *testing.T, path, table string) (rows, versions int) {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.QueryRow(`SELECT count(*), count(DISTINCT code || '/' || version_id) FROM "`+table+`"`).Scan(&rows, &versions); err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	return rows, versions
}

func TestGDALServerSideFilter(t *testing.T) {
	ogr2ogr := ogcTool(t, "ogr2ogr")
	base, _ := testServer(t, Config{})
	dir := t.TempDir()
	for i, c := range []struct{ where, query string }{
		{"status = 'oversized'", "status=oversized"},
		{"status = 'oversized' AND households > 3000", "filter=" + url.QueryEscape("status = 'oversized' AND households > 3000")},
		{"households >= 1000 AND households <= 2000 OR name LIKE '%村'",
			"filter=" + url.QueryEscape("(households >= 1000 AND households <= 2000) OR name LIKE '%村'")},
		// GDAL writes the date as '2026-12-01T'.
		{"valid_from = '" + boundaries.Today().Format("2006-01-02") + "'", "valid_from=" + boundaries.Today().Format("2006-01-02")},
	} {
		var want ogcFC
		if st, _ := ogcGet(t, base+"/ogc/collections/communities/items?limit=10000&"+c.query, &want); st != 200 || want.NumberMatched == 0 {
			t.Fatalf("%s: %d, %d features", c.query, st, want.NumberMatched)
		}
		dst := filepath.Join(dir, fmt.Sprintf("f%d.gpkg", i))
		out := gdalDebug(t, ogr2ogr, "-f", "GPKG", dst, "OAPIF:"+base+"/ogc", "communities", "-where", c.where, "-oo", "PAGE_SIZE=40")
		if strings.Contains(out, "client side") || !strings.Contains(out, "CQL text detected") || !strings.Contains(out, "&filter=") {
			t.Errorf("-where %s: not filtered by the server:\n%s", c.where, gdalLines(out))
		}
		if n, _ := gpkgCount(t, dst, "communities"); n != want.NumberMatched {
			t.Errorf("-where %s: %d features, the API matches %d", c.where, n, want.NumberMatched)
		}
	}
}

// gdalLines are the lines of GDAL's debug output about requests and filters.
func gdalLines(out string) string {
	var keep []string
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, "Fetch(") || strings.Contains(l, "OAPIF:") || strings.Contains(l, "ERROR") {
			keep = append(keep, l)
		}
	}
	return strings.Join(keep, "\n")
}

func TestGDALTruncatedDatetime(t *testing.T) {
	ogrinfo := ogcTool(t, "ogrinfo")
	base, _ := testServer(t, Config{})
	_, man := demoCity(t)
	today := boundaries.Today().Format("2006-01-02")
	for _, q := range []string{today, today + "T", "../" + today + "T", today + "T/" + today} {
		var fc ogcFC
		if st, _ := ogcGet(t, base+"/ogc/collections/communities/items?limit=1&datetime="+url.QueryEscape(q), &fc); st != 200 || fc.NumberMatched != man.Counts.Communities {
			t.Errorf("datetime=%s: %d, %d features, want %d", q, st, fc.NumberMatched, man.Counts.Communities)
		}
	}
	// The connection's query goes with every request GDAL makes.
	out := ogcRun(t, ogrinfo, "-ro", "-so", "OAPIF:"+base+"/ogc?datetime="+today+"T", "communities")
	if !strings.Contains(out, fmt.Sprintf("Feature Count: %d", man.Counts.Communities)) {
		t.Errorf("datetime=%sT through GDAL:\n%s", today, out)
	}
	var e ogcErrDoc
	for _, q := range []string{"T", today + "TZ", "2026-12-02/2026-12-01", "x/..", "2026-13-01T"} {
		if st, _ := ogcGet(t, base+"/ogc/collections/communities/items?datetime="+url.QueryEscape(q), &e); st != 400 || !strings.Contains(e.Description, "parameter datetime") {
			t.Errorf("datetime=%s: %d %+v", q, st, e)
		}
	}
}

func TestGDALTypes(t *testing.T) {
	ogrinfo := ogcTool(t, "ogrinfo")
	base, _ := testServer(t, Config{})
	for layer, want := range map[string][]string{
		"zones": {"codes: StringList", "part: Integer (", "households: Integer (", "population: Integer (", "area_m2: Real"},
		"communities": {"valid_from: Date", "valid_to: Date", "households: Integer (", "population: Integer (", "staff_min: Integer (",
			"version_id: Integer (", "reasons: StringList", "density: Real", "provisional: Integer(Boolean)"},
	} {
		out := ogcRun(t, ogrinfo, "-ro", "-so", "OAPIF:"+base+"/ogc", layer)
		for _, w := range want {
			if !strings.Contains(out, "\n"+w) {
				t.Errorf("%s: no %q in\n%s", layer, w, out)
			}
		}
	}
	for _, doc := range []string{"queryables", "schema"} {
		var s struct {
			Properties map[string]struct {
				Type       string
				Format     string
				Items      struct{ Type string }
				Properties map[string]struct {
					Type, Format string
					Items        struct{ Type string }
				}
			}
		}
		ogcGet(t, base+"/ogc/collections/zones/"+doc, &s)
		props := s.Properties["properties"].Properties // the schema is of a Feature
		if doc == "queryables" {
			var z, c struct {
				Properties map[string]struct {
					Type, Format string
					Items        struct{ Type string }
				}
			}
			ogcGet(t, base+"/ogc/collections/zones/queryables", &z)
			ogcGet(t, base+"/ogc/collections/communities/queryables", &c)
			props = z.Properties
			if c.Properties["valid_to"].Format != "date" || c.Properties["households"].Type != "integer" {
				t.Errorf("communities queryables: %+v", c.Properties)
			}
		}
		if p := props["codes"]; p.Type != "array" || p.Items.Type != "string" || props["households"].Type != "integer" {
			t.Errorf("zones %s: %+v", doc, props)
		}
	}
	// A GeoPackage holds no lists: the download stores codes as text.
	path := filepath.Join(t.TempDir(), "zones.gpkg")
	ogcFetch(t, base+"/download/zones.gpkg", path)
	if out := ogcRun(t, ogrinfo, "-ro", "-so", path, "zones"); !strings.Contains(out, "\ncodes: String (") {
		t.Errorf("zones.gpkg:\n%s", out)
	}
}

func TestGDALIntervals(t *testing.T) {
	ogr2ogr := ogcTool(t, "ogr2ogr")
	base, store := testServer(t, Config{})
	_, man := demoCity(t)
	n := man.Counts.Communities
	ctx := t.Context()
	today := boundaries.Today()
	day := func(d int) string { return today.AddDate(0, 0, d).Format("2006-01-02") }
	// Three communities get a history: a version from day -60 to -30, the
	// next from -30 on (the demo's versions start today).
	var codes []string
	rows, err := store.Primary().Query(ctx, "SELECT code FROM units WHERE level = 'community' AND valid_to IS NULL ORDER BY code LIMIT 3")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var c string
		rows.Scan(&c)
		codes = append(codes, c)
	}
	rows.Close()
	if _, err := store.Primary().Exec(ctx, `
		WITH old AS (UPDATE units SET valid_from = $2::date, valid_to = $3::date WHERE code = ANY($1) AND valid_to IS NULL RETURNING *)
		INSERT INTO units (code, name, level, parent_code, kind, households, population, provisional, geom, valid_from, approval, source)
		SELECT code, name, level, parent_code, kind, households, population, provisional, geom, $3::date, 'test', 'test' FROM old`,
		codes, day(-60), day(-30)); err != nil {
		t.Fatal(err)
	}
	if _, err := store.Primary().Exec(ctx, "UPDATE meta SET data_version = data_version + 1, units_version = units_version + 1"); err != nil {
		t.Fatal(err)
	}
	for q, want := range map[string]int{
		day(0): n, day(-45): 3, day(-60) + "/" + day(-1): 6, "../" + day(-31): 3, day(-30) + "/..": n, "../..": n + 3,
		day(-31) + "/" + day(-30): 6, day(-45) + "T00:00:00Z/" + day(0) + "T": n + 3, day(-90) + "/" + day(-61): 0,
	} {
		var fc ogcFC
		st, _ := ogcGet(t, base+"/ogc/collections/communities/items?limit=10000&datetime="+url.QueryEscape(q), &fc)
		seen := map[string]bool{}
		for _, f := range fc.Features {
			seen[fmt.Sprint(f.ID, f.Properties["version_id"])] = true
		}
		if st != 200 || fc.NumberMatched != want || len(seen) != want {
			t.Errorf("datetime=%s: %d, %d matched, %d versions, want %d", q, st, fc.NumberMatched, len(seen), want)
		}
	}
	// The analysis is of the end day (today when open): the versions
	// valid then have it, the earlier ones none.
	var fc ogcFC
	ogcGet(t, base+"/ogc/collections/communities/items?datetime=../..&code="+codes[0], &fc)
	if len(fc.Features) != 2 || fc.Features[0].Properties["density"] != nil || fc.Features[0].Properties["status"] != "unknown" ||
		fc.Features[1].Properties["density"] == nil || fc.Features[1].Properties["valid_from"] != day(-30) {
		t.Errorf("versions of %s: %+v", codes[0], fc.Features)
	}
	// GDAL pages through every version once (keyset on code, version).
	dst := filepath.Join(t.TempDir(), "all.gpkg")
	ogcRun(t, ogr2ogr, "-f", "GPKG", dst, "OAPIF:"+base+"/ogc?datetime=..%2F..", "communities", "-oo", "PAGE_SIZE=7")
	if rows, versions := gpkgCount(t, dst, "communities"); rows != n+3 || versions != n+3 {
		t.Errorf("ogr2ogr over ../..: %d rows, %d versions, want %d", rows, versions, n+3)
	}
	var e ogcErrDoc
	if st, _ := ogcGet(t, base+"/ogc/collections/communities/items?scenario=1&datetime=..%2F..", &e); st != 400 || !strings.Contains(e.Description, "parameter datetime") {
		t.Errorf("interval with scenario: %d %+v", st, e)
	}
}
