package boundaries

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

	"github.com/jiedao/jiedao/geo"
)

// Single-unit writes from the API: create, change, retire. Like imports they
// never overwrite: a change closes the current version (valid_to = the new
// version's valid_from) and inserts a new one; a retirement only sets
// valid_to. Each runs in one transaction with the same checks as the
// importer, the data-version bump and an audit entry.

// ErrStale is returned when the caller's version is not the current one.
var ErrStale = errors.New("the unit has changed since it was read")

// ErrConflict is returned when the write contradicts the stored units (a
// code that exists, a unit that still has children).
var ErrConflict = errors.New("conflict")

// ValidationError is an edit the checks refuse; the message says why.
type ValidationError struct{ Msg string }

func (e *ValidationError) Error() string { return e.Msg }

func invalid(format string, args ...any) error {
	return &ValidationError{Msg: fmt.Sprintf(format, args...)}
}

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

// UnitEdit is the content of a new unit version. Absent attributes and a
// nil Geometry are kept from the current version.
type UnitEdit struct {
	Code       string // create only (a change takes the code from the URL)
	Level      Level  // create only
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
}

// readOnlyProps are fields of a unit as the API returns it; a client may
// send a returned unit back as the properties of a change, so they are
// ignored rather than refused.
var readOnlyProps = []string{"counts_method", "area_km2", "density", "household_density", "ratio_to_normal", "status",
	"reasons", "staff_min", "staff_max", "outside_share", "provisional", "valid_to", "version_id", "source", "geometry"}

// ParseFeature reads a GeoJSON Feature carrying a new version: geometry
// (or null to keep it) and properties code, level, name, parent_code,
// kind, households, population, approval and valid_from (YYYY-MM-DD).
func ParseFeature(body []byte) (*UnitEdit, error) {
	var f struct {
		Type       string                     `json:"type"`
		Geometry   json.RawMessage            `json:"geometry"`
		Properties map[string]json.RawMessage `json:"properties"`
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&f); err != nil {
		return nil, invalid("body is not a GeoJSON Feature: %v", err)
	}
	if f.Type != "Feature" {
		return nil, invalid("body is not a GeoJSON Feature (type %q)", f.Type)
	}
	e := &UnitEdit{}
	if len(f.Geometry) > 0 && string(f.Geometry) != "null" {
		var g geom.T
		if err := geojson.Unmarshal(f.Geometry, &g); err != nil {
			return nil, invalid("geometry: %v", err)
		}
		e.Geometry = g
	}
	for k, raw := range f.Properties {
		null := string(raw) == "null"
		str := func() (*string, error) {
			if null {
				return nil, nil
			}
			var s string
			if err := json.Unmarshal(raw, &s); err != nil {
				return nil, invalid("property %s: want a string", k)
			}
			s = strings.TrimSpace(s)
			return &s, nil
		}
		switch k {
		case "code", "level", "name", "approval", "valid_from":
			s, err := str()
			if err != nil {
				return nil, err
			}
			if s == nil {
				continue
			}
			switch k {
			case "code":
				e.Code = *s
			case "level":
				if e.Level, err = ParseLevel(*s); err != nil {
					return nil, invalid("property level: %v", err)
				}
			case "name":
				e.Name = s
			case "approval":
				e.Approval = *s
			case "valid_from":
				if e.ValidFrom, err = ParseDate(*s); err != nil {
					return nil, invalid("property valid_from: %v", err)
				}
			}
		case "parent_code", "kind":
			s, err := str()
			if err != nil {
				return nil, err
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
			o := OptInt{Set: true}
			if !null {
				d := json.NewDecoder(bytes.NewReader(raw))
				d.UseNumber()
				var v any
				if err := d.Decode(&v); err != nil {
					return nil, invalid("property %s: %v", k, err)
				}
				n, ok, err := propCount(map[string]any{k: v}, k)
				if err != nil {
					return nil, invalid("property %s: %v", k, err)
				}
				if ok {
					o.Value = &n
				}
			}
			if k == "households" {
				e.Households = o
			} else {
				e.Population = o
			}
		default:
			if !slices.Contains(readOnlyProps, k) {
				return nil, invalid("unknown property %q", k)
			}
		}
	}
	return e, nil
}

// WriteResult is a version written by the API.
type WriteResult struct {
	VersionID    int64           `json:"version_id"`
	OldVersionID int64           `json:"old_version_id,omitempty"`
	Repaired     []string        `json:"repaired"`
	Unit         json.RawMessage `json:"unit"`
}

type currentVersion struct {
	id        int64
	level     Level
	validFrom time.Time
	parent    *string
}

// lockCurrent reads and locks the current version of a code.
// end closes a current version on a day: the day it is replaced
// (retiredApproval "") or retired with an approval. Versions are never overwritten; this
// is the one place API edits and scenario adoption end one.
func (c *currentVersion) end(ctx context.Context, tx pgx.Tx, until time.Time, retiredApproval string) error {
	if _, err := tx.Exec(ctx, `UPDATE units SET valid_to = $2, retired_approval = coalesce(nullif($3, ''), retired_approval)
		WHERE version_id = $1`, c.id, until, retiredApproval); err != nil {
		return mapWriteErr(fmt.Errorf("close version %d: %w", c.id, err))
	}
	return nil
}

func lockCurrent(ctx context.Context, tx pgx.Tx, code string) (*currentVersion, error) {
	var c currentVersion
	var lvl string
	err := tx.QueryRow(ctx, `SELECT version_id, level, valid_from, parent_code FROM units
		WHERE code = $1 AND valid_to IS NULL FOR UPDATE`, code).Scan(&c.id, &lvl, &c.validFrom, &c.parent)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read unit %s: %w", code, err)
	}
	c.level = Level(lvl)
	return &c, nil
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
			return nil, nil, invalid("geometry: %s", p.Reason)
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
			return nil, nil, invalid("geometry: %v", err)
		}
	}
	g, err := geom.SetSRID(g, srid)
	if err != nil {
		return nil, nil, invalid("geometry: %v", err)
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
			return nil, nil, invalid("geometry: %s", pe.Message)
		}
		return nil, nil, fmt.Errorf("prepare geometry: %w", err)
	}
	if why != nil {
		if empty {
			return nil, nil, invalid("geometry: invalid geometry that leaves no polygon when repaired: %s", *why)
		}
		repaired = append(repaired, "made valid: "+*why)
	}
	if !inRange {
		return nil, nil, invalid("geometry: coordinates outside lon/lat range after transform; is the CRS right?")
	}
	return out, repaired, nil
}

