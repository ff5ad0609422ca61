package dispatch

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/text/encoding/simplifiedchinese"

	"github.com/jiedao/jiedao/boundaries"
	"github.com/jiedao/jiedao/geo"
)

// ParseCRS accepts the lon/lat systems a ticket may come in, as lookups
// do: wgs84 (default), cgcs2000, gcj02, bd09.
func ParseCRS(v string) (geo.CRS, error) {
	if strings.TrimSpace(v) == "" {
		v = "wgs84"
	}
	c, err := geo.ParseCRS(v)
	if err != nil {
		return geo.CRS{}, &boundaries.QueryError{Param: "crs", Err: err}
	}
	if c.SRID != 4326 && c.SRID != 4490 {
		return geo.CRS{}, &boundaries.QueryError{Param: "crs",
			Err: fmt.Errorf("%s is not a lon/lat system; want wgs84, cgcs2000, gcj02 or bd09", c.Name)}
	}
	return c, nil
}

// beijing is the zone of times written without one: the hotline's.
var beijing = time.FixedZone("CST", 8*3600)

// ParseTime reads a ticket time: RFC 3339, or a local Beijing time
// "2006-01-02 15:04:05" (T or space, seconds optional), or a day.
func ParseTime(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, errors.New("required")
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	for _, layout := range []string{"2006-01-02 15:04:05", "2006-01-02T15:04:05", "2006-01-02 15:04", "2006-01-02T15:04",
		"2006-01-02", "2006/01/02 15:04:05", "2006/01/02 15:04", "2006/01/02"} {
		if t, err := time.ParseInLocation(layout, s, beijing); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not a time (want RFC 3339 or YYYY-MM-DD hh:mm:ss, Beijing time)", s)
}

// MaxLineBytes bounds one CSV line, so a file without newlines cannot
// make the reader hold it whole.
const MaxLineBytes = 64 << 10

// Reader streams tickets from CSV with a header naming the columns id,
// time, lon, lat and (optionally) category, in any order; other columns
// are ignored. UTF-8 (a BOM is dropped) or GBK/GB18030, decided per field
// (a spreadsheet's export is one or the other). Coordinates are converted
// from crs to WGS84. A malformed row is an error naming its line; the
// reader goes on, so a caller can list every bad row.
type Reader struct {
	cr   *csv.Reader
	crs  geo.CRS
	cols [5]int // id, time, lon, lat, category (-1: absent)
	br   *countingReader
	line int
	err  error // the file cannot be read on
}

// errLongLine refuses a line over MaxLineBytes.
var errLongLine = fmt.Errorf("a line longer than %d bytes", MaxLineBytes)

// countingReader counts the bytes read and refuses overlong lines.
type countingReader struct {
	r       io.Reader
	n       int64
	lineLen int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	for _, b := range p[:n] {
		if b == '\n' {
			c.lineLen = 0
		} else if c.lineLen++; c.lineLen > MaxLineBytes {
			return 0, errLongLine
		}
	}
	return n, err
}

// NewReader reads the header; an error says what it lacks.
func NewReader(r io.Reader, crs geo.CRS) (*Reader, error) {
	br := &countingReader{r: r}
	buf := bufio.NewReaderSize(br, 64<<10)
	if b, err := buf.Peek(3); err == nil && bytes.Equal(b, []byte("\ufeff")) {
		buf.Discard(3) //nolint:errcheck // peeked
	}
	rd := &Reader{cr: csv.NewReader(buf), crs: crs, cols: [5]int{-1, -1, -1, -1, -1}, br: br}
	rd.cr.FieldsPerRecord = -1
	rd.cr.ReuseRecord = true
	rd.cr.LazyQuotes = false
	head, err := rd.cr.Read()
	if err == io.EOF {
		return nil, boundaries.Invalid("CSV: empty; want a header id,time,lon,lat,category")
	}
	if err != nil {
		return nil, csvErr(err, "CSV header")
	}
	names := []string{"id", "time", "lon", "lat", "category"}
	for i, h := range head {
		h = strings.ToLower(strings.TrimSpace(decodeField(h)))
		for k, n := range names {
			if h == n && rd.cols[k] < 0 {
				rd.cols[k] = i
			}
		}
	}
	var missing []string
	for k, n := range names[:4] {
		if rd.cols[k] < 0 {
			missing = append(missing, n)
		}
	}
	if len(missing) > 0 {
		return nil, boundaries.Invalid("CSV header %q lacks %s: want id,time,lon,lat,category", strings.Join(head, ","), strings.Join(missing, ", "))
	}
	rd.line = 1
	return rd, nil
}

// Offset is how many bytes of the input were read, for progress.
func (rd *Reader) Offset() int64 { return rd.br.n }

// Next returns the next ticket, a *RowError for a bad row (the reader
// goes on), io.EOF at the end, or another error when the file cannot be
// read on.
func (rd *Reader) Next() (Ticket, error) {
	if rd.err != nil {
		return Ticket{}, rd.err
	}
	rec, err := rd.cr.Read()
	if err != nil {
		if err != io.EOF {
			err = csvErr(err, fmt.Sprintf("CSV after line %d", rd.line))
		}
		rd.err = err
		return Ticket{}, err
	}
	rd.line, _ = rd.cr.FieldPos(0)
	field := func(k int) string {
		if c := rd.cols[k]; c >= 0 && c < len(rec) {
			return strings.TrimSpace(decodeField(rec[c]))
		}
		return ""
	}
	t := Ticket{ID: field(0), Category: field(4), Row: rd.line}
	bad := func(f, msg string) (Ticket, error) {
		return Ticket{}, &RowError{Row: rd.line, ID: t.ID, Field: f, Message: msg}
	}
	var perr error
	if t.Time, perr = ParseTime(field(1)); perr != nil {
		return bad("time", perr.Error())
	}
	for k, dst := range []*float64{&t.Lon, &t.Lat} {
		v := field(2 + k)
		f, err := strconv.ParseFloat(v, 64)
		if err != nil {
			if v == "" {
				return bad([]string{"lon", "lat"}[k], "required")
			}
			return bad([]string{"lon", "lat"}[k], fmt.Sprintf("%q is not a number", v))
		}
		*dst = f
	}
	if f, msg := CheckTicket(&t); f != "" {
		return bad(f, msg)
	}
	t.Lon, t.Lat = rd.crs.Unshift(t.Lon, t.Lat)
	return t, nil
}

// Error makes RowError an error (Next returns it for a bad row).
func (e *RowError) Error() string { return e.String() }

// decodeField returns a field as UTF-8: as is when it is, else decoded
// from GB18030 (a superset of GBK).
func decodeField(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	if d, err := simplifiedchinese.GB18030.NewDecoder().String(s); err == nil {
		return d
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}

// ReadTickets reads a whole CSV body of at most limit tickets (0: the
// default batch). Every bad row is listed in a *RowErrors; more than limit
// rows is a validation error before the rest is read.
func ReadTickets(r io.Reader, crs geo.CRS, limit int) ([]Ticket, error) {
	if limit <= 0 {
		limit = DefaultMaxBatch
	}
	rd, err := NewReader(r, crs)
	if err != nil {
		return nil, err
	}
	var out []Ticket
	errs := &RowErrors{}
	err = rd.each(errs, func(t Ticket) error {
		if len(out) >= limit {
			return &TooMany{Limit: limit}
		}
		out = append(out, t)
		return nil
	})
	if err == nil {
		err = errs.orNil()
	}
	if err != nil {
		return nil, err
	}
	return out, nil
}

// each reads rd to its end, passing every good ticket to f and collecting
// bad rows in errs (reading goes on, so every bad row is listed); a read
// error or f's error stops it.
func (rd *Reader) each(errs *RowErrors, f func(Ticket) error) error {
	for {
		t, err := rd.Next()
		if err == io.EOF {
			return nil
		}
		var re *RowError
		if errors.As(err, &re) {
			errs.Add(*re)
			continue
		}
		if err != nil {
			return err
		}
		if err := f(t); err != nil {
			return err
		}
	}
}

// TooMany is a batch over its limit.
type TooMany struct{ Limit int }

func (e *TooMany) Error() string { return fmt.Sprintf("at most %d tickets per request", e.Limit) }

// Unwrap makes it a validation error wherever no 413 is at hand.
func (e *TooMany) Unwrap() error { return &boundaries.ValidationError{Msg: e.Error()} }

// csvErr is a read error where: the client's bad CSV (a validation error)
// when the CSV reader says so, else wrapped as it is, so a body over its
// limit stays a 413 and a dropped connection is not called bad input.
func csvErr(err error, where string) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) || errors.Is(err, errLongLine) {
		return boundaries.Invalid("%s: %v", where, err)
	}
	return fmt.Errorf("%s: %w", where, err)
}
