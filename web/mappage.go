package web

import "github.com/labstack/echo/v4"

// MapConfig configures this part of the server.
type MapConfig struct{}

// MapConfigFromEnv reads this part's JIEDAO_* variables.
func MapConfigFromEnv() MapConfig { return MapConfig{} }

func (s *Server) routesMap(e *echo.Echo) {}
