package scenario

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/twpayne/go-geom"
	"github.com/twpayne/go-geom/encoding/geojson"
	"github.com/twpayne/go-geom/encoding/wkb"

	"github.com/jiedao/jiedao/boundaries"
	"github.com/jiedao/jiedao/boundaries/store"
	"github.com/jiedao/jiedao/geo"
)

// Drafts are scenarios edited unit by unit (from QGIS, through OGC API
// Features Part 4): each write replaces or removes one unit of the
// draft, is kept in scenario_edits, and invalidates the scenario's
// analysis runs, so its map, diff and report follow every edit. Nothing
// reaches units until the draft is adopted with its approval.

// Editable are the levels a draft edits: those scenario_units replaces
// (UnitsSQL swaps communities and grids, not streets).
var Editable = []boundaries.Level{boundaries.Community, boundaries.Grid}

// CreateDraft stores an empty scenario to be edited.
func CreateDraft(ctx context.Context, st *store.Store, name, profile string) (*Scenario, error) {
	name = strings.TrimSpace(name)
	if name == "" {
		return nil, boundaries.Invalid("scenario name is required")
	}
	var id int64
	err := st.Primary().QueryRow(ctx, `INSERT INTO scenarios (name, profile, plan, draft) VALUES ($1, $2, '{"draft":true}', true) RETURNING id`,
		name, profile).Scan(&id)
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "23505" {
		return nil, fmt.Errorf("scenario %s: %w", name, boundaries.ErrDuplicate)
	}
	if err != nil {
		return nil, fmt.Errorf("scenario %s: %w", name, err)
	}
	return Get(ctx, st, id)
}

// Edit is one write to a draft's unit.
type Edit struct {
	Scenario int64
	Level    boundaries.Level
	// Code is the unit written; "" on create, where properties.code names it.
	Code string
	Op   string // create, replace (PUT: the whole feature) or update (PATCH: a JSON Merge Patch)
	Body []byte // a GeoJSON Feature, or for update a merge patch of one
	CRS  geo.CRS
	// IfMatch is the ETag the writer read ("" writes unconditionally: last
	// writer wins, the history keeps the one overwritten).
	IfMatch string
	KeyName string
}

// effectiveSQL is a draft's unit as it stands: its own row, else the live
// current unit unless the draft removes it. $1 scenario, $2 code, $3 level.
const effectiveSQL = `SELECT x.code, x.name, x.parent_code, x.households::bigint, x.population::bigint, x.geom, NULL::bigint AS version_id, true AS own
	FROM scenario_units x WHERE x.scenario_id = $1 AND x.code = $2 AND x.level = $3
	UNION ALL
	SELECT u.code, u.name, u.parent_code, u.households::bigint, u.population::bigint, u.geom, u.version_id, false
	FROM units u WHERE u.code = $2 AND u.level = $3 AND u.valid_to IS NULL
	  AND NOT EXISTS (SELECT 1 FROM scenario_units x WHERE x.scenario_id = $1 AND x.code = $2)
	  AND NOT EXISTS (SELECT 1 FROM scenario_removed r WHERE r.scenario_id = $1 AND r.code = $2)`

// etagExpr is the ETag of a unit row e: a hash of what a writer can
// change, so the live unit and its untouched draft copy have the same tag.
const etagExpr = `'"' || md5(concat_ws('|', e.name, e.parent_code, e.households, e.population, encode(ST_AsEWKB(e.geom), 'hex'))) || '"'`

// unitJSON is a unit row e as history keeps it.
const unitJSON = `jsonb_build_object('code', e.code, 'name', e.name, 'parent_code', e.parent_code, 'households', e.households,
	'population', e.population, 'geometry', ST_AsGeoJSON(e.geom)::jsonb)`

// ETag is the tag of a draft's unit (ErrNotFound: none, or removed).
func ETag(ctx context.Context, st *store.Store, id int64, level boundaries.Level, code string) (string, error) {
	var tag string
	err := st.Primary().QueryRow(ctx, `SELECT `+etagExpr+` FROM (`+effectiveSQL+`) e`, id, code, string(level)).Scan(&tag)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", fmt.Errorf("scenario %d: %s %s: %w", id, level, code, boundaries.ErrNotFound)
	}
	if err != nil {
		return "", fmt.Errorf("scenario %d: %s %s: %w", id, level, code, err)
	}
	return tag, nil
}

