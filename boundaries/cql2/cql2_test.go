package cql2

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"
)

var testQueryables = map[string]Queryable{
	"code":        {SQL: "u.code", Type: "string"},
	"name":        {SQL: "u.name", Type: "string"},
	"households":  {SQL: "coalesce(r.households, u.households)", Type: "integer"},
	"area_km2":    {SQL: "r.area_km2", Type: "number"},
	"provisional": {SQL: "u.provisional", Type: "boolean"},
	"valid_from":  {SQL: "u.valid_from", Type: "date"},
	"reasons":     {SQL: "r.reasons", Type: "array"},
	"geometry":    {SQL: "u.geom", Type: "geometry"},
}

func TestValid(t *testing.T) {
	d := time.Date(2020, 1, 2, 0, 0, 0, 0, time.UTC)
	cases := []struct {
		in, sql string
		args    []any
	}{
		{"households > 3000", "((coalesce(r.households, u.households)) > $3::float8)", []any{3000.0}},
		{"name = '社区'", "((u.name) = $3::text)", []any{"社区"}},
		{"name = 'x''; DROP TABLE units; --'", "((u.name) = $3::text)", []any{"x'; DROP TABLE units; --"}},
		{`"name" <> 'a' AND households <= -1.5e2`, "(((u.name) <> $3::text) AND ((coalesce(r.households, u.households)) <= $4::float8))", []any{"a", -150.0}},
		{"a_or_b", "", nil}, // placeholder: see invalid (unknown property)
		{"NOT (code = '1' OR code = '2')", "(NOT (((u.code) = $3::text) OR ((u.code) = $4::text)))", []any{"1", "2"}},
		{"households IS NULL", "((coalesce(r.households, u.households)) IS NULL)", nil},
		{"reasons is not null", "((r.reasons) IS NOT NULL)", nil},
		{"name LIKE '%社区'", "((u.name) LIKE $3::text)", []any{"%社区"}},
		{"name NOT LIKE 'a_'", "((u.name) NOT LIKE $3::text)", []any{"a_"}},
		{"code IN ('1', '2')", "((u.code) IN ($3::text, $4::text))", []any{"1", "2"}},
		{"code NOT IN ('1')", "((u.code) NOT IN ($3::text))", []any{"1"}},
		{"households BETWEEN 1000 AND 3000", "((coalesce(r.households, u.households)) BETWEEN $3::float8 AND $4::float8)", []any{1000.0, 3000.0}},
		{"provisional = TRUE", "((u.provisional) = $3::boolean)", []any{true}},
		{"provisional", "", nil},
		{"TRUE", "TRUE", nil},
		{"valid_from >= DATE('2020-01-02')", "((u.valid_from) >= $3::date)", []any{d}},
		{"valid_from < '2020-01-02'", "((u.valid_from) < $3::date)", []any{d}},
		{"S_INTERSECTS(geometry, POINT(116.4 39.9))", "ST_Intersects((u.geom), ST_MakeValid(ST_GeomFromText($3::text, 4326)))", []any{"POINT(116.4 39.9)"}},
		{"s_intersects(geometry, BBOX(116, 39, 117, 40))", "ST_Intersects((u.geom), ST_MakeEnvelope($3::float8, $4::float8, $5::float8, $6::float8, 4326))", []any{116.0, 39.0, 117.0, 40.0}},
		{"S_WITHIN(geometry, POLYGON((0 0, 1 0, 1 1, 0 0), (0.1 0.1, 0.2 0.1, 0.2 0.2, 0.1 0.1)))",
			"ST_Within((u.geom), ST_MakeValid(ST_GeomFromText($3::text, 4326)))", []any{"POLYGON((0 0,1 0,1 1,0 0),(0.1 0.1,0.2 0.1,0.2 0.2,0.1 0.1))"}},
		{"S_INTERSECTS(MULTIPOINT((1 2), 3 4 5), geometry)", "ST_Intersects(ST_MakeValid(ST_GeomFromText($3::text, 4326)), (u.geom))", []any{"MULTIPOINT((1 2),(3 4))"}},
		{"S_INTERSECTS(geometry, GEOMETRYCOLLECTION(POINT(1 2), LINESTRING(0 0, 1 1), MULTIPOLYGON(((0 0, 1 0, 1 1, 0 0)))))",
			"ST_Intersects((u.geom), ST_MakeValid(ST_GeomFromText($3::text, 4326)))", []any{"GEOMETRYCOLLECTION(POINT(1 2),LINESTRING(0 0,1 1),MULTIPOLYGON(((0 0,1 0,1 1,0 0))))"}},
		{"S_INTERSECTS(geometry, MULTILINESTRING((0 0, 1 1), (2 2, 3 3)))", "ST_Intersects((u.geom), ST_MakeValid(ST_GeomFromText($3::text, 4326)))", []any{"MULTILINESTRING((0 0,1 1),(2 2,3 3))"}},
	}
	for _, c := range cases {
		if c.sql == "" {
			continue
		}
		sql, args, err := Compile(c.in, Options{Queryables: testQueryables, ArgBase: 2})
		if err != nil {
			t.Errorf("%s: %v", c.in, err)
			continue
		}
		if sql != c.sql || fmt.Sprint(args) != fmt.Sprint(c.args) {
			t.Errorf("%s:\n got %s %v\nwant %s %v", c.in, sql, args, c.sql, c.args)
		}
	}
}

