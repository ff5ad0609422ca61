package analysis

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"math"
	"os"
	"slices"
	"strings"

	"github.com/jiedao/jiedao/boundaries"
	"github.com/jiedao/jiedao/data"
)

// DefaultProfile is used when none is named.
const DefaultProfile = "beijing-2020"

// Number is a profile figure with its source; a nil Value switches the
// rule off.
type Number struct {
	Value  *float64 `json:"value"`
	Source string   `json:"source"`
}

// Profile holds the rules units are measured against.
type Profile struct {
	Name      string `json:"name"`
	Title     string `json:"title"`
	Community struct {
		NormalHouseholds   Number `json:"normal_households"`
		NormalPopulation   Number `json:"normal_population"`
		MaxHouseholds      Number `json:"max_households"`
		MaxPopulation      Number `json:"max_population"`
		MinHouseholds      Number `json:"min_households"`
		StaffPerWorkerLow  Number `json:"staff_households_per_worker_low"`
		StaffPerWorkerHigh Number `json:"staff_households_per_worker_high"`
		StaffMinimum       Number `json:"staff_minimum"`
		// MaxWorkloadRatio flags a community whose hotline workload
		// (tickets per 1,000 households per month) exceeds this many times
		// its street's median; read by the workload output (the map's
		// workload mode), not by the analysis run. Null: off.
		MaxWorkloadRatio Number `json:"max_workload_ratio"`
	} `json:"community"`
	// Grid holds the rules of grids (网格); its Kinds override them for
	// grids of a kind (村).
	Grid   GridRules `json:"grid"`
	Street struct {
		Classes []StreetClass `json:"classes"`
	} `json:"street"`
	Zones struct {
		MinZoneAreaM2   Number `json:"min_zone_area_m2"`
		MinOutsideShare Number `json:"min_outside_share"`
	} `json:"zones"`
	Blocks Blocks `json:"blocks"`
	hash   string
}

// GridRules are the sizes of a grid and its staffing: households within
// [MinHouseholds, MaxHouseholds], people at most MaxPopulation, and
// StaffPerGrid grid workers (网格员) per grid.
type GridRules struct {
	MinHouseholds Number `json:"min_households"`
	MaxHouseholds Number `json:"max_households"`
	MaxPopulation Number `json:"max_population"`
	StaffPerGrid  Number `json:"staff_per_grid"`
	// Kinds overrides rules for the grids of a kind, matched on the grid's
	// own kind, else its community's (a 村's grids are village grids).
	Kinds map[string]GridKind `json:"kinds,omitempty"`
}

// GridKind overrides grid rules for one kind: a rule left out keeps the
// general one, a null value switches it off.
type GridKind struct {
	MinHouseholds *Number `json:"min_households,omitempty"`
	MaxHouseholds *Number `json:"max_households,omitempty"`
	MaxPopulation *Number `json:"max_population,omitempty"`
	StaffPerGrid  *Number `json:"staff_per_grid,omitempty"`
}

// GridRulesFor is the rules of a grid of a kind in a community of a kind,
// and the kind whose rules apply ("" for the general ones).
func (p *Profile) GridRulesFor(kind, communityKind string) (GridRules, string) {
	r := p.Grid
	r.Kinds = nil
	for _, k := range []string{kind, communityKind} {
		o, ok := p.Grid.Kinds[k]
		if k == "" || !ok {
			continue
		}
		for _, f := range []struct {
			dst *Number
			src *Number
		}{{&r.MinHouseholds, o.MinHouseholds}, {&r.MaxHouseholds, o.MaxHouseholds}, {&r.MaxPopulation, o.MaxPopulation}, {&r.StaffPerGrid, o.StaffPerGrid}} {
			if f.src != nil {
				*f.dst = *f.src
			}
		}
		return r, k
	}
	return r, ""
}

// StreetClass holds the street rules for a class of districts; the class
// with no districts applies to all others.
type StreetClass struct {
	Name          string   `json:"name"`
	Districts     []string `json:"districts"`
	MinAreaKM2    Number   `json:"min_area_km2"`
	MinPopulation Number   `json:"min_population"`
	MaxPopulation Number   `json:"max_population"`
}

// Blocks are the rules of the blocks barriers cut units into: faces under
// MinBlockM2 are merged into a neighbour, Classes maps a barrier file's
// words (主干道, 胡同, motorway …) to the stored classes, and CrossCost
// weighs joining two blocks across a barrier of a class.
type Blocks struct {
	MinBlockM2 Number            `json:"min_block_m2"`
	Classes    map[string]string `json:"classes"`
	CrossCost  map[string]Number `json:"cross_cost"`
}

// ProfileNames lists the embedded profiles.
func ProfileNames() []string {
	names, _ := fs.Glob(data.Profiles, "profiles/*.json")
	var out []string
	for _, n := range names {
		n = strings.TrimSuffix(strings.TrimPrefix(n, "profiles/"), ".json")
		if n != "custom.example" {
			out = append(out, n)
		}
	}
	return out
}

