package boundaries

import (
	"fmt"
	"strings"
)

// Level is a tier of the administrative hierarchy.
type Level string

// The levels jiedao keeps, top down.
const (
	District  Level = "district"
	Street    Level = "street"
	Community Level = "community"
	// Grid is the level below communities (网格), the basic unit of local
	// management; a grid's code is its community's 12 digits and a 3-digit
	// sequence.
	Grid Level = "grid"
)

// Levels lists the levels top down.
var Levels = []Level{District, Street, Community, Grid}

// ParseLevel accepts a level name or its layer name (streets, communities…).
func ParseLevel(s string) (Level, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "district", "districts":
		return District, nil
	case "street", "streets":
		return Street, nil
	case "community", "communities":
		return Community, nil
	case "grid", "grids":
		return Grid, nil
	}
	return "", fmt.Errorf("unknown level %q (want district, street, community or grid)", s)
}

// Parent is the level above, "" for districts.
func (l Level) Parent() Level {
	switch l {
	case Grid:
		return Community
	case Community:
		return Street
	case Street:
		return District
	}
	return ""
}

// Child is the level below, "" for grids.
func (l Level) Child() Level {
	switch l {
	case District:
		return Street
	case Street:
		return Community
	case Community:
		return Grid
	}
	return ""
}

// Layer is the plural layer name used by exports, tiles and collections.
func (l Level) Layer() string {
	switch l {
	case District:
		return "districts"
	case Street:
		return "streets"
	case Grid:
		return "grids"
	}
	return "communities"
}

// DerivedParent returns the parent code implied by a statistical division
// code: a 15-digit grid code's first 12 digits, a 12-digit community code's
// first 9, a 9-digit street code's first 6. Other codes imply nothing.
func DerivedParent(l Level, code string) string {
	if !allDigits(code) {
		return ""
	}
	switch {
	case l == Grid && len(code) == 15:
		return code[:12]
	case l == Community && len(code) == 12:
		return code[:9]
	case l == Street && len(code) == 9:
		return code[:6]
	}
	return ""
}

func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}
