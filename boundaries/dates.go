package boundaries

import (
	"fmt"
	"strings"
	"time"
)

// Today is the default as-of date and valid_from: the local calendar day.
func Today() time.Time {
	y, m, d := time.Now().Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// ParseDate parses YYYY-MM-DD.
func ParseDate(s string) (time.Time, error) {
	t, err := time.Parse("2006-01-02", s)
	if err != nil {
		return time.Time{}, fmt.Errorf("date %q: want YYYY-MM-DD", s)
	}
	return t, nil
}

// china is the zone of Chinese calendar days (no DST since 1991).
var china = time.FixedZone("CST", 8*3600)

// Interval is the days of an OGC datetime: the first and the last day,
// both included; a zero end is open (".."). One date or instant is an
// interval of one day.
type Interval struct {
	From, To time.Time
}

// Day reports whether the interval is one day (the boundaries valid on
// it), and which.
func (iv Interval) Day() (time.Time, bool) {
	return iv.From, !iv.From.IsZero() && iv.From.Equal(iv.To)
}

// End is the interval's last day, or today when it is open-ended: the day
// whose analysis describes the interval's units.
func (iv Interval) End() time.Time {
	if iv.To.IsZero() {
		return Today()
	}
	return iv.To
}

// ParseDatetime reads the OGC datetime parameter: a date (2024-06-30), an
// instant (2024-06-30T12:00:00Z, taken as the calendar day in China, where
// the boundaries' valid_from dates are decided), or an interval of those
// "a/b" with either end ".." (or empty) for open. Versions change only at
// day boundaries, so days lose nothing.
func ParseDatetime(v string) (Interval, error) {
	a, b, ok := strings.Cut(v, "/")
	if !ok {
		d, err := parseInstantDay(v)
		return Interval{d, d}, err
	}
	var iv Interval
	var err error
	if a != ".." && a != "" {
		if iv.From, err = parseInstantDay(a); err != nil {
			return iv, err
		}
	}
	if b != ".." && b != "" {
		if iv.To, err = parseInstantDay(b); err != nil {
			return iv, err
		}
	}
	if !iv.From.IsZero() && !iv.To.IsZero() && iv.From.After(iv.To) {
		return iv, fmt.Errorf("%q: the interval ends before it starts", v)
	}
	return iv, nil
}

// gdalInstants are the truncated forms GDAL's OAPIF driver (3.6) writes
// for a -where on a date field: "2024-06-30T", "2024-06-30T12Z",
// "2024-06-30T12:30Z".
var gdalInstants = []string{"2006-01-02T", "2006-01-02T15Z07:00", "2006-01-02T15:04Z07:00"}

// parseInstantDay reads a date or an instant as its day in China.
func parseInstantDay(v string) (time.Time, error) {
	if d, err := time.Parse("2006-01-02", v); err == nil {
		return d, nil
	}
	if d, err := time.Parse(gdalInstants[0], v); err == nil {
		return d, nil // the date alone: no instant to move into China's day
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	for _, layout := range gdalInstants[1:] {
		if err == nil {
			break
		}
		t, err = time.Parse(layout, v)
	}
	if err != nil {
		return time.Time{}, fmt.Errorf("%q: want a date (YYYY-MM-DD), an instant (RFC 3339) or an interval of them (a/b, ../b, a/..)", v)
	}
	y, m, d := t.In(china).Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC), nil
}
