package layers_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/jiedao/jiedao/boundaries"
	"github.com/jiedao/jiedao/boundaries/analysis"
	"github.com/jiedao/jiedao/boundaries/layers"
	"github.com/jiedao/jiedao/boundaries/pgtest"
	"github.com/jiedao/jiedao/boundaries/store"
	"github.com/jiedao/jiedao/geo"
)

// How walk pages.
const (
	byOffset = iota
	byCursor
	byKeyset // by cursor with its position hint spoiled: the keyset query
)

// walk pages q and returns every feature.
func walk(t *testing.T, r *layers.Reader, q layers.FeatureQuery, how int) [][]byte {
	t.Helper()
	var out [][]byte
	for pages := 0; ; pages++ {
		if pages > 10000 {
			t.Fatal("paging does not end")
		}
		c, err := r.Features(context.Background(), q)
		if err != nil {
			t.Fatalf("%+v: %v", q, err)
		}
		n := 0
		for c.Next() {
			out = append(out, bytes.Clone(c.Feature()))
			n++
		}
		c.Close()
		if c.Matched < int64(len(out)) {
			t.Fatalf("matched %d, read %d", c.Matched, len(out))
		}
		if how != byOffset {
			if c.NextPage == "" {
				if int64(len(out)) != c.Matched {
					t.Fatalf("last page after %d of %d", len(out), c.Matched)
				}
				return out
			}
			q.Cursor = c.NextPage
			if how == byKeyset {
				q.Cursor = spoil(t, q.Cursor)
			}
		} else {
			if n < q.Limit {
				return out
			}
			q.Offset += q.Limit
		}
	}
}

// spoil points a cursor's position hint at the first row.
func spoil(t *testing.T, cur string) string {
	b, err := base64.RawURLEncoding.DecodeString(cur)
	if err != nil {
		t.Fatal(err)
	}
	var parts []any
	if err := json.Unmarshal(b, &parts); err != nil || len(parts) != 3 {
		t.Fatalf("cursor %s: %v", b, err)
	}
	parts[2] = 0
	b, _ = json.Marshal(parts)
	return base64.RawURLEncoding.EncodeToString(b)
}

type featureID struct {
	ID         string
	Properties struct {
		VersionID *int64 `json:"version_id"`
	}
}

func ids(t *testing.T, fs [][]byte) []string {
	t.Helper()
	var out []string
	for _, f := range fs {
		var id featureID
		if err := json.Unmarshal(f, &id); err != nil {
			t.Fatalf("%v: %.200s", err, f)
		}
		v := int64(0)
		if id.Properties.VersionID != nil {
			v = *id.Properties.VersionID
		}
		out = append(out, fmt.Sprintf("%s@%012d", id.ID, v)) // sorts as (id, version)
	}
	return out
}

// TestFeaturePaging: the cursor walk returns every feature once, in order,
// byte for byte what the offset walk and the uncached path return.
func TestFeaturePaging(t *testing.T) {
	s, man := ogcStore(t)
	cached := pgtest.Reader(s)
	uncached := layers.NewReader(s, pgtest.Runs(s))
	layers.SetFeatureCacheMB(uncached, 0)
	for _, tc := range []struct {
		name string
		q    layers.FeatureQuery
		want int // -1: some
	}{
		{"communities", layers.FeatureQuery{Layer: "communities", Limit: 70}, man.Counts.Communities},
		{"page of one", layers.FeatureQuery{Layer: "streets", Limit: 1}, man.Counts.Streets},
		{"filter", layers.FeatureQuery{Layer: "communities", Limit: 13, Filter: "households > 1500"}, -1},
		{"equal", layers.FeatureQuery{Layer: "communities", Limit: 9, Equal: map[string]string{"status": "oversized"}}, -1},
		{"bbox, projected", layers.FeatureQuery{Layer: "communities", Limit: 17, BBox: []float64{-180, -90, 180, 90},
			CRS: geo.EPSG3857}, man.Counts.Communities},
		{"lat/lon", layers.FeatureQuery{Layer: "communities", Limit: 100, CRS: geo.EPSG4326}, man.Counts.Communities},
		{"zones", layers.FeatureQuery{Layer: "zones", Limit: 4}, -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cursor := walk(t, cached, tc.q, byCursor)
			again := walk(t, cached, tc.q, byCursor) // from the cache now
			offset := walk(t, cached, tc.q, byOffset)
			keyset := walk(t, cached, tc.q, byKeyset)
			cold := walk(t, uncached, tc.q, byCursor)
			if tc.want >= 0 && len(cursor) != tc.want || len(cursor) == 0 {
				t.Fatalf("%d features, want %d", len(cursor), tc.want)
			}
			got := ids(t, cursor)
			for i := 1; i < len(got); i++ {
				if got[i-1] >= got[i] {
					t.Fatalf("not in order at %d: %s %s", i, got[i-1], got[i])
				}
			}
			for name, other := range map[string][][]byte{"again": again, "offset": offset, "keyset": keyset, "uncached": cold} {
				if len(other) != len(cursor) {
					t.Fatalf("%s walk: %d features, cursor walk %d", name, len(other), len(cursor))
				}
				for i := range other {
					if !bytes.Equal(other[i], cursor[i]) {
						t.Fatalf("%s walk differs at %d:\n%.200s\n%.200s", name, i, other[i], cursor[i])
					}
				}
			}
		})
	}
}

