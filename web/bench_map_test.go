package web

import (
	"context"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/jiedao/jiedao/boundaries/demo"
	"github.com/jiedao/jiedao/boundaries/importer"
	"github.com/jiedao/jiedao/boundaries/pgtest"
	"github.com/jiedao/jiedao/web/tiles"
)

// BenchmarkMapLoad opens the map page over the Beijing-scale demo in
// headless Chromium (the flags of the map tests) and reports what a
// planner waits for: the first paint with status colours, and the bytes of
// a cold load (a new browser profile) and of a warm one (the same tab
// again). Run it with
//
//	JIEDAO_BENCH=1 go test ./web/ -run '^$' -bench MapLoad -benchtime 1x
//
// Each iteration starts a new browser, so every first load is cold in the
// browser; the server's tile cache is cold only in the first iteration.
func BenchmarkMapLoad(b *testing.B) {
	pgtest.BenchGate(b)
	needChromium(b)
	ctx := context.Background()
	st, _ := pgtest.NewStore(b)
	if _, err := importer.LoadDemo(ctx, st, pgtest.DemoFiles(b, demo.Beijing), nil); err != nil {
		b.Fatal(err)
	}
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	st.Watch(wctx)
	srv := httptest.NewServer(New(st, Config{}))
	defer srv.Close()
	var sum [7]float64 // cold ms, cold bytes, warm ms, warm bytes, oversized pixels, cold idle ms, warm idle ms
	b.ResetTimer()
	for range b.N {
		r := mapLoadOnce(b, srv.URL)
		for i := range sum {
			sum[i] += r[i]
		}
	}
	n := float64(b.N)
	b.ReportMetric(sum[0]/n, "cold-paint-ms")
	b.ReportMetric(sum[1]/n, "cold-bytes")
	b.ReportMetric(sum[2]/n, "warm-paint-ms")
	b.ReportMetric(sum[3]/n, "warm-bytes")
	b.ReportMetric(sum[4]/n, "oversized-px")
	b.ReportMetric(sum[5]/n, "cold-idle-ms")
	b.ReportMetric(sum[6]/n, "warm-idle-ms")
	b.ReportMetric(0, "ns/op") // the wall time is the browser's start, not the page
}

// mapLoadOnce starts a browser and loads / twice: cold, then warm.
func mapLoadOnce(b *testing.B, base string) [7]float64 {
	b.Helper()
	opts := []chromedp.ExecAllocatorOption{chromedp.ExecPath(chromiumPath)}
	for _, f := range browserFlags {
		opts = append(opts, chromedp.Flag(f, true))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	actx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	defer cancelAlloc()
	bctx, cancelBrowser := chromedp.NewContext(actx)
	defer cancelBrowser()
	var cur atomic.Pointer[pageLoad]
	cur.Store(newPageLoad())
	if err := chromedp.Listen(bctx, func(ev any) { cur.Load().event(ev) }); err != nil {
		b.Fatal(err)
	}
	over := ""
	for _, sc := range tiles.StatusColors {
		if sc[0] == "oversized" {
			over = sc[1]
		}
	}
	var out [7]float64
	for i := range 2 {
		p := newPageLoad()
		cur.Store(p)
		// performance.now() counts from the navigation's start, so the
		// figure includes the page, MapLibre and the style, not the poll.
		if err := chromedp.Do(bctx, chromedp.EmulateViewport(1280, 800), chromedp.Navigate(base+"/")); err != nil {
			b.Fatalf("load %d: %v", i+1, err)
		}
		idle, err := chromedp.Run(bctx, chromedp.Poll[float64](`window.jiedaoIdle === true && performance.now()`,
			chromedp.WithPollingInterval(10*time.Millisecond), chromedp.WithPollingTimeout(60*time.Second)))
		if err != nil {
			b.Fatalf("load %d: map never idle: %v", i+1, err)
		}
		// The page notes when the first frame with the streets' tiles was drawn.
		ms, err := chromedp.Run(bctx, chromedp.Evaluate[float64](`window.jiedaoStatusPaint || 0`))
		if err != nil || ms == 0 {
			b.Fatalf("load %d: no status paint noted (%v)", i+1, err)
		}
		png, err := chromedp.Run(bctx, chromedp.CaptureScreenshot())
		if err != nil {
			b.Fatal(err)
		}
		// The landing zoom is below the communities' minzoom: streets
		// carry the status colour, at their opacity over the background.
		px := countBlended(b, png, over, "#f4f3ef", tiles.StreetStatusOpacity, 330)
		if px < 100 {
			b.Errorf("load %d: %d pixels of the oversized colour at first idle", i+1, px)
		}
		// Bytes of the whole load: the findings and summary too.
		if err := chromedp.Do(bctx, void(chromedp.Poll[any](`document.querySelectorAll('#findings li.finding').length > 0`,
			chromedp.WithPollingTimeout(60*time.Second)))); err != nil {
			b.Fatalf("load %d: no findings: %v", i+1, err)
		}
		time.Sleep(500 * time.Millisecond)
		p.mu.Lock()
		out[2*i], out[2*i+1], out[5+i] = ms, p.total, idle
		p.mu.Unlock()
		if i == 0 {
			out[4] = float64(px)
		}
		b.Logf("load %d: status colours painted at %.0f ms, idle at %.0f ms, %d oversized pixels, %.0f bytes over %d responses", i+1, ms, idle, px, p.total, len(p.urls))
	}
	return out
}
