package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/jiedao/jiedao/boundaries"
	"github.com/jiedao/jiedao/boundaries/analysis"
	"github.com/jiedao/jiedao/boundaries/plan"
	"github.com/jiedao/jiedao/boundaries/scenario"
	"github.com/jiedao/jiedao/web/param"
)

// Plans and scenarios over HTTP: a plan is run and kept with its
// geometries, a scenario is made of a kept plan, diffed and adopted.
// Writes need an editor key (requiredRole: every non-GET is a write).

func (s *Server) routesPlans(e *echo.Echo) {
	e.POST("/api/v1/plans", s.postPlan)
	e.GET("/api/v1/plans/:id", s.getPlan)
	e.POST("/api/v1/scenarios", s.postScenario)
	e.GET("/api/v1/scenarios", s.listScenarios)
	e.GET("/api/v1/scenarios/:id", s.getScenario)
	e.GET("/api/v1/scenarios/:id/diff", s.scenarioDiff)
	e.POST("/api/v1/scenarios/:id/adopt", s.adoptScenario)
}

// readBody decodes a JSON body, refusing unknown fields so a misspelt
// option is not silently ignored.
func readBody(c echo.Context, v any) error {
	b, err := io.ReadAll(c.Request().Body)
	if err != nil {
		if e := param.APIError(err); e != err {
			return e
		}
		return fmt.Errorf("read body: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return echo.NewHTTPError(http.StatusBadRequest, "body: "+err.Error())
	}
	return nil
}

func (s *Server) postPlan(c echo.Context) error {
	if err := writeParams(c); err != nil {
		return err
	}
	var body struct {
		Profile   string `json:"profile"`
		Street    string `json:"street"`
		District  string `json:"district"`
		All       bool   `json:"all"`
		Seed      *int64 `json:"seed"`
		Method    string `json:"method"`
		Rebalance string `json:"rebalance"`
		At        string `json:"at"`
	}
	if err := readBody(c, &body); err != nil {
		return err
	}
	n := 0
	for _, set := range []bool{body.Street != "", body.District != "", body.All} {
		if set {
			n++
		}
	}
	if n != 1 {
		return echo.NewHTTPError(http.StatusUnprocessableEntity, "choose one of street, district or all")
	}
	if body.Profile == "" {
		body.Profile = analysis.DefaultProfile
	}
	// Only the built-in profiles: a path would let a client read server files.
	if strings.ContainsAny(body.Profile, "/\\.") {
		return echo.NewHTTPError(http.StatusUnprocessableEntity, "profile: give a built-in profile name")
	}
	p, err := analysis.LoadProfile(body.Profile)
	if err != nil {
		return echo.NewHTTPError(http.StatusUnprocessableEntity, "profile: "+err.Error())
	}
	opt := plan.Options{Street: body.Street, District: body.District, All: body.All, Seed: 1, Method: body.Method, Rebalance: body.Rebalance}
	if body.Seed != nil {
		opt.Seed = *body.Seed
	}
	if body.At != "" {
		if opt.At, err = boundaries.ParseDate(body.At); err != nil {
			return echo.NewHTTPError(http.StatusUnprocessableEntity, "at: "+err.Error())
		}
	}
	ctx := c.Request().Context()
	pl, err := plan.Propose(ctx, s.db, p, opt)
	if err != nil {
		if errors.Is(err, plan.ErrEmptyScope) {
			return echo.NewHTTPError(http.StatusUnprocessableEntity, err.Error())
		}
		return param.APIError(err)
	}
	id, err := plan.Save(ctx, s.db, opt, pl)
	if err != nil {
		return param.APIError(err)
	}
	c.Response().Header().Set(echo.HeaderLocation, fmt.Sprintf("/api/v1/plans/%d", id))
	return c.JSON(http.StatusCreated, map[string]any{"id": id, "plan": pl})
}

func (s *Server) getPlan(c echo.Context) error {
	id, err := param.PathID(c)
	if err != nil {
		return err
	}
	sp, err := plan.Get(c.Request().Context(), s.db, id)
	if err != nil {
		return param.APIError(err)
	}
	return c.JSON(http.StatusOK, sp)
}

func (s *Server) postScenario(c echo.Context) error {
	if err := writeParams(c); err != nil {
		return err
	}
	var body struct {
		Name   string `json:"name"`
		PlanID int64  `json:"plan_id"`
	}
	if err := readBody(c, &body); err != nil {
		return err
	}
	ctx := c.Request().Context()
	if body.PlanID == 0 {
		// {name} alone: an empty draft, edited through /ogc/scenarios/{id}.
		sc, err := scenario.CreateDraft(ctx, s.db, body.Name, analysis.DefaultProfile)
		if err != nil {
			return param.APIError(err)
		}
		c.Response().Header().Set(echo.HeaderLocation, fmt.Sprintf("/api/v1/scenarios/%d", sc.ID))
		return c.JSON(http.StatusCreated, sc)
	}
	doc, err := plan.LoadDocument(ctx, s.db, body.PlanID)
	if err != nil {
		return param.APIError(err)
	}
	sc, err := scenario.CreateFromPlan(ctx, s.db, body.Name, doc.Profile, doc.Summary, doc.GeoJSON)
	if err != nil {
		return param.APIError(err)
	}
	c.Response().Header().Set(echo.HeaderLocation, fmt.Sprintf("/api/v1/scenarios/%d", sc.ID))
	return c.JSON(http.StatusCreated, sc)
}

// scenarioLinks are where a scenario can be seen: its diff, the map with
// the live and proposed boundaries side by side, and its layers as tiles,
// OGC API collections and downloads.
func scenarioLinks(id int64) map[string]string {
	q := fmt.Sprintf("?scenario=%d", id)
	return map[string]string{
		"self":     fmt.Sprintf("/api/v1/scenarios/%d", id),
		"diff":     fmt.Sprintf("/api/v1/scenarios/%d/diff", id),
		"adopt":    fmt.Sprintf("/api/v1/scenarios/%d/adopt", id),
		"map":      "/" + q,
		"style":    "/tiles/style.json" + q,
		"ogc":      "/ogc" + q,
		"download": "/download/communities.geojson" + q,
	}
}

func (s *Server) listScenarios(c echo.Context) error {
	list, err := scenario.List(c.Request().Context(), s.db)
	if err != nil {
		return param.APIError(err)
	}
	type item struct {
		scenario.Summary
		Links map[string]string `json:"links"`
	}
	out := make([]item, 0, len(list))
	for _, x := range list {
		out = append(out, item{x, scenarioLinks(x.ID)})
	}
	return c.JSON(http.StatusOK, map[string]any{"scenarios": out})
}

func (s *Server) getScenario(c echo.Context) error {
	id, err := param.PathID(c)
	if err != nil {
		return err
	}
	sc, err := scenario.Get(c.Request().Context(), s.db, id)
	if err != nil {
		return param.APIError(err)
	}
	return c.JSON(http.StatusOK, struct {
		*scenario.Scenario
		Links map[string]string `json:"links"`
	}{sc, scenarioLinks(id)})
}

func (s *Server) scenarioDiff(c echo.Context) error {
	id, err := param.PathID(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	sc, err := scenario.Get(ctx, s.db, id)
	if err != nil {
		return param.APIError(err)
	}
	pname := c.QueryParam("profile")
	if pname == "" {
		pname = sc.Profile
	}
	if strings.ContainsAny(pname, "/\\.") {
		return param.BadRequest("profile", "give a built-in profile name")
	}
	p, err := analysis.LoadProfile(pname)
	if err != nil {
		return param.BadRequest("profile", err.Error())
	}
	day := boundaries.Today()
	if c.QueryParam("at") != "" {
		if day, err = param.At(c, "at"); err != nil {
			return err
		}
	}
	d, err := scenario.Difference(ctx, s.db, s.runs, id, p, day)
	if err != nil {
		return param.APIError(err)
	}
	return c.JSON(http.StatusOK, d)
}

func (s *Server) adoptScenario(c echo.Context) error {
	if err := writeParams(c); err != nil {
		return err
	}
	id, err := param.PathID(c)
	if err != nil {
		return err
	}
	var body struct {
		Approval  string `json:"approval"`
		ValidFrom string `json:"valid_from"`
	}
	if err := readBody(c, &body); err != nil {
		return err
	}
	vf, err := boundaries.ParseDate(body.ValidFrom)
	if err != nil {
		return echo.NewHTTPError(http.StatusUnprocessableEntity, "valid_from: "+err.Error())
	}
	res, err := scenario.Adopt(c.Request().Context(), s.db, id, body.Approval, vf, s.actor(c))
	if err != nil {
		return param.APIError(err)
	}
	return c.JSON(http.StatusOK, res)
}
