// Package importer reads boundary files (GeoJSON, Shapefile, GeoPackage),
// count tables (CSV) and count sources (building points, count areas) into
// PostGIS: streamed into a staging table with COPY, checked in Go and
// set-based in PostGIS, written all or nothing, and recorded in imports.
package importer

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/twpayne/go-geom"
	"github.com/twpayne/go-geom/encoding/wkb"

	"github.com/jiedao/jiedao/boundaries"
	"github.com/jiedao/jiedao/boundaries/layerfile"
	"github.com/jiedao/jiedao/boundaries/store"
	"github.com/jiedao/jiedao/boundaries/units"
	"github.com/jiedao/jiedao/geo"
)

// Options are the importer's settings; they mirror `jiedao import`.
type Options struct {
	Level           boundaries.Level
	CRS             *geo.CRS // nil: from the file (.prj, GeoPackage SRS), else WGS84 for GeoJSON
	CodeField       string   // default "code"
	NameField       string   // default "name"
	ParentField     string   // default: derived from the code
	HouseholdsField string   // "": households are kept from the current version
	PopulationField string
	KindField       string
	ValidFrom       time.Time // zero: today
	Approval        string
	Source          string // default: the file's base name
	Encoding        string // DBF text encoding override (GBK, GB18030, UTF-8)
	// ProvisionalCodes assigns a stable provisional code to features without
	// one (see ProvisionalCode) instead of rejecting them.
	ProvisionalCodes bool
	// AllowOrphans accepts parent codes that name no loaded unit; orphans
	// are then an analysis finding.
	AllowOrphans bool
	DryRun       bool
	// Progress, when set, is called as the file is read.
	Progress func(done, total int64)
	// Limits bound what the file may hold (zero: DefaultLimits).
	Limits Limits
}

// Issue is one line of an import report, naming the feature by its index,
// code and name (either may be missing: that can be the issue).
type Issue struct {
	Index  int    `json:"index"`
	Code   string `json:"code,omitempty"`
	Name   string `json:"name,omitempty"`
	Reason string `json:"reason"`
}

// Report is printed by the CLI and stored in the imports table.
type Report struct {
	ImportID  int64            `json:"import_id"`
	File      string           `json:"file"`
	Checksum  string           `json:"checksum"`
	Level     boundaries.Level `json:"level"`
	CRS       string           `json:"crs"`
	Status    string           `json:"status"` // committed, rejected, dry-run
	Features  int              `json:"features"`
	Created   int              `json:"created"`
	Changed   int              `json:"changed"`
	Unchanged int              `json:"unchanged"`
	Repaired  []Issue          `json:"repaired"`
	Rejected  []Issue          `json:"rejected"`
	// RepairedTotal and RejectedTotal count every issue; the lists hold the
	// first MaxListed of each, so a report stays small whatever the file.
	RepairedTotal int     `json:"repaired_total"`
	RejectedTotal int     `json:"rejected_total"`
	Seconds       float64 `json:"seconds"`
}

