package layers

import (
	"time"

	"github.com/jiedao/jiedao/boundaries/cql2"
	"github.com/jiedao/jiedao/geo"
)

// compileFilter compiles a CQL2 text filter over the layer's queryables,
// its parameters numbered after base.
func (l *Layer) compileFilter(src string, crs geo.CRS, base int) (string, []any, error) {
	e, err := cql2.Parse(src)
	if err != nil {
		return "", nil, err
	}
	qs := l.cqlQueryables()
	gdalDates(e, qs)
	return cql2.ToSQL(e, cql2.Options{Queryables: qs, SRID: crs.Stored(), FlipAxes: crs.Flip, ArgBase: base})
}

// gdalDates turns the date literals GDAL's OAPIF driver (3.6) writes for a
// -where on a date field, 'YYYY-MM-DDT', into dates where they meet a date
// property; cql2 takes only 'YYYY-MM-DD' there. Nowhere else is a string
// changed.
func gdalDates(e cql2.Expr, qs map[string]cql2.Queryable) {
	isDate := func(o cql2.Operand) bool {
		p, ok := o.(*cql2.Property)
		return ok && qs[p.Name].Type == "date"
	}
	fix := func(o *cql2.Operand) {
		if s, ok := (*o).(*cql2.String); ok {
			if d, err := time.Parse("2006-01-02T", s.Value); err == nil {
				*o = &cql2.Date{At: s.At, Value: d}
			}
		}
	}
	switch x := e.(type) {
	case *cql2.Logical:
		gdalDates(x.L, qs)
		gdalDates(x.R, qs)
	case *cql2.Not:
		gdalDates(x.X, qs)
	case *cql2.Compare:
		if isDate(x.L) {
			fix(&x.R)
		}
		if isDate(x.R) {
			fix(&x.L)
		}
	case *cql2.Between:
		if isDate(x.X) {
			fix(&x.Lo)
			fix(&x.Hi)
		}
	case *cql2.In:
		if isDate(x.X) {
			for i := range x.List {
				fix(&x.List[i])
			}
		}
	}
}
