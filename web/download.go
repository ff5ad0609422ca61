package web

import "github.com/labstack/echo/v4"

func (s *Server) routesDownloads(e *echo.Echo) {}
