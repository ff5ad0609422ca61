// Package data holds the files jiedao embeds: SQL migrations, policy
// profiles and demo generator inputs.
package data

import "embed"

// Migrations are applied in file-name order by boundaries.Migrate.
//
//go:embed migrations/*.sql
var Migrations embed.FS

// Profiles are the policy profiles, one JSON file per profile; every
// number carries its source.
//
//go:embed profiles/*.json
var Profiles embed.FS
