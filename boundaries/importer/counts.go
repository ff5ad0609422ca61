package importer

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jiedao/jiedao/boundaries"
	"github.com/jiedao/jiedao/boundaries/store"
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
	Limits          Limits // rows (Features) and file size (CSVBytes); zero: DefaultLimits
}

// Counts joins households and population onto current units by code
// from a CSV file (UTF-8 with or without BOM, or GBK/GB18030). A unit whose
// counts change gets a new version; all or nothing.
func Counts(ctx context.Context, st *store.Store, path string, opt CountsOptions) (*Report, error) {
	start := time.Now()
	defaults(path, &opt.Source, &opt.ValidFrom, map[*string]string{&opt.CodeField: "code",
		&opt.HouseholdsField: "households", &opt.PopulationField: "population"})
	opt.Limits = opt.Limits.withDefaults()
	if fi, err := os.Stat(path); err == nil && fi.Size() > opt.Limits.CSVBytes {
		return nil, boundaries.Invalid("import counts %s: limit: %d bytes, over %d (JIEDAO_IMPORT_MAX_CSV_MB)", opt.Source, fi.Size(), opt.Limits.CSVBytes)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("import counts: %w", err)
	}
	recs, err := readCSV(raw)
	if err != nil {
		return nil, boundaries.Invalid("import counts %s: %v", opt.Source, err)
	}
	if len(recs)-1 > opt.Limits.Features {
		return nil, boundaries.Invalid("import counts %s: limit: more than %d rows (JIEDAO_IMPORT_MAX_FEATURES)", opt.Source, opt.Limits.Features)
	}
	if len(recs) == 0 {
		return nil, fmt.Errorf("import counts %s: empty file", opt.Source)
	}
	cols, err := countsHeader(recs[0], opt)
	if err != nil {
		return nil, err
	}
	rep := &Report{File: opt.Source, Checksum: checksumBytes(raw), Level: "counts", Repaired: []Issue{}, Rejected: []Issue{}}
	if err := st.Primary().QueryRow(ctx, `INSERT INTO imports (file, checksum, level) VALUES ($1,$2,'counts') RETURNING id`,
		opt.Source, rep.Checksum).Scan(&rep.ImportID); err != nil {
		return nil, fmt.Errorf("import counts: record import: %w", err)
	}
	rows := countsRows(recs, cols, rep)
	err = st.Tx(ctx, func(tx pgx.Tx) error {
		if err := holdImport(ctx, tx, rep.ImportID); err != nil {
			return err
		}
		return applyCounts(ctx, tx, rows, cols, opt, rep)
	})
	return rep, finish(ctx, st, rep, start, err, "import counts", "rows")
}

// countsColumns locate the code, households and population columns (a count may be absent).
type countsColumns struct {
	ci, hi, pi int
	hasH, hasP bool
}

// countsHeader finds the columns in the header row: code is required, and at least one count.
func countsHeader(header []string, opt CountsOptions) (countsColumns, error) {
	col := map[string]int{}
	for i, h := range header {
		col[strings.TrimSpace(h)] = i
	}
	var c countsColumns
	var ok bool
	c.ci, ok = col[opt.CodeField]
	if !ok {
		return c, fmt.Errorf("import counts %s: no column %q in header %v", opt.Source, opt.CodeField, header)
	}
	c.hi, c.hasH = col[opt.HouseholdsField]
	c.pi, c.hasP = col[opt.PopulationField]
	if !c.hasH && !c.hasP {
		return c, fmt.Errorf("import counts %s: neither %q nor %q is a column", opt.Source, opt.HouseholdsField, opt.PopulationField)
	}
	return c, nil
}

