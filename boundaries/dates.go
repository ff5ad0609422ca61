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

// ParseDatetime reads the OGC datetime parameter as the as-of day: a date
// (2024-06-30) or an instant (2024-06-30T12:00:00Z, taken as the calendar
// day in China, where the boundaries' valid_from dates are decided).
// Intervals are refused: every feature is one version valid on one day,
// and the analysis is per day.
func ParseDatetime(v string) (time.Time, error) {
	if strings.Contains(v, "/") {
		return time.Time{}, fmt.Errorf("%q: intervals are not supported; give a date (YYYY-MM-DD) or an instant (RFC 3339)", v)
	}
	if d, err := time.Parse("2006-01-02", v); err == nil {
		return d, nil
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q: want a date (YYYY-MM-DD) or an instant (RFC 3339)", v)
	}
	y, m, d := t.In(china).Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC), nil
}
