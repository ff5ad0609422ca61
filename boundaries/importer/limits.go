package importer

import (
	"log/slog"
	"os"
	"strconv"

	"github.com/twpayne/go-geom"

	"github.com/jiedao/jiedao/boundaries"
	"github.com/jiedao/jiedao/boundaries/layerfile"
)

// Limits bound what one import may read, so a hostile or mistaken file is
// refused with the limit it hit (a validation error: 422, exit 1) instead
// of exhausting the machine. Zero fields take the defaults.
type Limits struct {
	Features        int // features in the file
	FeatureVertices int // vertices of one feature
	Vertices        int // vertices of all features
	// ZipBytes and ZipRatio bound a zipped Shapefile's entries: the
	// uncompressed size, and uncompressed over compressed size.
	ZipBytes int64
	ZipRatio float64
	// CSVBytes bounds a count table, which is read whole (its encoding,
	// UTF-8 or GBK, is judged on all of it).
	CSVBytes int64
}

// DefaultLimits hold a national import (≈ 600,000 communities) with room.
var DefaultLimits = Limits{Features: 2_000_000, FeatureVertices: 1_000_000, Vertices: 200_000_000,
	ZipBytes: 4 << 30, ZipRatio: 100, CSVBytes: 512 << 20}

// LimitsFromEnv reads JIEDAO_IMPORT_MAX_FEATURES, _MAX_FEATURE_VERTICES,
// _MAX_VERTICES, _MAX_ZIP_MB, _MAX_ZIP_RATIO and _MAX_CSV_MB over the
// defaults.
func LimitsFromEnv() Limits {
	l := DefaultLimits
	for _, v := range []struct {
		env string
		dst *int
	}{{"JIEDAO_IMPORT_MAX_FEATURES", &l.Features}, {"JIEDAO_IMPORT_MAX_FEATURE_VERTICES", &l.FeatureVertices},
		{"JIEDAO_IMPORT_MAX_VERTICES", &l.Vertices}} {
		if s := os.Getenv(v.env); s != "" {
			if n, err := strconv.Atoi(s); err == nil && n > 0 {
				*v.dst = n
			} else {
				slog.Warn(v.env+": want a positive integer; using the default", "value", s)
			}
		}
	}
	if s := os.Getenv("JIEDAO_IMPORT_MAX_ZIP_MB"); s != "" {
		if n, err := strconv.ParseInt(s, 10, 64); err == nil && n > 0 {
			l.ZipBytes = n << 20
		}
	}
	if s := os.Getenv("JIEDAO_IMPORT_MAX_CSV_MB"); s != "" {
		if n, err := strconv.ParseInt(s, 10, 64); err == nil && n > 0 {
			l.CSVBytes = n << 20
		}
	}
	if s := os.Getenv("JIEDAO_IMPORT_MAX_ZIP_RATIO"); s != "" {
		if f, err := strconv.ParseFloat(s, 64); err == nil && f > 1 {
			l.ZipRatio = f
		}
	}
	return l
}

func (l Limits) withDefaults() Limits {
	d := DefaultLimits
	if l.Features <= 0 {
		l.Features = d.Features
	}
	if l.FeatureVertices <= 0 {
		l.FeatureVertices = d.FeatureVertices
	}
	if l.Vertices <= 0 {
		l.Vertices = d.Vertices
	}
	if l.ZipBytes <= 0 {
		l.ZipBytes = d.ZipBytes
	}
	if l.ZipRatio <= 0 {
		l.ZipRatio = d.ZipRatio
	}
	if l.CSVBytes <= 0 {
		l.CSVBytes = d.CSVBytes
	}
	return l
}

func (l Limits) open() layerfile.Options {
	return layerfile.Options{MaxZipBytes: l.ZipBytes, MaxZipRatio: l.ZipRatio}
}

// counter applies the limits to the features as they are read.
type counter struct {
	l        Limits
	vertices int
}

// take counts a feature (the features read so far, its index, its
// geometry) and refuses it when a limit is hit.
func (c *counter) take(features, index int, g geom.T) error {
	if features > c.l.Features {
		return boundaries.Invalid("limit: the file holds more than %d features (JIEDAO_IMPORT_MAX_FEATURES, --max-features)", c.l.Features)
	}
	if g == nil {
		return nil
	}
	n := 0
	if s := g.Stride(); s > 0 {
		n = len(g.FlatCoords()) / s
	}
	if n > c.l.FeatureVertices {
		return boundaries.Invalid("limit: feature %d has %d vertices, over %d (JIEDAO_IMPORT_MAX_FEATURE_VERTICES)", index, n, c.l.FeatureVertices)
	}
	c.vertices += n
	if c.vertices > c.l.Vertices {
		return boundaries.Invalid("limit: the file holds more than %d vertices by feature %d (JIEDAO_IMPORT_MAX_VERTICES)", c.l.Vertices, index)
	}
	return nil
}
