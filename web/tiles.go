package web

import "github.com/labstack/echo/v4"

// TilesConfig configures this part of the server.
type TilesConfig struct{}

// TilesConfigFromEnv reads this part's JIEDAO_* variables.
func TilesConfigFromEnv() TilesConfig { return TilesConfig{} }

func (s *Server) routesTiles(e *echo.Echo) {}
