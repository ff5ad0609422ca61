package layerfile

import (
	"archive/zip"
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/twpayne/go-geom"
)

// The Shapefile reader parses the .shp itself instead of using go-shapefile's
// Scanner, because that Scanner (v0.0.6) makes any bad record fatal for the
// rest of the file (its error is sticky), fails a whole record on a
// zero-area ring, assumes holes directly follow their outer ring, lets the
// .cpg override a caller's charset, rejects .cpg labels such as "936" or
// "GBK\n", and starts three goroutines per record. Records carry their own
// length, so a record that does not decode can be skipped and reported on its
// own, which the importer needs.

const (
	shpHeaderLen = 100
	shpFileCode  = 9994
	// maxSidecarSize bounds the .prj and .cpg, which are read whole.
	maxSidecarSize = 1 << 20
)

type shpReader struct {
	path    string
	shp     *bufio.Reader
	dbf     *dbfReader // nil when there is no .dbf
	closers []io.Closer
	prj     string
	srid    int

	offset   int64 // bytes of the .shp consumed
	limit    int64 // where the records end
	declared int64 // the file length the header states
	total    int64
	progress atomic.Int64

	index   int // of the next record
	buf     []byte
	shpDone bool
	dbfDone bool
	done    bool
	err     error
}

// shpSources are the parts of a Shapefile, wherever they come from.
type shpSources struct {
	shp     io.Reader
	shpSize int64
	dbf     io.Reader // nil if missing
	prj     []byte
	cpg     []byte
	hasCPG  bool
	closers []io.Closer
}

func openShapefile(shpPath string, opts Options) (Reader, error) {
	src := &shpSources{}
	f, err := os.Open(shpPath)
	if err != nil {
		return nil, err
	}
	src.closers = append(src.closers, f)
	st, err := f.Stat()
	if err != nil {
		closeAll(src.closers)
		return nil, err
	}
	src.shp, src.shpSize = f, st.Size()

	base := strings.TrimSuffix(filepath.Base(shpPath), filepath.Ext(shpPath))
	dir := filepath.Dir(shpPath)
	if p := findSidecar(dir, base, ".dbf"); p != "" {
		df, err := os.Open(p)
		if err != nil {
			closeAll(src.closers)
			return nil, err
		}
		src.closers = append(src.closers, df)
		src.dbf = df
	}
	for _, ext := range []string{".prj", ".cpg"} {
		p := findSidecar(dir, base, ext)
		if p == "" {
			continue
		}
		data, err := readSmallFile(p)
		if err != nil {
			closeAll(src.closers)
			return nil, err
		}
		if ext == ".prj" {
			src.prj = data
		} else {
			src.cpg, src.hasCPG = data, true
		}
	}
	return newSHPReader(shpPath, src, opts)
}

// findSidecar finds base+ext in dir, trying the exact case first and then
// any case (shapefiles from Windows often come as .SHP/.DBF).
func findSidecar(dir, base, ext string) string {
	p := filepath.Join(dir, base+ext)
	if _, err := os.Stat(p); err == nil {
		return p
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return ""
	}
	for _, e := range entries {
		if !e.IsDir() && strings.EqualFold(e.Name(), base+ext) {
			return filepath.Join(dir, e.Name())
		}
	}
	return ""
}

func readSmallFile(p string) ([]byte, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, maxSidecarSize))
}

func openZippedShapefile(zipPath string, opts Options) (Reader, error) {
	zr, err := zip.OpenReader(zipPath)
	if err != nil {
		return nil, err
	}
	src := &shpSources{closers: []io.Closer{zr}}
	fail := func(err error) (Reader, error) {
		closeAll(src.closers)
		return nil, err
	}

	// The first .shp in the archive, in any folder, ignoring the "._"
	// resource-fork files macOS adds.
	var shp *zip.File
	for _, zf := range zr.File {
		if isJunkZipEntry(zf.Name) || !strings.EqualFold(path.Ext(zf.Name), ".shp") {
			continue
		}
		shp = zf
		break
	}
	if shp == nil {
		return fail(errors.New("no .shp file in the zip archive"))
	}
	base := strings.TrimSuffix(shp.Name, path.Ext(shp.Name))
	sidecar := func(ext string) *zip.File {
		for _, zf := range zr.File {
			if strings.EqualFold(zf.Name, base+ext) {
				return zf
			}
		}
		return nil
	}

	// Declared compressed sizes can lie; the archive's own size cannot.
	var archive int64
	if fi, err := os.Stat(zipPath); err == nil {
		archive = fi.Size()
	}
	for _, zf := range []*zip.File{shp, sidecar(".dbf")} {
		if err := checkZipEntry(zf, archive, opts); err != nil {
			return fail(err)
		}
	}
	rc, err := shp.Open()
	if err != nil {
		return fail(fmt.Errorf("%s: %w", shp.Name, err))
	}
	src.closers = append(src.closers, rc)
	src.shp, src.shpSize = rc, int64(shp.UncompressedSize64)
	if zf := sidecar(".dbf"); zf != nil {
		rc, err := zf.Open()
		if err != nil {
			return fail(fmt.Errorf("%s: %w", zf.Name, err))
		}
		src.closers = append(src.closers, rc)
		src.dbf = rc
	}
	for _, ext := range []string{".prj", ".cpg"} {
		zf := sidecar(ext)
		if zf == nil {
			continue
		}
		data, err := readZipEntry(zf)
		if err != nil {
			return fail(fmt.Errorf("%s: %w", zf.Name, err))
		}
		if ext == ".prj" {
			src.prj = data
		} else {
			src.cpg, src.hasCPG = data, true
		}
	}
	return newSHPReader(zipPath, src, opts)
}

