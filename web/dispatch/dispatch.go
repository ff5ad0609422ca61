// Package dispatch is the HTTP face of ticket dispatch (boundaries/dispatch):
// POST /api/v1/dispatch, reassignments, a ticket's record, the disputes
// layer as GeoJSON and the workload measure. HTTP only: the decisions and
// the SQL are the domain package's.
package dispatch

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/jiedao/jiedao/boundaries"
	tickets "github.com/jiedao/jiedao/boundaries/dispatch"
	"github.com/jiedao/jiedao/boundaries/lookup"
	"github.com/jiedao/jiedao/boundaries/store"
	"github.com/jiedao/jiedao/boundaries/units"
	"github.com/jiedao/jiedao/web/param"
)

// Handler serves the dispatch routes.
type Handler struct {
	st    *store.Store
	loc   *lookup.Locator
	actor func(echo.Context) units.Actor
	// MaxBatch bounds a request's tickets (default 100,000).
	MaxBatch int
}

// New returns the handler; loc is shared with the lookups (one index in
// memory), actor names the caller for the audit log.
func New(st *store.Store, loc *lookup.Locator, actor func(echo.Context) units.Actor) *Handler {
	return &Handler{st: st, loc: loc, actor: actor, MaxBatch: tickets.DefaultMaxBatch}
}

// Routes registers the routes. Roles (web/auth.go): dispatch and
// reassign are writes (editor key); the ticket reads need a viewer key.
func (h *Handler) Routes(e *echo.Echo) {
	e.POST("/api/v1/dispatch", h.dispatch)
	e.GET("/api/v1/tickets/:id", h.getTicket)
	e.POST("/api/v1/tickets/:id/reassign", h.reassign)
	e.GET("/api/v1/disputes", h.disputes)
	e.GET("/api/v1/workload", h.workload)
}

// ticketJSON is one ticket of a JSON body; id may be a string or a number.
type ticketJSON struct {
	ID       json.RawMessage `json:"id"`
	Time     string          `json:"time"`
	Lon      *float64        `json:"lon"`
	Lat      *float64        `json:"lat"`
	Category string          `json:"category"`
	// id is the id as decodeFast read it (idSet: it was not null).
	id    string
	idSet bool
}

// dispatchBody is {"crs", "tickets": [...]} or one ticket's fields.
type dispatchBody struct {
	CRS     string        `json:"crs"`
	Tickets *[]ticketJSON `json:"tickets"`
	ticketJSON
}

func (h *Handler) dispatch(c echo.Context) error {
	opt := tickets.Options{MaxBatch: h.MaxBatch}
	if v := c.QueryParam("near_m"); v != "" {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || !(f > 0 && f <= tickets.MaxNearM) {
			return param.BadRequest("near_m", fmt.Sprintf("%q: want more than 0 and at most %v metres", v, tickets.MaxNearM))
		}
		opt.NearM = f
	}
	at, err := param.At(c, "at")
	if err != nil {
		return err
	}
	ts, single, err := h.readTickets(c)
	if err != nil {
		return rowErrors(c, err)
	}
	res, err := tickets.Dispatch(c.Request().Context(), h.st, h.loc, 0, at, ts, opt)
	if err != nil {
		return rowErrors(c, err)
	}
	if single {
		return c.JSON(http.StatusOK, res[0])
	}
	return writeResults(c, res)
}

