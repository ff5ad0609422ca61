package demo

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"

	"github.com/jiedao/jiedao/boundaries"
)

// fcWriter streams a GeoJSON FeatureCollection one feature per line, hashing
// as it goes, so national scale never holds a collection in memory.
type fcWriter struct {
	name     string
	f        *os.File
	bw       *bufio.Writer
	sum      hash.Hash
	n        int
	bytes    int64
	buf      []byte
	bbox     [4]float64
	progress func()
}

type countWriter struct {
	w io.Writer
	n *int64
}

func (c countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	*c.n += int64(n)
	return n, err
}

func createFC(dir, name string, progress func()) (*fcWriter, error) {
	f, err := os.Create(filepath.Join(dir, name))
	if err != nil {
		return nil, fmt.Errorf("create %s: %w", name, err)
	}
	w := &fcWriter{name: name, f: f, sum: sha256.New(), progress: progress,
		bbox: [4]float64{math.Inf(1), math.Inf(1), math.Inf(-1), math.Inf(-1)}}
	w.bw = bufio.NewWriterSize(countWriter{io.MultiWriter(f, w.sum), &w.bytes}, 1<<20)
	if _, err := w.bw.WriteString(`{"type":"FeatureCollection","features":[` + "\n"); err != nil {
		return nil, w.fail(err)
	}
	return w, nil
}

func (w *fcWriter) fail(err error) error {
	w.f.Close()
	return fmt.Errorf("write %s: %w", w.name, err)
}

// start begins a feature; the caller appends properties then geometry to
// w.buf via the helpers and calls end.
func (w *fcWriter) start() {
	w.buf = w.buf[:0]
	if w.n > 0 {
		w.buf = append(w.buf, ",\n"...)
	}
	w.buf = append(w.buf, `{"type":"Feature","properties":{`...)
}

func (w *fcWriter) str(key, v string, first bool) {
	if !first {
		w.buf = append(w.buf, ',')
	}
	w.buf = boundaries.AppendJSONString(w.buf, key)
	w.buf = append(w.buf, ':')
	w.buf = boundaries.AppendJSONString(w.buf, v)
}

func (w *fcWriter) int(key string, v int) {
	w.buf = append(w.buf, ',')
	w.buf = boundaries.AppendJSONString(w.buf, key)
	w.buf = append(w.buf, ':')
	w.buf = strconv.AppendInt(w.buf, int64(v), 10)
}

// geometry closes the properties (adding synthetic:true) and opens the
// geometry of the given type up to its coordinates.
func (w *fcWriter) geometry(typ string) {
	w.buf = append(w.buf, `,"synthetic":true},"geometry":{"type":"`...)
	w.buf = append(w.buf, typ...)
	w.buf = append(w.buf, `","coordinates":`...)
}

func (w *fcWriter) coord(p pt) {
	lon, lat := project(p)
	w.bbox[0], w.bbox[1] = math.Min(w.bbox[0], lon), math.Min(w.bbox[1], lat)
	w.bbox[2], w.bbox[3] = math.Max(w.bbox[2], lon), math.Max(w.bbox[3], lat)
	w.buf = append(w.buf, '[')
	w.buf = appendCoord(w.buf, lon)
	w.buf = append(w.buf, ',')
	w.buf = appendCoord(w.buf, lat)
	w.buf = append(w.buf, ']')
}

// polygon writes [[ring],[hole]...].
func (w *fcWriter) polygon(rings ...[]pt) {
	w.buf = append(w.buf, '[')
	for ri, r := range rings {
		if ri > 0 {
			w.buf = append(w.buf, ',')
		}
		w.line(r)
	}
	w.buf = append(w.buf, ']')
}

// line writes [[lon,lat],...]: a LineString's coordinates or one ring.
func (w *fcWriter) line(r []pt) {
	w.buf = append(w.buf, '[')
	for i, p := range r {
		if i > 0 {
			w.buf = append(w.buf, ',')
		}
		w.coord(p)
	}
	w.buf = append(w.buf, ']')
}

func (w *fcWriter) end() error {
	w.buf = append(w.buf, "}}"...)
	if _, err := w.bw.Write(w.buf); err != nil {
		return w.fail(err)
	}
	w.n++
	if w.progress != nil {
		w.progress()
	}
	return nil
}

func (w *fcWriter) close() (FileInfo, error) {
	if _, err := w.bw.WriteString("\n]}\n"); err != nil {
		return FileInfo{}, w.fail(err)
	}
	if err := w.bw.Flush(); err != nil {
		return FileInfo{}, w.fail(err)
	}
	if err := w.f.Close(); err != nil {
		return FileInfo{}, fmt.Errorf("close %s: %w", w.name, err)
	}
	return FileInfo{Name: w.name, Features: w.n, Bytes: w.bytes, SHA256: hex.EncodeToString(w.sum.Sum(nil))}, nil
}

// appendCoord rounds to 7 decimals (≈1 cm) and drops trailing zeros. The same
// float always gives the same text, so shared vertices stay identical.
func appendCoord(b []byte, v float64) []byte {
	b = strconv.AppendFloat(b, v, 'f', 7, 64)
	i := len(b)
	for b[i-1] == '0' {
		i--
	}
	if b[i-1] == '.' {
		i--
	}
	return b[:i]
}
