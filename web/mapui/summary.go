package mapui

import (
	"math"
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/jiedao/jiedao/boundaries/layers"
	"github.com/jiedao/jiedao/web/param"
)

// HistogramBins is how many bars the map's household histogram draws.
const HistogramBins = 30

// mapRuns finds the live run and, with ?scenario=, the scenario's, and
// sets their ETag (the runs and the data version, as /api/v1/analysis);
// no queries and no error means 304 was sent. extra are more versions
// the answer depends on (the dispute spots').
func (s *Handler) mapRuns(c echo.Context, withScenario bool, extra ...int64) ([]layers.SummaryQuery, error) {
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
	if param.RunsNotModified(c, dv, append(runs, extra...)...) {
		return nil, c.NoContent(http.StatusNotModified)
	}
	return qs, nil
}

// getMapSummary is what the page draws on load: units per level and
// status, zones per kind and the community household histogram (of
// ?street= if given), live and, with ?scenario=, the scenario's on the
// same scale. Its size does not depend on the number of units.
func (s *Handler) getMapSummary(c echo.Context) error {
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
	top, sums, err := s.layers.Summaries(c.Request().Context(), qs, minTop, HistogramBins)
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
// ?offset=) street by street with the totals, filtered by ?kind=, ?status=,
// ?street= and ?bbox= (the map's view; see layers.FindingsQuery).
func (s *Handler) getMapFindings(c echo.Context) error {
	limit, err := param.Int(c, "limit", 0)
	if err != nil {
		return err
	}
	offset, err := param.Int(c, "offset", 0)
	if err != nil {
		return err
	}
	fq := layers.FindingsQuery{Limit: limit, Offset: offset, Kind: c.QueryParam("kind"), Status: c.QueryParam("status"), Street: c.QueryParam("street")}
	if fq.BBox, err = bbox(c.QueryParam("bbox")); err != nil {
		return err
	}
	if fq.At, err = param.At(c, "at"); err != nil {
		return err
	}
	if err := s.layers.CheckFindings(c.Request().Context(), fq); err != nil {
		return param.APIError(err)
	}
	// The dispute spots move with the tickets, not the runs.
	var extra []int64
	if fq.Status == "" && (fq.Kind == "" || fq.Kind == layers.DisputedBoundary) {
		v, err := s.layers.DisputesVersion(c.Request().Context())
		if err != nil {
			return err
		}
		extra = append(extra, v)
	}
	qs, err := s.mapRuns(c, false, extra...)
	if qs == nil || err != nil {
		return err
	}
	fq.Run = qs[0].Run
	f, err := s.layers.Findings(c.Request().Context(), fq)
	if err != nil {
		return param.APIError(err)
	}
	return c.JSON(http.StatusOK, f)
}

// bbox reads ?bbox=west,south,east,north (WGS84 degrees); "" is none.
func bbox(v string) (*[4]float64, error) {
	if v == "" {
		return nil, nil
	}
	f := strings.Split(v, ",")
	var b [4]float64
	ok := len(f) == 4
	for i := 0; ok && i < 4; i++ {
		x, err := strconv.ParseFloat(strings.TrimSpace(f[i]), 64)
		ok = err == nil && !math.IsNaN(x) && !math.IsInf(x, 0)
		b[i] = x
	}
	if !ok || b[0] > b[2] || b[1] > b[3] || b[0] < -180 || b[2] > 180 || b[1] < -90 || b[3] > 90 {
		return nil, param.BadRequest("bbox", "want west,south,east,north in degrees, west ≤ east and south ≤ north")
	}
	return &b, nil
}