// readTickets reads a CSV or JSON body; single is a one-ticket object.
func (h *Handler) readTickets(c echo.Context) ([]tickets.Ticket, bool, error) {
	ct, _, _ := mime.ParseMediaType(c.Request().Header.Get(echo.HeaderContentType))
	crsName := c.QueryParam("crs")
	if ct == "text/csv" {
		crs, err := tickets.ParseCRS(crsName)
		if err != nil {
			return nil, false, err
		}
		ts, err := tickets.ReadTickets(c.Request().Body, crs, h.MaxBatch)
		return ts, false, err
	}
	body, err := io.ReadAll(c.Request().Body)
	if err != nil {
		if e := param.APIError(err); e != err {
			return nil, false, e
		}
		return nil, false, fmt.Errorf("read body: %w", err)
	}
	req, ok := decodeFast(body)
	if !ok {
		req = dispatchBody{}
		if err := json.NewDecoder(bytes.NewReader(body)).Decode(&req); err != nil {
			return nil, false, param.Error(http.StatusBadRequest, param.CodeInvalidBody,
				`body: want {"crs": ..., "tickets": [{"id", "time", "lon", "lat", "category"}, ...]}, one ticket, or text/csv: `+err.Error())
		}
	}
	if req.CRS != "" {
		crsName = req.CRS
	}
	crs, err := tickets.ParseCRS(crsName)
	if err != nil {
		return nil, false, err
	}
	list, single := []ticketJSON{req.ticketJSON}, true
	if req.Tickets != nil {
		list, single = *req.Tickets, false
	}
	limit := h.MaxBatch
	if limit <= 0 {
		limit = tickets.DefaultMaxBatch
	}
	if len(list) > limit {
		return nil, false, &tickets.TooMany{Limit: limit}
	}
	ts := make([]tickets.Ticket, 0, len(list))
	errs := &tickets.RowErrors{}
	for i, tj := range list {
		t, re := fromJSON(tj, i+1)
		if re != nil {
			errs.Add(*re)
			continue
		}
		t.Lon, t.Lat = crs.Unshift(t.Lon, t.Lat)
		ts = append(ts, t)
	}
	if errs.Total > 0 {
		return nil, false, errs
	}
	return ts, single, nil
}

// fromJSON checks one JSON ticket; the coordinates are still in the
// request's CRS.
func fromJSON(tj ticketJSON, row int) (tickets.Ticket, *tickets.RowError) {
	t := tickets.Ticket{ID: rawID(tj), Category: strings.TrimSpace(tj.Category), Row: row}
	bad := func(field, msg string) (tickets.Ticket, *tickets.RowError) {
		return t, &tickets.RowError{Row: row, ID: t.ID, Field: field, Message: msg}
	}
	if tj.Lon == nil {
		return bad("lon", "required")
	}
	if tj.Lat == nil {
		return bad("lat", "required")
	}
	t.Lon, t.Lat = *tj.Lon, *tj.Lat
	var err error
	if t.Time, err = tickets.ParseTime(tj.Time); err != nil {
		return bad("time", err.Error())
	}
	if field, msg := tickets.CheckTicket(&t); field != "" {
		return bad(field, msg)
	}
	return t, nil
}

// rawID turns a JSON id (string or number) into text.
func rawID(tj ticketJSON) string {
	if tj.idSet {
		return strings.TrimSpace(tj.id)
	}
	raw := tj.ID
	if len(raw) == 0 || string(raw) == "null" {
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return strings.TrimSpace(s)
	}
	return string(raw)
}

// rowErrors answers a refused batch with every bad row listed (422, or
// 409 when rows contradict stored tickets), 413 over the limit; other
// errors go to the error handler.
func rowErrors(c echo.Context, err error) error {
	var re *tickets.RowErrors
	var tm *tickets.TooMany
	switch {
	case errors.As(err, &tm):
		return param.Error(http.StatusRequestEntityTooLarge, param.CodePayloadTooLarge, tm.Error())
	case errors.As(err, &re):
		status, code := http.StatusUnprocessableEntity, param.CodeValidationFailed
		if re.Conflict {
			status, code = http.StatusConflict, param.CodeConflict
		}
		return c.JSON(status, map[string]any{"error": map[string]any{"code": code, "message": re.Error(),
			"rows": re.Rows, "total": re.Total}})
	}
	return err
}

