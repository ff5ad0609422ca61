package ogc

import (
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/jiedao/jiedao/boundaries"
	"github.com/jiedao/jiedao/boundaries/layers"
	"github.com/jiedao/jiedao/geo"
)

// OGC API – Features Part 4 (create, replace, update, delete) on a draft
// scenario: QGIS (3.32+) edits a layer when OPTIONS on its items lists
// POST, and builds its write URLs from the landing page's path, dropping
// the query, so a draft has a landing page of its own,
// /ogc/scenarios/{id}, where every read route also works (the scenario
// is the path's, not ?scenario=). Live collections are read-only unless
// the request carries an approval (X-Approval, X-Valid-From) and an editor
// key: a write then makes a new unit version at once, If-Match required,
// as /api/v1/units does.

// editConformance are the Part 4 classes the draft landing pages
// implement (draft 2023: create/replace/delete, update, features).
var editConformance = []string{
	"http://www.opengis.net/spec/ogcapi-features-4/1.0/conf/create-replace-delete",
	"http://www.opengis.net/spec/ogcapi-features-4/1.0/conf/update",
	"http://www.opengis.net/spec/ogcapi-features-4/1.0/conf/features",
}

// Write is one write a client sends to a draft's collection.
type Write struct {
	Scenario int64 // 0: the live units (Approval and ValidFrom set)
	Level    boundaries.Level
	ID       string // the item ("" on create)
	Op       string // create, replace, update, delete
	Body     []byte // GeoJSON Feature, or a merge patch of one
	CRS      geo.CRS
	IfMatch  string
	// Approval (批复文号) and ValidFrom (YYYY-MM-DD) of a live write.
	Approval, ValidFrom string
}

// ErrPreconditionRequired refuses a live write without If-Match (428).
var ErrPreconditionRequired = errors.New("If-Match with the item's ETag (from GET of the item) is required to write a live unit")

// Editor does the writes; the web package gives it (keys, scenarios).
type Editor interface {
	// CanWrite: the request's key may edit level in the scenario (an
	// editor key, an unadopted scenario, an editable level); scenario 0
	// is the live units (an editor key and an approval).
	CanWrite(c echo.Context, scenario int64, level boundaries.Level) bool
	// Write applies w and returns the item's id and its new ETag ("" after
	// a delete).
	Write(c echo.Context, w Write) (id, etag string, err error)
	// ETag is an item's current tag (ErrNotFound: none); scenario 0:
	// the live unit's, its version.
	ETag(c echo.Context, scenario int64, level boundaries.Level, id string) (string, error)
}

// WithEditor turns on the draft scenarios' write routes.
func (o *Handler) WithEditor(ed Editor) *Handler {
	o.edit = ed
	return o
}

const ctxBase = "ogc.base"

// scoped serves a route of /ogc/scenarios/{id}: the scenario comes from
// the path (a ?scenario= given too is overridden) and links stay under it.
func scoped(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		id, err := strconv.ParseInt(c.Param("sid"), 10, 64)
		if err != nil || id < 1 {
			return notFound(fmt.Sprintf("no scenario %q (want its id, see GET /api/v1/scenarios)", c.Param("sid")))
		}
		c.QueryParams().Set("scenario", strconv.FormatInt(id, 10))
		c.Set(ctxBase, "/ogc/scenarios/"+strconv.FormatInt(id, 10))
		return next(c)
	}
}

// pathScenario is the scenario of a /ogc/scenarios/{id} route (0: none).
func pathScenario(c echo.Context) int64 {
	if _, ok := c.Get(ctxBase).(string); !ok {
		return 0
	}
	id, _ := strconv.ParseInt(c.QueryParams().Get("scenario"), 10, 64)
	return id
}

func (o *Handler) routesScenarios(e *echo.Echo) {
	o.routesFeatures(e.Group("/ogc/scenarios/:sid", compress(), renderErrors, scoped))
}

// canWrite: the request may write the collection of l here.
func (o *Handler) canWrite(c echo.Context, l *layers.Layer) bool {
	sc := pathScenario(c)
	if sc == 0 && c.Request().Header.Get("X-Approval") == "" {
		return false // live: read-only without an approval
	}
	return o.edit != nil && l.Level != "" && o.edit.CanWrite(c, sc, l.Level)
}

// options answers what the key may do: QGIS turns editing on when the
// items' Allow lists POST.
func (o *Handler) options(c echo.Context) error {
	l, err := layer(c)
	if err != nil {
		return err
	}
	allow := "GET, HEAD, OPTIONS"
	if o.canWrite(c, l) {
		if c.Param("feature") == "" {
			allow += ", POST"
		} else {
			allow += ", PUT, PATCH, DELETE"
		}
	}
	c.Response().Header().Set("Allow", allow)
	return c.NoContent(http.StatusOK)
}

