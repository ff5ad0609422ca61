package dispatch

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/jiedao/jiedao/boundaries"
	"github.com/jiedao/jiedao/boundaries/lookup"
	"github.com/jiedao/jiedao/boundaries/store"
	"github.com/jiedao/jiedao/boundaries/units"
	"github.com/jiedao/jiedao/geo"
)

// ImportOptions mirror `jiedao import-tickets`.
type ImportOptions struct {
	CRS      geo.CRS   // of the file's lon/lat (zero: WGS84)
	At       time.Time // the boundaries' day (zero: today)
	Options            // near_m, batch size (default 100,000)
	Progress func(done, total int64)
}

// ImportReport says what an import did.
type ImportReport struct {
	File          string            `json:"file"`
	Rows          int               `json:"rows"`
	Stored        int               `json:"stored"`         // new tickets
	AlreadyStored int               `json:"already_stored"` // the same tickets stored before
	Ambiguity     map[Ambiguity]int `json:"ambiguity"`
	Seconds       float64           `json:"seconds"`
}

// ImportFile dispatches and stores a CSV of tickets as it reads it, in
// batches, in one transaction: all or nothing. Bad rows are collected (up
// to a hundred are listed) and refuse the file.
func ImportFile(ctx context.Context, st *store.Store, loc *lookup.Locator, path string, opt ImportOptions) (*ImportReport, error) {
	start := time.Now()
	rep := &ImportReport{File: path, Ambiguity: map[Ambiguity]int{}}
	o, err := opt.Options.withDefaults()
	if err != nil {
		return nil, err
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("import tickets: %w", err)
	}
	defer f.Close()
	var size int64
	if fi, err := f.Stat(); err == nil {
		size = fi.Size()
	}
	if opt.CRS.Name == "" {
		opt.CRS, _ = ParseCRS("")
	}
	at := opt.At
	if at.IsZero() {
		at = boundaries.Today()
	}
	rd, err := NewReader(f, opt.CRS)
	if err != nil {
		return nil, fmt.Errorf("import tickets %s: %w", path, err)
	}
	err = st.Tx(ctx, func(tx pgx.Tx) error {
		return importBatches(ctx, tx, loc, rd, at, o, rep, func() {
			if opt.Progress != nil {
				opt.Progress(rd.Offset(), size)
			}
		})
	})
	rep.Seconds = time.Since(start).Seconds()
	if err != nil {
		var re *RowErrors
		if errors.As(err, &re) {
			return rep, err
		}
		return rep, fmt.Errorf("import tickets %s: %w", path, err)
	}
	return rep, nil
}

// importBatches reads rd to its end, dispatching every full batch; bad
// rows are collected and stop the storing (reading goes on to list them).
func importBatches(ctx context.Context, tx pgx.Tx, loc *lookup.Locator, rd *Reader, at time.Time, o Options,
	rep *ImportReport, progress func()) error {
	errs := &RowErrors{}
	batch := make([]Ticket, 0, min(o.MaxBatch, 1<<16))
	flush := func() error {
		if len(batch) == 0 || errs.Total > 0 {
			batch = batch[:0]
			return nil
		}
		res, n, err := dispatchTx(ctx, tx, loc, 0, at, batch, o)
		if err != nil {
			return err
		}
		rep.Stored += n
		for i := range res {
			rep.Ambiguity[res[i].Ambiguity]++
			if res[i].Stored {
				rep.AlreadyStored++
			}
		}
		batch = batch[:0]
		progress()
		return nil
	}
	err := rd.each(errs, func(t Ticket) error {
		rep.Rows++
		batch = append(batch, t)
		if len(batch) == o.MaxBatch {
			return flush()
		}
		return nil
	})
	if err != nil {
		return err
	}
	if err := flush(); err != nil {
		return err
	}
	return errs.orNil()
}

// ReadReassignments reads a reassignment CSV with the header ticket (or
// id), to, reason; at most limit rows (0: 1,000,000).
func ReadReassignments(r io.Reader, limit int) ([]Reassignment, error) {
	if limit <= 0 {
		limit = 1_000_000
	}
	cr := csv.NewReader(&countingReader{r: r})
	cr.FieldsPerRecord = -1
	head, err := cr.Read()
	if err != nil {
		return nil, boundaries.Invalid("reassignments CSV header: %v", err)
	}
	cols := map[string]int{}
	for i, h := range head {
		h = strings.ToLower(strings.TrimSpace(strings.TrimPrefix(decodeField(h), "\ufeff")))
		if h == "id" {
			h = "ticket"
		}
		cols[h] = i
	}
	for _, need := range []string{"ticket", "to", "reason"} {
		if _, ok := cols[need]; !ok {
			return nil, boundaries.Invalid("reassignments CSV header %q lacks %s: want ticket,to,reason", strings.Join(head, ","), need)
		}
	}
	var out []Reassignment
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, boundaries.Invalid("reassignments CSV: %v", err)
		}
		get := func(k string) string {
			if c := cols[k]; c < len(rec) {
				return strings.TrimSpace(decodeField(rec[c]))
			}
			return ""
		}
		if len(out) >= limit {
			return nil, boundaries.Invalid("reassignments CSV: more than %d rows", limit)
		}
		out = append(out, Reassignment{Ticket: get("ticket"), To: get("to"), Reason: get("reason")})
	}
}

// ImportReassignments applies a reassignment CSV (all or nothing) as the
// actor; it returns how many were applied.
func ImportReassignments(ctx context.Context, st *store.Store, actor units.Actor, path string) (int, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, fmt.Errorf("import reassignments: %w", err)
	}
	defer f.Close()
	rs, err := ReadReassignments(f, 0)
	if err != nil {
		return 0, fmt.Errorf("import reassignments %s: %w", path, err)
	}
	if err := ReassignAll(ctx, st, actor, rs); err != nil {
		return 0, fmt.Errorf("import reassignments %s: %w", path, err)
	}
	return len(rs), nil
}
