package web

import "github.com/labstack/echo/v4"

func (s *Server) routesOGC(e *echo.Echo) {}
