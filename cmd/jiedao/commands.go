package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/jiedao/jiedao/boundaries"
	"github.com/jiedao/jiedao/boundaries/analysis"
	"github.com/jiedao/jiedao/boundaries/demo"
	"github.com/jiedao/jiedao/boundaries/dispatch"
	"github.com/jiedao/jiedao/boundaries/importer"
	"github.com/jiedao/jiedao/boundaries/layers"
	locator "github.com/jiedao/jiedao/boundaries/lookup"
	"github.com/jiedao/jiedao/boundaries/store"
	"github.com/jiedao/jiedao/boundaries/units"
	"github.com/jiedao/jiedao/geo"
	"github.com/jiedao/jiedao/web"
)

// reader is the layer reader of a command's store.
func reader(s *store.Store) *layers.Reader { return layers.NewReader(s, analysis.NewRuns(s)) }

// openStore opens the database of --db (or $DATABASE_URL) and migrates it
// if needed.
func openStore(ctx context.Context, url string, readURLs ...string) (*store.Store, error) {
	url, err := needDB(url)
	if err != nil {
		return nil, err
	}
	s, err := store.Open(ctx, url, readURLs...)
	if err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	// Migrate only what is missing: a login holding only jiedao_app (as
	// serve should run) cannot migrate, and needs not when the owner has.
	pending, err := s.Pending(ctx)
	if err == nil && len(pending) == 0 {
		return s, nil
	}
	if err := s.Migrate(ctx); err != nil {
		// A standby or a read-only login: serve if the schema is current.
		if errors.Is(err, store.ErrReadOnly) {
			if cerr := s.CheckSchema(ctx); cerr == nil {
				return s, nil
			}
		}
		s.Close()
		if len(pending) > 0 {
			return nil, fmt.Errorf("the database schema is older than this jiedao (%d migrations pending, first %s) and this login cannot apply them: "+
				"run `jiedao migrate` as the database owner: %w", len(pending), pending[0], err)
		}
		return nil, fmt.Errorf("migrate: %w", err)
	}
	return s, nil
}

func cmdMigrate(fs *flag.FlagSet) action {
	db := dbFlag(fs)
	return func(ctx context.Context, _ string, stdout, _ io.Writer) error {
		s, err := openStore(ctx, *db)
		if err != nil {
			return err
		}
		defer s.Close()
		fmt.Fprintln(stdout, "schema up to date")
		return nil
	}
}

func cmdImport(fs *flag.FlagSet) action {
	db := dbFlag(fs)
	level := fs.String("level", "", "district, street or community (required)")
	crs := fs.String("crs", "", "input CRS: wgs84, cgcs2000, gcj02, bd09 or EPSG:<n> (default: from the file)")
	var o importer.Options
	fs.StringVar(&o.CodeField, "code-field", "code", "attribute holding the unit code")
	fs.StringVar(&o.NameField, "name-field", "name", "attribute holding the name")
	fs.StringVar(&o.ParentField, "parent-field", "", "attribute holding the parent code (default: derived from the code)")
	fs.StringVar(&o.HouseholdsField, "households-field", "", "attribute holding households")
	fs.StringVar(&o.PopulationField, "population-field", "", "attribute holding population")
	fs.StringVar(&o.KindField, "kind-field", "", "attribute holding the kind (街道/镇/乡, 社区/村)")
	validFrom := fs.String("valid-from", "", "first day the boundaries are valid, `YYYY-MM-DD` (default today)")
	fs.StringVar(&o.Approval, "approval", "", "approval document (批复文号)")
	fs.StringVar(&o.Encoding, "encoding", "", "DBF text encoding, e.g. GBK (default: .cpg, else UTF-8)")
	fs.BoolVar(&o.ProvisionalCodes, "provisional-codes", false, "give features without a code a stable provisional code")
	fs.BoolVar(&o.AllowOrphans, "allow-orphans", false, "accept parent codes that name no loaded unit")
	fs.BoolVar(&o.DryRun, "dry-run", false, "validate only; write nothing")
	o.Limits = importer.LimitsFromEnv()
	fs.IntVar(&o.Limits.Features, "max-features", o.Limits.Features, "refuse a file with more features (default $JIEDAO_IMPORT_MAX_FEATURES or 2,000,000)")
	fs.IntVar(&o.Limits.Vertices, "max-vertices", o.Limits.Vertices, "refuse a file with more vertices in all (default $JIEDAO_IMPORT_MAX_VERTICES or 200,000,000)")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	return func(ctx context.Context, file string, stdout, stderr io.Writer) error {
		var err error
		if *level == "" {
			return usageError{errors.New("missing --level (district, street or community)")}
		}
		if o.Level, err = boundaries.ParseLevel(*level); err != nil {
			return usageError{err}
		}
		if o.CRS, err = crsFlag(*crs); err != nil {
			return err
		}
		if o.ValidFrom, err = dateFlag(*validFrom); err != nil {
			return err
		}
		return importWith(ctx, *db, file, stdout, stderr, *asJSON, func(s *store.Store, progress func(int64, int64)) (*importer.Report, error) {
			o.Progress = progress
			return importer.Import(ctx, s, file, o)
		})
	}
}

