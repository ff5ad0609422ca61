package dispatch

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/jiedao/jiedao/boundaries"
	tickets "github.com/jiedao/jiedao/boundaries/dispatch"
	"github.com/jiedao/jiedao/boundaries/lookup"
)

// sampleResults are answers of every shape: units missing or not, names
// needing escapes, candidates nil, empty or several, distances tiny, huge
// and negative, times with and without fractions in several zones.
func sampleResults(n int) []tickets.Result {
	r := rand.New(rand.NewPCG(3, 4))
	names := []string{"东华门街道", `quote " and \ back`, "<script>&amp;", "tab\there\nnewline", "emoji 😀", "\u2028sep", ""}
	floats := []float64{0, 1e-7, -1e-7, 123.456789012, 1e21, 5e-324, 39.9, -0.5, 1e-6, 999999999999999999999.0}
	unit := func(i int) *lookup.Unit {
		if i%5 == 0 {
			return nil
		}
		return &lookup.Unit{Code: fmt.Sprint(110101000 + i), Name: names[i%len(names)]}
	}
	out := make([]tickets.Result, n)
	for i := range out {
		d := floats[r.IntN(len(floats))]
		res := tickets.Result{ID: names[i%len(names)] + fmt.Sprint(i), Time: time.Date(2025, 6, 1, 10, i%60, 0, i*1013%1_000_000_000, time.FixedZone("x", (i%3-1)*8*3600)),
			Lon: 116 + r.Float64(), Lat: 39 + r.Float64(), Category: names[(i+1)%len(names)],
			District: unit(i), Street: unit(i + 1), Community: unit(i + 2), Grid: unit(i + 3),
			Rule: tickets.RuleCovers, Ambiguity: tickets.Ambiguities[i%len(tickets.Ambiguities)], UnitsVersion: int64(i), UnitsDay: "2025-06-01", Stored: i%2 == 0}
		if i%3 == 0 {
			res.GridAmbiguity = tickets.NearBoundary
			res.DistanceM = &d
		}
		switch i % 4 {
		case 1:
			res.Candidates = []tickets.Candidate{}
		case 2:
			res.Candidates = []tickets.Candidate{{Level: boundaries.Community, Code: "a", Name: names[i%len(names)], Covers: true, DistanceM: d},
				{Level: boundaries.Street, Code: "b", DistanceM: floats[i%len(floats)]}}
		}
		out[i] = res
	}
	return out
}

// TestAppendResult: the hand-written encoding decodes to what
// encoding/json's does, for every shape of answer.
func TestAppendResult(t *testing.T) {
	for i, r := range sampleResults(500) {
		want, err := json.Marshal(&r)
		if err != nil {
			t.Fatal(err)
		}
		got := appendResult(nil, &r)
		var a, b any
		if err := json.Unmarshal(got, &a); err != nil {
			t.Fatalf("result %d: %v\n%s", i, err, got)
		}
		json.Unmarshal(want, &b) //nolint:errcheck
		if !reflect.DeepEqual(a, b) {
			t.Fatalf("result %d:\n got %s\nwant %s", i, got, want)
		}
		// Field order and number formatting are the same too: only the
		// escapes differ (encoding/json's HTML-safe <, > and &, and its
		// short \t and \n).
		norm := strings.NewReplacer(`\u003c`, "<", `\u003e`, ">", `\u0026`, "&", `\u0009`, `\t`, `\u000a`, `\n`, `\u2028`, "\u2028")
		if norm.Replace(string(want)) != norm.Replace(string(got)) {
			t.Fatalf("result %d bytes:\n got %s\nwant %s", i, got, want)
		}
	}
}

// BenchmarkWriteResults100k: the answer of a 100,000-ticket batch.
func BenchmarkWriteResults100k(b *testing.B) {
	res := sampleResults(100_000)
	e := echo.New()
	b.ReportAllocs()
	for b.Loop() {
		w := &countingWriter{header: http.Header{}}
		c := e.NewContext(httptest.NewRequest(http.MethodPost, "/", nil), w)
		if err := writeResults(c, res); err != nil {
			b.Fatal(err)
		}
		b.SetBytes(w.n)
	}
}

// countingWriter is a ResponseWriter that only counts, so the benchmark
// measures the encoding, not a recorder's buffer.
type countingWriter struct {
	header http.Header
	n      int64
}

func (w *countingWriter) Header() http.Header         { return w.header }
func (w *countingWriter) WriteHeader(int)             {}
func (w *countingWriter) Write(p []byte) (int, error) { w.n += int64(len(p)); return len(p), nil }

// batchJSON is a 100,000-ticket request body.
func batchJSON(n int) []byte {
	var buf bytes.Buffer
	buf.WriteString(`{"crs":"EPSG:4326","tickets":[`)
	for i := range n {
		if i > 0 {
			buf.WriteByte(',')
		}
		fmt.Fprintf(&buf, `{"id":"B-%06d","time":"2025-06-01T10:00:00+08:00","lon":%.7f,"lat":%.7f,"category":"噪音扰民"}`, i, 116+float64(i%1000)/1000, 39.5+float64(i/1000)/1000)
	}
	buf.WriteString(`]}`)
	return buf.Bytes()
}

// BenchmarkReadTickets100k: decoding and checking a 100,000-ticket body.
func BenchmarkReadTickets100k(b *testing.B) {
	body := batchJSON(100_000)
	h := &Handler{MaxBatch: tickets.DefaultMaxBatch}
	e := echo.New()
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		req := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		ts, _, err := h.readTickets(e.NewContext(req, httptest.NewRecorder()))
		if err != nil || len(ts) != 100_000 {
			b.Fatal(len(ts), err)
		}
	}
}

// BenchmarkEncodeResults100kStdlib is the same answer through
// encoding/json, as writeResults encoded it before appendResult: the
// figure appendResult is measured against.
func BenchmarkEncodeResults100kStdlib(b *testing.B) {
	res := sampleResults(100_000)
	b.ReportAllocs()
	for b.Loop() {
		w := &countingWriter{}
		enc := json.NewEncoder(bufio.NewWriterSize(w, 64<<10))
		for i := range res {
			if err := enc.Encode(&res[i]); err != nil {
				b.Fatal(err)
			}
		}
		b.SetBytes(w.n)
	}
}
