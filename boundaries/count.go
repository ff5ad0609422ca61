package boundaries

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// ParseCount reads a household or population count from a file attribute
// or a JSON value: a non-negative whole number up to 2^31-1 (the stored
// type), possibly written as text with thousands separators. Absent (nil)
// or empty text is "unknown": ok is false.
func ParseCount(v any) (n int64, ok bool, err error) {
	if v == nil {
		return 0, false, nil
	}
	var f float64
	switch x := v.(type) {
	case int64:
		f = float64(x)
	case float64:
		f = x
	case json.Number:
		if f, err = x.Float64(); err != nil {
			return 0, false, fmt.Errorf("not a number: %q", x)
		}
	case string:
		x = strings.TrimSpace(strings.ReplaceAll(x, ",", ""))
		if x == "" {
			return 0, false, nil
		}
		if f, err = strconv.ParseFloat(x, 64); err != nil {
			return 0, false, fmt.Errorf("not a number: %q", x)
		}
	default:
		return 0, false, fmt.Errorf("not a number: %v", v)
	}
	if math.IsNaN(f) || math.IsInf(f, 0) || f < 0 || f != math.Trunc(f) || f > math.MaxInt32 {
		return 0, false, fmt.Errorf("not a non-negative whole number: %v", v)
	}
	return int64(f), true, nil
}