// importWith opens the store and runs one import with a progress bar,
// printing its report (also when rejected).
func importWith(ctx context.Context, db, file string, stdout, stderr io.Writer, asJSON bool,
	run func(*store.Store, func(int64, int64)) (*importer.Report, error)) error {
	s, err := openStore(ctx, db)
	if err != nil {
		return err
	}
	defer s.Close()
	bar := newProgress(stderr, "import "+filepath.Base(file))
	rep, err := run(s, bar.Set)
	bar.Done()
	if rep != nil {
		printReport(stdout, rep, asJSON)
	}
	return err
}

// dateFlag parses a YYYY-MM-DD flag ("" = zero: today).
func dateFlag(v string) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	d, err := boundaries.ParseDate(v)
	if err != nil {
		return time.Time{}, usageError{err}
	}
	return d, nil
}

// crsFlag parses --crs ("" = from the file).
func crsFlag(v string) (*geo.CRS, error) {
	if v == "" {
		return nil, nil
	}
	c, err := geo.ParseCRS(v)
	if err != nil {
		return nil, usageError{err}
	}
	return &c, nil
}

func printReport(w io.Writer, rep *importer.Report, asJSON bool) {
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		enc.Encode(rep)
		return
	}
	fmt.Fprintf(w, "import %d %s (%s, %s): %s\n", rep.ImportID, rep.File, rep.Level, rep.CRS, rep.Status)
	fmt.Fprintf(w, "  features %d, created %d, changed %d, unchanged %d, repaired %d, rejected %d (%.2fs)\n",
		rep.Features, rep.Created, rep.Changed, rep.Unchanged, rep.RepairedTotal, rep.RejectedTotal, rep.Seconds)
	for _, r := range rep.Repaired {
		fmt.Fprintf(w, "  repaired %s\n", r)
	}
	if n := rep.RepairedTotal - len(rep.Repaired); n > 0 {
		fmt.Fprintf(w, "  … and %d more repaired\n", n)
	}
	for _, r := range rep.Rejected {
		fmt.Fprintf(w, "  rejected %s\n", r)
	}
	if n := rep.RejectedTotal - len(rep.Rejected); n > 0 {
		fmt.Fprintf(w, "  … and %d more rejected\n", n)
	}
}

func cmdImportCounts(fs *flag.FlagSet) action {
	db := dbFlag(fs)
	var o importer.CountsOptions
	fs.StringVar(&o.CodeField, "code-field", "code", "column holding the unit code")
	fs.StringVar(&o.HouseholdsField, "households-field", "households", "column holding households")
	fs.StringVar(&o.PopulationField, "population-field", "population", "column holding population")
	validFrom := fs.String("valid-from", "", "first day the counts are valid, `YYYY-MM-DD` (default today)")
	fs.BoolVar(&o.DryRun, "dry-run", false, "validate only; write nothing")
	o.Limits = importer.LimitsFromEnv()
	asJSON := fs.Bool("json", false, "print the report as JSON")
	return func(ctx context.Context, file string, stdout, stderr io.Writer) error {
		var err error
		if o.ValidFrom, err = dateFlag(*validFrom); err != nil {
			return err
		}
		return importWith(ctx, *db, file, stdout, stderr, *asJSON, func(s *store.Store, _ func(int64, int64)) (*importer.Report, error) {
			return importer.Counts(ctx, s, file, o)
		})
	}
}

