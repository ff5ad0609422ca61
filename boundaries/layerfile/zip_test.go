package layerfile

import (
	"archive/zip"
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A zipped .shp whose header declares 2 GB followed by zeros (8 MB of them
// compress to a few KB) is refused as a zip bomb before any record is read;
// the byte limit refuses a large entry whatever its ratio.
func TestZipLimits(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bomb.zip")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	zw := zip.NewWriter(f)
	w, err := zw.Create("bomb.shp")
	if err != nil {
		t.Fatal(err)
	}
	hdr := make([]byte, 100)
	binary.BigEndian.PutUint32(hdr[0:], 9994)
	binary.BigEndian.PutUint32(hdr[24:], 1<<30) // file length in 16-bit words: 2 GB
	binary.LittleEndian.PutUint32(hdr[28:], 1000)
	binary.LittleEndian.PutUint32(hdr[32:], 5) // polygons
	w.Write(hdr)
	w.Write(make([]byte, 8<<20))
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	for _, c := range []struct {
		opts Options
		want string
	}{
		{Options{MaxZipRatio: 100}, "zip bomb"},
		{Options{MaxZipBytes: 1 << 20}, "over the limit"},
	} {
		if _, err := Open(path, c.opts); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v, want %q", c.opts, err, c.want)
		}
	}
}
