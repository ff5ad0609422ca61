package layers

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"unicode/utf8"

	"github.com/jiedao/jiedao/boundaries"
)

// Keyset cursors: a page starts after the last row of the previous one, so
// page n costs what page 1 does (an OFFSET reads and drops every row before
// it). A cursor is the sort key of that row, JSON in URL-safe base64:
// opaque to clients, and checked on the way in so a forged one is a 400
// naming the parameter, never a database error.

// featureKey is the sort key of an items page: the feature id, then the
// version id (a day has one version of a code, a span of days may have
// several; zones and proposed units have 0).
type featureKey struct {
	ID      string
	Version int64
}

// unitKey is the sort key of /api/v1/units: level (top down), code, version.
type unitKey struct {
	Level   int
	Code    string
	Version int64
}

// maxCursor bounds what is decoded: ids are short, so anything longer is
// not a cursor of ours.
const maxCursor = 1024

func encodeCursor(parts ...any) string {
	b, _ := json.Marshal(parts) // strings and integers only: cannot fail
	return base64.RawURLEncoding.EncodeToString(b)
}

// decodeCursor reads a cursor into the parts' pointers, refusing anything
// that is not exactly that many values of those types.
func decodeCursor(param, s string, parts ...any) error {
	bad := func(why string) error {
		return &boundaries.QueryError{Param: param, Err: fmt.Errorf("not a cursor of this server (%s); follow the next link", why)}
	}
	if len(s) > maxCursor {
		return bad("too long")
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return bad("not base64url")
	}
	var raw []json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil || len(raw) != len(parts) {
		return bad("not its fields")
	}
	for i, p := range parts {
		if err := json.Unmarshal(raw[i], p); err != nil {
			return bad("not its fields")
		}
		if s, ok := p.(*string); ok && (*s == "" || !utf8.ValidString(*s) || containsNUL(*s)) {
			return bad("empty or invalid id")
		}
		if n, ok := p.(*int64); ok && *n < 0 {
			return bad("negative version")
		}
	}
	return nil
}

func containsNUL(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == 0 {
			return true
		}
	}
	return false
}

// featureCursor is the key of a page's last feature and its position in
// the query's key list: a hint, trusted only when the list at that
// position holds the same key (else the page comes from a keyset query).
type featureCursor struct {
	featureKey
	Pos int64
}

func (k featureCursor) String() string { return encodeCursor(k.ID, k.Version, k.Pos) }

func parseFeatureCursor(s string) (featureCursor, error) {
	var k featureCursor
	err := decodeCursor("cursor", s, &k.ID, &k.Version, &k.Pos)
	return k, err
}

func (k unitKey) cursor() string { return encodeCursor(k.Level, k.Code, k.Version) }

func parseUnitCursor(s string) (unitKey, error) {
	var k unitKey
	if err := decodeCursor("cursor", s, &k.Level, &k.Code, &k.Version); err != nil {
		return k, err
	}
	if k.Level < 1 || k.Level > len(boundaries.Levels) {
		return k, &boundaries.QueryError{Param: "cursor", Err: errors.New("not a cursor of this server (level); follow the next link")}
	}
	return k, nil
}
