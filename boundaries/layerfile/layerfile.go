// Package layerfile reads the boundary files handed to the jiedao importer —
// GeoJSON, Shapefile (plain or zipped) and GeoPackage — one feature at a
// time, in constant memory, whatever the size of the file.
//
// Problems that concern a single feature (a geometry that does not decode, a
// ring that is too short, a WKB type that is not supported...) are reported
// on that feature (Feature.Err, with its 0-based index) and reading goes on,
// so that the importer can list broken features in its report instead of
// failing the whole file. Only problems that make the rest of the file
// unreadable end the iteration (Reader.Err).
//
// Attribute values are normalised to string, float64, int64, bool or nil in
// every format, so the importer does not care where a value came from:
//
//   - integers are int64 and other numbers float64;
//   - dates are strings "2006-01-02" (DBF D fields, GeoPackage DATE columns),
//     date-times RFC 3339 strings;
//   - nested JSON objects and arrays are kept as their compact JSON text;
//   - GeoPackage BOOLEAN columns are bool; booleans written to a Shapefile by
//     GDAL come back as int64 0/1, because DBF N(1,0) is how GDAL stores them.
package layerfile

import (
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"strings"

	"github.com/twpayne/go-geom"
)

// Feature is one record of an input file.
type Feature struct {
	// Index is the 0-based position of the record in the file. For a
	// Shapefile, records marked deleted in the DBF are skipped (as GDAL does)
	// and their index is not reused, so indices may have gaps there.
	Index int
	// Props holds the attribute values: string, float64, int64, bool, or
	// nil. It is never nil, and it is filled in as far as possible even when
	// Err is set, so that a broken feature can be named in a report.
	Props map[string]any
	// Geom is nil when the feature has no geometry (JSON null, Shapefile
	// null shape, SQL NULL) and whenever Err is set.
	Geom geom.T
	// Err is a problem decoding this feature (bad geometry JSON, unsupported
	// WKB, bad coordinates...). The reader goes on to the next feature.
	Err error
}

// Options tune how a file is read. The zero value is fine for most files.
type Options struct {
	// Encoding is the text encoding of a Shapefile's DBF, e.g. "GBK",
	// "CP936", "936", "GB18030", "UTF-8", "Big5", "windows-1252". It
	// overrides the .cpg file, for the (common) case of a .cpg that lies.
	//
	// When "", the encoding comes from the .cpg beside the .dbf; failing
	// that, from the DBF header's language driver byte when it names a
	// Chinese, Japanese or Korean code page; failing that, each text value
	// is taken as UTF-8 when it is valid UTF-8 and decoded as GB18030
	// otherwise. That last guess is right for the GBK files without a .cpg
	// that Chinese sources commonly hand out, and harmless for ASCII.
	//
	// GeoJSON is always UTF-8 and GeoPackage text is always UTF-8, so the
	// option is ignored for them.
	Encoding string
	// Layer is the GeoPackage feature table to read (matched without regard
	// to case); "" means the only, or else the first, feature table listed in
	// gpkg_contents. Ignored for other formats.
	Layer string
	// MaxZipBytes and MaxZipRatio refuse a zipped Shapefile entry that
	// uncompresses to more bytes, or more times its compressed size (a zip
	// bomb: zeros compress a thousandfold). Zero: no limit.
	MaxZipBytes int64
	MaxZipRatio float64
}

// Reader streams the features of one file.
type Reader interface {
	// Next returns the next feature; false at the end or on a fatal error
	// (then Err() != nil).
	Next() (Feature, bool)
	// Err is the fatal, file-level error that stopped the iteration
	// (unreadable file, not JSON, not a FeatureCollection...), or nil.
	Err() error
	// PRJ is the CRS WKT from the .prj (Shapefile) or the
	// gpkg_spatial_ref_sys definition (GeoPackage); "" for GeoJSON.
	PRJ() string
	// SRID is the EPSG code when the file states one: the GeoPackage srs_id
	// of organization EPSG, a GeoJSON "crs" member, or a top-level
	// AUTHORITY["EPSG",...] in a .prj. 0 otherwise — in particular for a
	// GeoJSON without "crs", which RFC 7946 defines as WGS 84 (4326); and
	// for the ESRI-style .prj files GDAL writes, which name no authority. A
	// GeoJSON "crs" that follows the "features" array is only known once
	// Next has returned false.
	SRID() int
	// Progress reports how far reading has got, for a progress bar: bytes
	// for GeoJSON and Shapefile (the .shp), records for GeoPackage. total is
	// 0 when unknown. Safe to call from another goroutine.
	Progress() (done, total int64)
	// Close releases the file. It is safe to call more than once.
	Close() error
}

