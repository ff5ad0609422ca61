package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/jiedao/jiedao/boundaries/units"
)

const keysUsage = `jiedao keys create --role viewer|editor|admin --name TEXT
jiedao keys list
jiedao keys revoke NAME`

// cmdKeys manages API keys. A new key is printed once: only its hash is
// stored.
func cmdKeys(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usageError{errors.New("want create, list or revoke:\n" + keysUsage)}
	}
	fs := flag.NewFlagSet("keys "+args[0], flag.ContinueOnError)
	db := dbFlag(fs)
	var role, name *string
	if args[0] == "create" {
		role = fs.String("role", "", "viewer, editor or admin (required)")
		name = fs.String("name", "", "who or what holds the key; shown in the audit log (required)")
	}
	pos, err := parse(fs, args[1:])
	if err != nil {
		return err
	}
	switch args[0] {
	case "create":
		r, err := units.ParseRole(*role)
		if err != nil {
			return usageError{err}
		}
		if *name == "" || len(pos) > 0 {
			return usageError{errors.New("want --name TEXT and no other arguments")}
		}
		s, err := openStore(ctx, *db)
		if err != nil {
			return err
		}
		defer s.Close()
		key, err := units.CreateKey(ctx, s, *name, r)
		if err != nil {
			return err
		}
		fmt.Fprintln(stdout, key)
		fmt.Fprintf(stderr, "key %q (%s) created; it is shown only now: store it safely (send it as Authorization: Bearer <key>)\n", *name, r)
		return nil
	case "list":
		if len(pos) > 0 {
			return usageError{errors.New("list takes no arguments")}
		}
		s, err := openStore(ctx, *db)
		if err != nil {
			return err
		}
		defer s.Close()
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
	case "revoke":
		if len(pos) != 1 {
			return usageError{errors.New("want exactly one NAME")}
		}
		s, err := openStore(ctx, *db)
		if err != nil {
			return err
		}
		defer s.Close()
		if err := units.RevokeKey(ctx, s, pos[0]); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "key %q revoked\n", pos[0])
		return nil
	}
	return usageError{fmt.Errorf("unknown keys command %q; want:\n%s", args[0], keysUsage)}
}