// unitRow is the effective unit read for an edit.
type unitRow struct {
	found           bool
	tag             string
	name, parent    *string
	households, pop *int64
	geometry        json.RawMessage
	version         *int64
	own             bool
	before          []byte
	code            string
}

// lockDraft serialises the writes to one draft and refuses an adopted one.
func lockDraft(ctx context.Context, tx pgx.Tx, id int64) error {
	var adopted bool
	err := tx.QueryRow(ctx, `SELECT adopted_at IS NOT NULL FROM scenarios WHERE id = $1 FOR UPDATE`, id).Scan(&adopted)
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("scenario %d: %w", id, boundaries.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("scenario %d: %w", id, err)
	}
	if adopted {
		return fmt.Errorf("scenario %d: %w", id, ErrAdopted)
	}
	return nil
}

func readUnit(ctx context.Context, tx pgx.Tx, id int64, level boundaries.Level, code string) (*unitRow, error) {
	r := &unitRow{code: code}
	err := tx.QueryRow(ctx, `SELECT `+etagExpr+`, e.name, e.parent_code, e.households, e.population, ST_AsGeoJSON(e.geom)::text,
			e.version_id, e.own, `+unitJSON+` FROM (`+effectiveSQL+`) e`, id, code, string(level)).
		Scan(&r.tag, &r.name, &r.parent, &r.households, &r.pop, &r.geometry, &r.version, &r.own, &r.before)
	if errors.Is(err, pgx.ErrNoRows) {
		return r, nil
	}
	if err != nil {
		return nil, fmt.Errorf("scenario %d: read %s %s: %w", id, level, code, err)
	}
	r.found = true
	return r, nil
}

// checkMatch applies If-Match: "*" needs the unit, a tag must be its tag.
func checkMatch(ifMatch string, r *unitRow) error {
	if ifMatch == "" {
		return nil
	}
	if !r.found {
		return fmt.Errorf("%s: If-Match %s: %w", r.code, ifMatch, boundaries.ErrStale)
	}
	for _, t := range strings.Split(ifMatch, ",") {
		t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
		if t == "*" || t == r.tag {
			return nil
		}
	}
	return fmt.Errorf("%s: If-Match %s, current %s: %w", r.code, ifMatch, r.tag, boundaries.ErrStale)
}

// Apply writes one unit of a draft and returns its code and new ETag.
// Validation is the importer's per-feature rules (geo.Validate's rings,
// the name, counts as boundaries.ParseCount reads them, the parent a
// loaded unit of the level above or a unit of the draft, PostGIS repair
// of what stays polygonal); a refusal is a ValidationError listing the
// reasons, and nothing is written.
func Apply(ctx context.Context, st *store.Store, e Edit) (code, tag string, err error) {
	if !isEditable(e.Level) {
		return "", "", boundaries.Invalid("%s cannot be edited in a scenario (editable: communities, grids)", e.Level)
	}
	err = st.Tx(ctx, func(tx pgx.Tx) error {
		if err := lockDraft(ctx, tx, e.Scenario); err != nil {
			return err
		}
		f, err := decodeFeature(e.Body)
		if err != nil {
			return err
		}
		code = e.Code
		if e.Op == "create" {
			if code, err = createCode(f); err != nil {
				return err
			}
		}
		cur, err := readUnit(ctx, tx, e.Scenario, e.Level, code)
		if err != nil {
			return err
		}
		switch {
		case e.Op == "create" && cur.found:
			return fmt.Errorf("%s %s is already in the scenario or live; PUT or PATCH its item: %w", e.Level, code, boundaries.ErrDuplicate)
		case e.Op != "create" && !cur.found:
			return fmt.Errorf("scenario %d: no %s %s: %w", e.Scenario, e.Level, code, boundaries.ErrNotFound)
		}
		if err := checkMatch(e.IfMatch, cur); err != nil {
			return err
		}
		if e.Op == "update" {
			f = cur.merged(f)
		}
		u, err := validate(ctx, tx, e, code, f)
		if err != nil {
			return err
		}
		tag, err = store1(ctx, tx, e, u, cur)
		return err
	})
	if err != nil {
		return "", "", err
	}
	st.SyncVersion(ctx)
	return code, tag, nil
}

