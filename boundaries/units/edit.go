package units

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/twpayne/go-geom"
	"github.com/twpayne/go-geom/encoding/geojson"

	"github.com/jiedao/jiedao/boundaries"
	"github.com/jiedao/jiedao/boundaries/store"
	"github.com/jiedao/jiedao/geo"
)

// Single-unit writes from the API: create, change, retire. Like imports they
// never overwrite: a change closes the current version (valid_to = the new
// version's valid_from) and inserts a new one; a retirement only sets
// valid_to. Each runs in one transaction with the same checks as the
// importer, the data-version bump and an audit entry.

// OptString is an attribute that may be absent (keep), null or a value.
type OptString struct {
	Set   bool
	Value *string
}

// OptInt is a count that may be absent (keep), null (unknown) or a value.
type OptInt struct {
	Set   bool
	Value *int64
}

// Edit is the content of a new unit version. Absent attributes and a
// nil Geometry are kept from the current version.
type Edit struct {
	Code       string           // create only (a change takes the code from the URL)
	Level      boundaries.Level // create only
	Name       *string
	ParentCode OptString
	Kind       OptString
	Households OptInt
	Population OptInt
	Geometry   geom.T
	CRS        *geo.CRS // of Geometry; nil = WGS84
	// Approval (批复文号) and ValidFrom are required.
	Approval  string
	ValidFrom time.Time
	// AllowOrphans accepts a parent that names no loaded unit.
	AllowOrphans bool
	// DryRun runs every check and the write, then rolls back.
	DryRun bool
	// Fit, when set, refuses a geometry outside its parent or overlapping
	// its siblings beyond the tolerance, unless Force.
	Fit   *Fit
	Force bool
}

// readOnlyProps are fields of a unit as the API returns it; a client may
// send a returned unit back as the properties of a change, so they are
// ignored rather than refused.
var readOnlyProps = []string{"counts_method", "area_km2", "density", "household_density", "ratio_to_normal", "status",
	"reasons", "staff_min", "staff_max", "outside_share", "provisional", "valid_to", "version_id", "source", "geometry"}

// ParseFeature reads a GeoJSON Feature carrying a new version: geometry
// (or null to keep it) and properties code, level, name, parent_code,
// kind, households, population, approval and valid_from (YYYY-MM-DD).
func ParseFeature(body []byte) (*Edit, error) {
	var f struct {
		Type       string                     `json:"type"`
		Geometry   json.RawMessage            `json:"geometry"`
		Properties map[string]json.RawMessage `json:"properties"`
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&f); err != nil {
		return nil, boundaries.Invalid("body is not a GeoJSON Feature: %v", err)
	}
	if f.Type != "Feature" {
		return nil, boundaries.Invalid("body is not a GeoJSON Feature (type %q)", f.Type)
	}
	e := &Edit{}
	if len(f.Geometry) > 0 && string(f.Geometry) != "null" {
		var g geom.T
		if err := geojson.Unmarshal(f.Geometry, &g); err != nil {
			return nil, boundaries.Invalid("geometry: %v", err)
		}
		e.Geometry = g
	}
	for k, raw := range f.Properties {
		if err := e.setProperty(k, raw); err != nil {
			return nil, err
		}
	}
	return e, nil
}

// setProperty applies one Feature property to e; read-only ones are ignored, unknown refused.
func (e *Edit) setProperty(k string, raw json.RawMessage) error {
	switch k {
	case "code", "level", "name", "approval", "valid_from":
		s, err := propString(k, raw)
		if err != nil {
			return err
		}
		if s == nil {
			return nil
		}
		return e.setRequired(k, *s)
	case "parent_code", "kind":
		s, err := propString(k, raw)
		if err != nil {
			return err
		}
		if s != nil && *s == "" {
			s = nil
		}
		o := OptString{Set: true, Value: s}
		if k == "kind" {
			e.Kind = o
		} else {
			e.ParentCode = o
		}
	case "households", "population":
		o, err := propCount(k, raw)
		if err != nil {
			return err
		}
		if k == "households" {
			e.Households = o
		} else {
			e.Population = o
		}
	default:
		if !slices.Contains(readOnlyProps, k) {
			return boundaries.Invalid("unknown property %q", k)
		}
	}
	return nil
}