// LoadProfile loads an embedded profile by name ("" = default) or a JSON
// file by path.
func LoadProfile(nameOrFile string) (*Profile, error) {
	if nameOrFile == "" {
		nameOrFile = DefaultProfile
	}
	var b []byte
	var err error
	if strings.ContainsAny(nameOrFile, "/\\") || strings.HasSuffix(nameOrFile, ".json") {
		b, err = os.ReadFile(nameOrFile)
	} else {
		b, err = fs.ReadFile(data.Profiles, "profiles/"+nameOrFile+".json")
		if err != nil {
			return nil, fmt.Errorf("unknown profile %q (have %s, or give a file)", nameOrFile, strings.Join(ProfileNames(), ", "))
		}
	}
	if err != nil {
		return nil, fmt.Errorf("profile %s: %w", nameOrFile, err)
	}
	var p Profile
	dec := json.NewDecoder(strings.NewReader(string(b)))
	if err := dec.Decode(&p); err != nil {
		return nil, fmt.Errorf("profile %s: %w", nameOrFile, err)
	}
	if p.Name == "" {
		return nil, fmt.Errorf("profile %s: no name", nameOrFile)
	}
	h := sha256.Sum256(b)
	p.hash = hex.EncodeToString(h[:8])
	return &p, nil
}

// On reports whether the rule is on.
func (n Number) On() bool { return n.Value != nil }

// Float is the value (NaN when the rule is off).
func (n Number) Float() float64 {
	if n.Value == nil {
		return math.NaN()
	}
	return *n.Value
}

// Hash identifies the profile's rules (a changed file is a new hash):
// stored runs and caches key on it.
func (p *Profile) Hash() string { return p.hash }

// MinZoneArea and MinOutsideShare have defaults when a profile leaves them out.
func (p *Profile) MinZoneArea() float64 {
	if p.Zones.MinZoneAreaM2.On() {
		return p.Zones.MinZoneAreaM2.Float()
	}
	return 100
}

// MinOutsideShare is the share of a unit's area outside its parent below
// which a crosses_parent zone is a sliver.
func (p *Profile) MinOutsideShare() float64 {
	if p.Zones.MinOutsideShare.On() {
		return p.Zones.MinOutsideShare.Float()
	}
	return 0.005
}

// MinBlockArea is the smallest block in m²; faces under it are merged
// into the neighbour they share the longest edge with.
func (p *Profile) MinBlockArea() float64 {
	if p.Blocks.MinBlockM2.On() {
		return p.Blocks.MinBlockM2.Float()
	}
	return 200
}

// CrossCost is the cost of joining two blocks across a barrier of a class
// (1 for a class the profile leaves out, and for no barrier).
func (p *Profile) CrossCost(class string) float64 {
	if n, ok := p.Blocks.CrossCost[class]; ok && n.On() {
		return n.Float()
	}
	return 1
}

// streetClass picks the class for a street by its district code.
func (p *Profile) streetClass(district string) *StreetClass {
	var fallback *StreetClass
	for i := range p.Street.Classes {
		c := &p.Street.Classes[i]
		if len(c.Districts) == 0 {
			fallback = c
		} else if slices.Contains(c.Districts, district) {
			return c
		}
	}
	return fallback
}

// Measures are one unit's figures before judgement.
type Measures struct {
	Code       string
	Level      boundaries.Level
	ParentCode string
	Households *int64
	Population *int64
	AreaKM2    float64
	// Kind and ParentKind are the unit's kind and its parent's (社区, 村 …),
	// for kind-specific grid rules.
	Kind, ParentKind string
	// Points is how many building points the unit holds (0: none, or not
	// counted): a grid of one point cannot be split whatever its size.
	Points int64
}

// Judgement is the profile's verdict on one unit.
type Judgement struct {
	Status        boundaries.Status `json:"status"`
	Reasons       []string          `json:"reasons"`
	StaffMin      *int64            `json:"staff_min"`
	StaffMax      *int64            `json:"staff_max"`
	RatioToNormal *float64          `json:"ratio_to_normal"`
}

