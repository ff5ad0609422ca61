package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/jiedao/jiedao/boundaries/store"
	"github.com/jiedao/jiedao/boundaries/units"
)

// withStore opens the store of --db for one command and closes it after.
func withStore(ctx context.Context, db string, f func(*store.Store) error) error {
	s, err := openStore(ctx, db)
	if err != nil {
		return err
	}
	defer s.Close()
	return f(s)
}

// cmdKeysCreate creates an API key. It is printed once: only its hash is
// stored.
func cmdKeysCreate(fs *flag.FlagSet) action {
	db := dbFlag(fs)
	role := fs.String("role", "", "viewer, editor or admin (required)")
	name := fs.String("name", "", "who or what holds the key; shown in the audit log (required)")
	return func(ctx context.Context, _ string, stdout, stderr io.Writer) error {
		r, err := units.ParseRole(*role)
		if err != nil {
			return usageError{err}
		}
		if *name == "" {
			return usageError{errors.New("missing --name TEXT")}
		}
		return withStore(ctx, *db, func(s *store.Store) error {
			key, err := units.CreateKey(ctx, s, *name, r)
			if err != nil {
				return err
			}
			fmt.Fprintln(stdout, key)
			fmt.Fprintf(stderr, "key %q (%s) created; it is shown only now: store it safely (send it as Authorization: Bearer <key>)\n", *name, r)
			return nil
		})
	}
}

func cmdKeysList(fs *flag.FlagSet) action {
	db := dbFlag(fs)
	return func(ctx context.Context, _ string, stdout, _ io.Writer) error {
		return withStore(ctx, *db, func(s *store.Store) error {
			keys, err := units.ListKeys(ctx, s)
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tROLE\tCREATED\tREVOKED")
			for _, k := range keys {
				revoked := "-"
				if k.RevokedAt != nil {
					revoked = k.RevokedAt.Local().Format("2006-01-02 15:04")
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", k.Name, k.Role, k.CreatedAt.Local().Format("2006-01-02 15:04"), revoked)
			}
			return tw.Flush()
		})
	}
}

func cmdKeysRevoke(fs *flag.FlagSet) action {
	db := dbFlag(fs)
	return func(ctx context.Context, name string, stdout, _ io.Writer) error {
		return withStore(ctx, *db, func(s *store.Store) error {
			if err := units.RevokeKey(ctx, s, name); err != nil {
				return err
			}
			fmt.Fprintf(stdout, "key %q revoked\n", name)
			return nil
		})
	}
}