// setRequired sets code, level, name, approval or valid_from from its non-null value.
func (e *Edit) setRequired(k, s string) error {
	var err error
	switch k {
	case "code":
		e.Code = s
	case "level":
		if e.Level, err = boundaries.ParseLevel(s); err != nil {
			return boundaries.Invalid("property level: %v", err)
		}
	case "name":
		e.Name = &s
	case "approval":
		e.Approval = s
	case "valid_from":
		if e.ValidFrom, err = boundaries.ParseDate(s); err != nil {
			return boundaries.Invalid("property valid_from: %v", err)
		}
	}
	return nil
}

// propString reads property k as a trimmed string; null gives nil.
func propString(k string, raw json.RawMessage) (*string, error) {
	if string(raw) == "null" {
		return nil, nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return nil, boundaries.Invalid("property %s: want a string", k)
	}
	// PostgreSQL text cannot hold NUL: refuse it here, naming the property,
	// rather than fail in the INSERT.
	if strings.ContainsRune(s, 0) {
		return nil, boundaries.Invalid("property %s: contains a NUL character", k)
	}
	s = strings.TrimSpace(s)
	return &s, nil
}

// propCount reads count property k; null, or a count ParseCount calls unknown, has no value.
func propCount(k string, raw json.RawMessage) (OptInt, error) {
	o := OptInt{Set: true}
	if string(raw) != "null" {
		d := json.NewDecoder(bytes.NewReader(raw))
		d.UseNumber()
		var v any
		if err := d.Decode(&v); err != nil {
			return OptInt{}, boundaries.Invalid("property %s: %v", k, err)
		}
		n, ok, err := boundaries.ParseCount(v)
		if err != nil {
			return OptInt{}, boundaries.Invalid("property %s: %v", k, err)
		}
		if ok {
			o.Value = &n
		}
	}
	return o, nil
}

// WriteResult is a version written by the API.
type WriteResult struct {
	// DryRun: the write was checked and rolled back; nothing changed.
	DryRun       bool            `json:"dry_run,omitempty"`
	VersionID    int64           `json:"version_id"`
	OldVersionID int64           `json:"old_version_id,omitempty"`
	Repaired     []string        `json:"repaired"`
	Unit         json.RawMessage `json:"unit"`
	// Analysis names the run the unit's measures and status come from.
	Analysis *WriteAnalysis `json:"analysis,omitempty"`
	// Warnings are the misfits a forced write accepted (see Fit).
	Warnings []string `json:"warnings,omitempty"`
	// ValidFrom is the written version's first day (zero for a retirement).
	ValidFrom time.Time `json:"-"`
}

// WriteAnalysis is the analysis run a write's response was measured in:
// the live units on that day, brought up to date with the write.
type WriteAnalysis struct {
	RunID int64  `json:"run_id"`
	At    string `json:"at"`
	Note  string `json:"note"`
}

// Current is the current version of a code, locked for a write.
type Current struct {
	ID        int64
	Level     boundaries.Level
	ValidFrom time.Time
	Parent    *string
}

// End closes a current version on a day: the day it is replaced
// (retiredApproval "") or retired with an approval. Versions are never
// overwritten; this is the one place API edits and scenario adoption end
// one.
func (c *Current) End(ctx context.Context, tx pgx.Tx, until time.Time, retiredApproval string) error {
	if _, err := tx.Exec(ctx, `UPDATE units SET valid_to = $2, retired_approval = coalesce(nullif($3, ''), retired_approval)
		WHERE version_id = $1`, c.ID, until, retiredApproval); err != nil {
		return MapWriteErr(fmt.Errorf("close version %d: %w", c.ID, err))
	}
	return nil
}

