package param

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/jiedao/jiedao/boundaries"
	"github.com/jiedao/jiedao/boundaries/store"
)

// APIError maps the domain's errors to statuses and machine codes
// (web/param/errors.go); anything else is a 500 (logged by the error
// handler).
func APIError(err error) error {
	var ve *boundaries.ValidationError
	var qe *boundaries.QueryError
	var mbe *http.MaxBytesError
	switch {
	case err == nil:
		return nil
	case errors.Is(err, boundaries.ErrApprovalRequired):
		return Error(http.StatusUnprocessableEntity, CodeApprovalRequired, err.Error())
	case errors.As(err, &ve):
		return Error(http.StatusUnprocessableEntity, CodeValidationFailed, ve.Msg)
	case errors.As(err, &qe):
		return BadRequest(qe.Param, qe.Err.Error())
	case errors.As(err, &mbe):
		return Error(http.StatusRequestEntityTooLarge, CodePayloadTooLarge, fmt.Sprintf("request body larger than %d bytes", mbe.Limit))
	case errors.Is(err, boundaries.ErrNotFound):
		return Error(http.StatusNotFound, CodeNotFound, err.Error())
	case errors.Is(err, boundaries.ErrStale):
		return Error(http.StatusPreconditionFailed, CodeStaleETag, err.Error())
	case errors.Is(err, boundaries.ErrConflict), errors.Is(err, boundaries.ErrDuplicate):
		return Error(http.StatusConflict, CodeConflict, err.Error())
	case errors.Is(err, store.ErrReplicaLagging):
		// The Retry-After of the *store.LagError is set by the error
		// handler, which finds it through the cause kept.
		return withCause(Error(http.StatusServiceUnavailable, CodeUnavailable, err.Error()+"; retry shortly"), err)
	case errors.Is(err, store.ErrVersionAhead):
		return BadRequest("min_version", err.Error())
	case errors.Is(err, boundaries.ErrBusy):
		return Error(http.StatusServiceUnavailable, CodeBusy, err.Error())
	case store.Unavailable(err):
		// The cause is kept: a read pool's outage is retried on the
		// primary (web's failoverReads), which must see it for one.
		return withCause(Error(http.StatusServiceUnavailable, CodeUnavailable, "the database is out of reach; retry shortly"), err)
	}
	return err
}

// withCause keeps err behind an HTTP error, with its machine code.
func withCause(he *echo.HTTPError, err error) *echo.HTTPError {
	he.Internal = errors.Join(he.Internal, err)
	return he
}

// Int reads a non-negative integer parameter.
func Int(c echo.Context, name string, def int) (int, error) {
	v := c.QueryParam(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return 0, BadRequest(name, "want a non-negative integer")
	}
	return n, nil
}

// RunsNotModified sets the ETag of a document derived from analysis runs,
// W/"run<id>[.run<id>].v<data version>", and says whether the client's
// If-None-Match already names it.
func RunsNotModified(c echo.Context, dataVersion int64, runs ...int64) bool {
	tag := `W/"`
	for _, r := range runs {
		tag += fmt.Sprintf("run%d.", r)
	}
	tag += fmt.Sprintf(`v%d"`, dataVersion)
	h := c.Response().Header()
	h.Set("ETag", tag)
	h.Set("Cache-Control", "no-cache")
	return ETagMatch(c.Request().Header.Get("If-None-Match"), tag)
}

// PathID reads the :id path parameter, a positive integer; anything else is
// a 404 (no such resource), not a 400.
func PathID(c echo.Context) (int64, error) {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil || id <= 0 {
		return 0, echo.NewHTTPError(http.StatusNotFound, "no such id "+c.Param("id"))
	}
	return id, nil
}

// ETagMatch is If-None-Match's weak comparison (RFC 9110 13.1.2): "*" or
// any listed tag equal to etag once W/ is set aside.
func ETagMatch(ifNoneMatch, etag string) bool {
	if ifNoneMatch == "" {
		return false
	}
	want := strings.TrimPrefix(etag, "W/")
	for _, t := range strings.Split(ifNoneMatch, ",") {
		t = strings.TrimSpace(t)
		if t == "*" || strings.TrimPrefix(t, "W/") == want {
			return true
		}
	}
	return false
}