// checkParent is the importer's parent rule: a parent must be a loaded unit
// of the level above, unless no unit of that level is loaded at all or
// orphans are allowed.
func checkParent(ctx context.Context, tx pgx.Tx, l Level, parent *string, allowOrphans bool) error {
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
		return invalid("no parent code (none given, none derivable from the code); give parent_code or allow_orphans")
	}
	return invalid("parent %s is not a loaded %s; use allow_orphans to accept it", p, pl)
}

func (e *UnitEdit) checkRequired() error {
	if strings.TrimSpace(e.Approval) == "" {
		return invalid("approval (批复文号) is required")
	}
	if e.ValidFrom.IsZero() {
		return invalid("valid_from (YYYY-MM-DD) is required")
	}
	return nil
}

func apiSource(a Actor) string { return "api (key " + a.KeyName + ")" }

func optArg[T any](set bool, v *T) (bool, any) {
	if !set || v == nil {
		return set, nil
	}
	return true, *v
}

// mapWriteErr turns constraint violations into validation errors.
func mapWriteErr(err error) error {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch pe.Code {
		case "23P01": // exclusion: two versions valid on one day
			return invalid("another version of this code is valid on those days (%s)", pe.Message)
		case "23514": // check: negative counts, valid_to before valid_from
			return invalid("%s", pe.Message)
		}
	}
	return err
}

