package web

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/jiedao/jiedao/boundaries/layers"
	"github.com/jiedao/jiedao/web/param"
)

// histogramBins is how many bars the map's household histogram draws.
const histogramBins = 30

// mapRuns finds the live run and, with ?scenario=, the scenario's, and
// sets their ETag (the runs and the data version, as /api/v1/analysis);
// no queries and no error means 304 was sent.
func (s *Server) mapRuns(c echo.Context, withScenario bool) ([]layers.SummaryQuery, error) {
	p, day, err := s.profiles.ProfileAt(c)
	if err != nil {
		return nil, err
	}
	scen := int64(0)
	if withScenario {
		if scen, err = param.Scenario(c); err != nil {
			return nil, err
		}
	}
	ctx := c.Request().Context()
	dv, err := s.db.CurrentDataVersion(ctx)
	if err != nil {
		return nil, err
	}
	ids := []int64{0}
	if scen != 0 {
		ids = append(ids, scen)
	}
	var qs []layers.SummaryQuery
	var runs []int64
	for _, id := range ids {
		run, err := s.layers.Run(ctx, p, day, id)
		if err != nil {
			return nil, err
		}
		qs = append(qs, layers.SummaryQuery{Run: run, At: day, Scenario: id != 0, Street: c.QueryParam("street")})
		runs = append(runs, run)
	}
	if runsNotModified(c, dv, runs...) {
		return nil, c.NoContent(http.StatusNotModified)
	}
	return qs, nil
}

// getMapSummary is what the page draws on load: units per level and
// status, zones per kind and the community household histogram (of
// ?street= if given), live and, with ?scenario=, the scenario's on the
// same scale. Its size does not depend on the number of units.
func (s *Server) getMapSummary(c echo.Context) error {
	qs, err := s.mapRuns(c, true)
	if qs == nil || err != nil {
		return err
	}
	p, err := s.profiles.Profile(c)
	if err != nil {
		return err
	}
	// The scale reaches past the maximum so its line is drawn.
	minTop := 1.0
	if p.Community.MaxHouseholds.On() {
		minTop = 2 * p.Community.MaxHouseholds.Float()
	}
	top, sums, err := s.layers.Summaries(c.Request().Context(), qs, minTop, histogramBins)
	if err != nil {
		return err
	}
	// The first and last days with boundaries, for a date that has none.
	first, last, err := s.layers.DataDates(c.Request().Context())
	if err != nil {
		return err
	}
	out := map[string]any{"profile": p.Name, "at": qs[0].At.Format("2006-01-02"), "top": top, "live": sums[0], "scenario": nil,
		"data_from": first, "data_to": last}
	if len(sums) > 1 {
		out["scenario"] = sums[1]
	}
	return c.JSON(http.StatusOK, out)
}

// getMapFindings is a page of the live findings (?limit=, default 50;
// ?offset=) street by street with the totals, filtered by ?kind=, ?status=
// and ?street= (see layers.FindingsQuery).
func (s *Server) getMapFindings(c echo.Context) error {
	limit, err := queryInt(c, "limit", 0)
	if err != nil {
		return err
	}
	offset, err := queryInt(c, "offset", 0)
	if err != nil {
		return err
	}
	fq := layers.FindingsQuery{Limit: limit, Offset: offset, Kind: c.QueryParam("kind"), Status: c.QueryParam("status"), Street: c.QueryParam("street")}
	if fq.At, err = param.At(c, "at"); err != nil {
		return err
	}
	if err := s.layers.CheckFindings(c.Request().Context(), fq); err != nil {
		return apiError(err)
	}
	qs, err := s.mapRuns(c, false)
	if qs == nil || err != nil {
		return err
	}
	fq.Run = qs[0].Run
	f, err := s.layers.Findings(c.Request().Context(), fq)
	if err != nil {
		return apiError(err)
	}
	return c.JSON(http.StatusOK, f)
}
