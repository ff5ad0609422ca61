// Package geo holds pure geometry for jiedao: coordinate reference systems and
// the shifted coordinate systems of Chinese web maps (GCJ-02, BD-09), geodesic
// measures, structural validation of polygons, and planar geometry in a local
// metric frame (cutting polygons by lines, convex regions, Polsby-Popper). It
// knows nothing of the database or HTTP.
package geo