// CreateUnit writes the first version of a unit.
func (s *Store) CreateUnit(ctx context.Context, e *UnitEdit, a Actor) (*WriteResult, error) {
	if err := e.checkRequired(); err != nil {
		return nil, err
	}
	if strings.TrimSpace(e.Code) == "" {
		return nil, invalid("code is required")
	}
	if e.Level == "" {
		return nil, invalid("level (district, street or community) is required")
	}
	if e.Name == nil || *e.Name == "" {
		return nil, invalid("name is required")
	}
	if e.Geometry == nil {
		return nil, invalid("geometry is required")
	}
	parent := e.ParentCode.Value
	if !e.ParentCode.Set {
		if d := DerivedParent(e.Level, e.Code); d != "" {
			parent = &d
		}
	}
	res := &WriteResult{}
	err := pgx.BeginFunc(ctx, s.Pool, func(tx pgx.Tx) error {
		cur, err := lockCurrent(ctx, tx, e.Code)
		if err != nil {
			return err
		}
		if cur != nil {
			return fmt.Errorf("unit %s is already a %s (change it with PUT): %w", e.Code, cur.level, ErrConflict)
		}
		g, repaired, err := prepareGeometry(ctx, tx, e.Geometry, e.CRS)
		if err != nil {
			return err
		}
		res.Repaired = repaired
		if err := checkParent(ctx, tx, e.Level, parent, e.AllowOrphans); err != nil {
			return err
		}
		_, kind := optArg(e.Kind.Set, e.Kind.Value)
		_, hh := optArg(e.Households.Set, e.Households.Value)
		_, pop := optArg(e.Population.Set, e.Population.Value)
		if err := tx.QueryRow(ctx, `INSERT INTO units (code, name, level, parent_code, kind, households, population, geom, valid_from, approval, source)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING version_id`,
			e.Code, *e.Name, string(e.Level), parent, kind, hh, pop, g, e.ValidFrom, e.Approval, apiSource(a)).Scan(&res.VersionID); err != nil {
			return mapWriteErr(fmt.Errorf("create unit %s: %w", e.Code, err))
		}
		return s.finishWrite(ctx, tx, a, "create", e.Code, 0, res, map[string]any{"approval": e.Approval, "valid_from": e.ValidFrom.Format("2006-01-02")})
	})
	if err != nil {
		return nil, err
	}
	s.syncVersion(ctx)
	return res, nil
}

// UpdateUnit writes a new version of a unit; ifMatch must be the current
// version's id (the ETag the caller read), else ErrStale.
func (s *Store) UpdateUnit(ctx context.Context, code string, ifMatch int64, e *UnitEdit, a Actor) (*WriteResult, error) {
	if err := e.checkRequired(); err != nil {
		return nil, err
	}
	if e.Code != "" && e.Code != code {
		return nil, invalid("property code %s differs from the code in the URL %s (codes do not change; retire and create instead)", e.Code, code)
	}
	if e.Name != nil && *e.Name == "" {
		return nil, invalid("name must not be empty")
	}
	res := &WriteResult{Repaired: []string{}}
	err := pgx.BeginFunc(ctx, s.Pool, func(tx pgx.Tx) error {
		cur, err := lockCurrent(ctx, tx, code)
		if err != nil {
			return err
		}
		if cur == nil {
			return fmt.Errorf("unit %s (no current version): %w", code, ErrNotFound)
		}
		if e.Level != "" && e.Level != cur.level {
			return invalid("unit %s is a %s; its level cannot change", code, cur.level)
		}
		if cur.id != ifMatch {
			return fmt.Errorf("unit %s: current version is %d, not %d: %w", code, cur.id, ifMatch, ErrStale)
		}
		if e.ValidFrom.Before(cur.validFrom) {
			return invalid("valid_from %s is before the current version's valid_from %s",
				e.ValidFrom.Format("2006-01-02"), cur.validFrom.Format("2006-01-02"))
		}
		var g any
		if e.Geometry != nil {
			pg, repaired, err := prepareGeometry(ctx, tx, e.Geometry, e.CRS)
			if err != nil {
				return err
			}
			g, res.Repaired = pg, repaired
		}
		parent := cur.parent
		if e.ParentCode.Set {
			parent = e.ParentCode.Value
		}
		// Only a changed parent is checked: keeping an orphan's parent is
		// not a new decision.
		if e.ParentCode.Set && !equalPtr(parent, cur.parent) {
			if err := checkParent(ctx, tx, cur.level, parent, e.AllowOrphans); err != nil {
				return err
			}
		}
		if err := cur.end(ctx, tx, e.ValidFrom, ""); err != nil {
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
			cur.id, e.Name, parent, setKind, kind, setHH, hh, setPop, pop, g, e.ValidFrom, e.Approval, apiSource(a)).Scan(&res.VersionID); err != nil {
			return mapWriteErr(fmt.Errorf("update unit %s: %w", code, err))
		}
		res.OldVersionID = cur.id
		return s.finishWrite(ctx, tx, a, "update", code, cur.id, res, map[string]any{"approval": e.Approval, "valid_from": e.ValidFrom.Format("2006-01-02")})
	})
	if err != nil {
		return nil, err
	}
	s.syncVersion(ctx)
	return res, nil
}

