package web

import (
	"fmt"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/jiedao/jiedao/boundaries"
	"github.com/jiedao/jiedao/boundaries/scenario"
	"github.com/jiedao/jiedao/boundaries/units"
	"github.com/jiedao/jiedao/geo"
	"github.com/jiedao/jiedao/web/ogc"
)

// ogcEditor gives web/ogc the draft scenarios' writes: the key the
// request carries (apiGuard checked it) and the scenario package.
type ogcEditor struct{ s *Server }

func (e ogcEditor) CanWrite(c echo.Context, id int64, level boundaries.Level) bool {
	k, _ := c.Get(ctxKey).(*units.APIKey)
	if k == nil || !k.Role.Allows(units.Editor) {
		return false
	}
	if id == 0 {
		return true // live, with an approval (web/ogc checked X-Approval)
	}
	editable := false
	for _, l := range scenario.Editable {
		editable = editable || l == level
	}
	if !editable {
		return false
	}
	sc, err := scenario.Get(c.Request().Context(), e.s.db, id)
	return err == nil && sc.AdoptedAt == nil
}

func (e ogcEditor) Write(c echo.Context, w ogc.Write) (string, string, error) {
	ctx := c.Request().Context()
	key := e.s.actor(c).KeyName
	if w.Scenario == 0 {
		return e.live(c, w)
	}
	if w.Op == "delete" {
		return w.ID, "", scenario.Remove(ctx, e.s.db, w.Scenario, w.Level, w.ID, w.IfMatch, key)
	}
	return scenario.Apply(ctx, e.s.db, scenario.Edit{Scenario: w.Scenario, Level: w.Level, Code: w.ID, Op: w.Op,
		Body: w.Body, CRS: w.CRS, IfMatch: w.IfMatch, KeyName: key})
}

func (e ogcEditor) ETag(c echo.Context, id int64, level boundaries.Level, code string) (string, error) {
	if id == 0 {
		h, err := units.ReadHead(c.Request().Context(), e.s.db, code)
		if err != nil {
			return "", fmt.Errorf("unit %s: %w", code, err)
		}
		if h == nil {
			return "", fmt.Errorf("unit %s: %w", code, boundaries.ErrNotFound)
		}
		return h.ETag(), nil
	}
	return scenario.ETag(c.Request().Context(), e.s.db, id, level, code)
}

// live writes a live unit as /api/v1/units does: a new version (or the
// retirement) valid from X-Valid-From under the approval X-Approval.
func (e ogcEditor) live(c echo.Context, w ogc.Write) (string, string, error) {
	ctx := c.Request().Context()
	var day time.Time
	if w.ValidFrom != "" {
		var err error
		if day, err = boundaries.ParseDate(w.ValidFrom); err != nil {
			return "", "", boundaries.Invalid("X-Valid-From: %v", err)
		}
	}
	var match int64
	if w.Op != "create" {
		v, ok := parseETag(w.IfMatch)
		switch {
		case strings.TrimSpace(w.IfMatch) == "*":
			match = units.AnyVersion
		case !ok:
			return "", "", fmt.Errorf("%s: If-Match %s is no ETag of a version: %w", w.ID, w.IfMatch, boundaries.ErrStale)
		default:
			match = v
		}
		if err := units.Precondition(ctx, e.s.db, w.ID, match); err != nil {
			return "", "", err
		}
	}
	if w.Op == "delete" {
		if day.IsZero() {
			return "", "", boundaries.Invalid("X-Valid-From (YYYY-MM-DD, the first day without the unit) is required")
		}
		_, err := units.Retire(ctx, e.s.db, w.ID, match, day, w.Approval, false, e.s.actor(c))
		return w.ID, "", err
	}
	ed, err := units.ParseFeature(w.Body)
	if err != nil {
		return "", "", err
	}
	ed.Approval, ed.ValidFrom = w.Approval, day
	if ed.Geometry != nil && w.CRS.Flip {
		geo.Transform(ed.Geometry, func(a, b float64) (float64, float64) { return b, a })
	}
	crs := w.CRS
	ed.CRS = &crs
	var r *units.WriteResult
	if w.Op == "create" {
		if ed.Level == "" {
			ed.Level = w.Level
		}
		r, err = units.Create(ctx, e.s.db, ed, e.s.actor(c))
		w.ID = ed.Code
	} else {
		r, err = units.Update(ctx, e.s.db, w.ID, match, ed, e.s.actor(c))
	}
	if err != nil {
		return "", "", err
	}
	return w.ID, etag(r.VersionID), nil
}
