// Package data holds the files jiedao embeds: SQL migrations, policy
// profiles and demo generator inputs.
package data

import "embed"

// Migrations are applied in file-name order by boundaries.Migrate.
//
//go:embed migrations/*.sql
var Migrations embed.FS