// write handles POST, PUT, PATCH and DELETE of op.
func (o *Handler) write(op string) echo.HandlerFunc {
	return func(c echo.Context) error {
		l, err := layer(c)
		if err != nil {
			return err
		}
		if err := checkParams(c, []string{"scenario"}, nil); err != nil {
			return err
		}
		if !o.canWrite(c, l) {
			if pathScenario(c) == 0 {
				return &exception{http.StatusForbidden, "Forbidden", fmt.Sprintf("live collection %s is read-only: a write needs an editor key, "+
					"X-Approval (批复文号) and X-Valid-From, or a draft scenario (/ogc/scenarios/{id})", l.Name)}
			}
			return &exception{http.StatusForbidden, "Forbidden",
				fmt.Sprintf("collection %s of scenario %d cannot be written with this request's key (needs an editor key, an unadopted scenario, and communities or grids)",
					l.Name, pathScenario(c))}
		}
		w := Write{Scenario: pathScenario(c), Level: l.Level, Op: op, IfMatch: c.Request().Header.Get("If-Match"), CRS: geo.CRS84,
			Approval: c.Request().Header.Get("X-Approval"), ValidFrom: c.Request().Header.Get("X-Valid-From")}
		if w.Scenario == 0 && w.IfMatch == "" && op != "create" {
			return writeError(ErrPreconditionRequired)
		}
		if id := c.Param("feature"); id != "" {
			w.ID = id
			if v, err := url.PathUnescape(id); err == nil {
				w.ID = v
			}
		}
		if op != "delete" {
			if w.Body, w.CRS, err = writeBody(c, op); err != nil {
				return err
			}
		}
		id, tag, err := o.edit.Write(c, w)
		if err != nil {
			return writeError(err)
		}
		h := c.Response().Header()
		if tag != "" {
			h.Set("ETag", tag)
		}
		if op == "create" {
			// Without the query: the id is the path's, as QGIS reads it.
			h.Set(echo.HeaderLocation, baseURL(c)+"/collections/"+l.Name+"/items/"+url.PathEscape(id))
			h.Set("Content-Crs", "<"+w.CRS.URI+">")
			return c.NoContent(http.StatusCreated)
		}
		return c.NoContent(http.StatusNoContent)
	}
}

// writeBody reads a write's body and its Content-Crs (default CRS84).
func writeBody(c echo.Context, op string) ([]byte, geo.CRS, error) {
	crs := geo.CRS84
	if v := strings.TrimSpace(c.Request().Header.Get("Content-Crs")); v != "" {
		var err error
		if crs, err = geo.ParseURI(strings.TrimSuffix(strings.TrimPrefix(v, "<"), ">")); err != nil {
			return nil, crs, invalid("Content-Crs", err.Error())
		}
	}
	ct := c.Request().Header.Get(echo.HeaderContentType)
	if mt, _, err := mime.ParseMediaType(ct); ct != "" && (err != nil || !strings.HasSuffix(mt, "json")) {
		return nil, crs, &exception{http.StatusUnsupportedMediaType, "UnsupportedMediaType",
			fmt.Sprintf("Content-Type %q: want application/geo+json (or application/merge-patch+json for PATCH)", ct)}
	}
	b, err := io.ReadAll(c.Request().Body)
	if err != nil {
		var me *http.MaxBytesError
		if errors.As(err, &me) {
			return nil, crs, &exception{http.StatusRequestEntityTooLarge, "PayloadTooLarge", err.Error()}
		}
		return nil, crs, fmt.Errorf("read body: %w", err)
	}
	if len(b) == 0 {
		return nil, crs, &exception{http.StatusBadRequest, "InvalidParameterValue", op + ": the body (a GeoJSON Feature) is empty"}
	}
	return b, crs, nil
}

// writeError maps the write's errors to their statuses: the reasons of a
// refused feature are 422, a stale If-Match 412.
func writeError(err error) error {
	var ve *boundaries.ValidationError
	switch {
	case errors.Is(err, boundaries.ErrStale):
		return &exception{http.StatusPreconditionFailed, "PreconditionFailed", err.Error() + " (read the item again for its ETag)"}
	case errors.As(err, &ve):
		return &exception{http.StatusUnprocessableEntity, "InvalidFeature", err.Error()}
	case errors.Is(err, boundaries.ErrDuplicate), errors.Is(err, boundaries.ErrConflict):
		return &exception{http.StatusConflict, "Conflict", err.Error()}
	case errors.Is(err, ErrPreconditionRequired):
		return &exception{http.StatusPreconditionRequired, "PreconditionRequired", err.Error()}
	}
	return err
}

// setETag adds the item's ETag to a draft's item read, for If-Match.
func (o *Handler) setETag(c echo.Context, l *layers.Layer, id string) {
	sc := pathScenario(c)
	if o.edit == nil || l.Level == "" {
		return
	}
	if tag, err := o.edit.ETag(c, sc, l.Level, id); err == nil {
		c.Response().Header().Set("ETag", tag)
	}
}
