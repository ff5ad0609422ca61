// Package geo holds pure geometry for jiedao: coordinate reference systems and
// the shifted coordinate systems of Chinese web maps (GCJ-02, BD-09), geodesic
// measures and structural validation of polygons. It knows nothing of the
// database or HTTP.
package geo
