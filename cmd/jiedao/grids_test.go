package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// TestGridsFlags refuses bad flags before a database is opened.
func TestGridsFlags(t *testing.T) {
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"grids", "generate"}, "choose one of --community CODE, --street CODE or --all"},
		{[]string{"grids", "generate", "--all", "--street", "110101005"}, "choose one of"},
		{[]string{"grids", "generate", "--all", "--method", "voronoi"}, `unknown --method "voronoi"`},
		{[]string{"grids", "generate", "--all", "--households", "-5"}, "--households -5"},
		{[]string{"grids", "generate", "--all", "--format", "csv"}, `unknown format "csv"`},
		{[]string{"grids", "renumber"}, "renumber needs --community CODE"},
		{[]string{"grids", "renumber", "--community", "110101005006", "--approval", "x"}, "--approval TEXT and --valid-from YYYY-MM-DD go together"},
	}
	for _, c := range cases {
		var out, errb bytes.Buffer
		code := run(context.Background(), append(c.args, "--db", "postgres://nowhere.invalid/x"), &out, &errb)
		if code == 0 || !strings.Contains(errb.String(), c.want) {
			t.Errorf("jiedao %s: exit %d, stderr %q; want %q", strings.Join(c.args, " "), code, errb.String(), c.want)
		}
	}
}