func isEditable(l boundaries.Level) bool {
	for _, x := range Editable {
		if x == l {
			return true
		}
	}
	return false
}

// feature is a decoded GeoJSON Feature: properties kept raw so a merge
// patch can null them.
type feature struct {
	Geometry   json.RawMessage            `json:"geometry"`
	Properties map[string]json.RawMessage `json:"properties"`
}

func decodeFeature(b []byte) (*feature, error) {
	var f struct {
		Type string `json:"type"`
		feature
	}
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, boundaries.Invalid("body is not a GeoJSON Feature: %v", err)
	}
	if f.Type != "" && f.Type != "Feature" {
		return nil, boundaries.Invalid("body is a %q, not a GeoJSON Feature", f.Type)
	}
	if string(f.Geometry) == "null" {
		f.Geometry = nil
	}
	return &f.feature, nil
}

func createCode(f *feature) (string, error) {
	var code string
	if raw, ok := f.Properties["code"]; ok {
		if err := json.Unmarshal(raw, &code); err != nil {
			return "", boundaries.Invalid("properties.code: not a string")
		}
	}
	if strings.TrimSpace(code) == "" {
		return "", boundaries.Invalid("properties.code is required: the unit's code (a new one for a new unit)")
	}
	return strings.TrimSpace(code), nil
}

// merged applies a JSON Merge Patch (RFC 7396) of the properties to the
// current unit; a geometry in the patch replaces the current one.
func (r *unitRow) merged(patch *feature) *feature {
	props := map[string]json.RawMessage{}
	put := func(k string, v any) {
		if b, _ := json.Marshal(v); string(b) != "null" {
			props[k] = b
		}
	}
	put("name", r.name)
	put("parent_code", r.parent)
	put("households", r.households)
	put("population", r.pop)
	for k, v := range patch.Properties {
		if string(v) == "null" {
			delete(props, k)
		} else {
			props[k] = v
		}
	}
	out := &feature{Geometry: r.geometry, Properties: props}
	if patch.Geometry != nil {
		out.Geometry = patch.Geometry
	}
	return out
}

// checked is a feature that passed validation, its geometry as WKB in
// its CRS's stored SRID.
type checked struct {
	name, parent    string
	households, pop *int64
	ewkb            []byte
	srid            int
}

// validate applies the importer's per-feature rules; every reason found
// is reported at once.
func validate(ctx context.Context, tx pgx.Tx, e Edit, code string, f *feature) (*checked, error) {
	var reasons []string
	bad := func(format string, args ...any) { reasons = append(reasons, fmt.Sprintf(format, args...)) }
	u := &checked{srid: e.CRS.Stored()}
	str := func(k string) string {
		var s string
		if raw, ok := f.Properties[k]; ok && json.Unmarshal(raw, &s) != nil {
			bad("properties.%s: not a string", k)
		}
		return strings.TrimSpace(s)
	}
	if c := str("code"); c != "" && c != code {
		bad("properties.code %s is not the item's id %s (a unit's code does not change; add a new unit and remove this one)", c, code)
	}
	if u.name = str("name"); u.name == "" {
		bad("properties.name is required")
	}
	if u.parent = str("parent_code"); u.parent == "" {
		u.parent = str("street")
	}
	if u.parent == "" {
		u.parent = boundaries.DerivedParent(e.Level, code)
	}
	for k, dst := range map[string]**int64{"households": &u.households, "population": &u.pop} {
		var v any
		if raw, ok := f.Properties[k]; ok {
			_ = json.Unmarshal(raw, &v)
		}
		n, ok, err := boundaries.ParseCount(v)
		if err != nil {
			bad("properties.%s: %v", k, err)
		} else if ok {
			*dst = &n
		}
	}
	g, err := geometry(f.Geometry, e.CRS)
	if err != nil {
		bad("%v", err)
	} else if u.ewkb, err = wkb.Marshal(g, wkb.NDR); err != nil {
		bad("geometry: %v", err)
	}
	if len(reasons) == 0 {
		if err := checkDB(ctx, tx, e, code, u, bad); err != nil {
			return nil, err
		}
	}
	if len(reasons) > 0 {
		return nil, boundaries.Invalid("%s %s: %s", e.Level, code, strings.Join(reasons, "; "))
	}
	return u, nil
}

