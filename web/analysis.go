package web

import (
	"net/http"
	"slices"
	"strings"

	"github.com/jiedao/jiedao/boundaries"
	"github.com/jiedao/jiedao/boundaries/analysis"
	"github.com/jiedao/jiedao/boundaries/layers"
	"github.com/jiedao/jiedao/web/param"
	"github.com/labstack/echo/v4"
)

func (s *Server) routesAnalysis(e *echo.Echo) {
	e.GET("/api/v1/analysis", s.getAnalysis)
	e.GET("/api/v1/findings", s.getFindings)
}

// analysis finds the run a request names and, unless the client already
// holds it (If-None-Match: nil, no error, 304 sent), loads it. The ETag is
// the run and the data version: every write to units moves the version
// (and advances or replaces the run), so the pair names the content; it is
// weak, the compressed and plain bodies being the same content.
//
// extra are more versions the answer depends on (the dispute spots').
func (s *Server) analysis(c echo.Context, extra ...int64) (*analysis.Analysis, error) {
	p, day, err := s.profiles.ProfileAt(c)
	if err != nil {
		return nil, err
	}
	scenario, err := param.Scenario(c)
	if err != nil {
		return nil, err
	}
	ctx := c.Request().Context()
	dv, err := s.db.CurrentDataVersion(ctx)
	if err != nil {
		return nil, err
	}
	run, err := s.layers.Run(ctx, p, day, scenario)
	if err != nil {
		return nil, err
	}
	if param.RunsNotModified(c, dv, append([]int64{run}, extra...)...) {
		return nil, c.NoContent(http.StatusNotModified)
	}
	return s.layers.Analysis(ctx, p, day, scenario)
}

// getAnalysis returns the same JSON as `jiedao analyze --format json`.
func (s *Server) getAnalysis(c echo.Context) error {
	a, err := s.analysis(c)
	if a == nil || err != nil {
		return err
	}
	return c.JSON(http.StatusOK, a)
}

// Findings are the flagged units, the zones and the disputed
// boundaries, filtered.
type Findings struct {
	Profile string                `json:"profile"`
	At      string                `json:"at"`
	Units   []analysis.UnitResult `json:"units"`
	Zones   []analysis.Zone       `json:"zones"`
	// Disputed are the places where hotline tickets were reassigned
	// across a boundary (kind disputed_boundary), ranked by tickets: live
	// boundaries only, so none with ?scenario=.
	Disputed []layers.Finding `json:"disputed"`
}

// getFindings filters by ?kind= (zone kind, or disputed_boundary),
// ?status= (unit status; default: undersized and oversized) and ?street=
// (a street code: the street, its communities and zones touching them).
func (s *Server) getFindings(c echo.Context) error {
	kind, status, street := c.QueryParam("kind"), c.QueryParam("status"), c.QueryParam("street")
	kinds := append(names(boundaries.ZoneKinds), layers.DisputedBoundary)
	if kind != "" && !slices.Contains(kinds, kind) {
		return param.BadRequest("kind", "want one of "+strings.Join(kinds, ", "))
	}
	statuses := names(boundaries.Statuses)
	if status != "" && !slices.Contains(statuses, status) {
		return param.BadRequest("status", "want one of "+strings.Join(statuses, ", "))
	}
	scenario, err := param.Scenario(c)
	if err != nil {
		return err
	}
	withDisputes := scenario == 0 && status == "" && (kind == "" || kind == layers.DisputedBoundary)
	var extra []int64
	if withDisputes {
		v, err := s.layers.DisputesVersion(c.Request().Context())
		if err != nil {
			return err
		}
		extra = append(extra, v)
	}
	a, err := s.analysis(c, extra...)
	if a == nil || err != nil {
		return err
	}
	f := Findings{Profile: a.Profile, At: a.At, Units: []analysis.UnitResult{}, Zones: []analysis.Zone{}, Disputed: []layers.Finding{}}
	if withDisputes {
		at, err := boundaries.ParseDate(a.At)
		if err != nil {
			return err
		}
		if f.Disputed, err = s.layers.DisputeFindings(c.Request().Context(), layers.FindingsQuery{At: at, Street: street}); err != nil {
			return err
		}
		if f.Disputed == nil {
			f.Disputed = []layers.Finding{}
		}
		if kind == layers.DisputedBoundary {
			return c.JSON(http.StatusOK, f)
		}
	}
	inStreet := map[string]bool{}
	for _, u := range a.Units {
		if street != "" && u.Code != street && (u.ParentCode == nil || *u.ParentCode != street) {
			continue
		}
		inStreet[u.Code] = true
		if kind != "" && status == "" {
			continue
		}
		if status != "" && string(u.Status) != status || status == "" && !u.Status.Flagged() {
			continue
		}
		f.Units = append(f.Units, u)
	}
	for _, z := range a.Zones {
		if status != "" && kind == "" {
			break
		}
		if kind != "" && string(z.Kind) != kind {
			continue
		}
		if street != "" && !slices.ContainsFunc(z.Codes, func(code string) bool { return inStreet[code] }) {
			continue
		}
		f.Zones = append(f.Zones, z)
	}
	return c.JSON(http.StatusOK, f)
}

// names are the values of a vocabulary type as strings, for messages.
func names[T ~string](xs []T) []string {
	out := make([]string, len(xs))
	for i, x := range xs {
		out[i] = string(x)
	}
	return out
}