// checkZipEntry applies the zip limits to one entry (nil: absent). The
// declared uncompressed size can be trusted (archive/zip refuses to read
// past it); the compressed size is bounded by the archive's real size.
func checkZipEntry(zf *zip.File, archive int64, opts Options) error {
	if zf == nil {
		return nil
	}
	compressed := zf.CompressedSize64
	if archive > 0 {
		compressed = min(compressed, uint64(archive))
	}
	if opts.MaxZipBytes > 0 && zf.UncompressedSize64 > uint64(opts.MaxZipBytes) {
		return fmt.Errorf("%s: %d bytes uncompressed, over the limit of %d (JIEDAO_IMPORT_MAX_ZIP_MB)", zf.Name, zf.UncompressedSize64, opts.MaxZipBytes)
	}
	if opts.MaxZipRatio > 0 && zf.UncompressedSize64 > 1<<20 &&
		float64(zf.UncompressedSize64) > opts.MaxZipRatio*float64(max(compressed, 1)) {
		return fmt.Errorf("%s: uncompresses %.0f times its size, over the limit of %g (JIEDAO_IMPORT_MAX_ZIP_RATIO): refused as a zip bomb",
			zf.Name, float64(zf.UncompressedSize64)/float64(max(compressed, 1)), opts.MaxZipRatio)
	}
	return nil
}

func isJunkZipEntry(name string) bool {
	return strings.HasPrefix(name, "__MACOSX/") || strings.Contains(name, "/__MACOSX/") ||
		strings.HasPrefix(path.Base(name), "._")
}

func readZipEntry(zf *zip.File) ([]byte, error) {
	rc, err := zf.Open()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(io.LimitReader(rc, maxSidecarSize))
}

func closeAll(cs []io.Closer) error {
	var errs []error
	for i := len(cs) - 1; i >= 0; i-- {
		errs = append(errs, cs[i].Close())
	}
	return errors.Join(errs...)
}

func newSHPReader(name string, src *shpSources, opts Options) (Reader, error) {
	r := &shpReader{
		path:    name,
		closers: src.closers,
		prj:     strings.TrimSpace(string(src.prj)),
		total:   src.shpSize,
	}
	r.srid = prjEPSG(r.prj)
	fail := func(err error) (Reader, error) {
		closeAll(r.closers)
		return nil, err
	}

	// Options.Encoding wins over the .cpg (which is often wrong); the DBF
	// reader falls back to the language driver byte, then to guessing.
	var dec *textDecoder
	var err error
	switch {
	case opts.Encoding != "":
		if dec, err = lookupEncoding(opts.Encoding); err != nil {
			return fail(fmt.Errorf("Options.Encoding: %w", err))
		}
	case src.hasCPG && strings.Trim(string(src.cpg), " \t\r\n\x00") != "":
		if dec, err = lookupEncoding(string(src.cpg)); err != nil {
			return fail(fmt.Errorf(".cpg: %w (set Options.Encoding to override)", err))
		}
	}
	if src.dbf != nil {
		if r.dbf, err = newDBFReader(src.dbf, dec); err != nil {
			return fail(err)
		}
	} else {
		r.dbfDone = true
	}

	r.shp = bufio.NewReaderSize(src.shp, 256<<10)
	head := make([]byte, shpHeaderLen)
	if _, err := io.ReadFull(r.shp, head); err != nil {
		return fail(fmt.Errorf("read .shp header: %w", err))
	}
	if code := binary.BigEndian.Uint32(head[0:4]); code != shpFileCode {
		return fail(fmt.Errorf("not a .shp file (file code %d, want %d)", code, shpFileCode))
	}
	r.offset = shpHeaderLen
	// Records end at the length the header declares, unless the file is
	// shorter (then the last record will be reported as truncated) or the
	// declared length is nonsense.
	r.limit = src.shpSize
	r.declared = 2 * int64(binary.BigEndian.Uint32(head[24:28]))
	if r.declared >= shpHeaderLen && r.declared < r.limit {
		r.limit = r.declared
	}
	r.progress.Store(r.offset)
	return r, nil
}

func (r *shpReader) Err() error  { return r.err }
func (r *shpReader) PRJ() string { return r.prj }
func (r *shpReader) SRID() int   { return r.srid }
func (r *shpReader) Close() error {
	cs := r.closers
	r.closers = nil
	return closeAll(cs)
}

