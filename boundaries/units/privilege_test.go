package units_test

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/jiedao/jiedao/boundaries"
	"github.com/jiedao/jiedao/boundaries/analysis"
	"github.com/jiedao/jiedao/boundaries/importer"
	"github.com/jiedao/jiedao/boundaries/pgtest"
	"github.com/jiedao/jiedao/boundaries/store"
	"github.com/jiedao/jiedao/boundaries/units"
)

// A login holding only jiedao_app (as serve should run) can do the
// application's work on a migrated database — import, edit, retire, keys,
// analysis — without migrating, and cannot rewrite a version in place, move
// a closed version's end or raise a key's role.
func TestAppRoleLeastPrivilege(t *testing.T) {
	ctx := context.Background()
	owner, ownerURL := pgtest.NewStore(t)
	login := fmt.Sprintf("jiedao_test_app_%d", os.Getpid())
	if _, err := owner.Primary().Exec(ctx, `CREATE ROLE `+login+` LOGIN IN ROLE jiedao_app`); err != nil {
		t.Skipf("cannot create a login role here: %v", err)
	}
	t.Cleanup(func() {
		owner.Primary().Exec(context.Background(), `DROP ROLE IF EXISTS `+login) //nolint:errcheck
	})
	u, err := url.Parse(ownerURL)
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.User(login)
	app, err := store.Open(ctx, u.String())
	if err != nil {
		t.Fatalf("open as %s: %v", login, err)
	}
	t.Cleanup(app.Close)
	if p, err := app.Pending(ctx); err != nil || len(p) != 0 {
		t.Fatalf("pending as the app: %v %v", p, err)
	}

	// The application's work.
	twoStreets(t, app)
	h, err := units.History(ctx, app, "110101001")
	if err != nil {
		t.Fatal(err)
	}
	e := editOf(t, `{"name":"甲街道（新）","approval":"京民发〔2022〕1号","valid_from":"2022-01-01"}`, "null")
	if _, err := units.Update(ctx, app, "110101001", h[0].VersionID, e, units.Actor{KeyName: "t"}); err != nil {
		t.Fatalf("update as the app: %v", err)
	}
	if _, err := units.Retire(ctx, app, "110101002", units.AnyVersion, day(t, "2023-01-01"), "京民发〔2023〕1号", false, units.Actor{KeyName: "t"}); err != nil {
		t.Fatalf("retire as the app: %v", err)
	}
	if _, err := units.CreateKey(ctx, app, "k", units.Viewer); err != nil {
		t.Fatalf("create key as the app: %v", err)
	}
	if err := units.RevokeKey(ctx, app, "k"); err != nil {
		t.Fatalf("revoke key as the app: %v", err)
	}
	p, _ := analysis.LoadProfile("")
	if _, err := analysis.Analyze(ctx, app, p, boundaries.Today(), analysis.Live); err != nil {
		t.Fatalf("analyze as the app: %v", err)
	}
	path := pgtest.WriteFile(t, "pts.geojson", pgtest.FC(pgtest.Feature(`{"households":3}`, `{"type":"Point","coordinates":[116.405,39.905]}`)))
	if _, err := importer.Points(ctx, app, path, importer.PointsOptions{}); err != nil {
		t.Fatalf("points as the app: %v", err)
	}

	// What it must not do.
	for _, c := range []struct{ sql, want string }{
		{`UPDATE units SET geom = ST_Buffer(geom, 0.01) WHERE code = '110101001'`, "permission denied"},
		{`UPDATE units SET households = 1 WHERE code = '110101001'`, "permission denied"},
		{`UPDATE units SET code = 'x' WHERE code = '110101001'`, "permission denied"},
		{`UPDATE units SET valid_to = '2030-01-01' WHERE valid_to IS NOT NULL`, "is closed"},
		{`UPDATE api_keys SET role = 'admin'`, "permission denied"},
		{`DELETE FROM units`, "permission denied"},
		{`UPDATE audit SET key_name = 'x'`, "permission denied"},
	} {
		err := pgx.BeginFunc(ctx, app.Primary(), func(tx pgx.Tx) error { _, err := tx.Exec(ctx, c.sql); return err })
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s as the app: %v, want %q", c.sql, err, c.want)
		}
	}
	// A role changes only through the audited function.
	if _, err := units.CreateKey(ctx, app, "k2", units.Viewer); err != nil {
		t.Fatal(err)
	}
	if _, err := app.Primary().Exec(ctx, `SELECT jiedao_set_key_role('k2', 'editor', 'admin-key')`); err != nil {
		t.Fatalf("role through the function: %v", err)
	}
	var n int
	if err := owner.Primary().QueryRow(ctx, `SELECT count(*) FROM audit WHERE action = 'key_role' AND detail->>'to' = 'editor'`).Scan(&n); err != nil || n != 1 {
		t.Fatalf("role change audited %d times (%v), want 1", n, err)
	}
}