// Judge applies the profile. Thresholds are strict as the standards word
// them: "under 500" is < 500, "over 3000" is > 3000.
func (p *Profile) Judge(m Measures) Judgement {
	j := Judgement{Status: boundaries.Unknown, Reasons: []string{}}
	switch m.Level {
	case boundaries.Grid:
		return p.judgeGrid(m)
	case boundaries.Community:
		c := p.Community
		if m.Households == nil && m.Population == nil {
			j.Reasons = append(j.Reasons, "no households or population")
			return j
		}
		j.Status = boundaries.Normal
		if m.Households != nil {
			h := float64(*m.Households)
			if c.MaxHouseholds.On() && h > c.MaxHouseholds.Float() {
				j.Status = boundaries.Oversized
				j.Reasons = append(j.Reasons, fmt.Sprintf("households %d > %g", *m.Households, c.MaxHouseholds.Float()))
			}
			if c.MinHouseholds.On() && h < c.MinHouseholds.Float() {
				j.Status = boundaries.Undersized
				j.Reasons = append(j.Reasons, fmt.Sprintf("households %d < %g", *m.Households, c.MinHouseholds.Float()))
			}
			if c.NormalHouseholds.On() && c.NormalHouseholds.Float() > 0 {
				r := h / c.NormalHouseholds.Float()
				j.RatioToNormal = &r
			}
			if c.StaffMinimum.On() {
				lo, hi := int64(c.StaffMinimum.Float()), int64(c.StaffMinimum.Float())
				if c.StaffPerWorkerHigh.On() {
					lo = max(lo, int64(math.Ceil(h/c.StaffPerWorkerHigh.Float())))
				}
				if c.StaffPerWorkerLow.On() {
					hi = max(hi, int64(math.Ceil(h/c.StaffPerWorkerLow.Float())))
				}
				j.StaffMin, j.StaffMax = &lo, &hi
			}
		}
		if m.Population != nil && c.MaxPopulation.On() && float64(*m.Population) > c.MaxPopulation.Float() {
			j.Status = boundaries.Oversized
			j.Reasons = append(j.Reasons, fmt.Sprintf("population %d > %g", *m.Population, c.MaxPopulation.Float()))
		}
	case boundaries.Street:
		district := m.ParentCode
		if district == "" && len(m.Code) >= 6 {
			district = m.Code[:6]
		}
		cl := p.streetClass(district)
		if cl == nil {
			if m.Population == nil {
				j.Reasons = append(j.Reasons, "no population")
				return j
			}
			j.Status = boundaries.Normal
			return j
		}
		small, large := false, false
		if cl.MinAreaKM2.On() && m.AreaKM2 < cl.MinAreaKM2.Float() {
			small = true
			j.Reasons = append(j.Reasons, fmt.Sprintf("area %.2f km² < %g", m.AreaKM2, cl.MinAreaKM2.Float()))
		}
		if m.Population != nil {
			pop := float64(*m.Population)
			if cl.MinPopulation.On() && pop < cl.MinPopulation.Float() {
				small = true
				j.Reasons = append(j.Reasons, fmt.Sprintf("population %d < %g", *m.Population, cl.MinPopulation.Float()))
			}
			if cl.MaxPopulation.On() && pop > cl.MaxPopulation.Float() {
				large = true
				j.Reasons = append(j.Reasons, fmt.Sprintf("population %d > %g", *m.Population, cl.MaxPopulation.Float()))
			}
		}
		switch {
		case large:
			j.Status = boundaries.Oversized
		case small:
			j.Status = boundaries.Undersized
		case m.Population == nil:
			j.Reasons = append(j.Reasons, "no population")
		default:
			j.Status = boundaries.Normal
		}
	default:
		if m.Population != nil || m.Households != nil {
			j.Status = boundaries.Normal
		}
	}
	return j
}

// judgeGrid applies the grid rules (of the grid's kind, when the profile
// has some). A grid over the maximum that holds a single building point is
// oversized but cannot be split: the reason says so.
func (p *Profile) judgeGrid(m Measures) Judgement {
	j := Judgement{Status: boundaries.Unknown, Reasons: []string{}}
	r, kind := p.GridRulesFor(m.Kind, m.ParentKind)
	if r.StaffPerGrid.On() {
		n := int64(math.Ceil(r.StaffPerGrid.Float()))
		j.StaffMin, j.StaffMax = &n, &n
	}
	if m.Households == nil && m.Population == nil {
		j.Reasons = append(j.Reasons, "no households or population")
		return j
	}
	of := ""
	if kind != "" {
		of = " (" + kind + ")"
	}
	j.Status = boundaries.Normal
	if m.Households != nil {
		h := float64(*m.Households)
		if r.MaxHouseholds.On() && h > r.MaxHouseholds.Float() {
			j.Status = boundaries.Oversized
			why := fmt.Sprintf("households %d > %g%s", *m.Households, r.MaxHouseholds.Float(), of)
			if m.Points == 1 {
				why += ": one building point, cannot be split"
			}
			j.Reasons = append(j.Reasons, why)
		}
		if r.MinHouseholds.On() && h < r.MinHouseholds.Float() {
			j.Status = boundaries.Undersized
			j.Reasons = append(j.Reasons, fmt.Sprintf("households %d < %g%s", *m.Households, r.MinHouseholds.Float(), of))
		}
	}
	if m.Population != nil && r.MaxPopulation.On() && float64(*m.Population) > r.MaxPopulation.Float() {
		j.Status = boundaries.Oversized
		j.Reasons = append(j.Reasons, fmt.Sprintf("population %d > %g%s", *m.Population, r.MaxPopulation.Float(), of))
	}
	return j
}
