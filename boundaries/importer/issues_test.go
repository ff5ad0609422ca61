package importer_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jiedao/jiedao/boundaries"
	"github.com/jiedao/jiedao/boundaries/importer"
	"github.com/jiedao/jiedao/boundaries/pgtest"
)

// A feature without a code or name is told which fields it has and which
// one looks like what was wanted, not only to use --provisional-codes.
func TestImportMissingFieldMessages(t *testing.T) {
	cases := []struct {
		name, props string
		level       boundaries.Level
		want        []string
		not         string
	}{
		{"code under another name", `{"name":"甲社区","code_2023":"110101001001","street_code":"110101001","hh":12}`, boundaries.Community,
			[]string{`missing code: no field code; its fields: code_2023, hh, name, street_code; code_2023 looks like the code: use --code-field code_2023`, "--provisional-codes"}, "street_code looks"},
		// As in the Beixinqiao file: the code field of a merged-away
		// community is null, the parent's code is there.
		{"null code, parent code present", `{"name":"藏经馆社区","code_2023":null,"street_code":"110101005"}`, boundaries.Community,
			[]string{`code_2023 looks like the code`}, "street_code looks"},
		{"a code by its value alone", `{"name":"乙街道","dm":"110101002","district_code":"110101"}`, boundaries.Street,
			[]string{`dm looks like the code: use --code-field dm`}, "district_code looks"},
		{"nothing like a code", `{"name":"丙街道","households":5}`, boundaries.Street,
			[]string{`no field code; its fields: households, name; or --provisional-codes`}, "looks like"},
		{"hostile field names", `{"name":"丁街道","a\nb":1,"x y":"z"}`, boundaries.Street,
			[]string{`its fields: "a\nb", name, "x y"`}, "\n"},
		{"name under another name", `{"code":"110101002","NAME":"乙街道"}`, boundaries.Street,
			[]string{`missing name: no field name; its fields: NAME, code; NAME looks like the name: use --name-field NAME`}, "provisional"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s, _ := pgtest.NewStore(t)
			path := pgtest.WriteFile(t, "f.geojson", pgtest.FC(pgtest.Feature(c.props, pgtest.PolyOf(pgtest.Rect(0, 0, 1, 1)))))
			rep, err := importer.Import(context.Background(), s, path, importer.Options{Level: c.level, AllowOrphans: true})
			if !errors.Is(err, boundaries.ErrRejected) || len(rep.Rejected) != 1 {
				t.Fatalf("%v %+v, want one rejection", err, rep)
			}
			why := rep.Rejected[0].Reason
			for _, w := range c.want {
				if !strings.Contains(why, w) {
					t.Errorf("reason %q\nwant it to contain %q", why, w)
				}
			}
			if strings.Contains(why, c.not) {
				t.Errorf("reason %q contains %q", why, c.not)
			}
		})
	}
}

// The real Beixinqiao communities imported without --code-field: each is
// told its code is under code_2023.
func TestImportMissingCodeBeixinqiao(t *testing.T) {
	dir := pgtest.SharedData(t, "beijing")
	s, _ := pgtest.NewStore(t)
	rep, err := importer.Import(context.Background(), s, filepath.Join(dir, "beixinqiao_communities.geojson"),
		importer.Options{Level: boundaries.Community, CRS: pgtest.MustCRS(t, "gcj02")})
	if !errors.Is(err, boundaries.ErrRejected) || rep.RejectedTotal != 12 {
		t.Fatalf("%v, %d rejected; want all 12", err, rep.RejectedTotal)
	}
	for _, r := range rep.Rejected {
		if !strings.Contains(r.Reason, "code_2023 looks like the code: use --code-field code_2023") || r.Name == "" {
			t.Errorf("%s: want the name and code_2023 suggested", r)
		}
	}
	t.Logf("first line: %s", rep.Rejected[0])
}

// Every report line, rejected or repaired, found in Go or in PostGIS,
// names the feature's index, code and name, on one line whatever the name.
func TestImportReportLinesNameFeatures(t *testing.T) {
	bowtie := pgtest.Poly(`[[[116.40,39.90],[116.41,39.91],[116.41,39.90],[116.40,39.91],[116.40,39.90]]]`)
	sq := pgtest.PolyOf(pgtest.Rect(0, 0, 1, 1))
	s, _ := pgtest.NewStore(t)
	rep, err := importer.Import(context.Background(), s, pgtest.WriteFile(t, "f.geojson", pgtest.FC(
		pgtest.Feature(`{"code":"110101001","name":"甲街道"}`, sq),
		pgtest.Feature(`{"name":"无码街道"}`, sq),                            // rejected in Go
		pgtest.Feature(`{"code":"110101001","name":"重复街道"}`, sq),         // rejected in PostGIS
		pgtest.Feature(`{"code":"110101003","name":"蝴蝶街道"}`, bowtie),     // repaired in PostGIS
		pgtest.Feature(`{"code":"110101001","name":"坏\n名\u202e街道"}`, sq), // hostile name
		pgtest.Feature(`{"code":"110101005"}`, sq),                       // no name
	)), importer.Options{Level: boundaries.Street})
	if !errors.Is(err, boundaries.ErrRejected) {
		t.Fatalf("err %v, want a rejection", err)
	}
	want := map[string]bool{
		"feature 1 (no code) 无码街道: missing code":               false,
		"feature 2 110101001 重复街道: duplicate code 110101001":   false,
		"feature 3 110101003 蝴蝶街道: made valid":                 false,
		"feature 4 110101001 坏\uFFFD名\uFFFD街道: duplicate code": false,
		"feature 5 110101005 (no name): missing name":          false,
	}
	var lines []string
	for _, is := range append(rep.Rejected, rep.Repaired...) {
		lines = append(lines, is.String())
	}
	for _, l := range lines {
		if strings.ContainsAny(l, "\n\u202e") {
			t.Errorf("line %q is not one plain line", l)
		}
		for prefix := range want {
			if strings.HasPrefix(l, prefix) {
				want[prefix] = true
			}
		}
	}
	for prefix, seen := range want {
		if !seen {
			t.Errorf("no line starts %q; lines:\n%s", prefix, strings.Join(lines, "\n"))
		}
	}
	if rep.Rejected[1].Name != "重复街道" || rep.Repaired[0].Name != "蝴蝶街道" {
		t.Errorf("names not in the JSON report: %s", fmt.Sprint(rep.Rejected, rep.Repaired))
	}
}