// Import reads a GeoJSON, Shapefile (plain or zipped) or GeoPackage file and
// writes its features as new unit versions in one transaction: all or
// nothing. Features identical to the current version change nothing.
func Import(ctx context.Context, st *store.Store, path string, opt Options) (*Report, error) {
	start := time.Now()
	if opt.Level == "" {
		return nil, errors.New("import: level is required")
	}
	defaults(path, &opt.Source, &opt.ValidFrom, map[*string]string{&opt.CodeField: "code", &opt.NameField: "name"})
	sum, err := fileChecksum(path)
	if err != nil {
		return nil, fmt.Errorf("import %s: %w", path, err)
	}
	// The file is named by its source (an upload's own name, not the
	// server's temp path); what it holds is the client's to fix (422).
	opt.Limits = opt.Limits.withDefaults()
	lo := opt.Limits.open()
	lo.Encoding = opt.Encoding
	rd, err := layerfile.Open(path, lo)
	if err != nil {
		return nil, boundaries.Invalid("import %s: %v", opt.Source, err)
	}
	defer rd.Close()
	crs, err := inputCRS(path, rd, opt.CRS)
	if err != nil {
		return nil, boundaries.Invalid("import %s: %v", opt.Source, err)
	}
	rep := &Report{File: opt.Source, Checksum: sum, Level: opt.Level, CRS: crs.Name, Repaired: []Issue{}, Rejected: []Issue{}}

	optJSON, _ := json.Marshal(map[string]any{
		"crs": crs.Name, "code_field": opt.CodeField, "name_field": opt.NameField,
		"parent_field": opt.ParentField, "households_field": opt.HouseholdsField,
		"population_field": opt.PopulationField, "kind_field": opt.KindField,
		"valid_from": opt.ValidFrom.Format("2006-01-02"), "approval": opt.Approval,
		"provisional_codes": opt.ProvisionalCodes, "allow_orphans": opt.AllowOrphans, "dry_run": opt.DryRun,
	})
	// The imports row is written outside the data transaction so a rejected
	// import still leaves its report.
	if err := st.Primary().QueryRow(ctx, `INSERT INTO imports (file, checksum, level, options) VALUES ($1,$2,$3,$4) RETURNING id`,
		opt.Source, sum, string(opt.Level), optJSON).Scan(&rep.ImportID); err != nil {
		return nil, fmt.Errorf("import %s: record import: %w", path, err)
	}

	// A CRS nobody chose (GeoJSON read as WGS84 by default) is checked
	// against the parents: GCJ-02 data read as WGS84 lands ~500 m off
	// without any other sign.
	guard := opt.CRS == nil && rd.SRID() == 0 && rd.PRJ() == "" && crs.Shift == geo.NoShift
	err = st.Tx(ctx, func(tx pgx.Tx) error {
		if err := holdImport(ctx, tx, rep.ImportID); err != nil {
			return err
		}
		if err := stage(ctx, tx, rd, crs, guard, opt, rep); err != nil {
			return err
		}
		if err := checkStaged(ctx, tx, opt, rep); err != nil {
			return err
		}
		// A "crs" member after the features is only known once they are read.
		if guard && rd.SRID() == 0 {
			if err := checkShift(ctx, tx, opt, rep); err != nil {
				return err
			}
		}
		if len(rep.Rejected) > 0 {
			return boundaries.ErrRejected
		}
		if err := applyStaged(ctx, tx, opt, rep); err != nil {
			return err
		}
		if opt.DryRun {
			return errDryRun
		}
		return nil
	})
	return rep, finish(ctx, st, rep, start, err, "import", "features")
}

// finish records the outcome of an import's transaction in its report and
// the imports table, and words the error for the caller.
func finish(ctx context.Context, st *store.Store, rep *Report, start time.Time, err error, what, items string) error {
	rep.Seconds = time.Since(start).Seconds()
	switch {
	case err == nil:
		rep.Status = "committed"
	case errors.Is(err, errDryRun):
		rep.Status, err = "dry-run", nil
	case errors.Is(err, boundaries.ErrRejected):
		rep.Status = "rejected"
		rep.Created, rep.Changed, rep.Unchanged = 0, 0, 0
	default:
		rep.Status = "failed"
	}
	finishImport(ctx, st, rep, err)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, boundaries.ErrRejected):
		return fmt.Errorf("%s %s: %d of %d %s rejected, nothing written: %w", what, rep.File, rep.RejectedTotal, rep.Features, items, boundaries.ErrRejected)
	}
	return fmt.Errorf("%s %s: %w", what, rep.File, err)
}

// MaxListed is how many repairs and rejections a report lists; the rest
// are counted (a hostile file can make every one of millions of records a
// rejection).
const MaxListed = 1000

// reject records a rejected feature.
func (rep *Report) reject(is Issue) {
	rep.RejectedTotal++
	if len(rep.Rejected) < MaxListed {
		rep.Rejected = append(rep.Rejected, is.clipped())
	}
}

// repair records a repaired feature.
func (rep *Report) repair(is Issue) {
	rep.RepairedTotal++
	if len(rep.Repaired) < MaxListed {
		rep.Repaired = append(rep.Repaired, is.clipped())
	}
}

