package units

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jiedao/jiedao/boundaries"
	"github.com/jiedao/jiedao/boundaries/store"
)

// Head is the version that ends a unit's history (valid_to NULL): the one
// an edit replaces, so its id is the ETag a PUT or DELETE must send. It is
// not the version valid today when an edit dated later is pending.
type Head struct {
	VersionID int64     `json:"version_id"`
	ValidFrom time.Time `json:"-"`
}

// ETag is the head's entity tag, as the API writes it.
func (h Head) ETag() string { return `"` + strconv.FormatInt(h.VersionID, 10) + `"` }

// ReadHead returns the head of a unit's history, nil for a retired or
// unknown code.
func ReadHead(ctx context.Context, st *store.Store, code string) (*Head, error) {
	var h Head
	err := st.Primary().QueryRow(ctx, `SELECT version_id, valid_from FROM units WHERE code = $1 AND valid_to IS NULL`, code).
		Scan(&h.VersionID, &h.ValidFrom)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read unit %s: %w", code, err)
	}
	return &h, nil
}

// Precondition evaluates If-Match (ifMatch, AnyVersion for "*") before a
// write reads its body, as RFC 9110 orders it: a stale or unknown ETag is
// answered 412 (404 for an unknown unit) whatever the body holds. The
// write checks again under its lock.
func Precondition(ctx context.Context, st *store.Store, code string, ifMatch int64) error {
	h, err := ReadHead(ctx, st, code)
	if err != nil {
		return err
	}
	if h == nil {
		return noCurrent(ctx, st.Primary(), code, ifMatch, ifMatch != AnyVersion)
	}
	if ifMatch != AnyVersion && h.VersionID != ifMatch {
		return staleError(code, h.VersionID, h.ValidFrom, ifMatch)
	}
	return nil
}

// noCurrent is the answer for a code with no current version: 412 when
// the client's ETag (checked) names a version it had, the unit having been
// retired since; else 404.
func noCurrent(ctx context.Context, q interface {
	QueryRow(context.Context, string, ...any) pgx.Row
}, code string, ifMatch int64, check bool) error {
	var existed bool
	if err := q.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM units WHERE code = $1 AND version_id = $2)`, code, ifMatch).Scan(&existed); err != nil {
		return fmt.Errorf("read unit %s: %w", code, err)
	}
	if check && existed {
		return fmt.Errorf("unit %s: version %d is no longer current (the unit was retired): %w", code, ifMatch, boundaries.ErrStale)
	}
	return fmt.Errorf("unit %s (no current version): %w", code, boundaries.ErrNotFound)
}

// staleError says which ETag edits the unit: the head's, which is a
// pending version when an edit dated later was made.
func staleError(code string, head int64, from time.Time, ifMatch int64) error {
	pending := ""
	if from.After(boundaries.Today()) {
		pending = fmt.Sprintf(" (pending, valid from %s)", from.Format("2006-01-02"))
	}
	return fmt.Errorf("unit %s: version %d is not the last of its history; version %d%s is: edit with If-Match: \"%d\": %w",
		code, ifMatch, head, pending, head, boundaries.ErrStale)
}
