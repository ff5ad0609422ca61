package store

import (
	"errors"
	"fmt"
	"io"
	"net"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
)

func TestUnavailable(t *testing.T) {
	for _, c := range []struct {
		err  error
		want bool
	}{
		{nil, false},
		{&pgconn.ConnectError{}, true},
		{fmt.Errorf("query: %w", &net.OpError{Op: "dial", Err: errors.New("connection refused")}), true},
		{&pgconn.PgError{Code: "57P01", Message: "terminating connection due to administrator command"}, true},
		{&pgconn.PgError{Code: "08006"}, true},
		{errors.New("failed to receive message: unexpected EOF"), true},
		{errors.New("closed pool"), true},
		{&pgconn.PgError{Code: "23505"}, false},                     // a failed query, not an outage
		{fmt.Errorf("decode body: %w", io.ErrUnexpectedEOF), false}, // a client's truncated body
	} {
		if got := Unavailable(c.err); got != c.want {
			t.Errorf("Unavailable(%v) = %v, want %v", c.err, got, c.want)
		}
	}
}
