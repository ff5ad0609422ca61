package boundaries

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"golang.org/x/text/encoding/simplifiedchinese"
)

// CountsOptions mirror `jiedao import-counts`.
type CountsOptions struct {
	CodeField       string // default "code"
	HouseholdsField string // default "households"; a missing column leaves households as they are
	PopulationField string // default "population"
	ValidFrom       time.Time
	Source          string
	DryRun          bool
}

// ImportCounts joins households and population onto current units by code
// from a CSV file (UTF-8 with or without BOM, or GBK/GB18030). A unit whose
// counts change gets a new version; all or nothing.
func (s *Store) ImportCounts(ctx context.Context, path string, opt CountsOptions) (*ImportReport, error) {
	start := time.Now()
	if opt.CodeField == "" {
		opt.CodeField = "code"
	}
	if opt.HouseholdsField == "" {
		opt.HouseholdsField = "households"
	}
	if opt.PopulationField == "" {
		opt.PopulationField = "population"
	}
	if opt.ValidFrom.IsZero() {
		opt.ValidFrom = Today()
	}
	if opt.Source == "" {
		opt.Source = filepath.Base(path)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("import counts: %w", err)
	}
	recs, err := readCSV(raw)
	if err != nil {
		return nil, fmt.Errorf("import counts %s: %w", opt.Source, err)
	}
	if len(recs) == 0 {
		return nil, fmt.Errorf("import counts %s: empty file", opt.Source)
	}
	col := map[string]int{}
	for i, h := range recs[0] {
		col[strings.TrimSpace(h)] = i
	}
	ci, ok := col[opt.CodeField]
	if !ok {
		return nil, fmt.Errorf("import counts %s: no column %q in header %v", opt.Source, opt.CodeField, recs[0])
	}
	hi, hasH := col[opt.HouseholdsField]
	pi, hasP := col[opt.PopulationField]
	if !hasH && !hasP {
		return nil, fmt.Errorf("import counts %s: neither %q nor %q is a column", opt.Source, opt.HouseholdsField, opt.PopulationField)
	}
	rep := &ImportReport{File: opt.Source, Checksum: checksumBytes(raw), Level: "counts", Repaired: []Issue{}, Rejected: []Issue{}}
	if err := s.Pool.QueryRow(ctx, `INSERT INTO imports (file, checksum, level) VALUES ($1,$2,'counts') RETURNING id`,
		opt.Source, rep.Checksum).Scan(&rep.ImportID); err != nil {
		return nil, fmt.Errorf("import counts: record import: %w", err)
	}
	var rows [][]any
	for i, r := range recs[1:] {
		rep.Features++
		get := func(j int) string {
			if j < len(r) {
				return strings.TrimSpace(r[j])
			}
			return ""
		}
		code := get(ci)
		if code == "" {
			rep.Rejected = append(rep.Rejected, Issue{Index: i, Reason: "missing code"})
			continue
		}
		row := []any{int32(i), code, nil, nil}
		bad := false
		for k, c := range []struct {
			has bool
			j   int
		}{{hasH, hi}, {hasP, pi}} {
			if !c.has {
				continue
			}
			n, ok, err := propCount(map[string]any{"v": get(c.j)}, "v")
			if err != nil {
				rep.Rejected = append(rep.Rejected, Issue{Index: i, Code: code, Reason: fmt.Sprintf("%s: %v", recs[0][c.j], err)})
				bad = true
				break
			}
			if ok {
				row[2+k] = int32(n)
			}
		}
		if !bad {
			rows = append(rows, row)
		}
	}
	err = pgx.BeginFunc(ctx, s.Pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `CREATE TEMP TABLE counts (idx integer, code text, households integer, population integer) ON COMMIT DROP`); err != nil {
			return err
		}
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"counts"}, []string{"idx", "code", "households", "population"}, pgx.CopyFromRows(rows)); err != nil {
			return err
		}
		reject := func(idx int, code, reason string) {
			rep.Rejected = append(rep.Rejected, Issue{Index: idx, Code: code, Reason: reason})
		}
		if err := collect(ctx, tx, `SELECT c.idx, c.code, format('code %s names no current unit', c.code) FROM counts c
			WHERE NOT EXISTS (SELECT 1 FROM units u WHERE u.code = c.code AND u.valid_to IS NULL)`, nil, reject); err != nil {
			return err
		}
		if err := collect(ctx, tx, `SELECT idx, code, format('duplicate code %s (first at row %s)', code, first)
			FROM (SELECT idx, code, min(idx) OVER (PARTITION BY code) AS first FROM counts) d WHERE idx <> first`, nil, reject); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `CREATE TEMP TABLE diff ON COMMIT DROP AS
			SELECT c.*, u.version_id AS cur_id, u.valid_from AS cur_from,
				CASE WHEN ($1 AND u.households IS DISTINCT FROM c.households) OR ($2 AND u.population IS DISTINCT FROM c.population)
				THEN 'changed' ELSE 'unchanged' END AS status
			FROM counts c JOIN units u ON u.code = c.code AND u.valid_to IS NULL`, hasH, hasP); err != nil {
			return err
		}
		if err := collect(ctx, tx, `SELECT idx, code, format('valid_from %s is before the current version''s valid_from %s', $1::date, cur_from)
			FROM diff WHERE status = 'changed' AND cur_from > $1::date`, []any{opt.ValidFrom}, reject); err != nil {
			return err
		}
		if len(rep.Rejected) > 0 {
			return ErrRejected
		}
		if err := tx.QueryRow(ctx, `SELECT count(*) FILTER (WHERE status='changed'), count(*) FILTER (WHERE status='unchanged') FROM diff`).
			Scan(&rep.Changed, &rep.Unchanged); err != nil {
			return err
		}
		if opt.DryRun {
			return errDryRun
		}
		if rep.Changed == 0 {
			return nil
		}
		if _, err := tx.Exec(ctx, `UPDATE units u SET valid_to = $1 FROM diff d WHERE d.cur_id = u.version_id AND d.status = 'changed'`, opt.ValidFrom); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO units (code, name, level, parent_code, kind, households, population, provisional,
				geom, valid_from, approval, source, import_id)
			SELECT u.code, u.name, u.level, u.parent_code, u.kind,
				CASE WHEN $2 THEN d.households ELSE u.households END, CASE WHEN $3 THEN d.population ELSE u.population END,
				u.provisional, u.geom, $1, u.approval, $4, $5
			FROM diff d JOIN units u ON u.version_id = d.cur_id WHERE d.status = 'changed'`,
			opt.ValidFrom, hasH, hasP, fmt.Sprintf("%s (import %d)", opt.Source, rep.ImportID), rep.ImportID); err != nil {
			return err
		}
		return bumpDataVersion(ctx, tx)
	})
	return rep, s.finish(ctx, rep, start, err, "import counts", "rows")
}

// readCSV decodes UTF-8 (a BOM is dropped) or, when the bytes are not valid
// UTF-8, GB18030 (a superset of GBK), as Chinese spreadsheets often save.
func readCSV(raw []byte) ([][]string, error) {
	raw = bytes.TrimPrefix(raw, []byte("\ufeff"))
	if !utf8.Valid(raw) {
		dec, err := simplifiedchinese.GB18030.NewDecoder().Bytes(raw)
		if err != nil {
			return nil, fmt.Errorf("neither UTF-8 nor GBK: %w", err)
		}
		raw = dec
	}
	r := csv.NewReader(bytes.NewReader(raw))
	r.FieldsPerRecord = -1
	var out [][]string
	for {
		rec, err := r.Read()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		out = append(out, rec)
	}
}
