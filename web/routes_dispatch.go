package web

import (
	"github.com/labstack/echo/v4"

	"github.com/jiedao/jiedao/web/dispatch"
)

// routesDispatch wires web/dispatch; after routesAPI, whose locator it
// shares (one index of the units in memory) and whose guard applies the
// roles of requiredRole.
func (s *Server) routesDispatch(e *echo.Echo) {
	dispatch.New(s.db, s.api().loc, s.actor).Routes(e)
}