var errDryRun = errors.New("dry run")

func finishImport(ctx context.Context, st *store.Store, rep *Report, err error) {
	stored := map[string]any{"repaired": rep.Repaired, "rejected": rep.Rejected, "crs": rep.CRS, "seconds": rep.Seconds}
	// A refusal of the whole file (a limit, a CRS that looks wrong) is kept
	// with the report, so the imports table says why nothing was written.
	if rep.Status == "failed" && err != nil {
		stored["error"] = err.Error()
	}
	report, _ := json.Marshal(stored)
	// Best effort: the data transaction's outcome is already decided.
	_, _ = st.Primary().Exec(context.WithoutCancel(ctx), `UPDATE imports SET status=$2, finished_at=now(), features=$3, created=$4,
		changed=$5, unchanged=$6, repaired=$7, rejected=$8, report=$9 WHERE id=$1`,
		rep.ImportID, rep.Status, rep.Features, rep.Created, rep.Changed, rep.Unchanged, rep.RepairedTotal, rep.RejectedTotal, report)
	st.SyncVersion(ctx)
}

// inputCRS decides the input coordinate system: the flag, else what the
// file states, else WGS84 for GeoJSON (RFC 7946). A Shapefile without .prj
// and without --crs is refused rather than guessed: a wrong guess silently
// moves every boundary.
func inputCRS(path string, rd layerfile.Reader, flag *geo.CRS) (geo.CRS, error) {
	if flag != nil {
		return *flag, nil
	}
	if srid := rd.SRID(); srid != 0 {
		if srid == 4326 {
			return geo.ParseCRS("wgs84")
		}
		return geo.ParseCRS(fmt.Sprintf("EPSG:%d", srid))
	}
	if prj := rd.PRJ(); prj != "" {
		c, err := geo.CRSFromPRJ(prj)
		if err != nil {
			return geo.CRS{}, fmt.Errorf("%w (pass --crs)", err)
		}
		return c, nil
	}
	switch strings.ToLower(filepath.Ext(path)) {
	case ".geojson", ".json":
		return geo.ParseCRS("wgs84")
	}
	return geo.CRS{}, errors.New("the file states no coordinate system (no .prj): pass --crs")
}

func fileChecksum(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// stage streams the file's features into a temporary table with COPY,
// rejecting in Go what PostGIS's WKB parser could not even read.
// With guard, each row also carries the shift that undoing GCJ-02 and BD-09
// would apply to it (see checkShift).
func stage(ctx context.Context, tx pgx.Tx, rd layerfile.Reader, crs geo.CRS, guard bool, opt Options, rep *Report) error {
	if _, err := tx.Exec(ctx, `CREATE TEMP TABLE stage (
		idx integer PRIMARY KEY, code text NOT NULL, name text NOT NULL, parent_code text, kind text,
		households integer, population integer, provisional boolean NOT NULL, repaired text, geom geometry NOT NULL,
		gcj_dx float8, gcj_dy float8, bd_dx float8, bd_dy float8
	) ON COMMIT DROP`); err != nil {
		return fmt.Errorf("create stage: %w", err)
	}
	var next func() ([]any, bool)
	var readErr error
	lim := &counter{l: opt.Limits}
	next = func() ([]any, bool) {
		for {
			f, ok := rd.Next()
			if !ok {
				return nil, false
			}
			rep.Features++
			if readErr = lim.take(rep.Features, f.Index, f.Geom); readErr != nil {
				return nil, false
			}
			if opt.Progress != nil && rep.Features%256 == 0 {
				opt.Progress(rd.Progress())
			}
			row, issue, repaired := stageRow(f, crs, opt)
			if issue != nil {
				rep.reject(*issue)
				continue
			}
			if repaired != "" {
				rep.repair(Issue{Index: f.Index, Code: row[1].(string), Name: row[2].(string), Reason: repaired})
			}
			if guard {
				row = append(row, shiftOffsets(f.Geom)...)
			} else {
				row = append(row, nil, nil, nil, nil)
			}
			return row, true
		}
	}
	src := pgx.CopyFromFunc(func() ([]any, error) {
		row, ok := next()
		if !ok {
			return nil, nil
		}
		return row, nil
	})
	cols := []string{"idx", "code", "name", "parent_code", "kind", "households", "population", "provisional", "repaired", "geom",
		"gcj_dx", "gcj_dy", "bd_dx", "bd_dy"}
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{"stage"}, cols, src); err != nil {
		return fmt.Errorf("stage features: %w", err)
	}
	if err := rd.Err(); err != nil {
		return boundaries.Invalid("read: %v", err)
	}
	if readErr != nil {
		return readErr
	}
	// Fresh statistics so the checks below join by index, not by scans.
	if _, err := tx.Exec(ctx, `ANALYZE stage`); err != nil {
		return fmt.Errorf("analyze stage: %w", err)
	}
	if opt.Progress != nil {
		opt.Progress(rd.Progress())
	}
	return nil
}

