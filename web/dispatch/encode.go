package dispatch

import (
	"math"
	"strconv"
	"time"

	"github.com/jiedao/jiedao/boundaries"
	tickets "github.com/jiedao/jiedao/boundaries/dispatch"
	"github.com/jiedao/jiedao/boundaries/lookup"
)

// appendResult appends r as encoding/json would marshal it (the same
// fields, order and values; TestAppendResult compares them). A batch of
// 100,000 answers is encoded by hand because reflection cost a third of a
// second of the request.
func appendResult(b []byte, r *tickets.Result) []byte {
	b = append(b, `{"id":`...)
	b = boundaries.AppendJSONString(b, r.ID)
	b = append(b, `,"time":"`...)
	b = r.Time.AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","lon":`...)
	b = appendFloat(b, r.Lon)
	b = append(b, `,"lat":`...)
	b = appendFloat(b, r.Lat)
	b = append(b, `,"category":`...)
	b = boundaries.AppendJSONString(b, r.Category)
	for i, u := range [...]*lookup.Unit{r.District, r.Street, r.Community, r.Grid} {
		b = append(b, [...]string{`,"district":`, `,"street":`, `,"community":`, `,"grid":`}[i]...)
		b = appendUnit(b, u)
	}
	b = append(b, `,"rule":`...)
	b = boundaries.AppendJSONString(b, r.Rule)
	b = append(b, `,"ambiguity":`...)
	b = boundaries.AppendJSONString(b, string(r.Ambiguity))
	if r.GridAmbiguity != "" {
		b = append(b, `,"grid_ambiguity":`...)
		b = boundaries.AppendJSONString(b, string(r.GridAmbiguity))
	}
	b = append(b, `,"distance_m":`...)
	if r.DistanceM == nil {
		b = append(b, "null"...)
	} else {
		b = appendFloat(b, *r.DistanceM)
	}
	b = append(b, `,"candidates":`...)
	if r.Candidates == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i := range r.Candidates {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendCandidate(b, &r.Candidates[i])
		}
		b = append(b, ']')
	}
	b = append(b, `,"units_version":`...)
	b = strconv.AppendInt(b, r.UnitsVersion, 10)
	b = append(b, `,"units_day":`...)
	b = boundaries.AppendJSONString(b, r.UnitsDay)
	b = append(b, `,"stored":`...)
	b = strconv.AppendBool(b, r.Stored)
	return append(b, '}')
}

func appendUnit(b []byte, u *lookup.Unit) []byte {
	if u == nil {
		return append(b, "null"...)
	}
	b = append(b, `{"code":`...)
	b = boundaries.AppendJSONString(b, u.Code)
	b = append(b, `,"name":`...)
	b = boundaries.AppendJSONString(b, u.Name)
	return append(b, '}')
}

func appendCandidate(b []byte, c *tickets.Candidate) []byte {
	b = append(b, `{"level":`...)
	b = boundaries.AppendJSONString(b, string(c.Level))
	b = append(b, `,"code":`...)
	b = boundaries.AppendJSONString(b, c.Code)
	b = append(b, `,"name":`...)
	b = boundaries.AppendJSONString(b, c.Name)
	b = append(b, `,"covers":`...)
	b = strconv.AppendBool(b, c.Covers)
	b = append(b, `,"distance_m":`...)
	b = appendFloat(b, c.DistanceM)
	return append(b, '}')
}

// appendFloat formats f as encoding/json does: the shortest decimal, in
// exponent form only below 1e-6 or from 1e21. A non-finite value (never a
// checked coordinate or distance) is written as null rather than invalid
// JSON.
func appendFloat(b []byte, f float64) []byte {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return append(b, "null"...)
	}
	abs, format := math.Abs(f), byte('f')
	if abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' {
		// e-07 → e-7, as encoding/json writes it.
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b
}
