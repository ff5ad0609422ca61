package units_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jiedao/jiedao/boundaries"
	"github.com/jiedao/jiedao/boundaries/importer"
	"github.com/jiedao/jiedao/boundaries/pgtest"
	"github.com/jiedao/jiedao/boundaries/store"
	"github.com/jiedao/jiedao/boundaries/units"
)

func day(t *testing.T, s string) time.Time {
	t.Helper()
	d, err := boundaries.ParseDate(s)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func editOf(t *testing.T, props, geometry string) *units.Edit {
	t.Helper()
	e, err := units.ParseFeature([]byte(pgtest.Feature(props, geometry)))
	if err != nil {
		t.Fatalf("parse feature: %v", err)
	}
	return e
}

// twoStreets loads two streets side by side, valid from 2020-01-01.
func twoStreets(t *testing.T, s *store.Store) {
	t.Helper()
	path := pgtest.WriteFile(t, "streets.geojson", pgtest.FC(
		pgtest.Feature(`{"code":"110101001","name":"甲街道"}`, pgtest.PolyOf(pgtest.Rect(0, 0, 1, 1))),
		pgtest.Feature(`{"code":"110101002","name":"乙街道"}`, pgtest.PolyOf(pgtest.Rect(1, 0, 2, 1)))))
	if _, err := importer.Import(context.Background(), s, path, importer.Options{Level: boundaries.Street, ValidFrom: day(t, "2020-01-01")}); err != nil {
		t.Fatal(err)
	}
}

// TestEditsHistoryFeedAudit creates, changes and retires a community and
// checks versions, the change feed, the audit log and the checks.
func TestEditsHistoryFeedAudit(t *testing.T) {
	ctx := context.Background()
	s, _ := pgtest.NewStore(t)
	twoStreets(t, s)
	before, err := units.Changes(ctx, s, 0, time.Time{}, 0)
	if err != nil || len(before) != 2 || before[0].Kind != "created" {
		t.Fatalf("feed after import: %+v %v", before, err)
	}
	last := before[len(before)-1].ID
	v0, _ := s.DataVersion(ctx)
	a := units.Actor{KeyName: "tester", RequestID: "req-1", Client: "127.0.0.1"}

	const code = "110101001001"
	// The parent must be a loaded street.
	_, err = units.Create(ctx, s, editOf(t, `{"code":"110101009001","level":"community","name":"孤","approval":"x","valid_from":"2021-01-01"}`,
		pgtest.PolyOf(pgtest.Rect(0, 0, 0.5, 0.5))), a)
	var ve *boundaries.ValidationError
	if !errors.As(err, &ve) || !strings.Contains(ve.Msg, "parent 110101009") {
		t.Fatalf("orphan create: %v", err)
	}
	// approval and valid_from are required.
	if _, err := units.Create(ctx, s, editOf(t, `{"code":"`+code+`","level":"community","name":"一"}`, pgtest.PolyOf(pgtest.Rect(0, 0, 0.5, 0.5))), a); !errors.As(err, &ve) {
		t.Fatalf("create without approval: %v", err)
	}
	// A self-intersecting ring is repaired, as on import.
	bowtie := `{"type":"Polygon","coordinates":[[[116.40,39.90],[116.405,39.905],[116.40,39.905],[116.405,39.90],[116.40,39.90]]]}`
	created, err := units.Create(ctx, s, editOf(t, `{"code":"`+code+`","level":"community","name":"一社区","households":1200,"approval":"京民发〔2021〕1号","valid_from":"2021-01-01"}`, bowtie), a)
	if err != nil {
		t.Fatal(err)
	}
	if len(created.Repaired) == 0 || !strings.Contains(strings.Join(created.Repaired, ";"), "made valid") {
		t.Fatalf("bowtie not repaired: %+v", created.Repaired)
	}
	if _, err := units.Create(ctx, s, editOf(t, `{"code":"`+code+`","level":"community","name":"重","approval":"x","valid_from":"2021-01-01"}`, pgtest.PolyOf(pgtest.Rect(0, 0, 1, 1))), a); !errors.Is(err, boundaries.ErrConflict) {
		t.Fatalf("duplicate create: %v", err)
	}

	change := editOf(t, `{"name":"一社区（新）","approval":"京民发〔2022〕2号","valid_from":"2022-01-01"}`, pgtest.PolyOf(pgtest.Rect(0, 0, 0.6, 0.5)))
	if _, err := units.Update(ctx, s, code, created.VersionID+1000, change, a); !errors.Is(err, boundaries.ErrStale) {
		t.Fatalf("stale update: %v", err)
	}
	early := editOf(t, `{"approval":"x","valid_from":"2020-06-01"}`, `null`)
	if _, err := units.Update(ctx, s, code, created.VersionID, early, a); !errors.As(err, &ve) {
		t.Fatalf("update dated before the current version: %v", err)
	}
	changed, err := units.Update(ctx, s, code, created.VersionID, change, a)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := units.Retire(ctx, s, "110101001", 0, day(t, "2023-01-01"), "x", false, a); !errors.Is(err, boundaries.ErrConflict) {
		t.Fatalf("retiring a street with children: %v", err)
	}
	retired, err := units.Retire(ctx, s, code, changed.VersionID, day(t, "2023-01-01"), "京民发〔2023〕3号", false, a)
	if err != nil {
		t.Fatal(err)
	}

	if retired.VersionID != changed.VersionID {
		t.Fatalf("retire closed version %d, want %d", retired.VersionID, changed.VersionID)
	}
	h, err := units.History(ctx, s, code)
	if err != nil {
		t.Fatal(err)
	}
	if len(h) != 2 || h[0].VersionID != created.VersionID || h[1].VersionID != changed.VersionID ||
		h[0].ValidTo == nil || !h[0].ValidTo.Equal(day(t, "2022-01-01")) || h[1].ValidTo == nil || !h[1].ValidTo.Equal(day(t, "2023-01-01")) ||
		h[1].Name != "一社区（新）" || h[1].Households == nil || *h[1].Households != 1200 ||
		h[1].RetiredApproval == nil || *h[1].RetiredApproval != "京民发〔2023〕3号" {
		t.Fatalf("history: %+v", h)
	}
	// As of a day: 2021 sees the first version, 2022 the second, 2023 none.
	for _, c := range []struct {
		at   string
		want int64
	}{{"2021-06-01", created.VersionID}, {"2022-06-01", changed.VersionID}, {"2023-06-01", 0}} {
		d, err := pgtest.Reader(s).Unit(ctx, code, day(t, c.at), 0, false)
		if c.want == 0 {
			if !errors.Is(err, boundaries.ErrNotFound) {
				t.Fatalf("at %s: %v, want not found", c.at, err)
			}
			continue
		}
		if err != nil || d.VersionID != c.want {
			t.Fatalf("at %s: %+v %v, want version %d", c.at, d, err, c.want)
		}
	}

	feed, err := units.Changes(ctx, s, last, time.Time{}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(feed) != 3 ||
		feed[0].Kind != "created" || feed[0].VersionID != created.VersionID ||
		feed[1].Kind != "changed" || feed[1].VersionID != changed.VersionID || feed[1].OldVersionID == nil || *feed[1].OldVersionID != created.VersionID ||
		feed[2].Kind != "retired" || feed[2].VersionID != changed.VersionID || feed[2].ValidFrom != "2023-01-01" ||
		!(feed[0].ID < feed[1].ID && feed[1].ID < feed[2].ID) {
		t.Fatalf("feed: %+v", feed)
	}

	if v1, _ := s.DataVersion(ctx); v1 != v0+3 {
		t.Fatalf("data version %d → %d, want 3 bumps", v0, v1)
	}
	log, err := units.AuditLog(ctx, s, 0, code, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(log) != 3 || log[0].Action != "create" || log[1].Action != "update" || log[2].Action != "retire" ||
		log[1].OldVersionID == nil || *log[1].OldVersionID != created.VersionID || *log[1].NewVersionID != changed.VersionID ||
		log[0].KeyName != "tester" || *log[0].RequestID != "req-1" || *log[0].Client != "127.0.0.1" {
		t.Fatalf("audit: %+v", log)
	}
	// Append-only, whoever connects (the test connects as a superuser).
	for _, sql := range []string{`UPDATE audit SET key_name = 'x'`, `DELETE FROM audit`, `TRUNCATE audit`} {
		if _, err := s.Primary().Exec(ctx, sql); err == nil || !strings.Contains(err.Error(), "append-only") {
			t.Fatalf("%s: %v, want refused", sql, err)
		}
	}
}

func TestKeys(t *testing.T) {
	ctx := context.Background()
	s, _ := pgtest.NewStore(t)
	key, err := units.CreateKey(ctx, s, "ops", units.Editor)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(key, "jd_") || len(key) < 40 {
		t.Fatalf("key %q", key)
	}
	if _, err := units.CreateKey(ctx, s, "ops", units.Admin); !errors.Is(err, boundaries.ErrDuplicate) {
		t.Fatalf("duplicate name: %v", err)
	}
	k, err := units.Authenticate(ctx, s, key)
	if err != nil || k.Name != "ops" || k.Role != units.Editor || !k.Role.Allows(units.Viewer) || k.Role.Allows(units.Admin) {
		t.Fatalf("authenticate: %+v %v", k, err)
	}
	var stored int
	if err := s.Primary().QueryRow(ctx, `SELECT count(*) FROM api_keys WHERE position($1::bytea in key_hash) > 0`, []byte(key)).Scan(&stored); err != nil || stored != 0 {
		t.Fatalf("the key itself is stored (%d, %v)", stored, err)
	}
	if err := units.RevokeKey(ctx, s, "ops"); err != nil {
		t.Fatal(err)
	}
	if _, err := units.Authenticate(ctx, s, key); !errors.Is(err, boundaries.ErrNotFound) {
		t.Fatalf("revoked key: %v", err)
	}
	if err := units.RevokeKey(ctx, s, "ops"); !errors.Is(err, boundaries.ErrNotFound) {
		t.Fatalf("revoke twice: %v", err)
	}
	keys, err := units.ListKeys(ctx, s)
	if err != nil || len(keys) != 1 || keys[0].RevokedAt == nil {
		t.Fatalf("list: %+v %v", keys, err)
	}
}

// Concurrent writes with the same ETag: exactly one wins; every other gets
// ErrStale (412), never ErrNotFound, whichever of PUT and DELETE it is.
func TestConcurrentWritesOneWins(t *testing.T) {
	ctx := context.Background()
	s, _ := pgtest.NewStore(t)
	twoStreets(t, s)
	h, err := units.History(ctx, s, "110101001")
	if err != nil {
		t.Fatal(err)
	}
	etag := h[len(h)-1].VersionID
	a := units.Actor{KeyName: "tester"}
	const n = 12
	errs := make(chan error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			if i%3 == 2 {
				_, err := units.Retire(ctx, s, "110101001", etag, day(t, "2022-01-01"), "京民发〔2022〕9号", false, a)
				errs <- err
				return
			}
			e := editOf(t, fmt.Sprintf(`{"name":"甲街道%d","approval":"京民发〔2022〕%d号","valid_from":"2022-01-01"}`, i, i), "null")
			_, err := units.Update(ctx, s, "110101001", etag, e, a)
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	won := 0
	for err := range errs {
		switch {
		case err == nil:
			won++
		case errors.Is(err, boundaries.ErrStale):
		default:
			t.Errorf("loser got %v, want ErrStale", err)
		}
	}
	if won != 1 {
		t.Fatalf("%d writes won, want exactly 1", won)
	}
}