// Open picks the format by extension: .geojson/.json, .shp, .zip (a zipped
// Shapefile; the first .shp inside), .gpkg.
func Open(path string, opts Options) (Reader, error) {
	var (
		r   Reader
		err error
	)
	switch ext := strings.ToLower(filepath.Ext(path)); ext {
	case ".geojson", ".json":
		r, err = openGeoJSON(path)
	case ".shp":
		r, err = openShapefile(path, opts)
	case ".zip":
		r, err = openZippedShapefile(path, opts)
	case ".gpkg":
		r, err = openGeoPackage(path, opts)
	default:
		err = fmt.Errorf("unsupported file type %q (want .geojson, .json, .shp, .zip or .gpkg)", ext)
	}
	if err != nil {
		return nil, pathless{dir: filepath.Dir(path)}.wrap(fmt.Errorf("open %s: %w", filepath.Base(path), err))
	}
	return &pathlessReader{Reader: r, p: pathless{dir: filepath.Dir(path)}}, nil
}

// pathless takes the file's folder out of error messages: they reach API
// clients in import reports, and an upload's folder is the server's
// business. Errors of the libraries underneath (os, archive/zip) name
// paths whatever the reader does.
type pathless struct{ dir string }

// pathlessError keeps the chain (errors.Is/As) with a cleaned message.
type pathlessError struct {
	msg string
	err error
}

func (e *pathlessError) Error() string { return e.msg }
func (e *pathlessError) Unwrap() error { return e.err }

func (p pathless) wrap(err error) error {
	if err == nil || p.dir == "" || p.dir == "." {
		return err
	}
	msg := strings.ReplaceAll(err.Error(), p.dir+string(filepath.Separator), "")
	if msg == err.Error() {
		return err
	}
	return &pathlessError{msg: msg, err: err}
}

// pathlessReader cleans the errors of the reader it wraps.
type pathlessReader struct {
	Reader
	p pathless
}

func (r *pathlessReader) Next() (Feature, bool) {
	f, ok := r.Reader.Next()
	f.Err = r.p.wrap(f.Err)
	return f, ok
}

func (r *pathlessReader) Err() error { return r.p.wrap(r.Reader.Err()) }

// featureErr wraps a per-feature problem with the file's name (not the
// server's path: reports go to API clients) and the index, so the message
// stands on its own in an import report.
func featureErr(path string, index int, err error) error {
	return fmt.Errorf("read %s feature %d: %w", filepath.Base(path), index, err)
}

// errNotFinite is returned for NaN or infinite coordinates, which WKB and SHP
// can carry and which would poison any later geometric computation.
var errNotFinite = errors.New("coordinate is not finite")

// checkFinite reports NaN or infinite X/Y ordinates. Z and M are not checked:
// Shapefile M values use -1e38 and below for "no data" and neither is used
// for boundaries.
func checkFinite(g geom.T) error {
	if g == nil {
		return nil
	}
	if gc, ok := g.(*geom.GeometryCollection); ok {
		for i, sub := range gc.Geoms() {
			if err := checkFinite(sub); err != nil {
				return fmt.Errorf("geometry %d of collection: %w", i, err)
			}
		}
		return nil
	}
	if g.Empty() {
		return nil
	}
	flat, stride := g.FlatCoords(), g.Stride()
	if stride < 2 {
		return nil
	}
	for i := 0; i+1 < len(flat); i += stride {
		x, y := flat[i], flat[i+1]
		if math.IsNaN(x) || math.IsInf(x, 0) || math.IsNaN(y) || math.IsInf(y, 0) {
			return fmt.Errorf("%w: point %d is (%v, %v)", errNotFinite, i/stride, x, y)
		}
	}
	return nil
}