// countsRows parses the data rows into staging rows (idx, code, counts), rejecting bad ones.
func countsRows(recs [][]string, cols countsColumns, rep *Report) [][]any {
	var rows [][]any
	for i, r := range recs[1:] {
		rep.Features++
		get := func(j int) string {
			if j < len(r) {
				return strings.TrimSpace(r[j])
			}
			return ""
		}
		code := get(cols.ci)
		if code == "" {
			rep.reject(Issue{Index: i, Reason: "missing code"})
			continue
		}
		row := []any{int32(i), code, nil, nil}
		bad := false
		for k, c := range []struct {
			has bool
			j   int
		}{{cols.hasH, cols.hi}, {cols.hasP, cols.pi}} {
			if !c.has {
				continue
			}
			n, ok, err := boundaries.ParseCount(get(c.j))
			if err != nil {
				rep.reject(Issue{Index: i, Code: code, Reason: fmt.Sprintf("%s: %v", recs[0][c.j], err)})
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
	return rows
}

// applyCounts is the import's transaction: stage and check, then write unless a row is rejected.
func applyCounts(ctx context.Context, tx pgx.Tx, rows [][]any, cols countsColumns, opt CountsOptions, rep *Report) error {
	if err := stageCounts(ctx, tx, rows, cols, opt, rep); err != nil {
		return err
	}
	if len(rep.Rejected) > 0 {
		return boundaries.ErrRejected
	}
	return writeCounts(ctx, tx, cols, opt, rep)
}

// stageCounts stages the rows, rejects unknown, duplicate and back-dated codes, and fills diff.
func stageCounts(ctx context.Context, tx pgx.Tx, rows [][]any, cols countsColumns, opt CountsOptions, rep *Report) error {
	hasH, hasP := cols.hasH, cols.hasP
	if _, err := tx.Exec(ctx, `CREATE TEMP TABLE counts (idx integer, code text, households integer, population integer) ON COMMIT DROP`); err != nil {
		return err
	}
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{"counts"}, []string{"idx", "code", "households", "population"}, pgx.CopyFromRows(rows)); err != nil {
		return err
	}
	// Rows name no feature: the unit's current name stands in where the code has one.
	reject := rep.reject
	if err := collect(ctx, tx, `SELECT c.idx, c.code, NULL::text, format('code %s names no current unit', c.code) FROM counts c
			WHERE NOT EXISTS (SELECT 1 FROM units u WHERE u.code = c.code AND u.valid_to IS NULL)`, nil, reject); err != nil {
		return err
	}
	if err := collect(ctx, tx, `SELECT d.idx, d.code, u.name, format('duplicate code %s (first at row %s)', d.code, d.first)
			FROM (SELECT idx, code, min(idx) OVER (PARTITION BY code) AS first FROM counts) d
			LEFT JOIN units u ON u.code = d.code AND u.valid_to IS NULL WHERE d.idx <> d.first`, nil, reject); err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, `CREATE TEMP TABLE diff ON COMMIT DROP AS
			SELECT c.*, u.version_id AS cur_id, u.valid_from AS cur_from,
				CASE WHEN ($1 AND u.households IS DISTINCT FROM c.households) OR ($2 AND u.population IS DISTINCT FROM c.population)
				THEN 'changed' ELSE 'unchanged' END AS status
			FROM counts c JOIN units u ON u.code = c.code AND u.valid_to IS NULL`, hasH, hasP); err != nil {
		return err
	}
	return collect(ctx, tx, `SELECT d.idx, d.code, u.name, format('valid_from %s is before the current version''s valid_from %s', $1::date, d.cur_from)
			FROM diff d JOIN units u ON u.version_id = d.cur_id WHERE d.status = 'changed' AND d.cur_from > $1::date`, []any{opt.ValidFrom}, reject)
}

// writeCounts counts changes and, unless a dry run, writes the changed units' new versions.
func writeCounts(ctx context.Context, tx pgx.Tx, cols countsColumns, opt CountsOptions, rep *Report) error {
	hasH, hasP := cols.hasH, cols.hasP
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
	return store.BumpDataVersion(ctx, tx)
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
