// Package boundaries is the shared vocabulary of jiedao's domain: the levels
// of administrative units (districts, streets, communities) and their codes,
// the statuses a profile gives them, the kinds of boundary problems (zones),
// calendar days, counts and the errors every part of the domain returns.
//
// The jobs live in the packages below it, one per job, each with its own
// SQL: store (the database), units, importer, analysis, plan, scenario,
// lookup and layers; see ARCHITECTURE.md.
package boundaries
