package main

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/jiedao/jiedao/boundaries/analysis"
	"github.com/jiedao/jiedao/boundaries/importer"
	"github.com/jiedao/jiedao/boundaries/store"
)

func cmdImportPoints(fs *flag.FlagSet) action { return importCounts(fs, importer.Points) }

func cmdImportAreas(fs *flag.FlagSet) action { return importCounts(fs, importer.CountAreas) }

// importCounts is import-points (building points) or import-areas
// (polygons with counts for areal interpolation): same flags, another
// loader.
func importCounts(fs *flag.FlagSet, load func(context.Context, *store.Store, string, importer.PointsOptions) (*importer.Report, error)) action {
	db := dbFlag(fs)
	crs := fs.String("crs", "", "input CRS: wgs84, cgcs2000, gcj02, bd09 or EPSG:<n> (default: from the file)")
	var o importer.PointsOptions
	fs.StringVar(&o.HouseholdsField, "households-field", "households", "attribute holding households")
	fs.StringVar(&o.PopulationField, "population-field", "population", "attribute holding population")
	fs.BoolVar(&o.Append, "append", false, "add to the loaded features instead of replacing them")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	return func(ctx context.Context, file string, stdout, stderr io.Writer) error {
		var err error
		if o.CRS, err = crsFlag(*crs); err != nil {
			return err
		}
		return importWith(ctx, *db, file, stdout, stderr, *asJSON, func(s *store.Store, progress func(int64, int64)) (*importer.Report, error) {
			o.Progress = progress
			return load(ctx, s, file, o)
		})
	}
}

// cmdImportBarriers loads roads, rivers, railways and walls; the
// profile's blocks.classes maps the file's class values.
func cmdImportBarriers(fs *flag.FlagSet) action {
	db := dbFlag(fs)
	crs := fs.String("crs", "", "input CRS: wgs84, cgcs2000, gcj02, bd09 or EPSG:<n> (default: from the file)")
	var o importer.BarrierOptions
	fs.StringVar(&o.ClassField, "class-field", "class", "attribute holding the class (主干道, 胡同, 河, motorway …: see the profile's blocks.classes)")
	fs.StringVar(&o.NameField, "name-field", "name", "attribute holding the name")
	fs.BoolVar(&o.Append, "append", false, "add to the loaded barriers instead of replacing them")
	profile := fs.String("profile", analysis.DefaultProfile, "the profile whose blocks.classes maps class values: beijing-2020, national-1989 or a profile JSON file")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	return func(ctx context.Context, file string, stdout, stderr io.Writer) error {
		var err error
		if o.CRS, err = crsFlag(*crs); err != nil {
			return err
		}
		p, err := analysis.LoadProfile(*profile)
		if err != nil {
			return usageError{err}
		}
		o.Classes = p.Blocks.Classes
		return importWith(ctx, *db, file, stdout, stderr, *asJSON, func(s *store.Store, progress func(int64, int64)) (*importer.Report, error) {
			o.Progress = progress
			return importer.Barriers(ctx, s, file, o)
		})
	}
}

func cmdAnalyze(fs *flag.FlagSet) action {
	db := dbFlag(fs)
	profile := fs.String("profile", analysis.DefaultProfile, "beijing-2020, national-1989 or a profile JSON file")
	format := fs.String("format", "text", "text, json, csv (units) or geojson (zones)")
	atFlag := fs.String("at", "", "analyse the boundaries valid on this day, `YYYY-MM-DD` (default today)")
	out := fs.String("o", "", "output `FILE` (default stdout)")
	return func(ctx context.Context, _ string, stdout, _ io.Writer) error {
		switch *format {
		case "text", "json", "csv", "geojson":
		default:
			return usageError{fmt.Errorf("unknown format %q (want text, json, csv or geojson)", *format)}
		}
		p, err := analysis.LoadProfile(*profile)
		if err != nil {
			return usageError{err}
		}
		day, err := dateFlag(*atFlag)
		if err != nil {
			return err
		}
		s, err := openStore(ctx, *db)
		if err != nil {
			return err
		}
		defer s.Close()
		// Every run is stored, so results can be compared over time.
		a, err := analysis.Analyze(ctx, s, p, day, analysis.Live)
		if err != nil {
			return err
		}
		return writeAnalysis(ctx, s, a, p, *format, *out, stdout)
	}
}

// writeAnalysis writes an analysis in a format to -o or stdout.
func writeAnalysis(ctx context.Context, s *store.Store, a *analysis.Analysis, p *analysis.Profile, format, out string, stdout io.Writer) error {
	return writeOut(out, stdout, func(w io.Writer) error {
		switch format {
		case "json":
			enc := json.NewEncoder(w)
			enc.SetIndent("", " ")
			return enc.Encode(a)
		case "csv":
			return writeUnitsCSV(w, a)
		case "geojson":
			_, err := reader(s).ZonesGeoJSON(ctx, a.RunID, w)
			return err
		}
		return a.WriteText(w, p)
	})
}

func writeUnitsCSV(w io.Writer, a *analysis.Analysis) error {
	io.WriteString(w, "\ufeff")
	cw := csv.NewWriter(w)
	cw.Write([]string{"code", "name", "level", "parent_code", "households", "population", "counts_method", "area_km2",
		"density", "ratio_to_normal", "status", "reasons", "staff_min", "staff_max", "outside_share"})
	str := func(p *string) string {
		if p == nil {
			return ""
		}
		return *p
	}
	num := func(p *int64) string {
		if p == nil {
			return ""
		}
		return strconv.FormatInt(*p, 10)
	}
	flt := func(p *float64) string {
		if p == nil {
			return ""
		}
		return strconv.FormatFloat(*p, 'f', 4, 64)
	}
	for _, u := range a.Units {
		cw.Write([]string{u.Code, u.Name, string(u.Level), str(u.ParentCode), num(u.Households), num(u.Population), str(u.CountsMethod),
			strconv.FormatFloat(u.AreaKM2, 'f', 6, 64), flt(u.Density), flt(u.RatioToNormal), string(u.Status), strings.Join(u.Reasons, "; "),
			num(u.StaffMin), num(u.StaffMax), flt(u.OutsideShare)})
	}
	cw.Flush()
	return cw.Error()
}
