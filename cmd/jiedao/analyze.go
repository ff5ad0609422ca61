package main

import (
	"cmp"
	"context"
	"encoding/csv"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jiedao/jiedao/boundaries"
	"github.com/jiedao/jiedao/boundaries/analysis"
	"github.com/jiedao/jiedao/boundaries/dispatch"
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
		wl, err := workloads(ctx, s, p, day)
		if err != nil {
			return err
		}
		if *format == "json" && len(wl) > 0 {
			return writeOut(*out, stdout, func(w io.Writer) error { return writeAnalysisJSON(w, a, wl) })
		}
		if err := writeAnalysis(ctx, s, a, p, *format, *out, stdout); err != nil || *format != "text" || *out != "" {
			return err
		}
		writeWorkloadText(stdout, wl)
		return nil
	}
}

// workloads is the hotline workload (tickets per 1,000 households per
// month, over the stored tickets' period) of every community and street,
// the profile's max_workload_ratio flagging communities; none when no
// tickets are stored.
func workloads(ctx context.Context, s *store.Store, p *analysis.Profile, day time.Time) ([]*dispatch.WorkloadReport, error) {
	var out []*dispatch.WorkloadReport
	for _, l := range []boundaries.Level{boundaries.Community, boundaries.Street} {
		w, err := dispatch.Workload(ctx, s, dispatch.Period{}, day, l)
		if err != nil {
			return nil, err
		}
		n := 0
		for _, u := range w.Units {
			n += u.Tickets
		}
		if n == 0 {
			return nil, nil
		}
		if l == boundaries.Community && p.Community.MaxWorkloadRatio.On() {
			w.Flag(p.Community.MaxWorkloadRatio.Float())
		}
		out = append(out, w)
	}
	return out, nil
}

// writeAnalysisJSON is the analysis's JSON with the workload beside it.
func writeAnalysisJSON(w io.Writer, a *analysis.Analysis, wl []*dispatch.WorkloadReport) error {
	b, err := json.Marshal(a)
	if err != nil {
		return err
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return err
	}
	if m["workload"], err = json.Marshal(wl); err != nil {
		return err
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", " ")
	return enc.Encode(m)
}

// writeWorkloadText lists the busiest communities and streets by tickets
// per 1,000 households per month.
func writeWorkloadText(w io.Writer, wl []*dispatch.WorkloadReport) {
	for _, r := range wl {
		us := slices.Clone(r.Units)
		us = slices.DeleteFunc(us, func(u dispatch.Load) bool { return u.PerKHouseholdMonth == nil })
		slices.SortFunc(us, func(a, b dispatch.Load) int { return cmp.Compare(*b.PerKHouseholdMonth, *a.PerKHouseholdMonth) })
		if len(us) == 0 {
			continue // units without households of their own (streets counted by their communities)
		}
		fmt.Fprintf(w, "\nHotline workload (%s, %s – %s): tickets per 1,000 households per month, highest first\n", r.Level,
			r.Since.Format(time.DateOnly), r.Until.Format(time.DateOnly))
		for _, u := range us[:min(10, len(us))] {
			ratio := ""
			if u.Ratio != nil {
				ratio = fmt.Sprintf(", %.1f× the median of its parent", *u.Ratio)
			}
			reason := ""
			if u.Reason != "" {
				reason = " — " + u.Reason
			}
			fmt.Fprintf(w, "  %s %s: %.1f (%d tickets%s)%s\n", u.Code, u.Name, *u.PerKHouseholdMonth, u.Tickets, ratio, reason)
		}
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