// writeResults streams a batch's answers: encoding one result at a time
// (by hand, appendResult) keeps a 100,000-ticket answer from being built
// whole in memory.
func writeResults(c echo.Context, res []tickets.Result) error {
	stored := 0
	for i := range res {
		if !res[i].Stored {
			stored++
		}
	}
	c.Response().Header().Set(echo.HeaderContentType, echo.MIMEApplicationJSON)
	c.Response().WriteHeader(http.StatusOK)
	bw := bufio.NewWriterSize(c.Response(), 64<<10)
	fmt.Fprintf(bw, `{"count":%d,"stored":%d,"already_stored":%d,"results":[`, len(res), stored, len(res)-stored)
	var b []byte
	for i := range res {
		b = b[:0]
		if i > 0 {
			b = append(b, ',')
		}
		b = appendResult(b, &res[i])
		if _, err := bw.Write(b); err != nil {
			return err
		}
	}
	bw.WriteString("]}\n")
	return bw.Flush()
}

func (h *Handler) getTicket(c echo.Context) error {
	info, err := tickets.Get(c.Request().Context(), h.st, c.Param("id"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, info)
}

func (h *Handler) reassign(c echo.Context) error {
	var req struct {
		To     string `json:"to"`
		Reason string `json:"reason"`
	}
	dec := json.NewDecoder(io.LimitReader(c.Request().Body, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		if e := param.APIError(err); e != err {
			return e
		}
		return param.Error(http.StatusBadRequest, param.CodeInvalidBody, `body: want {"to": CODE, "reason": TEXT}: `+err.Error())
	}
	a, err := tickets.Reassign(c.Request().Context(), h.st, h.actor(c), c.Param("id"), req.To, req.Reason)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, a)
}

func period(c echo.Context) (tickets.Period, error) {
	return tickets.ParsePeriod(c.QueryParam("since"), c.QueryParam("until"))
}

// disputes answers the disputes layer: one GeoJSON feature per spot.
func (h *Handler) disputes(c echo.Context) error {
	p, err := period(c)
	if err != nil {
		return err
	}
	limit, err := param.Int(c, "limit", tickets.DefaultSpots)
	if err != nil {
		return err
	}
	if limit == 0 || limit > 10_000 {
		return param.BadRequest("limit", "want 1 to 10000")
	}
	at, err := param.At(c, "at")
	if err != nil {
		return err
	}
	spots, p, err := tickets.Disputes(c.Request().Context(), h.st, p, at, limit)
	if err != nil {
		return err
	}
	type feature struct {
		Type       string          `json:"type"`
		ID         string          `json:"id"`
		Properties tickets.Spot    `json:"properties"`
		Geometry   json.RawMessage `json:"geometry"`
	}
	fc := struct {
		Type     string    `json:"type"`
		Since    *string   `json:"since"`
		Until    *string   `json:"until"`
		Features []feature `json:"features"`
	}{Type: "FeatureCollection", Features: []feature{}}
	if !p.Since.IsZero() {
		s, u := p.Since.Format("2006-01-02T15:04:05Z07:00"), p.Until.Format("2006-01-02T15:04:05Z07:00")
		fc.Since, fc.Until = &s, &u
	}
	for _, s := range spots {
		g := s.Geometry
		if len(g) == 0 {
			g = json.RawMessage("null")
		}
		s.Geometry = nil
		fc.Features = append(fc.Features, feature{Type: "Feature", ID: s.Key, Properties: s, Geometry: g})
	}
	c.Response().Header().Set(echo.HeaderContentType, "application/geo+json")
	return c.JSON(http.StatusOK, fc)
}

func (h *Handler) workload(c echo.Context) error {
	p, err := period(c)
	if err != nil {
		return err
	}
	level := boundaries.Community
	if v := c.QueryParam("level"); v != "" {
		if level, err = boundaries.ParseLevel(v); err != nil {
			return param.BadRequest("level", err.Error())
		}
	}
	at, err := param.At(c, "at")
	if err != nil {
		return err
	}
	w, err := tickets.Workload(c.Request().Context(), h.st, p, at, level)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, w)
}
