//go:build deps

// This file only pins dependencies the web package's parts are about to
// use, so parallel work does not race on go.mod.
package web

import (
	_ "github.com/chromedp/chromedp"
	_ "github.com/prometheus/client_golang/prometheus"
	_ "github.com/prometheus/client_golang/prometheus/promhttp"
)