func equalPtr(a, b *string) bool {
	return (a == nil && b == nil) || (a != nil && b != nil && *a == *b)
}

// RetireUnit ends a unit: its current version gets valid_to and the
// approval that ended it; no row is deleted. ifMatch, when not 0, must be
// the current version's id. A unit with current children is not retired.
func (s *Store) RetireUnit(ctx context.Context, code string, ifMatch int64, validTo time.Time, approval string, a Actor) (*WriteResult, error) {
	if strings.TrimSpace(approval) == "" {
		return nil, invalid("approval (批复文号) is required")
	}
	if validTo.IsZero() {
		return nil, invalid("valid_to (YYYY-MM-DD) is required")
	}
	res := &WriteResult{Repaired: []string{}}
	err := pgx.BeginFunc(ctx, s.Pool, func(tx pgx.Tx) error {
		cur, err := lockCurrent(ctx, tx, code)
		if err != nil {
			return err
		}
		if cur == nil {
			return fmt.Errorf("unit %s (no current version): %w", code, ErrNotFound)
		}
		if ifMatch != 0 && cur.id != ifMatch {
			return fmt.Errorf("unit %s: current version is %d, not %d: %w", code, cur.id, ifMatch, ErrStale)
		}
		if validTo.Before(cur.validFrom) {
			return invalid("valid_to %s is before the current version's valid_from %s",
				validTo.Format("2006-01-02"), cur.validFrom.Format("2006-01-02"))
		}
		var children int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM units WHERE parent_code = $1 AND valid_to IS NULL`, code).Scan(&children); err != nil {
			return fmt.Errorf("retire %s: %w", code, err)
		}
		if children > 0 {
			return fmt.Errorf("unit %s still has %d current children; retire or move them first: %w", code, children, ErrConflict)
		}
		if err := cur.end(ctx, tx, validTo, approval); err != nil {
			return err
		}
		res.VersionID = cur.id
		return s.finishWrite(ctx, tx, a, "retire", code, cur.id, res, map[string]any{"approval": approval, "valid_to": validTo.Format("2006-01-02")})
	})
	if err != nil {
		return nil, err
	}
	s.syncVersion(ctx)
	return res, nil
}

// finishWrite bumps the data version (as the importer does), audits and
// reads the written version back.
func (s *Store) finishWrite(ctx context.Context, tx pgx.Tx, a Actor, action, code string, oldV int64, res *WriteResult, detail map[string]any) error {
	if err := bumpDataVersion(ctx, tx); err != nil {
		return err
	}
	newV := res.VersionID
	if action == "retire" {
		newV = 0
	}
	if err := audit(ctx, tx, a, action, code, oldV, newV, detail); err != nil {
		return err
	}
	var b []byte
	// Run 0 matches no analysis: a new version has none yet.
	if err := tx.QueryRow(ctx, `SELECT `+unitJSON()+` FROM `+unitsFrom+`u.version_id = $2`, 0, res.VersionID).Scan(&b); err != nil {
		return fmt.Errorf("read version %d: %w", res.VersionID, err)
	}
	res.Unit = b
	return nil
}

// VersionEntry is one version of a unit in its history.
type VersionEntry struct {
	Unit
	RetiredApproval *string `json:"retired_approval"`
}

// UnitHistory lists every version of a unit, oldest first, with the
// approval that retired it (if any).
func (s *Store) UnitHistory(ctx context.Context, code string) ([]VersionEntry, error) {
	rows, err := s.Pool.Query(ctx, `SELECT `+unitCols+`, u.retired_approval FROM units u WHERE u.code = $1
		ORDER BY u.valid_from, u.version_id`, code)
	if err != nil {
		return nil, fmt.Errorf("history of %s: %w", code, err)
	}
	defer rows.Close()
	var out []VersionEntry
	for rows.Next() {
		var v VersionEntry
		var lvl string
		if err := rows.Scan(&v.VersionID, &v.Code, &v.Name, &lvl, &v.ParentCode, &v.Kind, &v.Households, &v.Population,
			&v.Provisional, &v.AreaKM2, &v.ValidFrom, &v.ValidTo, &v.Approval, &v.Source, &v.RetiredApproval); err != nil {
			return nil, fmt.Errorf("history of %s: %w", code, err)
		}
		v.Level = Level(lvl)
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("history of %s: %w", code, err)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("history of %s: %w", code, ErrNotFound)
	}
	return out, nil
}