func cmdDemo(fs *flag.FlagSet) action {
	db := dbFlag(fs)
	seed := fs.Int64("seed", 1, "generator seed; the same seed gives the same city")
	scale := fs.String("scale", "small", "small (≈300 communities), beijing (≈7,500) or national (≈600,000)")
	out := fs.String("out", "", "folder for the generated files (default $JIEDAO_DATA_DIR/demo-SCALE-SEED)")
	noLoad := fs.Bool("no-load", false, "only generate the files")
	return func(ctx context.Context, _ string, stdout, stderr io.Writer) error {
		// A wrong scale is a wrong call (exit 2), not a failed generation.
		if !slices.Contains(demo.Scales, demo.Scale(*scale)) {
			return usageError{fmt.Errorf("unknown scale %q (want small, beijing or national)", *scale)}
		}
		dir := *out
		if dir == "" {
			dir = filepath.Join(dataDir(), fmt.Sprintf("demo-%s-%d", *scale, *seed))
		}
		bar := newProgress(stderr, "generate "+*scale)
		_, err := demo.Generate(demo.Config{Seed: *seed, Scale: demo.Scale(*scale), Dir: dir,
			Progress: func(done, total int) { bar.Set(int64(done), int64(total)) }})
		bar.Done()
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "synthetic demo city (seed %d, %s) written to %s\n", *seed, *scale, dir)
		if *noLoad {
			return nil
		}
		s, err := openStore(ctx, *db)
		if err != nil {
			return err
		}
		defer s.Close()
		reps, err := loadDemo(ctx, s, dir, stderr)
		for _, r := range reps {
			printReport(stdout, r, false)
		}
		return err
	}
}

// loadDemo imports a generated demo city with a progress bar per file.
func loadDemo(ctx context.Context, s *store.Store, dir string, stderr io.Writer) ([]*importer.Report, error) {
	var bar *progress
	var cur string
	reps, err := importer.LoadDemo(ctx, s, dir, func(file string, done, total int64) {
		if file != cur {
			if bar != nil {
				bar.Done()
			}
			bar, cur = newProgress(stderr, "import "+file), file
		}
		bar.Set(done, total)
	})
	if bar != nil {
		bar.Done()
	}
	if err != nil {
		return reps, err
	}
	return reps, loadDemoTickets(ctx, s, dir, stderr)
}

// loadDemoTickets dispatches the demo's hotline tickets and applies its
// reassignments, so the disputes and the workload have data; demos made
// before tickets have none.
func loadDemoTickets(ctx context.Context, s *store.Store, dir string, stderr io.Writer) error {
	path := filepath.Join(dir, demo.TicketsFile)
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	bar := newProgress(stderr, "import "+demo.TicketsFile)
	_, err := dispatch.ImportFile(ctx, s, locator.New(s), path, dispatch.ImportOptions{CRS: geo.CRS84})
	bar.Done()
	if err != nil {
		return fmt.Errorf("demo tickets: %w", err)
	}
	if _, err := dispatch.ImportReassignments(ctx, s, units.Actor{KeyName: "demo"}, filepath.Join(dir, demo.ReassignmentsFile)); err != nil {
		return fmt.Errorf("demo reassignments: %w", err)
	}
	return nil
}

func dataDir() string {
	if d := os.Getenv("JIEDAO_DATA_DIR"); d != "" {
		return d
	}
	return ".jiedao"
}

func cmdExport(fs *flag.FlagSet) action {
	db := dbFlag(fs)
	layer := fs.String("layer", "", "districts, streets, communities, grids, zones or barriers (required)")
	profile := fs.String("profile", "", "policy profile for status, reasons, density (default beijing-2020; a name or a JSON file)")
	format := fs.String("format", "geojson", "geojson, csv or gpkg")
	at := fs.String("at", "", "the boundaries valid on this day, `YYYY-MM-DD` (default today)")
	wkt := fs.Bool("wkt", false, "csv: add the geometry as WKT")
	out := fs.String("o", "", "output `FILE` (default stdout)")
	return func(ctx context.Context, _ string, stdout, _ io.Writer) error {
		o := layers.ExportOptions{Layer: *layer, Format: *format, WKT: *wkt}
		var err error
		if _, ok := layers.ByName(*layer); !ok {
			return usageError{fmt.Errorf("unknown layer %q (want districts, streets, communities, grids, zones or barriers)", *layer)}
		}
		switch {
		case !slices.Contains([]string{"geojson", "csv", "gpkg"}, *format):
			return usageError{fmt.Errorf("unknown format %q (want geojson, csv or gpkg)", *format)}
		case *format == "gpkg" && *out == "": // SQLite needs a file
			return usageError{errors.New("--format gpkg needs -o FILE")}
		}
		if o.Profile, err = analysis.LoadProfile(*profile); err != nil {
			return usageError{err}
		}
		if o.At, err = dateFlag(*at); err != nil {
			return err
		}
		s, err := openStore(ctx, *db)
		if err != nil {
			return err
		}
		defer s.Close()
		if *format == "gpkg" {
			return exportGPKG(ctx, s, *out, o)
		}
		return writeOut(*out, stdout, func(w io.Writer) error {
			n, err := reader(s).Export(ctx, w, o)
			if err == nil && *out != "" {
				slog.Info("exported", "layer", o.Layer, "features", n, "file", *out)
			}
			return err
		})
	}
}