// Lock reads and locks the current version of a code (nil: none).
func Lock(ctx context.Context, tx pgx.Tx, code string) (*Current, error) {
	var c Current
	var lvl string
	err := tx.QueryRow(ctx, `SELECT version_id, level, valid_from, parent_code FROM units
		WHERE code = $1 AND valid_to IS NULL FOR UPDATE`, code).Scan(&c.ID, &lvl, &c.ValidFrom, &c.Parent)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read unit %s: %w", code, err)
	}
	c.Level = boundaries.Level(lvl)
	return &c, nil
}

// AnyVersion as an ifMatch matches the current version, whichever it is.
const AnyVersion = 0

// errDryRun rolls back a dry run's transaction.
var errDryRun = errors.New("dry run")

// settle ends a write: a dry run's rollback is its result; a committed
// write is seen by this process's next read at once.
func settle(ctx context.Context, st *store.Store, res *WriteResult, err error) (*WriteResult, error) {
	if errors.Is(err, errDryRun) {
		res.DryRun = true
		return res, nil
	}
	if err != nil {
		return nil, err
	}
	st.SyncVersion(ctx)
	return res, nil
}

// lockMatching locks the current version of a code that must exist and,
// when check is set, be version ifMatch (the ETag the caller read).
func lockMatching(ctx context.Context, tx pgx.Tx, code string, ifMatch int64, check bool) (*Current, error) {
	cur, err := Lock(ctx, tx, code)
	if err == nil && cur == nil {
		// A concurrent write may have closed the version this statement
		// waited on and inserted its successor after the statement's
		// snapshot: look again with a new one, so the loser of a race
		// learns the version moved (412), not that there is none (404).
		cur, err = Lock(ctx, tx, code)
	}
	if err != nil {
		return nil, err
	}
	if cur == nil {
		return nil, noCurrent(ctx, tx, code, ifMatch, check)
	}
	if check && cur.ID != ifMatch {
		return nil, staleError(code, cur.ID, cur.ValidFrom, ifMatch)
	}
	return cur, nil
}

// prepareGeometry runs the importer's checks on a geometry: structure and
// orientation in Go (geo.Validate), the shift of Chinese web maps undone,
// the lon/lat range, then in PostGIS the transform to EPSG:4326 and
// ST_MakeValid keeping the polygonal part. It returns the geometry ready to
// store and the repairs made.
func prepareGeometry(ctx context.Context, tx pgx.Tx, g geom.T, crs *geo.CRS) (geom.T, []string, error) {
	c, _ := geo.ParseCRS("wgs84")
	if crs != nil {
		c = *crs
	}
	repaired := []string{}
	for _, p := range geo.Validate(g) {
		if p.Reject {
			return nil, nil, boundaries.Invalid("geometry: %s", p.Reason)
		}
		repaired = append(repaired, p.Reason)
	}
	if c.Shift != geo.NoShift {
		geo.Transform(g, c.Unshift)
	}
	srid := c.SRID
	if srid == 4490 { // CGCS2000 is stored as WGS84 (centimetres apart)
		srid = 4326
	}
	if srid == 4326 {
		if err := geo.CheckLonLatRange(g); err != nil {
			return nil, nil, boundaries.Invalid("geometry: %v", err)
		}
	}
	g, err := geom.SetSRID(g, srid)
	if err != nil {
		return nil, nil, boundaries.Invalid("geometry: %v", err)
	}
	var why *string
	var empty, inRange bool
	var out geom.T
	err = tx.QueryRow(ctx, `WITH t AS (SELECT ST_Transform($1::geometry, 4326) AS g),
			v AS (SELECT g, CASE WHEN ST_IsValid(g) THEN NULL ELSE ST_IsValidReason(g) END AS why FROM t),
			m AS (SELECT why, ST_Multi(ST_ForcePolygonCCW(CASE WHEN why IS NULL THEN g
				ELSE ST_CollectionExtract(ST_MakeValid(g), 3) END)) AS g FROM v)
		SELECT why, ST_IsEmpty(g), ST_XMin(g) >= -180 AND ST_XMax(g) <= 180 AND ST_YMin(g) >= -90 AND ST_YMax(g) <= 90, g FROM m`,
		g).Scan(&why, &empty, &inRange, &out)
	if err != nil {
		var pe *pgconn.PgError
		if errors.As(err, &pe) {
			return nil, nil, boundaries.Invalid("geometry: %s", pe.Message)
		}
		return nil, nil, fmt.Errorf("prepare geometry: %w", err)
	}
	if why != nil {
		if empty {
			return nil, nil, boundaries.Invalid("geometry: invalid geometry that leaves no polygon when repaired: %s", *why)
		}
		repaired = append(repaired, "made valid: "+*why)
	}
	if !inRange {
		return nil, nil, boundaries.Invalid("geometry: coordinates outside lon/lat range after transform; is the CRS right?")
	}
	return out, repaired, nil
}

