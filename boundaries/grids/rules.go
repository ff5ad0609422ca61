package grids

import (
	"encoding/json"
	"fmt"
	"math"

	"github.com/jiedao/jiedao/boundaries/analysis"
)

// The grid size used when the profile has no grid section: 300–500
// households, a figure commonly used for urban social-governance grids
// (found in secondary sources, not in a standard; a profile's grid section
// sets a city's own).
const (
	DefaultMinHouseholds = 300
	DefaultMaxHouseholds = 500
	DefaultTarget        = 400
)

// Rules are the sizes grids are cut to: households within [Min, Max] (0:
// no rule) and close to Target; MaxPopulation (0: none) caps people.
type Rules struct {
	Min, Max      float64
	Target        float64
	MaxPopulation float64
	// Source says where the range comes from (the profile, or the default).
	Source string
}

// profileGrid is the grid section of a profile as its JSON spells it; the
// section is read through JSON so the profile type need not know it.
type profileGrid struct {
	Grid *struct {
		Min    *analysis.Number `json:"min_households"`
		Max    *analysis.Number `json:"max_households"`
		Normal *analysis.Number `json:"normal_households"`
		MaxPop *analysis.Number `json:"max_population"`
	} `json:"grid"`
}

// RulesOf reads the grid rules of a profile (its grid section, else the
// defaults) and the target: households when > 0, else the middle of the
// range, else the profile's normal, else DefaultTarget.
func RulesOf(p *analysis.Profile, households int) (Rules, error) {
	if households < 0 {
		return Rules{}, fmt.Errorf("households per grid %d: want a number above 0", households)
	}
	r := Rules{Min: DefaultMinHouseholds, Max: DefaultMaxHouseholds,
		Source: "default 300–500 households per grid (a commonly used figure from secondary sources; set the profile's grid section)"}
	var normal float64
	if p != nil {
		b, err := json.Marshal(p)
		if err != nil {
			return Rules{}, fmt.Errorf("profile %s: %w", p.Name, err)
		}
		var pg profileGrid
		if err := json.Unmarshal(b, &pg); err != nil {
			return Rules{}, fmt.Errorf("profile %s: grid section: %w", p.Name, err)
		}
		// A rule is set when it has a value or a source: a profile type
		// that always writes a grid section writes unset rules as neither,
		// and a profile without grid rules keeps the defaults.
		set := func(n *analysis.Number) bool { return n != nil && (n.On() || n.Source != "") }
		if g := pg.Grid; g != nil && (set(g.Min) || set(g.Max)) {
			val := func(n *analysis.Number) float64 {
				if n == nil || !n.On() || n.Float() <= 0 {
					return 0
				}
				return n.Float()
			}
			r.Min, r.Max, normal, r.MaxPopulation = val(g.Min), val(g.Max), val(g.Normal), val(g.MaxPop)
			r.Source = "profile " + p.Name + " (grid section)"
		}
	}
	switch {
	case households > 0:
		r.Target = float64(households)
	case r.Min > 0 && r.Max > 0:
		r.Target = (r.Min + r.Max) / 2
	case normal > 0:
		r.Target = normal
	default:
		r.Target = DefaultTarget
	}
	if r.Min > 0 && r.Max > 0 && r.Min > r.Max {
		return Rules{}, fmt.Errorf("grid rules: minimum %v households above the maximum %v", r.Min, r.Max)
	}
	return r, nil
}

// K is the number of grids for ground with h households: h / Target
// rounded, moved into the counts whose grids can all be within range
// (ceil(h / Max) … floor(h / Min)) when there are such counts, at least 1.
func (r Rules) K(h float64) int {
	if h <= 0 || r.Target <= 0 {
		return 1
	}
	k := max(1, int(math.Round(h/r.Target)))
	lo, hi := 1, math.MaxInt32
	if r.Max > 0 {
		lo = int(math.Ceil(h / r.Max))
	}
	if r.Min > 0 {
		hi = int(math.Floor(h / r.Min))
	}
	if lo <= hi {
		k = min(max(k, lo), hi)
	}
	return max(1, k)
}

// In says whether households h are within the range.
func (r Rules) In(h int64) bool {
	return !(r.Min > 0 && float64(h) < r.Min || r.Max > 0 && float64(h) > r.Max)
}

// rangeText is the range in words, e.g. "300–500".
func (r Rules) rangeText() string {
	switch {
	case r.Min > 0 && r.Max > 0:
		return fmt.Sprintf("%.0f–%.0f", r.Min, r.Max)
	case r.Max > 0:
		return fmt.Sprintf("at most %.0f", r.Max)
	case r.Min > 0:
		return fmt.Sprintf("at least %.0f", r.Min)
	}
	return "any size"
}