// exportGPKG writes a GeoPackage beside out, then renames it: SQLite needs
// a file of its own, and a failed export leaves no partial file.
func exportGPKG(ctx context.Context, s *store.Store, out string, o layers.ExportOptions) error {
	dir := filepath.Dir(out)
	if !replaceable(out) {
		dir = os.TempDir() // a device or FIFO gets the bytes, not a rename
	}
	tmp := filepath.Join(dir, ".export-"+filepath.Base(out))
	defer os.Remove(tmp)
	n, err := reader(s).ExportGPKG(ctx, tmp, o)
	if err != nil {
		return err
	}
	slog.Info("exported", "layer", o.Layer, "features", n, "file", out)
	if !replaceable(out) {
		return copyInto(out, tmp)
	}
	if err := os.Rename(tmp, out); err != nil {
		return fmt.Errorf("write %s: %w", out, err)
	}
	return nil
}

// writeOut runs write on stdout, or on a file written beside out and
// renamed when write succeeds, so a failed command leaves no partial file.
func writeOut(out string, stdout io.Writer, write func(io.Writer) error) error {
	if out == "" {
		return write(stdout)
	}
	if !replaceable(out) {
		return writeInto(out, write)
	}
	tmp, err := os.CreateTemp(filepath.Dir(out), "."+filepath.Base(out)+"-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	err = write(tmp)
	if err == nil {
		err = tmp.Chmod(0o644) // CreateTemp makes 0600; outputs are ordinary files
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), out); err != nil {
		return fmt.Errorf("write %s: %w", out, err)
	}
	return nil
}

// replaceable says whether out may be replaced by a renamed temp file: it
// is absent or a regular file. A device (/dev/null), FIFO or socket is
// written into instead, never replaced (as root, a rename would swap the
// machine's /dev/null for a file).
func replaceable(out string) bool {
	fi, err := os.Stat(out)
	return err != nil || fi.Mode().IsRegular()
}

// writeInto runs write on out opened as it is (no temp file, no rename).
func writeInto(out string, write func(io.Writer) error) error {
	f, err := os.OpenFile(out, os.O_WRONLY, 0)
	if err != nil {
		return fmt.Errorf("write %s: %w", out, err)
	}
	err = write(f)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// copyInto copies the file src into out opened as it is.
func copyInto(out, src string) error {
	return writeInto(out, func(w io.Writer) error {
		f, err := os.Open(src)
		if err != nil {
			return err
		}
		defer f.Close()
		_, err = io.Copy(w, f)
		return err
	})
}

func cmdServe(fs *flag.FlagSet) action {
	db := dbFlag(fs)
	addr := fs.String("addr", "", "listen address `HOST:PORT` (default $JIEDAO_ADDR, else 127.0.0.1:8080)")
	demoIfEmpty := fs.Bool("demo-if-empty", false, "load the synthetic demo city when the database holds no units")
	readDB := fs.String("read-db", "", "read from these hot standbys, comma-separated `URLs` (default $JIEDAO_READ_DATABASE_URL; none: everything on --db)")
	return func(ctx context.Context, _ string, _, stderr io.Writer) error {
		s, err := openStore(ctx, *db, splitURLs(cmp.Or(*readDB, os.Getenv("JIEDAO_READ_DATABASE_URL")))...)
		if err != nil {
			return err
		}
		defer s.Close()
		if *demoIfEmpty {
			if err := demoIfNoUnits(ctx, s, stderr); err != nil {
				return err
			}
		}
		a := *addr
		if a == "" {
			a = envOr("JIEDAO_ADDR", "127.0.0.1:8080")
		}
		return web.Serve(ctx, s, web.ConfigFromEnv(a))
	}
}

// demoIfNoUnits loads the small demo city into a database without units,
// so a first `make run` shows a map.
func demoIfNoUnits(ctx context.Context, s *store.Store, stderr io.Writer) error {
	n, err := units.Count(ctx, s)
	if err != nil || n > 0 {
		return err
	}
	dir := filepath.Join(dataDir(), "demo-small-1")
	slog.Info("empty database: loading the synthetic demo city", "dir", dir)
	if _, err := demo.Generate(demo.Config{Seed: 1, Scale: demo.Small, Dir: dir}); err != nil {
		return err
	}
	_, err = loadDemo(ctx, s, dir, stderr)
	return err
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

// splitURLs splits a comma-separated list of database URLs.
func splitURLs(v string) []string {
	var out []string
	for _, u := range strings.Split(v, ",") {
		if u = strings.TrimSpace(u); u != "" {
			out = append(out, u)
		}
	}
	return out
}
