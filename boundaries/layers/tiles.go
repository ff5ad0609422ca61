package layers

import (
	"context"
	"fmt"
	"maps"
	"math"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// Vector tile parameters (Mapbox Vector Tile 2.1).
const (
	TileExtent = 4096
	TileBuffer = 64
	// MaxTileZoom is the deepest zoom the tile endpoint serves.
	MaxTileZoom = 22
)

// webMercatorHalf is half the EPSG:3857 world width in metres.
const webMercatorHalf = 20037508.342789244

// tileMinZoom keeps tiles small: below these zooms a layer's tiles are
// empty. At the synthetic Beijing scale (7,500 communities in a 53×61 km
// city, the density of the national scale too) a z9 tile holds the whole
// city and its communities tile would be about 1 MB; from z10 a tile holds
// a quarter of it. Streets are ~20× fewer, so z8 (~120 km across) keeps a
// national-scale street tile under 500 KB. Zones are small and few.
// Barriers are many (every road of a city): from z10 the ones that shape
// a district (trunk roads, rivers, railways, see tileZoomWhere), from z13
// (~5 km across) every alley, where their names are readable. Grids are
// about five to a community (a few hundred metres across): from z13 a
// grid is some 15 pixels wide and a tile holds ~150 of them, read with
// their partial index (units_geom_3857_grid).
var tileMinZoom = map[string]int{"districts": 0, "streets": 8, "communities": 10, "grids": 13, "zones": 6, "barriers": 10}

// tileZoomWhere keeps a layer's tiles light at low zooms: a condition over
// the layer's FROM clause and $3, the tile's zoom.
var tileZoomWhere = map[string]string{"barriers": "(b.class IN ('trunk', 'river', 'rail') OR $3::int >= 13)"}

// TileMinZoom is the lowest zoom at which a layer's tiles have content.
func TileMinZoom(layer string) int { return tileMinZoom[layer] }

// TileMinZooms is TileMinZoom of every tiled layer, for the style and the
// page's config.
func TileMinZooms() map[string]int { return maps.Clone(tileMinZoom) }

// tileFieldNames are the registry fields encoded in tiles: what the map
// colours, labels and shows in its panel; the rest is in the API.
var tileFieldNames = map[string][]string{
	"zones":    {"id", "kind", "level", "codes", "area_m2", "households", "population"},
	"barriers": {"id", "class", "name"},
	"": {"code", "name", "parent_code", "households", "population", "area_km2", "density",
		"status", "reasons", "staff_min", "staff_max", "provisional", "proposed"},
}

// TileField is a field as encoded in a tile. Arrays are not MVT value types,
// so they are joined into one string.
type TileField struct {
	Field
	MVTType string // String, Number or Boolean (TileJSON vector_layers)
	expr    string
}

// TileFields lists the attributes of a layer's tiles.
func TileFields(l *Layer) []TileField {
	names, ok := tileFieldNames[l.Name]
	if !ok {
		names = tileFieldNames[""]
	}
	var out []TileField
	for _, n := range names {
		f, ok := l.Field(n)
		if !ok {
			continue
		}
		tf := TileField{Field: f, MVTType: "String", expr: f.SQL}
		switch f.Type {
		case "integer":
			tf.MVTType, tf.expr = "Number", "("+f.SQL+")::bigint"
		case "number":
			// numeric would be encoded as a string by ST_AsMVT; a few
			// decimals are plenty for display and keep the tile small.
			tf.MVTType, tf.expr = "Number", "round(("+f.SQL+")::numeric, 4)::float8"
		case "boolean":
			tf.MVTType = "Boolean"
			if f.Name == "proposed" {
				// ST_AsMVT leaves out NULLs: live tiles carry nothing for it.
				tf.expr, tf.Description = "nullif("+f.SQL+", false)", f.Description+" (absent when false)"
			}
		case "array":
			sep := ", "
			if f.Name == "codes" {
				sep = ","
			} else if f.Name == "reasons" {
				sep = "; "
			}
			tf.Description += fmt.Sprintf(" (joined with %q)", sep)
			tf.expr = "array_to_string(" + f.SQL + ", '" + sep + "')"
		case "date":
			tf.expr = "(" + f.SQL + ")::text"
		}
		out = append(out, tf)
	}
	return out
}

// tileSQL is the query building one tile of a layer with ST_AsMVT. Its
// parameters are $1 run id, $2 as-of date, $3 z, $4 x, $5 y and $6 the
// grid size in EPSG:3857 metres (see tileGrid).
//
// Live unit tiles read the geometry stored in EPSG:3857 (units.geom_3857,
// migration 0012) and find rows with its GiST index against the tile
// envelope itself, with the buffer as margin; scenario units and zones have
// only EPSG:4326, so they are transformed per row and found against the
// envelope transformed to 4326 (the Mercator tile is a lon/lat rectangle,
// so that envelope is exact, and Mercator keeps bounding boxes: both find
// the same rows). Live attributes come in their tile form too (tileSQL).
//
// Geometries are snapped in EPSG:3857 to the tile's pixel grid before
// ST_AsMVTGeom: every feature goes through the same grid, so a vertex two
// neighbours share lands on the same grid point for both and no gap can
// open between them at any zoom, while the vertex count drops to what the
// zoom can show (per-feature ST_Simplify would move shared edges
// differently for each neighbour). ST_AsMVTGeom then quantises to the same
// 4096 grid, clips to the buffer and removes collinear points. Features
// are ordered by id, so one data version gives the same bytes in every
// process (the ETag is keyed on the version).
//
// A feature clipped away is a NULL geometry, which ST_AsMVT skips (keys,
// values and all), so there is no outer "geom IS NOT NULL": PostgreSQL
// would push that filter into the subquery as a copy of the expression and
// run the whole geometry pipeline twice per row.
func buildTileSQL(l *Layer, scenario bool) string {
	live := !scenario && l.tileGeom != ""
	var cols []string
	for _, f := range TileFields(l) {
		expr := f.expr
		if e, ok := l.tileSQL[f.Name]; ok && live {
			expr = e
		}
		cols = append(cols, expr+" AS "+pgx.Identifier{f.Name}.Sanitize())
	}
	margin := float64(TileBuffer) / TileExtent
	envelope := fmt.Sprintf("ST_TileEnvelope($3::int, $4::int, $5::int, margin => %g)", margin)
	geom, match := "ST_Transform("+l.Geom+", 3857)", l.Geom+" && ST_Transform("+envelope+", 4326)"
	if live {
		geom, match = l.tileGeom, l.tileGeom+" && "+envelope
	}
	if w, ok := tileZoomWhere[l.Name]; ok {
		match += " AND " + w
	}
	return fmt.Sprintf(`SELECT coalesce(ST_AsMVT(t, '%[1]s', %[2]d, 'geom'), ''::bytea) FROM (
	SELECT ST_AsMVTGeom(
			ST_SnapToGrid(%[3]s, %[4]g, %[4]g, $6::float8, $6::float8),
			ST_TileEnvelope($3::int, $4::int, $5::int), %[2]d, %[5]d, true) AS geom,
		%[6]s
	FROM %[7]s
		AND %[8]s
	ORDER BY %[9]s
) t`, l.Name, TileExtent, geom, -webMercatorHalf, TileBuffer,
		strings.Join(cols, ",\n\t\t"), l.From(scenario), match, l.ID)
}

// tileGrid is the pixel size of zoom z in EPSG:3857 metres: the grid
// geometries are snapped to before encoding.
func tileGrid(z int) float64 {
	return 2 * webMercatorHalf / math.Exp2(float64(z)) / TileExtent
}

// ValidTile says whether z/x/y names a tile of the grid.
func ValidTile(z, x, y int) bool {
	if z < 0 || z > MaxTileZoom {
		return false
	}
	n := 1 << z
	return x >= 0 && x < n && y >= 0 && y < n
}

// tileArgs are tileSQL's parameters.
func tileArgs(run int64, at time.Time, z, x, y int) []any {
	return []any{run, at, z, x, y, tileGrid(z)}
}

// Tile encodes one vector tile of a layer for an analysis run and day;
// scenario says the run is a scenario's (see Layer.From). An empty tile
// (nothing there, or a zoom below the layer's minimum) is nil.
func (r *Reader) Tile(ctx context.Context, l *Layer, run int64, scenario bool, at time.Time, z, x, y int) ([]byte, error) {
	if !ValidTile(z, x, y) {
		return nil, fmt.Errorf("tile %d/%d/%d: outside the grid", z, x, y)
	}
	if z < TileMinZoom(l.Name) {
		return nil, nil
	}
	var b []byte
	if err := r.st.Reader().QueryRow(ctx, tileSQL(l, scenario), tileArgs(run, at, z, x, y)...).Scan(&b); err != nil {
		return nil, fmt.Errorf("tile %s/%d/%d/%d: %w", l.Name, z, x, y, err)
	}
	if len(b) == 0 {
		return nil, nil
	}
	return b, nil
}

// tileSQLs caches the tile SQL per layer, live and scenario; the registry
// is fixed at start.
var tileSQLs = func() map[string][2]string {
	m := map[string][2]string{}
	for i := range All {
		m[All[i].Name] = [2]string{buildTileSQL(&All[i], false), buildTileSQL(&All[i], true)}
	}
	return m
}()

func tileSQL(l *Layer, scenario bool) string {
	q, ok := tileSQLs[l.Name]
	if !ok {
		return buildTileSQL(l, scenario)
	}
	if scenario {
		return q[1]
	}
	return q[0]
}