// stageRow turns one feature into a stage row, or an Issue when it must be
// rejected. The third result names repairs done in Go.
func stageRow(f layerfile.Feature, crs geo.CRS, opt Options) ([]any, *Issue, string) {
	code := propString(f.Props, opt.CodeField)
	name := propString(f.Props, opt.NameField)
	reject := func(format string, args ...any) ([]any, *Issue, string) {
		return nil, &Issue{Index: f.Index, Code: code, Name: name, Reason: fmt.Sprintf(format, args...)}, ""
	}
	if f.Err != nil {
		return reject("unreadable feature: %v", f.Err)
	}
	if f.Geom == nil {
		return reject("empty geometry")
	}
	var repairs []string
	for _, p := range geo.Validate(f.Geom) {
		if p.Reject {
			return reject("%s", p.Reason)
		}
		repairs = append(repairs, p.Reason)
	}
	if name == "" {
		return reject("%s", missingField(f.Props, "name", opt.NameField, "--name-field", opt))
	}
	provisional := false
	parent := ""
	if opt.ParentField != "" {
		parent = propString(f.Props, opt.ParentField)
	}
	if code == "" {
		if !opt.ProvisionalCodes {
			return reject("%s", missingField(f.Props, "code", opt.CodeField, "--code-field", opt))
		}
		code = ProvisionalCode(opt.Level, parent, name, f.Geom)
		provisional = true
	}
	if parent == "" {
		parent = boundaries.DerivedParent(opt.Level, code)
	}
	households, population, bad := featureCounts(f.Props, opt)
	if bad != "" {
		return reject("%s", bad)
	}
	var kind any
	if opt.KindField != "" {
		if k := propString(f.Props, opt.KindField); k != "" {
			kind = k
		}
	}
	g := f.Geom
	if crs.Shift != geo.NoShift {
		geo.Transform(g, crs.Unshift)
	}
	if crs.SRID == 4326 || crs.SRID == 4490 {
		if err := geo.CheckLonLatRange(g); err != nil {
			return reject("%v", err)
		}
	}
	// CGCS2000 is taken as WGS84 (centimetres apart); other systems are
	// transformed by PostGIS.
	srid := crs.SRID
	if srid == 4490 {
		srid = 4326
	}
	g, err := geom.SetSRID(g, srid)
	if err != nil {
		return reject("geometry: %v", err)
	}
	var parentV any
	if parent != "" {
		parentV = parent
	}
	return []any{int32(f.Index), code, name, parentV, kind, households, population, provisional, strings.Join(repairs, "; "), g}, nil, strings.Join(repairs, "; ")
}

// featureCounts reads the households and population fields (nil when not
// given or empty), or says why one is not a count.
func featureCounts(props map[string]any, opt Options) (households, population any, bad string) {
	for _, c := range []struct {
		field string
		dst   *any
	}{{opt.HouseholdsField, &households}, {opt.PopulationField, &population}} {
		if c.field == "" {
			continue
		}
		n, ok, err := boundaries.ParseCount(props[c.field])
		if err != nil {
			return nil, nil, fmt.Sprintf("%s: %v", c.field, err)
		}
		if ok {
			*c.dst = int32(n)
		}
	}
	return households, population, ""
}