// checkParent is the importer's parent rule: a parent must be a loaded unit
// of the level above, unless no unit of that level is loaded at all or
// orphans are allowed.
func checkParent(ctx context.Context, tx pgx.Tx, l boundaries.Level, parent *string, allowOrphans bool) error {
	pl := l.Parent()
	if pl == "" || allowOrphans {
		return nil
	}
	var loaded, found bool
	p := ""
	if parent != nil {
		p = *parent
	}
	if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM units WHERE level = $1 AND valid_to IS NULL),
		EXISTS (SELECT 1 FROM units WHERE level = $1 AND valid_to IS NULL AND code = $2)`, string(pl), p).Scan(&loaded, &found); err != nil {
		return fmt.Errorf("check parent: %w", err)
	}
	if !loaded || found {
		return nil
	}
	if parent == nil {
		return boundaries.Invalid("no parent code (none given, none derivable from the code); give parent_code or allow_orphans")
	}
	return boundaries.Invalid("parent %s is not a loaded %s; use allow_orphans to accept it", p, pl)
}

func (e *Edit) checkRequired() error {
	if strings.TrimSpace(e.Approval) == "" {
		return boundaries.ApprovalRequired()
	}
	if e.ValidFrom.IsZero() {
		return boundaries.Invalid("valid_from (YYYY-MM-DD) is required")
	}
	return nil
}

func optArg[T any](set bool, v *T) (bool, any) {
	if !set || v == nil {
		return set, nil
	}
	return true, *v
}

// MapWriteErr turns constraint violations into validation errors.
func MapWriteErr(err error) error {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch pe.Code {
		case "23P01": // exclusion: two versions valid on one day
			return boundaries.Invalid("another version of this code is valid on those days (%s)", pe.Message)
		case "23514": // check: negative counts, valid_to before valid_from
			return boundaries.Invalid("%s", pe.Message)
		}
	}
	return err
}

// Create writes the first version of a unit.
func Create(ctx context.Context, st *store.Store, e *Edit, a Actor) (*WriteResult, error) {
	if err := e.checkRequired(); err != nil {
		return nil, err
	}
	if strings.TrimSpace(e.Code) == "" {
		return nil, boundaries.Invalid("code is required")
	}
	if e.Level == "" {
		return nil, boundaries.Invalid("level (district, street, community or grid) is required")
	}
	if e.Name == nil || *e.Name == "" {
		return nil, boundaries.Invalid("name is required")
	}
	if e.Geometry == nil {
		return nil, boundaries.Invalid("geometry is required")
	}
	parent := e.ParentCode.Value
	if !e.ParentCode.Set {
		if d := boundaries.DerivedParent(e.Level, e.Code); d != "" {
			parent = &d
		}
	}
	res := &WriteResult{}
	err := st.Tx(ctx, func(tx pgx.Tx) error {
		cur, err := Lock(ctx, tx, e.Code)
		if err != nil {
			return err
		}
		if cur != nil {
			return fmt.Errorf("unit %s is already a %s (change it with PUT): %w", e.Code, cur.Level, boundaries.ErrConflict)
		}
		g, repaired, err := prepareGeometry(ctx, tx, e.Geometry, e.CRS)
		if err != nil {
			return err
		}
		res.Repaired = repaired
		if err := checkParent(ctx, tx, e.Level, parent, e.AllowOrphans); err != nil {
			return err
		}
		problems, err := checkFit(ctx, tx, e.Fit, e.Code, e.Level, parent, g, 0, e.ValidFrom)
		if err != nil {
			return err
		}
		if err := refuseMisfit(problems, e.Force, res); err != nil {
			return err
		}
		_, kind := optArg(e.Kind.Set, e.Kind.Value)
		_, hh := optArg(e.Households.Set, e.Households.Value)
		_, pop := optArg(e.Population.Set, e.Population.Value)
		if err := tx.QueryRow(ctx, `INSERT INTO units (code, name, level, parent_code, kind, households, population, geom, valid_from, approval, source)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING version_id`,
			e.Code, *e.Name, string(e.Level), parent, kind, hh, pop, g, e.ValidFrom, e.Approval, a.Source()).Scan(&res.VersionID); err != nil {
			return MapWriteErr(fmt.Errorf("create unit %s: %w", e.Code, err))
		}
		res.ValidFrom = e.ValidFrom
		return finishWrite(ctx, tx, a, "create", e.Code, 0, res, map[string]any{"approval": e.Approval, "valid_from": e.ValidFrom.Format("2006-01-02")}, e.DryRun)
	})
	return settle(ctx, st, res, err)
}

// Update writes a new version of a unit; ifMatch must be the current
// version's id (the ETag the caller read), else ErrStale; AnyVersion
// (If-Match: *) takes whichever is current.
func Update(ctx context.Context, st *store.Store, code string, ifMatch int64, e *Edit, a Actor) (*WriteResult, error) {
	if err := e.checkRequired(); err != nil {
		return nil, err
	}
	if e.Code != "" && e.Code != code {
		return nil, boundaries.Invalid("property code %s differs from the code in the URL %s (codes do not change; retire and create instead)", e.Code, code)
	}
	if e.Name != nil && *e.Name == "" {
		return nil, boundaries.Invalid("name must not be empty")
	}
	res := &WriteResult{Repaired: []string{}}
	err := st.Tx(ctx, func(tx pgx.Tx) error {
		cur, err := lockMatching(ctx, tx, code, ifMatch, ifMatch != AnyVersion)
		if err != nil {
			return err
		}
		if e.Level != "" && e.Level != cur.Level {
			return boundaries.Invalid("unit %s is a %s; its level cannot change", code, cur.Level)
		}
		if e.ValidFrom.Before(cur.ValidFrom) {
			return boundaries.Invalid("valid_from %s is before the current version's valid_from %s",
				e.ValidFrom.Format("2006-01-02"), cur.ValidFrom.Format("2006-01-02"))
		}
		var g any
		if e.Geometry != nil {
			pg, repaired, err := prepareGeometry(ctx, tx, e.Geometry, e.CRS)
			if err != nil {
				return err
			}
			g, res.Repaired = pg, repaired
		}
		parent := cur.Parent
		if e.ParentCode.Set {
			parent = e.ParentCode.Value
		}
		// Only a changed parent is checked: keeping an orphan's parent is
		// not a new decision.
		if e.ParentCode.Set && !equalPtr(parent, cur.Parent) {
			if err := checkParent(ctx, tx, cur.Level, parent, e.AllowOrphans); err != nil {
				return err
			}
		}
		// A new geometry or parent is a new fit to check; an unchanged one
		// was accepted before.
		if e.Geometry != nil || e.ParentCode.Set && !equalPtr(parent, cur.Parent) {
			problems, err := checkFit(ctx, tx, e.Fit, code, cur.Level, parent, g, cur.ID, e.ValidFrom)
			if err != nil {
				return err
			}
			if err := refuseMisfit(problems, e.Force, res); err != nil {
				return err
			}
		}
		if err := cur.End(ctx, tx, e.ValidFrom, ""); err != nil {
			return err
		}
		setKind, kind := optArg(e.Kind.Set, e.Kind.Value)
		setHH, hh := optArg(e.Households.Set, e.Households.Value)
		setPop, pop := optArg(e.Population.Set, e.Population.Value)
		if err := tx.QueryRow(ctx, `INSERT INTO units (code, name, level, parent_code, kind, households, population,
				provisional, geom, valid_from, approval, source)
			SELECT code, coalesce($2, name), level, $3, CASE WHEN $4 THEN $5 ELSE kind END,
				CASE WHEN $6 THEN $7::integer ELSE households END, CASE WHEN $8 THEN $9::integer ELSE population END,
				provisional, coalesce($10::geometry, geom), $11, $12, $13
			FROM units WHERE version_id = $1 RETURNING version_id`,
			cur.ID, e.Name, parent, setKind, kind, setHH, hh, setPop, pop, g, e.ValidFrom, e.Approval, a.Source()).Scan(&res.VersionID); err != nil {
			return MapWriteErr(fmt.Errorf("update unit %s: %w", code, err))
		}
		res.OldVersionID, res.ValidFrom = cur.ID, e.ValidFrom
		return finishWrite(ctx, tx, a, "update", code, cur.ID, res, map[string]any{"approval": e.Approval, "valid_from": e.ValidFrom.Format("2006-01-02")}, e.DryRun)
	})
	return settle(ctx, st, res, err)
}

func equalPtr(a, b *string) bool {
	return (a == nil && b == nil) || (a != nil && b != nil && *a == *b)
}

// Retire ends a unit: its current version gets valid_to and the
// approval that ended it; no row is deleted. ifMatch, when not 0, must be
// the current version's id. A unit with current children is not retired.
// dryRun checks and rolls back.
func Retire(ctx context.Context, st *store.Store, code string, ifMatch int64, validTo time.Time, approval string, dryRun bool, a Actor) (*WriteResult, error) {
	if strings.TrimSpace(approval) == "" {
		return nil, boundaries.ApprovalRequired()
	}
	if validTo.IsZero() {
		return nil, boundaries.Invalid("valid_to (YYYY-MM-DD) is required")
	}
	res := &WriteResult{Repaired: []string{}}
	err := st.Tx(ctx, func(tx pgx.Tx) error {
		cur, err := lockMatching(ctx, tx, code, ifMatch, ifMatch != 0)
		if err != nil {
			return err
		}
		if validTo.Before(cur.ValidFrom) {
			return boundaries.Invalid("valid_to %s is before the current version's valid_from %s",
				validTo.Format("2006-01-02"), cur.ValidFrom.Format("2006-01-02"))
		}
		var children int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM units WHERE parent_code = $1 AND valid_to IS NULL`, code).Scan(&children); err != nil {
			return fmt.Errorf("retire %s: %w", code, err)
		}
		if children > 0 {
			return fmt.Errorf("unit %s still has %d current children; retire or move them first: %w", code, children, boundaries.ErrConflict)
		}
		if err := cur.End(ctx, tx, validTo, approval); err != nil {
			return err
		}
		res.VersionID = cur.ID
		return finishWrite(ctx, tx, a, "retire", code, cur.ID, res, map[string]any{"approval": approval, "valid_to": validTo.Format("2006-01-02")}, dryRun)
	})
	return settle(ctx, st, res, err)
}

// finishWrite bumps the data version (as the importer does) and audits;
// a dry run then rolls back (errDryRun).
func finishWrite(ctx context.Context, tx pgx.Tx, a Actor, action, code string, oldV int64, res *WriteResult, detail map[string]any, dryRun bool) error {
	if err := store.BumpDataVersion(ctx, tx); err != nil {
		return err
	}
	newV := res.VersionID
	if action == "retire" {
		newV = 0
	}
	if err := Audit(ctx, tx, a, action, code, oldV, newV, detail); err != nil {
		return err
	}
	if dryRun {
		return errDryRun
	}
	return nil
}
