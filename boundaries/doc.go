// Package boundaries is jiedao's domain: administrative units (districts,
// streets, communities), their codes, hierarchy and versions, and the PostGIS
// store that keeps them. All SQL lives in this package.
package boundaries
