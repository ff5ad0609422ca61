package web

import "github.com/labstack/echo/v4"

// APIConfig configures this part of the server.
type APIConfig struct{}

// APIConfigFromEnv reads this part's JIEDAO_* variables.
func APIConfigFromEnv() APIConfig { return APIConfig{} }

func (s *Server) routesAPI(e *echo.Echo) {}
