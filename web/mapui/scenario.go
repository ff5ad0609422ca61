package mapui

import (
	"encoding/json"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/jiedao/jiedao/boundaries/scenario"
	"github.com/jiedao/jiedao/web/param"
)

// getMapScenario is what the before/after view draws beside the tiles:
// the live communities the scenario removes (the live map outlines them,
// as the scenario's tiles no longer have them) and the streets it changes,
// named on ?at=, for the summary's links, and its new boundaries as lines
// marked on_barrier (following a road, river or railway) or not.
func (s *Handler) getMapScenario(c echo.Context) error {
	id, err := param.PathID(c)
	if err != nil {
		return err
	}
	day, err := param.At(c, "at")
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	sc, err := scenario.Get(ctx, s.db, id)
	if err != nil {
		return param.APIError(err)
	}
	streets, err := scenario.Streets(ctx, s.db, id, day)
	if err != nil {
		return param.APIError(err)
	}
	nb, barriers, err := scenario.NewBoundaries(ctx, s.db, id, day)
	if err != nil {
		return param.APIError(err)
	}
	c.Response().Header().Set("Cache-Control", "no-cache")
	return c.JSON(http.StatusOK, map[string]any{"id": sc.ID, "name": sc.Name, "removed": sc.Removed, "streets": streets,
		"barriers": barriers, "new_boundaries": json.RawMessage(nb)})
}
