package cql2

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Queryable is a property a filter may name: its SQL expression (from the
// layer registry, never from the filter) and its type (string, integer,
// number, boolean, date, array or geometry).
type Queryable struct {
	SQL  string
	Type string
}

// Options tell ToSQL what the filter may reference.
type Options struct {
	Queryables map[string]Queryable
	// SRID of geometry literals (filter-crs), transformed to EPSG:4326;
	// FlipAxes when that CRS lists latitude/northing first.
	SRID     int
	FlipAxes bool
	// ArgBase is the number of parameters the caller already uses: the
	// filter's first parameter is $ArgBase+1.
	ArgBase int
}

type compiler struct {
	o    Options
	args []any
}

// ToSQL compiles a parsed filter into a SQL boolean expression and its
// parameters. Unknown properties and type mismatches are *Error.
func ToSQL(e Expr, o Options) (string, []any, error) {
	if o.SRID == 0 {
		o.SRID = 4326
	}
	c := &compiler{o: o}
	s, err := c.expr(e)
	if err != nil {
		return "", nil, err
	}
	return s, c.args, nil
}

// Compile parses and compiles in one step.
func Compile(src string, o Options) (string, []any, error) {
	e, err := Parse(src)
	if err != nil {
		return "", nil, err
	}
	return ToSQL(e, o)
}

func (c *compiler) param(v any, cast string) string {
	c.args = append(c.args, v)
	return fmt.Sprintf("$%d::%s", c.o.ArgBase+len(c.args), cast)
}

func (c *compiler) expr(e Expr) (string, error) {
	switch x := e.(type) {
	case *Logical:
		l, err := c.expr(x.L)
		if err != nil {
			return "", err
		}
		r, err := c.expr(x.R)
		if err != nil {
			return "", err
		}
		return "(" + l + " " + x.Op + " " + r + ")", nil
	case *Not:
		s, err := c.expr(x.X)
		if err != nil {
			return "", err
		}
		return "(NOT " + s + ")", nil
	case *BoolExpr:
		if x.Value {
			return "TRUE", nil
		}
		return "FALSE", nil
	case *Compare:
		l, r, err := c.pair(x.L, x.R)
		if err != nil {
			return "", err
		}
		return "(" + l + " " + x.Op + " " + r + ")", nil
	case *IsNull:
		s, _, err := c.operand(x.X, "", true)
		if err != nil {
			return "", err
		}
		if x.Not {
			return "(" + s + " IS NOT NULL)", nil
		}
		return "(" + s + " IS NULL)", nil
	case *Like:
		s, typ, err := c.operand(x.X, "", false)
		if err != nil {
			return "", err
		}
		if typ != "string" {
			return "", &Error{x.X.Pos(), "LIKE needs a string property"}
		}
		op := " LIKE "
		if x.Not {
			op = " NOT LIKE "
		}
		// CQL2 and PostgreSQL agree on % _ and the \ escape.
		return "(" + s + op + c.param(x.Pattern.Value, "text") + ")", nil
	case *In:
		xs, xt, err := c.operand(x.X, c.firstType(x.List), false)
		if err != nil {
			return "", err
		}
		var items []string
		for _, v := range x.List {
			vs, err := c.against(xt, v)
			if err != nil {
				return "", err
			}
			items = append(items, vs)
		}
		op := " IN ("
		if x.Not {
			op = " NOT IN ("
		}
		return "(" + xs + op + strings.Join(items, ", ") + "))", nil
	case *Between:
		xs, xt, err := c.operand(x.X, c.firstType([]Operand{x.Lo, x.Hi}), false)
		if err != nil {
			return "", err
		}
		if xt == "boolean" {
			return "", &Error{x.X.Pos(), "BETWEEN needs numbers, strings or dates"}
		}
		lo, err := c.against(xt, x.Lo)
		if err != nil {
			return "", err
		}
		hi, err := c.against(xt, x.Hi)
		if err != nil {
			return "", err
		}
		op := " BETWEEN "
		if x.Not {
			op = " NOT BETWEEN "
		}
		return "(" + xs + op + lo + " AND " + hi + ")", nil
	case *Spatial:
		a, err := c.geom(x.A)
		if err != nil {
			return "", err
		}
		b, err := c.geom(x.B)
		if err != nil {
			return "", err
		}
		return spatialFns[x.Fn] + "(" + a + ", " + b + ")", nil
	}
	return "", &Error{e.Pos(), fmt.Sprintf("unsupported expression %T", e)}
}

// family groups types that compare with each other.
func family(typ string) string {
	switch typ {
	case "integer", "number":
		return "number"
	case "timestamp":
		return "date"
	}
	return typ
}

// pair compiles both sides of a comparison and checks their types agree.
func (c *compiler) pair(l, r Operand) (string, string, error) {
	// A literal takes the type of the property on the other side, so
	// "valid_from > '2020-01-01'" works as well as DATE('2020-01-01').
	ls, lt, err := c.operand(l, c.typeOf(r), false)
	if err != nil {
		return "", "", err
	}
	rs, err := c.against(lt, r)
	return ls, rs, err
}

// against compiles v to be compared with a value of type typ.
func (c *compiler) against(typ string, v Operand) (string, error) {
	vs, vt, err := c.operand(v, typ, false)
	if err != nil {
		return "", err
	}
	if family(typ) != family(vt) {
		return "", &Error{v.Pos(), fmt.Sprintf("cannot compare %s with %s", typ, vt)}
	}
	return vs, nil
}

// firstType is the type of the first property among ops, or "".
func (c *compiler) firstType(ops []Operand) string {
	for _, o := range ops {
		if t := c.typeOf(o); t != "" {
			return t
		}
	}
	return ""
}

// typeOf is the type of a property operand, or "" for literals.
func (c *compiler) typeOf(o Operand) string {
	if p, ok := o.(*Property); ok {
		if q, ok := c.o.Queryables[p.Name]; ok {
			return q.Type
		}
	}
	return ""
}

// operand compiles a scalar; want is the type of the other side, used to
// read a string literal as a date.
func (c *compiler) operand(o Operand, want string, anyType bool) (string, string, error) {
	switch x := o.(type) {
	case *Property:
		q, ok := c.o.Queryables[x.Name]
		if !ok || q.Type == "geometry" {
			return "", "", &Error{x.At, fmt.Sprintf("unknown property %q (queryables: %s)", x.Name, c.names())}
		}
		if q.Type == "array" && !anyType {
			return "", "", &Error{x.At, fmt.Sprintf("property %q is a list and can only be tested with IS NULL", x.Name)}
		}
		return "(" + q.SQL + ")", q.Type, nil
	case *String:
		if want == "date" {
			d, err := time.Parse("2006-01-02", x.Value)
			if err != nil {
				return "", "", &Error{x.At, "invalid date, want 'YYYY-MM-DD'"}
			}
			return c.param(d, "date"), "date", nil
		}
		return c.param(x.Value, "text"), "string", nil
	case *Number:
		return c.param(x.Value, "float8"), "number", nil
	case *Bool:
		return c.param(x.Value, "boolean"), "boolean", nil
	case *Date:
		return c.param(x.Value, "date"), "date", nil
	case *Timestamp:
		return c.param(x.Value, "timestamptz"), "timestamp", nil
	}
	return "", "", &Error{o.Pos(), "expected a property or a literal"}
}

func (c *compiler) names() string {
	var n []string
	for k, q := range c.o.Queryables {
		if q.Type != "geometry" {
			n = append(n, k)
		}
	}
	slices.Sort(n)
	return strings.Join(n, ", ")
}

// geom compiles a spatial argument: the geometry property or a literal in
// the filter CRS, transformed to the storage CRS (EPSG:4326).
func (c *compiler) geom(o Operand) (string, error) {
	var lit string
	switch x := o.(type) {
	case *Property:
		q, ok := c.o.Queryables[x.Name]
		if !ok || q.Type != "geometry" {
			return "", &Error{x.At, fmt.Sprintf("%q is not a geometry property", x.Name)}
		}
		return "(" + q.SQL + ")", nil
	case *Geometry:
		// ST_MakeValid: a self-intersecting polygon would otherwise make
		// GEOS fail the whole query.
		lit = fmt.Sprintf("ST_MakeValid(ST_GeomFromText(%s, %d))", c.param(x.WKT(c.o.FlipAxes), "text"), c.o.SRID)
	case *BBox:
		b := x.Box
		if c.o.FlipAxes {
			b = [4]float64{b[1], b[0], b[3], b[2]}
		}
		lit = fmt.Sprintf("ST_MakeEnvelope(%s, %s, %s, %s, %d)", c.param(b[0], "float8"), c.param(b[1], "float8"),
			c.param(b[2], "float8"), c.param(b[3], "float8"), c.o.SRID)
	default:
		return "", &Error{o.Pos(), "expected a geometry"}
	}
	if c.o.SRID != 4326 {
		lit = "ST_Transform(" + lit + ", 4326)"
	}
	return lit, nil
}
