package web

import (
	"context"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/jiedao/jiedao/boundaries/demo"
	"github.com/jiedao/jiedao/boundaries/importer"
	"github.com/jiedao/jiedao/boundaries/pgtest"
	"github.com/jiedao/jiedao/boundaries/store"
)

var (
	demoOnce sync.Once
	demoDir  string
	demoMan  *demo.Manifest
	demoErr  error
)

// demoCity generates the small demo city once per test binary.
func demoCity(t testing.TB) (string, *demo.Manifest) {
	t.Helper()
	demoOnce.Do(func() {
		demoDir, demoErr = mkdirTemp()
		if demoErr == nil {
			demoMan, demoErr = demo.Generate(demo.Config{Seed: 1, Scale: demo.Small, Dir: demoDir})
		}
	})
	if demoErr != nil {
		t.Fatalf("demo: %v", demoErr)
	}
	return demoDir, demoMan
}

// testServer starts the whole HTTP application on a fresh database holding
// the small demo city (seed 1), and returns its base URL and store.
func testServer(t testing.TB, cfg Config) (string, *store.Store) {
	t.Helper()
	store, _ := pgtest.NewStore(t)
	dir, _ := demoCity(t)
	if _, err := importer.LoadDemo(context.Background(), store, dir, nil); err != nil {
		t.Fatalf("load demo: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	store.Watch(ctx)
	srv := httptest.NewServer(New(store, cfg))
	t.Cleanup(srv.Close)
	return srv.URL, store
}