// ProvisionalCode is the stable code given to a feature without one:
// "P" + the parent code (if any) + "-" + the first 10 hex digits of
// SHA-256 over level, name and the feature's geometry as read (WKB). The
// same input always gets the same code.
func ProvisionalCode(l boundaries.Level, parent, name string, g geom.T) string {
	h := sha256.New()
	h.Write([]byte(l))
	h.Write([]byte{0})
	h.Write([]byte(name))
	h.Write([]byte{0})
	if b, err := wkb.Marshal(g, wkb.NDR); err == nil {
		h.Write(b)
	}
	return "P" + parent + "-" + hex.EncodeToString(h.Sum(nil))[:10]
}

func propString(props map[string]any, field string) string {
	v, ok := props[field]
	if !ok || v == nil {
		return ""
	}
	switch x := v.(type) {
	case string:
		return strings.TrimSpace(x)
	case int64:
		return strconv.FormatInt(x, 10)
	case float64:
		if x == math.Trunc(x) && math.Abs(x) < 1e15 {
			return strconv.FormatInt(int64(x), 10)
		}
		return strconv.FormatFloat(x, 'f', -1, 64)
	case json.Number:
		return x.String()
	}
	return strings.TrimSpace(fmt.Sprint(v))
}

func checksumBytes(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// defaults sets the options every import shares when they are left empty:
// the source (the file's base name), the first valid day (today) and the
// field names (field pointer → default name).
func defaults(path string, source *string, validFrom *time.Time, fields map[*string]string) {
	if *source == "" {
		*source = filepath.Base(path)
	}
	if validFrom != nil && validFrom.IsZero() {
		*validFrom = boundaries.Today()
	}
	for f, def := range fields {
		if *f == "" {
			*f = def
		}
	}
}

// Record audits an import made through the API. The importer commits its
// own transaction, so this entry follows it rather than sharing it.
func Record(ctx context.Context, st *store.Store, a units.Actor, rep *Report) error {
	return st.Tx(ctx, func(tx pgx.Tx) error {
		return units.Audit(ctx, tx, a, "import", "", 0, 0, map[string]any{
			"import_id": rep.ImportID, "file": rep.File, "level": rep.Level, "status": rep.Status,
			"features": rep.Features, "created": rep.Created, "changed": rep.Changed, "rejected": rep.RejectedTotal})
	})
}

// importLock is the first key of the advisory locks an import's data
// transaction holds on its imports row id.
const importLock = 7347003

// holdImport marks the import as in progress for as long as its data
// transaction lives: a crash or a lost connection ends the transaction and
// releases the lock, so Interrupted can tell it from a live import of
// another process.
func holdImport(ctx context.Context, tx pgx.Tx, id int64) error {
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1, $2::int)`, importLock, id); err != nil {
		return fmt.Errorf("hold import %d: %w", id, err)
	}
	return nil
}

// Interrupted marks the imports left "running" by a process that died
// (no transaction holds them) as failed, "interrupted", and returns how
// many. serve calls it at start.
func Interrupted(ctx context.Context, st *store.Store) (int, error) {
	var n int
	err := st.Tx(ctx, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT id FROM imports WHERE status = 'running'`)
		if err != nil {
			return err
		}
		ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
		if err != nil {
			return err
		}
		for _, id := range ids {
			var free bool
			// Taken for this transaction only: a free lock means no live
			// import holds it.
			if err := tx.QueryRow(ctx, `SELECT pg_try_advisory_xact_lock($1, $2::int)`, importLock, id).Scan(&free); err != nil {
				return err
			}
			if !free {
				continue
			}
			if _, err := tx.Exec(ctx, `UPDATE imports SET status = 'failed', finished_at = now(),
				report = report || '{"error": "interrupted: the process ended before the import finished"}'
				WHERE id = $1 AND status = 'running'`, id); err != nil {
				return err
			}
			n++
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("mark interrupted imports: %w", err)
	}
	return n, nil
}
