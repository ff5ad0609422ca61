package main

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jiedao/jiedao/boundaries/layerfile"
	"github.com/jiedao/jiedao/boundaries/pgtest"
)

func jiedao(t *testing.T, db string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), append(args, "--db", db), &out, &errb)
	return code, out.String(), errb.String()
}

func TestCLIImportExport(t *testing.T) {
	db := pgtest.NewDatabase(t)
	dir := t.TempDir()
	good := filepath.Join(dir, "good.geojson")
	os.WriteFile(good, []byte(`{"type":"FeatureCollection","features":[
		{"type":"Feature","properties":{"code":"110101001","name":"东华门街道"},"geometry":{"type":"Polygon","coordinates":[[[116.40,39.90],[116.41,39.90],[116.41,39.91],[116.40,39.91],[116.40,39.90]]]}}]}`), 0o644)
	bad := filepath.Join(dir, "bad.geojson")
	os.WriteFile(bad, []byte(`{"type":"FeatureCollection","features":[
		{"type":"Feature","properties":{"code":"110101002","name":"甲"},"geometry":{"type":"Polygon","coordinates":[[[116.40,39.90],[116.41,39.90],[116.41,39.91],[116.40,39.91],[116.40,39.90]]]}},
		{"type":"Feature","properties":{"name":"无码"},"geometry":{"type":"Polygon","coordinates":[[[116.40,39.90],[116.41,39.90],[116.41,39.91],[116.40,39.91],[116.40,39.90]]]}}]}`), 0o644)

	if code, out, errs := jiedao(t, db, "import", "--level", "street", "--dry-run", good); code != 0 || !strings.Contains(out, "dry-run") {
		t.Fatalf("dry run: exit %d\n%s%s", code, out, errs)
	}
	if code, out, errs := jiedao(t, db, "import", bad, "--level", "street"); code != 1 || !strings.Contains(out, "rejected feature 1") || !strings.Contains(errs, "nothing written") {
		t.Fatalf("bad file: exit %d, want 1\n%s%s", code, out, errs)
	}
	if code, out, errs := jiedao(t, db, "import", "--level", "street", "--valid-from", "2024-01-01", "--approval", "京政函〔2024〕1号", good); code != 0 {
		t.Fatalf("import: exit %d\n%s%s", code, out, errs)
	}
	if code, _, errs := jiedao(t, db, "import", "--level", "nowhere", good); code != 2 || !strings.Contains(errs, "unknown level") {
		t.Fatalf("bad flag: exit %d, want 2 (%s)", code, errs)
	}
	out := filepath.Join(dir, "streets.geojson")
	if code, o, errs := jiedao(t, db, "export", "--layer", "streets", "--at", "2024-06-01", "-o", out); code != 0 {
		t.Fatalf("export: exit %d\n%s%s", code, o, errs)
	}
	var fc struct {
		Features []struct {
			Properties map[string]any `json:"properties"`
		} `json:"features"`
	}
	b, _ := os.ReadFile(out)
	if err := json.Unmarshal(b, &fc); err != nil {
		t.Fatalf("export is not JSON: %v", err)
	}
	if len(fc.Features) != 1 || fc.Features[0].Properties["name"] != "东华门街道" || math.Abs(fc.Features[0].Properties["area_km2"].(float64)-0.9495) > 0.001 {
		t.Fatalf("exported %+v, want the one street with its area", fc.Features)
	}
	// GeoPackage export, read back with the importer's reader.
	gpkg := filepath.Join(dir, "streets.gpkg")
	if code, o, errs := jiedao(t, db, "export", "--layer", "streets", "--at", "2024-06-01", "--format", "gpkg", "-o", gpkg); code != 0 {
		t.Fatalf("gpkg export: exit %d\n%s%s", code, o, errs)
	}
	rd, err := layerfile.Open(gpkg, layerfile.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	f, ok := rd.Next()
	if !ok || f.Props["name"] != "东华门街道" || f.Geom == nil {
		t.Fatalf("gpkg feature %+v", f)
	}
	if _, more := rd.Next(); more {
		t.Fatal("gpkg holds more than the one street")
	}
	// Before the street existed there is nothing.
	code, o, _ := jiedao(t, db, "export", "--layer", "streets", "--at", "2023-06-01", "--format", "csv")
	if code != 0 || strings.Count(o, "\n") != 1 || !strings.HasPrefix(o, "\ufeffcode,name") {
		t.Fatalf("csv export before the street existed: exit %d\n%q", code, o)
	}
}