func (r *shpReader) Progress() (int64, int64) { return r.progress.Load(), r.total }

func (r *shpReader) fatal(err error) (Feature, bool) {
	r.err = err
	r.done = true
	return Feature{}, false
}

func (r *shpReader) Next() (Feature, bool) {
	for !r.done {
		if r.shpDone && r.dbfDone {
			r.done = true
			r.progress.Store(r.total)
			return Feature{}, false
		}
		f := Feature{Index: r.index}
		r.index++

		var geomErr error
		if !r.shpDone {
			g, ok, err := r.nextShape()
			switch {
			case r.err != nil:
				r.done = true
				return Feature{}, false
			case !ok:
				r.shpDone = true
				if r.dbfDone {
					continue
				}
			default:
				f.Geom, geomErr = g, err
			}
		}

		var props map[string]any
		if !r.dbfDone {
			p, deleted, err := r.dbf.next()
			switch {
			case errors.Is(err, io.EOF):
				r.dbfDone = true
				if r.shpDone {
					continue
				}
				geomErr = errors.Join(geomErr, errors.New("no DBF record for this shape (the .dbf has fewer records than the .shp)"))
			case err != nil:
				return r.fatal(fmt.Errorf("read %s: %w", filepath.Base(r.path), err))
			case deleted:
				continue // GDAL also hides records marked deleted
			default:
				props = p
			}
		}
		if props == nil {
			props = map[string]any{}
		}
		f.Props = props
		if geomErr != nil {
			f.Geom, f.Err = nil, featureErr(r.path, f.Index, geomErr)
		}
		return f, true
	}
	return Feature{}, false
}

// nextShape reads one .shp record. ok is false at the end of the records; a
// problem with the record's content is returned as shapeErr (the record is
// skipped as a whole, so reading can go on); a problem with the record
// framing is fatal and stored in r.err.
func (r *shpReader) nextShape() (g geom.T, ok bool, shapeErr error) {
	if r.offset+8 > r.limit {
		// A few bytes too short for a record header: padding from a sloppy
		// writer, unless the header promised more than the file holds.
		if r.offset < r.limit && r.declared > r.limit {
			r.err = fmt.Errorf("read %s feature %d: the .shp is truncated (%d bytes, its header says %d)",
				filepath.Base(r.path), r.index-1, r.limit, r.declared)
		}
		return nil, false, nil
	}
	var head [8]byte
	if _, err := io.ReadFull(r.shp, head[:]); err != nil {
		r.err = fmt.Errorf("read %s feature %d: record header: %w", filepath.Base(r.path), r.index-1, err)
		return nil, false, nil
	}
	n := 2 * int64(binary.BigEndian.Uint32(head[4:8]))
	if r.offset+8+n > r.limit {
		r.err = fmt.Errorf("read %s feature %d: record of %d bytes at offset %d runs past the end of the .shp (%d bytes)",
			filepath.Base(r.path), r.index-1, n, r.offset, r.limit)
		return nil, false, nil
	}
	if err := r.readRecord(n); err != nil {
		r.err = fmt.Errorf("read %s feature %d: record content: %w", filepath.Base(r.path), r.index-1, err)
		return nil, false, nil
	}
	r.offset += 8 + n
	r.progress.Store(r.offset)
	g, err := parseShape(r.buf)
	if err != nil {
		return nil, true, err
	}
	return g, true, nil
}

// readRecord reads n bytes of record content into r.buf. The length comes
// from the file, and a zip entry's declared size can lie: the buffer grows
// with the bytes that actually arrive (in steps of at most 1 MiB), so a
// tiny archive cannot make it allocate what the record claims.
func (r *shpReader) readRecord(n int64) error {
	const step = 1 << 20
	r.buf = r.buf[:0]
	for int64(len(r.buf)) < n {
		k := min(n-int64(len(r.buf)), step)
		if int64(cap(r.buf)-len(r.buf)) < k {
			grown := make([]byte, len(r.buf), int64(len(r.buf))+max(k, int64(cap(r.buf))))
			copy(grown, r.buf)
			r.buf = grown
		}
		m, err := io.ReadFull(r.shp, r.buf[len(r.buf):int64(len(r.buf))+k])
		r.buf = r.buf[:len(r.buf)+m]
		if err != nil {
			return err
		}
	}
	return nil
}

// prjAuthority matches a top-level AUTHORITY["EPSG","nnnn"] at the very end
// of a WKT1 string (ESRI-style .prj files have none).
var prjAuthority = regexp.MustCompile(`(?i)AUTHORITY\[\s*"EPSG"\s*,\s*"?(\d+)"?\s*\]\s*\]\s*$`)

func prjEPSG(wkt string) int {
	m := prjAuthority.FindStringSubmatch(wkt)
	if m == nil {
		return 0
	}
	n, _ := strconv.Atoi(m[1])
	return n
}
