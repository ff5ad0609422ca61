package boundaries

import (
	"testing"
	"time"
)

func TestParseDatetime(t *testing.T) {
	d := func(s string) time.Time { t, _ := ParseDate(s); return t }
	for _, c := range []struct {
		in       string
		from, to time.Time
	}{
		{"2024-06-30", d("2024-06-30"), d("2024-06-30")},
		{"2024-06-30T", d("2024-06-30"), d("2024-06-30")}, // GDAL's date
		{"2024-06-30T20:00:00Z", d("2024-07-01"), d("2024-07-01")},
		{"2024-06-30T20Z", d("2024-07-01"), d("2024-07-01")},
		{"2024-06-30T10:30Z", d("2024-06-30"), d("2024-06-30")},
		{"2024-01-01/2024-06-30", d("2024-01-01"), d("2024-06-30")},
		{"../2024-06-30T", time.Time{}, d("2024-06-30")},
		{"2024-01-01T00:00:00+08:00/..", d("2024-01-01"), time.Time{}},
		{"/2024-06-30", time.Time{}, d("2024-06-30")},
		{"../..", time.Time{}, time.Time{}},
	} {
		iv, err := ParseDatetime(c.in)
		if err != nil || !iv.From.Equal(c.from) || !iv.To.Equal(c.to) {
			t.Errorf("%s: %v %v %v", c.in, iv.From, iv.To, err)
		}
	}
	if day, ok := (Interval{d("2024-06-30"), d("2024-06-30")}).Day(); !ok || !day.Equal(d("2024-06-30")) {
		t.Errorf("one day: %v %v", day, ok)
	}
	if _, ok := (Interval{d("2024-06-29"), d("2024-06-30")}).Day(); ok {
		t.Error("two days taken as one")
	}
	for _, bad := range []string{"", "tomorrow", "2024-06-31", "2024-06-30/2024-01-01", "2024-01-01/x", "2024-06-30TZ"} {
		if _, err := ParseDatetime(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
