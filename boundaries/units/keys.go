package units

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/jiedao/jiedao/boundaries"
	"github.com/jiedao/jiedao/boundaries/store"
)

// Role is what an API key may do; each role includes the ones before it.
type Role string

// The roles, weakest first.
const (
	Viewer Role = "viewer" // reads, when reads are not public
	Editor Role = "editor" // writes: units and imports
	Admin  Role = "admin"  // the audit log
)

// ParseRole checks a role name.
func ParseRole(s string) (Role, error) {
	switch r := Role(strings.ToLower(strings.TrimSpace(s))); r {
	case Viewer, Editor, Admin:
		return r, nil
	}
	return "", fmt.Errorf("unknown role %q (want viewer, editor or admin)", s)
}

// Allows reports whether r includes need.
func (r Role) Allows(need Role) bool { return r.rank() >= need.rank() }

func (r Role) rank() int {
	switch r {
	case Viewer:
		return 1
	case Editor:
		return 2
	case Admin:
		return 3
	}
	return 0
}

// APIKey describes a key; the secret itself is never stored.
type APIKey struct {
	Name      string     `json:"name"`
	Role      Role       `json:"role"`
	CreatedAt time.Time  `json:"created_at"`
	RevokedAt *time.Time `json:"revoked_at"`
}

// keyPrefix marks jiedao keys so they are recognisable in configuration
// files and secret scanners.
const keyPrefix = "jd_"

// hashKey is the stored form of a key. Keys are 32 random bytes (256 bits),
// so a plain SHA-256 is enough: slow password hashes (bcrypt, argon2) exist
// to make guessing low-entropy passwords expensive, and nobody can enumerate
// 2^256 keys however fast the hash. A fast, unsalted hash also lets a
// request find its key by an indexed equality lookup.
func hashKey(secret string) []byte {
	h := sha256.Sum256([]byte(secret))
	return h[:]
}

// CreateKey makes a new key and returns its secret, which is not stored and
// cannot be shown again.
func CreateKey(ctx context.Context, st *store.Store, name string, role Role) (string, error) {
	name = strings.TrimSpace(name)
	if name == "" {
		return "", errors.New("create key: name is required")
	}
	if _, err := ParseRole(string(role)); err != nil {
		return "", fmt.Errorf("create key: %w", err)
	}
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("create key: %w", err)
	}
	secret := keyPrefix + base64.RawURLEncoding.EncodeToString(b[:])
	_, err := st.Primary().Exec(ctx, `INSERT INTO api_keys (name, role, key_hash) VALUES ($1, $2, $3)`, name, string(role), hashKey(secret))
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "23505" {
		return "", fmt.Errorf("create key %q: %w", name, boundaries.ErrDuplicate)
	}
	if err != nil {
		return "", fmt.Errorf("create key %q: %w", name, err)
	}
	return secret, nil
}

// ListKeys lists every key, revoked ones included, by name.
func ListKeys(ctx context.Context, st *store.Store) ([]APIKey, error) {
	rows, err := st.Primary().Query(ctx, `SELECT name, role, created_at, revoked_at FROM api_keys ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("list keys: %w", err)
	}
	defer rows.Close()
	var out []APIKey
	for rows.Next() {
		var k APIKey
		var role string
		if err := rows.Scan(&k.Name, &role, &k.CreatedAt, &k.RevokedAt); err != nil {
			return nil, fmt.Errorf("list keys: %w", err)
		}
		k.Role = Role(role)
		out = append(out, k)
	}
	return out, rows.Err()
}

// RevokeKey revokes a key by name; the row stays so the audit log's names
// keep their meaning.
func RevokeKey(ctx context.Context, st *store.Store, name string) error {
	tag, err := st.Primary().Exec(ctx, `UPDATE api_keys SET revoked_at = now() WHERE name = $1 AND revoked_at IS NULL`, name)
	if err != nil {
		return fmt.Errorf("revoke key %q: %w", name, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("revoke key %q: no such active key: %w", name, boundaries.ErrNotFound)
	}
	return nil
}

// Authenticate finds the active key with this secret; ErrNotFound when
// there is none (unknown or revoked).
func Authenticate(ctx context.Context, st *store.Store, secret string) (*APIKey, error) {
	var k APIKey
	var role string
	err := st.Primary().QueryRow(ctx, `SELECT name, role, created_at, revoked_at FROM api_keys
		WHERE key_hash = $1 AND revoked_at IS NULL`, hashKey(secret)).Scan(&k.Name, &role, &k.CreatedAt, &k.RevokedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, boundaries.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("authenticate: %w", err)
	}
	k.Role = Role(role)
	return &k, nil
}
