package mapui

import (
	"hash/fnv"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/jiedao/jiedao/boundaries/layers"
	"github.com/jiedao/jiedao/web/param"
)

// getMapDisputes is the map's disputes layer: the dispute spots of the
// stored tickets' whole period (?at= the day they are drawn on, ?bbox= the
// view, ?limit= up to layers.MaxMapSpots) as GeoJSON. Public, so
// aggregates only: counts, categories and codes, never a ticket's id or
// point (GET /api/v1/disputes, behind a key, has the rest).
func (s *Handler) getMapDisputes(c echo.Context) error {
	at, err := param.At(c, "at")
	if err != nil {
		return err
	}
	b, err := bbox(c.QueryParam("bbox"))
	if err != nil {
		return err
	}
	limit, err := param.Int(c, "limit", layers.MaxMapSpots)
	if err != nil {
		return err
	}
	if limit < 1 || limit > layers.MaxMapSpots {
		return param.BadRequest("limit", "want 1 to 500")
	}
	v, err := s.layers.DisputesVersion(c.Request().Context())
	if err != nil {
		return err
	}
	if param.RunsNotModified(c, v) {
		return c.NoContent(http.StatusNotModified)
	}
	body, err := s.layers.DisputeSpots(c.Request().Context(), at, b, limit)
	if err != nil {
		return err
	}
	return c.Blob(http.StatusOK, "application/geo+json", body)
}

// getMapWorkload is the workload colour mode's data: per community on ?at=,
// tickets per 1,000 households per month over the stored tickets' period,
// code → value (and the ratio to the street median, and the communities
// ?profile='s community.max_workload_ratio flags), one compact map the
// page turns into a match expression.
func (s *Handler) getMapWorkload(c echo.Context) error {
	at, err := param.At(c, "at")
	if err != nil {
		return err
	}
	p, err := s.profiles.Profile(c)
	if err != nil {
		return err
	}
	v, err := s.layers.WorkloadVersion(c.Request().Context())
	if err != nil {
		return err
	}
	// The profile's rule flags: its hash is part of the tag.
	h := fnv.New64a()
	h.Write([]byte(p.Hash()))
	if param.RunsNotModified(c, v, int64(h.Sum64()>>1)) {
		return c.NoContent(http.StatusNotModified)
	}
	w, err := s.layers.Workload(c.Request().Context(), at, p)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, w)
}
