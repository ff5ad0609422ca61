package web

import (
	"bytes"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/jiedao/jiedao/boundaries"
)

// ogcFetch downloads u into path and returns the response.
func ogcFetch(t *testing.T, u, path string) *http.Response {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d %s", u, resp.StatusCode, body)
	}
	if err := os.WriteFile(path, body, 0o644); err != nil {
		t.Fatal(err)
	}
	return resp
}

var featureCount = regexp.MustCompile(`Feature Count: (\d+)`)

func TestDownloadGDAL(t *testing.T) {
	ogrinfo := ogcTool(t, "ogrinfo")
	base, store := testServer(t, Config{})
	_, man := demoCity(t)
	dir := t.TempDir()
	today := boundaries.Today().Format("2006-01-02")
	want := man.Counts.Communities
	for _, c := range []struct{ file, query, ctype, open string }{
		{"communities.geojson", "", "application/geo+json", ""},
		{"communities.gpkg", "", "application/geopackage+sqlite3", ""},
		{"communities.csv", "?geometry=wkt", "text/csv; charset=utf-8", "CSV:"},
	} {
		path := filepath.Join(dir, c.file)
		resp := ogcFetch(t, base+"/download/"+c.file+c.query, path)
		ext := filepath.Ext(c.file)
		wantDisp := `attachment; filename="communities-` + today + ext + `"`
		if resp.Header.Get("Content-Type") != c.ctype || resp.Header.Get("Content-Disposition") != wantDisp {
			t.Errorf("%s: %q %q", c.file, resp.Header.Get("Content-Type"), resp.Header.Get("Content-Disposition"))
		}
		args := []string{"-ro", "-so", "-al"}
		if ext == ".csv" {
			args = append(args, "-oo", "GEOM_POSSIBLE_NAMES=wkt", "-oo", "KEEP_GEOM_COLUMNS=NO")
		}
		out := ogcRun(t, ogrinfo, append(args, c.open+path)...)
		m := featureCount.FindStringSubmatch(out)
		if m == nil || m[1] != itoa(want) {
			t.Errorf("%s: GDAL counts %v, want %d\n%s", c.file, m, want, out)
		}
		if ext == ".csv" && !strings.Contains(out, "Geometry: Multi Polygon") && !strings.Contains(out, "Geometry: Unknown") {
			t.Errorf("csv: no geometry read by GDAL\n%s", out)
		}
		if ext == ".gpkg" {
			if !strings.Contains(out, "Layer name: communities") || !strings.Contains(out, "Multi Polygon") || !strings.Contains(out, "EPSG\",4326") {
				t.Errorf("gpkg layer info:\n%s", out)
			}
			got, db := ogcReadGPKG(t, path, "communities"), ogcDBCommunities(t, store)
			for code, w := range db {
				if got[code] != w {
					t.Errorf("gpkg %s: %v, database %v", code, got[code], w)
				}
			}
			val := ogcRun(t, ogrinfo, "-ro", "-q", "-sql", "SELECT HasSpatialIndex('communities', 'geom')", path)
			if !strings.Contains(val, "= 1") {
				t.Errorf("gpkg has no usable spatial index:\n%s", val)
			}
		}
		if ext == ".csv" {
			b, _ := os.ReadFile(path)
			if !bytes.HasPrefix(b, []byte("\ufeff")) || !strings.Contains(string(b), "社区") {
				t.Errorf("csv: no BOM or no Chinese names")
			}
		}
	}

	// Filters: status and parent_code, the same as the API's.
	var parent string
	store.Primary().QueryRow(t.Context(), "SELECT parent_code FROM units WHERE level='community' AND parent_code IS NOT NULL LIMIT 1").Scan(&parent)
	var apiFC ogcFC
	ogcGet(t, base+"/ogc/collections/communities/items?limit=10000&status=normal&parent_code="+parent, &apiFC)
	for _, ext := range []string{"geojson", "gpkg"} {
		path := filepath.Join(dir, "f."+ext)
		ogcFetch(t, base+"/download/communities."+ext+"?status=normal&parent_code="+parent, path)
		out := ogcRun(t, ogrinfo, "-ro", "-so", "-al", path)
		if m := featureCount.FindStringSubmatch(out); m == nil || m[1] != itoa(apiFC.NumberMatched) {
			t.Errorf("filtered %s: %v, API says %d", ext, m, apiFC.NumberMatched)
		}
	}
	// Zones as GeoPackage too.
	path := filepath.Join(dir, "zones.gpkg")
	ogcFetch(t, base+"/download/zones.gpkg", path)
	if out := ogcRun(t, ogrinfo, "-ro", "-so", "-al", path); !strings.Contains(out, "Layer name: zones") {
		t.Errorf("zones gpkg:\n%s", out)
	}

	var e ogcErrDoc
	for u, code := range map[string]int{"/download/nope.geojson": 404, "/download/communities.shp": 404,
		"/download/communities.csv?geometry=wkb": 400, "/download/communities.geojson?colour=red": 400,
		"/download/communities.gpkg?at=tomorrow": 400} {
		if st, h := ogcGet(t, base+u, &e); st != code || h.Get("Content-Disposition") != "" {
			t.Errorf("%s: %d (want %d) %+v", u, st, code, e)
		}
	}
}

func itoa(n int) string { return strconv.Itoa(n) }