// geometry decodes a GeoJSON geometry in crs and checks its rings as the
// importer does (geo.Validate: rejections refuse, orientation is fixed).
func geometry(raw json.RawMessage, crs geo.CRS) (geom.T, error) {
	if len(raw) == 0 {
		return nil, errors.New("geometry is required")
	}
	var g geom.T
	if err := geojson.Unmarshal(raw, &g); err != nil {
		return nil, fmt.Errorf("geometry: %v", err)
	}
	if crs.Flip {
		// The CRS's axis order is northing/latitude first (Part 2).
		geo.Transform(g, func(a, b float64) (float64, float64) { return b, a })
	}
	var reasons []string
	for _, p := range geo.Validate(g) {
		if p.Reject {
			reasons = append(reasons, p.Reason)
		}
	}
	if len(reasons) > 0 {
		return nil, fmt.Errorf("geometry: %s", strings.Join(reasons, "; "))
	}
	if crs.Geographic {
		if err := geo.CheckLonLatRange(g); err != nil {
			return nil, fmt.Errorf("geometry: %v (is Content-Crs right?)", err)
		}
	}
	return g, nil
}

// checkDB runs the importer's checks that need the database: the code
// is not another level's, the parent is loaded (or in the draft), and
// the polygon survives repair inside the lon/lat range.
func checkDB(ctx context.Context, tx pgx.Tx, e Edit, code string, u *checked, bad func(string, ...any)) error {
	var other string
	if err := tx.QueryRow(ctx, `SELECT coalesce((SELECT level FROM units WHERE code = $1 AND valid_to IS NULL AND level <> $2 LIMIT 1), '')`,
		code, string(e.Level)).Scan(&other); err != nil {
		return fmt.Errorf("check level: %w", err)
	}
	if other != "" {
		bad("code %s is already a %s", code, other)
	}
	if pl := e.Level.Parent(); pl != "" {
		var ok bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM units WHERE code = $1 AND level = $2 AND valid_to IS NULL
				AND NOT EXISTS (SELECT 1 FROM scenario_removed r WHERE r.scenario_id = $3 AND r.code = $1))
			OR EXISTS (SELECT 1 FROM scenario_units WHERE scenario_id = $3 AND code = $1 AND level = $2)`,
			u.parent, string(pl), e.Scenario).Scan(&ok); err != nil {
			return fmt.Errorf("check parent: %w", err)
		}
		switch {
		case u.parent == "":
			bad("no parent code (none given as parent_code, none derivable from the code)")
		case !ok:
			bad("parent %s is not a loaded %s nor one of the scenario's", u.parent, pl)
		}
	}
	var why string
	var empty, outside bool
	if err := tx.QueryRow(ctx, `WITH g AS (SELECT ST_Transform(ST_SetSRID(ST_GeomFromWKB($1), $2), 4326) AS g)
		SELECT coalesce(ST_IsValidReason(g), ''), ST_IsEmpty(ST_CollectionExtract(ST_MakeValid(g), 3)),
			ST_XMin(g) < -180 OR ST_XMax(g) > 180 OR ST_YMin(g) < -90 OR ST_YMax(g) > 90 FROM g`, u.ewkb, u.srid).Scan(&why, &empty, &outside); err != nil {
		if pe := featureFault(err); pe != nil {
			bad("geometry: %s", pe.Message)
			return nil
		}
		return fmt.Errorf("check geometry: %w", err)
	}
	if empty {
		bad("invalid geometry that leaves no polygon when repaired: %s", why)
	}
	if outside {
		bad("coordinates outside lon/lat range after transform from %s (is Content-Crs right?)", fmt.Sprintf("EPSG:%d", u.srid))
	}
	return nil
}

// featureFault is err as PostgreSQL's complaint about the feature written
// (a data exception, a constraint, or PostGIS's geometry errors, which it
// raises as XX000), nil for anything else: a deadlock, a timeout or a lost
// connection is the server's trouble, not a 422 for the client.
func featureFault(err error) *pgconn.PgError {
	var pe *pgconn.PgError
	if !errors.As(err, &pe) {
		return nil
	}
	if strings.HasPrefix(pe.Code, "22") || strings.HasPrefix(pe.Code, "23") || pe.Code == "XX000" {
		return pe
	}
	return nil
}
