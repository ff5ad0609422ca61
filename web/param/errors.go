package param

import (
	"errors"
	"net/http"

	"github.com/labstack/echo/v4"
)

// Machine codes of the API's error bodies ({"error": {"code", "message"}}):
// stable identifiers for clients to branch on, where the message is for
// people and may change. openapi.json lists them (the Error schema's enum)
// and README.md explains them; TestErrorCodesDocumented keeps the three in
// step.
const (
	CodeInvalidParameter = "invalid_parameter"  // 400: a query parameter, form field, header or path segment
	CodeInvalidBody      = "invalid_body"       // 400: a request body that does not parse
	CodeUnauthorized     = "unauthorized"       // 401: no key where one is needed, or a dead one
	CodeForbidden        = "forbidden"          // 403: the key's role is too weak
	CodeNotFound         = "not_found"          // 404
	CodeMethodNotAllowed = "method_not_allowed" // 405
	CodeConflict         = "conflict"           // 409: contradicts the stored units
	CodeStaleETag        = "stale_etag"         // 412: If-Match is not the current version
	CodePayloadTooLarge  = "payload_too_large"  // 413: body, upload or batch over its limit
	CodeUnsupportedMedia = "unsupported_media"  // 415
	CodeValidationFailed = "validation_failed"  // 422: the checks refuse the input
	CodeApprovalRequired = "approval_required"  // 422: a write without its approval (批复文号)
	CodeETagRequired     = "etag_required"      // 428: a change without If-Match
	CodeRateLimited      = "rate_limited"       // 429: see Retry-After
	CodeInternal         = "internal"           // 500: logged on the server
	CodeUnavailable      = "unavailable"        // 503: the database is out of reach
	CodeBusy             = "busy"               // 503: too much work waiting; see Retry-After
)

// Codes lists every machine code, for the document's test.
func Codes() []string {
	return []string{CodeInvalidParameter, CodeInvalidBody, CodeUnauthorized, CodeForbidden, CodeNotFound,
		CodeMethodNotAllowed, CodeConflict, CodeStaleETag, CodePayloadTooLarge, CodeUnsupportedMedia,
		CodeValidationFailed, CodeApprovalRequired, CodeETagRequired, CodeRateLimited, CodeInternal,
		CodeUnavailable, CodeBusy}
}

// statusCodes is the code of an error made without one (echo's own 404
// and 405, the auth and rate-limit guards): where a status has one
// meaning, the status says it.
var statusCodes = map[int]string{
	http.StatusBadRequest:            CodeInvalidBody,
	http.StatusUnauthorized:          CodeUnauthorized,
	http.StatusForbidden:             CodeForbidden,
	http.StatusNotFound:              CodeNotFound,
	http.StatusMethodNotAllowed:      CodeMethodNotAllowed,
	http.StatusConflict:              CodeConflict,
	http.StatusPreconditionFailed:    CodeStaleETag,
	http.StatusRequestEntityTooLarge: CodePayloadTooLarge,
	http.StatusUnsupportedMediaType:  CodeUnsupportedMedia,
	http.StatusUnprocessableEntity:   CodeValidationFailed,
	http.StatusPreconditionRequired:  CodeETagRequired,
	http.StatusTooManyRequests:       CodeRateLimited,
	http.StatusServiceUnavailable:    CodeUnavailable,
}

// codeError carries a machine code inside an echo.HTTPError (as its
// Internal), so the status and message stay where echo and web/ogc look.
type codeError string

func (c codeError) Error() string { return "code " + string(c) }

// Error is an HTTP error with its machine code.
func Error(status int, code, msg string) *echo.HTTPError {
	return echo.NewHTTPError(status, msg).WithInternal(codeError(code))
}

// CodeOf is the machine code of an HTTP error: the one it was made with,
// else its status's.
func CodeOf(he *echo.HTTPError) string {
	var ce codeError
	if errors.As(he.Internal, &ce) {
		return string(ce)
	}
	if c, ok := statusCodes[he.Code]; ok {
		return c
	}
	if he.Code >= 500 {
		return CodeInternal
	}
	return CodeInvalidBody
}