func TestFilterCRS(t *testing.T) {
	sql, args, err := Compile("S_INTERSECTS(geometry, POINT(39.9 116.4)) OR S_INTERSECTS(geometry, BBOX(39, 116, 40, 117))",
		Options{Queryables: testQueryables, SRID: 4548, FlipAxes: true})
	if err != nil {
		t.Fatal(err)
	}
	want := "(ST_Intersects((u.geom), ST_Transform(ST_MakeValid(ST_GeomFromText($1::text, 4548)), 4326)) OR " +
		"ST_Intersects((u.geom), ST_Transform(ST_MakeEnvelope($2::float8, $3::float8, $4::float8, $5::float8, 4548), 4326)))"
	if sql != want || fmt.Sprint(args) != "[POINT(116.4 39.9) 116 39 117 40]" {
		t.Errorf("got %s %v", sql, args)
	}
}

func TestInvalid(t *testing.T) {
	cases := []struct {
		in  string
		pos int
		msg string
	}{
		{"", 1, "empty filter"},
		{"households", 11, "expected a comparison operator"},
		{"households 3000", 12, "expected a comparison operator"},
		{"name = 'abc' AND households ! 3", 29, "unexpected character '!'"},
		{"name = 'abc", 8, "unterminated string"},
		{"households >", 13, "expected a property or a literal"},
		{"(households > 1", 16, "expected ')'"},
		{"households > 1)", 15, "expected AND, OR or end of filter"},
		{"foo = 1", 1, `unknown property "foo"`},
		{"名称 = 1", 1, `unknown property "名称"`},
		{"name = '社区' AND foo = 1", 17, `unknown property "foo"`},
		{"households = 'many'", 14, "cannot compare integer with string"},
		{"name LIKE 3", 11, "expected a string pattern"},
		{"households LIKE '3%'", 1, "LIKE needs a string property"},
		{"reasons = 'x'", 1, "is a list"},
		{"geometry = 1", 1, "unknown property"},
		{"households IS 3", 15, "expected NULL"},
		{"code IN ('1' '2')", 14, "expected ',' or ')'"},
		{"households BETWEEN 1 OR 2", 22, "expected AND in BETWEEN"},
		{"provisional BETWEEN TRUE AND FALSE", 1, "BETWEEN needs"},
		{"households NOT 3", 16, "expected LIKE, IN or BETWEEN after NOT"},
		{"valid_from = DATE('2020-13-01')", 19, "invalid date"},
		{"valid_from = '20200101'", 14, "invalid date"},
		{"S_INTERSECTS(geometry, POINT(1))", 31, "expected a number"},
		{"S_INTERSECTS(geometry, POLYGON((0 0, 1 0, 1 1, 0 1)))", 32, "not closed"},
		{"S_INTERSECTS(geometry, POLYGON((0 0, 1 0, 0 0)))", 32, "at least 4 points"},
		{"S_INTERSECTS(geometry, BBOX(1, 2, 3))", 24, "BBOX takes 4 or 6 numbers"},
		{"S_INTERSECTS(geometry, BBOX(3, 2, 1, 4))", 24, "minimum greater than maximum"},
		{"S_INTERSECTS(name, POINT(1 2))", 14, "not a geometry property"},
		{"S_INTERSECTS(geometry POINT(1 2))", 23, "expected ','"},
		{"S_INTERSECTS(geometry, CIRCLE(1 2))", 24, "unknown geometry type CIRCLE"},
		{"households > POINT(1 2)", 14, "geometry literals are only allowed"},
		{"UPPER(name) = 'A'", 1, "unknown function UPPER"},
		{"households > 1e999", 14, "number out of range"},
		{"households > AND", 14, "found keyword AND"},
		{"name = 'a'; DROP TABLE units", 11, "unexpected character ';'"},
		{"name = \"x", 8, "unterminated quoted identifier"},
		{strings.Repeat("(", 100) + "TRUE" + strings.Repeat(")", 100), 65, "nested deeper"},
		{strings.Repeat("NOT ", 100) + "TRUE", 257, "nested deeper"},
		{"name = '\xff'", 9, "invalid UTF-8"},
		{"households = -", 14, "unexpected character '-'"},
	}
	for _, c := range cases {
		_, _, err := Compile(c.in, Options{Queryables: testQueryables})
		e, ok := err.(*Error)
		if !ok {
			t.Errorf("%q: want *Error, got %v", c.in, err)
			continue
		}
		if e.Pos != c.pos || !strings.Contains(e.Msg, c.msg) {
			t.Errorf("%q: got %q, want position %d containing %q", c.in, e.Error(), c.pos, c.msg)
		}
		if !strings.HasPrefix(e.Error(), fmt.Sprintf("position %d: ", e.Pos)) {
			t.Errorf("%q: message %q", c.in, e.Error())
		}
	}
}

