package web

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"
)

// csvRows is a lookup CSV body: a header, then n rows id,lon,lat.
func csvRows(n int) []byte {
	var b bytes.Buffer
	b.WriteString("id,lon,lat\n")
	for i := range n {
		fmt.Fprintf(&b, "%d,1,1\n", i)
	}
	return b.Bytes()
}

// FuzzLookupCSV: no body crashes the CSV reader of POST /api/v1/lookup;
// it refuses with a 400 or a 413, never returns more points than the
// limit, returns what the body says (each ID a copy that later rows do not
// overwrite), and any NaN or infinite coordinate it lets through is refused
// by lonLat, the check lookupBatch applies next. limit is the batch limit
// (0 or over the default: the default, 100,000).
func FuzzLookupCSV(f *testing.F) {
	for _, s := range []string{
		"id,lon,lat\na,116.397,39.909\nb,121.47,31.23\n",
		"a,116.397,39.909\r\nb, 121.47 ,\t31.23\r\n",
		"id,lon,lat\n\"a,\"\"quoted\"\"\",116.4,39.9,extra,fields\n",
		"id,lon,lat\n",
		"",
		"\n\n\n",
		"id,lon\n",
		"a,1\n",
		"id,lon,lat\na,116.4\n",
		"lon,lat,id\n116.4,39.9,a\n",
		// NUL bytes, in IDs and in numbers.
		"id,lon,lat\na\x00b,116.4,39.9\n",
		"id,lon,lat\na,116\x00.4,39.9\n",
		"\x00,\x00,\x00\n",
		// Non-numeric, NaN, infinite, out of range, odd number syntax.
		"id,lon,lat\na,abc,39.9\n",
		"id,lon,lat\na,116.4,abc\n",
		"id,lon,lat\na,NaN,39.9\n",
		"id,lon,lat\na,116.4,nan\n",
		"id,lon,lat\na,Inf,39.9\nb,-Inf,1\nc,+Infinity,1\nd,1,infinity\n",
		"id,lon,lat\na,1e400,39.9\nb,-1e400,0\nc,1e-400,0\n",
		"id,lon,lat\na,0x1p-2,0x1.8p1\nb,1_0,2\nc,0b1,1\n",
		"id,lon,lat\na,181,91\nb,-180.0000001,-90\n",
		"NaN,NaN,NaN\n",
		// CSV syntax errors.
		"id,lon,lat\n\"unterminated,1,2\n",
		"id,lon,lat\na\"b,1,2\n",
		"id,lon,lat\n\"a\"b,1,2\n",
		// Huge fields.
		"id,lon,lat\n" + strings.Repeat("x", 200_000) + ",116.4,39.9\n",
		"id,lon,lat\na," + strings.Repeat("1", 100_000) + ",39.9\n",
		"id,lon,lat\na,116." + strings.Repeat("4", 100_000) + ",39.9\n",
		"id,lon,lat\n\"" + strings.Repeat("\n", 50_000) + "\",1,2\n",
	} {
		f.Add([]byte(s), uint32(0))
	}
	// The limit, scaled down: exactly at it, and one over.
	f.Add(csvRows(3), uint32(3))
	f.Add(csvRows(4), uint32(3))
	f.Add(csvRows(1), uint32(1))
	f.Add(csvRows(2), uint32(1))
	f.Add(bytes.TrimPrefix(csvRows(4), []byte("id,lon,lat\n")), uint32(3)) // no header: 4 points
	// And at the real default of 100,000 rows.
	f.Add(csvRows(DefaultMaxBatchPoints), uint32(DefaultMaxBatchPoints))
	f.Add(csvRows(DefaultMaxBatchPoints+1), uint32(DefaultMaxBatchPoints))

	crs, err := lookupCRS("")
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, body []byte, limit uint32) {
		lim := int(limit)
		if lim <= 0 || lim > DefaultMaxBatchPoints {
			lim = DefaultMaxBatchPoints
		}
		pts, err := readPointsCSV(bytes.NewReader(body), lim)
		if err != nil {
			var he *echo.HTTPError
			if !errors.As(err, &he) || (he.Code != http.StatusBadRequest && he.Code != http.StatusRequestEntityTooLarge) {
				t.Fatalf("error %v (%T) is not a 400 or a 413", err, err)
			}
			if pts != nil {
				t.Fatalf("%d points returned with error %v", len(pts), err)
			}
			return
		}
		if len(pts) > lim {
			t.Fatalf("%d points, over the limit of %d", len(pts), lim)
		}
		for i, p := range pts {
			if !isFinite(p.Lon) || !isFinite(p.Lat) {
				// readPointsCSV parses "NaN" and "Inf" as numbers;
				// lookupBatch relies on lonLat to refuse them.
				if _, _, err := lonLat(crs, p.Lon, p.Lat, ""); err == nil {
					t.Fatalf("point %d (%v, %v) passes lonLat", i, p.Lon, p.Lat)
				}
			}
		}

		// The points are the body's rows, the first one possibly a header:
		// read again without ReuseRecord, so an ID aliasing a reused
		// record would show.
		cr := csv.NewReader(bytes.NewReader(body))
		cr.FieldsPerRecord = -1
		var recs [][]string
		for {
			rec, err := cr.Read()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("accepted a body encoding/csv refuses: %v", err)
			}
			recs = append(recs, rec)
		}
		if skip := len(recs) - len(pts); skip != 0 && skip != 1 {
			t.Fatalf("%d points from %d CSV records", len(pts), len(recs))
		}
		recs = recs[len(recs)-len(pts):]
		for i, p := range pts {
			lon, _ := strconv.ParseFloat(strings.TrimSpace(recs[i][1]), 64)
			lat, _ := strconv.ParseFloat(strings.TrimSpace(recs[i][2]), 64)
			if p.ID != recs[i][0] || !sameFloat(p.Lon, lon) || !sameFloat(p.Lat, lat) {
				t.Fatalf("point %d is %q (%v, %v); its row is %q", i, p.ID, p.Lon, p.Lat, recs[i])
			}
		}
	})
}

func isFinite(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }

func sameFloat(a, b float64) bool { return a == b || (math.IsNaN(a) && math.IsNaN(b)) }

// The batch limit is exact: the default 100,000 rows (after a header) are
// accepted, one more is refused with a 413.
func TestReadPointsCSVLimit(t *testing.T) {
	for _, c := range []struct {
		rows, limit int
		wantErr     bool
	}{{3, 3, false}, {4, 3, true}, {DefaultMaxBatchPoints, DefaultMaxBatchPoints, false}, {DefaultMaxBatchPoints + 1, DefaultMaxBatchPoints, true}} {
		pts, err := readPointsCSV(bytes.NewReader(csvRows(c.rows)), c.limit)
		var he *echo.HTTPError
		switch {
		case c.wantErr && (!errors.As(err, &he) || he.Code != http.StatusRequestEntityTooLarge):
			t.Errorf("%d rows, limit %d: %v, want a 413", c.rows, c.limit, err)
		case !c.wantErr && (err != nil || len(pts) != c.rows):
			t.Errorf("%d rows, limit %d: %d points, %v", c.rows, c.limit, len(pts), err)
		}
	}
}
