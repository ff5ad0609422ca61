// Package param reads the query parameters every route group of package
// web shares: ?profile= (with its cache of loaded profiles), ?at= and
// ?scenario=, and the 400 naming a parameter.
package param

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/jiedao/jiedao/boundaries"
	"github.com/jiedao/jiedao/boundaries/analysis"
)

// Profiles resolves ?profile= and keeps the profiles it loaded; one is
// shared by all the route groups of an application. The zero value is
// ready to use.
type Profiles struct {
	m sync.Map // name → *analysis.Profile
}

// Profile resolves ?profile= (default beijing-2020) to an embedded profile;
// files are not loadable over HTTP.
func (ps *Profiles) Profile(c echo.Context) (*analysis.Profile, error) {
	name := c.QueryParam("profile")
	if name == "" {
		name = analysis.DefaultProfile
	}
	if p, ok := ps.m.Load(name); ok {
		return p.(*analysis.Profile), nil
	}
	if !slices.Contains(analysis.ProfileNames(), name) {
		return nil, BadRequest("profile", fmt.Sprintf("unknown profile %q (have %s)", name, strings.Join(analysis.ProfileNames(), ", ")))
	}
	p, err := analysis.LoadProfile(name)
	if err != nil {
		return nil, err
	}
	ps.m.Store(name, p)
	return p, nil
}

// ProfileAt resolves ?profile= and ?at=, which most reads take.
func (ps *Profiles) ProfileAt(c echo.Context) (*analysis.Profile, time.Time, error) {
	p, err := ps.Profile(c)
	if err != nil {
		return nil, time.Time{}, err
	}
	day, err := At(c, "at")
	if err != nil {
		return nil, time.Time{}, err
	}
	return p, day, nil
}

// At resolves the query parameter name as YYYY-MM-DD (default today).
func At(c echo.Context, name string) (time.Time, error) {
	v := c.QueryParam(name)
	if v == "" {
		return boundaries.Today(), nil
	}
	t, err := boundaries.ParseDate(v)
	if err != nil {
		return time.Time{}, BadRequest(name, err.Error())
	}
	return t, nil
}

// Scenario resolves ?scenario=ID: the boundaries of a stored scenario
// instead of the live ones (0 when absent). Whether the scenario exists is
// known when its analysis run is looked up (404 then).
func Scenario(c echo.Context) (int64, error) {
	v := c.QueryParam("scenario")
	if v == "" {
		return 0, nil
	}
	id, err := strconv.ParseInt(v, 10, 64)
	if err != nil || id < 1 {
		return 0, BadRequest("scenario", fmt.Sprintf("%q is not a scenario id (a positive integer, see GET /api/v1/scenarios)", v))
	}
	return id, nil
}

// BadRequest is a 400 naming the parameter (code invalid_parameter).
func BadRequest(name, msg string) *echo.HTTPError {
	return Error(http.StatusBadRequest, CodeInvalidParameter, fmt.Sprintf("parameter %s: %s", name, msg))
}