// TestFeaturePagingVersions: with several versions of one code in a query
// (the all-versions test layer), pages of one split between versions, and
// the walk still returns each version once.
func TestFeaturePagingVersions(t *testing.T) {
	s, _ := ogcStore(t)
	defer layers.AddAllVersionsLayer()()
	ctx := context.Background()
	// A second version of five communities from tomorrow.
	err := s.Tx(ctx, func(tx pgx.Tx) error {
		var cols string
		if err := tx.QueryRow(ctx, `SELECT string_agg(quote_ident(column_name), ', ') FROM information_schema.columns
			WHERE table_name = 'units' AND column_name NOT IN ('version_id', 'valid_from', 'valid_to')
				AND is_generated = 'NEVER'`).Scan(&cols); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `WITH old AS (
				UPDATE units SET valid_to = valid_from + 1 WHERE version_id IN (
					SELECT version_id FROM units WHERE level = 'community' AND valid_to IS NULL ORDER BY code LIMIT 5 OFFSET 3)
				RETURNING *)
			INSERT INTO units (`+cols+`, valid_from) SELECT `+cols+`, valid_to FROM old`)
		if err != nil {
			return err
		}
		return store.BumpDataVersion(ctx, tx)
	})
	if err != nil {
		t.Fatal(err)
	}
	s.SyncVersion(ctx)
	r := pgtest.Reader(s)
	for _, limit := range []int{1, 2, 7} {
		q := layers.FeatureQuery{Layer: "communities_all_versions", Limit: limit}
		got := ids(t, walk(t, r, q, byCursor))
		seen, codes := map[string]bool{}, map[string]int{}
		for i, k := range got {
			if seen[k] {
				t.Fatalf("limit %d: %s twice", limit, k)
			}
			seen[k] = true
			code, _, _ := strings.Cut(k, "@")
			codes[code]++
			if i > 0 && got[i-1] >= k {
				t.Fatalf("limit %d: not in order at %d: %s %s", limit, i, got[i-1], k)
			}
		}
		twice := 0
		for _, n := range codes {
			if n == 2 {
				twice++
			}
		}
		if twice != 5 {
			t.Errorf("limit %d: %d codes with two versions, want 5", limit, twice)
		}
		for _, how := range []int{byOffset, byKeyset} {
			if other := ids(t, walk(t, r, q, how)); fmt.Sprint(other) != fmt.Sprint(got) {
				t.Errorf("limit %d: walk %d differs from the cursor walk", limit, how)
			}
		}
	}
}

// TestBadCursor: a cursor this server did not make is a QueryError naming
// the parameter.
func TestBadCursor(t *testing.T) {
	s, _ := ogcStore(t)
	r := pgtest.Reader(s)
	ctx := context.Background()
	for _, cur := range []string{"x", "!!!", b64(`nope`), b64(`["a"]`), b64(`["a",1]`), b64(`["a",-1,0]`), b64(`["",1,0]`),
		b64(`[1,2,3]`), b64(`["a",1.5,0]`), b64("[\"a\\u0000\",1,0]"), b64(`["a",1,-4]`), string(make([]byte, 2000))} {
		_, err := r.Features(ctx, layers.FeatureQuery{Layer: "communities", Limit: 5, Cursor: cur})
		var qe *boundaries.QueryError
		if !errors.As(err, &qe) || qe.Param != "cursor" {
			t.Errorf("features, cursor %q: %v", cur, err)
		}
		_, err = r.Page(ctx, layers.PageQuery{Cursor: cur})
		if !errors.As(err, &qe) || qe.Param != "cursor" {
			t.Errorf("page, cursor %q: %v", cur, err)
		}
	}
	// A well-formed cursor naming a key that is not there still pages
	// (after where that key would sort).
	c, err := r.Features(ctx, layers.FeatureQuery{Layer: "communities", Limit: 5, Cursor: b64(`["999",0,3]`)})
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
}

func b64(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

// TestUnitPaging: /api/v1/units' cursor walk equals its offset walk.
func TestUnitPaging(t *testing.T) {
	s, man := ogcStore(t)
	r := pgtest.Reader(s)
	ctx := context.Background()
	p, err := analysis.LoadProfile("")
	if err != nil {
		t.Fatal(err)
	}
	run, err := r.Run(ctx, p, boundaries.Today(), 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []layers.PageQuery{{Run: run, Limit: 37}, {Run: run, Limit: 1, Level: boundaries.Street},
		{Run: run, Limit: 11, Status: boundaries.Oversized}} {
		var byCursor, byOffset []json.RawMessage
		total := -1
		for cq := q; ; {
			p, err := r.Page(ctx, cq)
			if err != nil {
				t.Fatal(err)
			}
			total = p.Total
			byCursor = append(byCursor, p.Items...)
			if p.Next == nil {
				break
			}
			cq.Cursor = *p.Next
		}
		for oq := q; ; oq.Offset += oq.Limit {
			p, err := r.Page(ctx, oq)
			if err != nil {
				t.Fatal(err)
			}
			byOffset = append(byOffset, p.Items...)
			if len(p.Items) < oq.Limit {
				break
			}
		}
		if len(byCursor) != total || fmt.Sprint(byCursor) != fmt.Sprint(byOffset) {
			t.Errorf("%+v: cursor walk %d, offset walk %d, total %d", q, len(byCursor), len(byOffset), total)
		}
		if q.Level == "" && q.Status == "" && total != man.Counts.Districts+man.Counts.Streets+man.Counts.Communities+man.Counts.Grids {
			t.Errorf("all units: total %d", total)
		}
	}
}