var placeholder = regexp.MustCompile(`\$(\d+)`)

// FuzzParse checks that no input panics and that compiled SQL never
// contains text from the input: the fuzz queryables' SQL has no quotes,
// semicolons or comments, so any of them in the output would be a leak.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"households > 3000", "name = 'x''; DROP TABLE units; --'", "NOT (code = '1' OR code IN ('2', '3'))",
		"name LIKE '%社区'", "households BETWEEN 1 AND 2", "valid_from >= DATE('2020-01-02')",
		"S_INTERSECTS(geometry, BBOX(116, 39, 117, 40))", "S_INTERSECTS(geometry, POLYGON((0 0, 1 0, 1 1, 0 0)))",
		"S_INTERSECTS(geometry, GEOMETRYCOLLECTION(POINT(1 2), MULTIPOINT(1 2, 3 4)))", "reasons IS NOT NULL",
		`"name" <> 'a' AND households <= -1.5e2`, "provisional = TRUE OR TRUE", "((((households = 1))))",
		"code = \"code\"", "households > 1e999", "", "'", "((", "S_INTERSECTS(",
	} {
		f.Add(s)
	}
	q := map[string]Queryable{
		"code": {SQL: "u.code", Type: "string"}, "name": {SQL: "u.name", Type: "string"},
		"households": {SQL: "u.households", Type: "integer"}, "area_km2": {SQL: "u.area", Type: "number"},
		"provisional": {SQL: "u.provisional", Type: "boolean"}, "valid_from": {SQL: "u.valid_from", Type: "date"},
		"reasons": {SQL: "u.reasons", Type: "array"}, "geometry": {SQL: "u.geom", Type: "geometry"},
	}
	f.Fuzz(func(t *testing.T, s string) {
		sql, args, err := Compile(s, Options{Queryables: q, ArgBase: 2})
		if err != nil {
			e, ok := err.(*Error)
			if !ok || e.Pos < 1 || e.Msg == "" {
				t.Fatalf("%q: bad error %v", s, err)
			}
			return
		}
		if strings.ContainsAny(sql, `'";`) || strings.Contains(sql, "--") || strings.Contains(sql, "/*") {
			t.Fatalf("%q: input leaked into SQL: %s", s, sql)
		}
		// Placeholders are exactly $3..$(2+len(args)), each used.
		used := map[string]bool{}
		for _, m := range placeholder.FindAllStringSubmatch(sql, -1) {
			used[m[1]] = true
		}
		if len(used) != len(args) {
			t.Fatalf("%q: %d placeholders for %d args: %s", s, len(used), len(args), sql)
		}
		for i := range args {
			if !used[fmt.Sprint(i+3)] {
				t.Fatalf("%q: $%d unused: %s", s, i+3, sql)
			}
		}
	})
}
