package cql2

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Expr is a boolean expression of the filter.
type Expr interface{ Pos() int }

// Operand is a scalar: a property or a literal.
type Operand interface{ Pos() int }

type (
	// Logical is AND or OR of two expressions.
	Logical struct {
		At   int
		Op   string // AND, OR
		L, R Expr
	}
	// Not negates an expression.
	Not struct {
		At int
		X  Expr
	}
	// Compare is a binary comparison.
	Compare struct {
		At   int
		Op   string // = <> < > <= >=
		L, R Operand
	}
	// IsNull is "x IS [NOT] NULL".
	IsNull struct {
		At  int
		X   Operand
		Not bool
	}
	// Like is "x [NOT] LIKE 'pattern'" (% and _ wildcards, \ escapes).
	Like struct {
		At      int
		X       Operand
		Pattern String
		Not     bool
	}
	// In is "x [NOT] IN (a, b, …)".
	In struct {
		At   int
		X    Operand
		List []Operand
		Not  bool
	}
	// Between is "x [NOT] BETWEEN lo AND hi".
	Between struct {
		At     int
		X      Operand
		Lo, Hi Operand
		Not    bool
	}
	// Spatial is S_INTERSECTS and the other spatial functions.
	Spatial struct {
		At   int
		Fn   string // upper case, e.g. S_INTERSECTS
		A, B Operand
	}
	// BoolExpr is TRUE or FALSE used as a whole predicate.
	BoolExpr struct {
		At    int
		Value bool
	}

	// Property names a queryable.
	Property struct {
		At   int
		Name string
	}
	// String is a character literal.
	String struct {
		At    int
		Value string
	}
	// Number is a numeric literal.
	Number struct {
		At    int
		Value float64
	}
	// Bool is TRUE or FALSE as an operand.
	Bool struct {
		At    int
		Value bool
	}
	// Date is DATE('YYYY-MM-DD').
	Date struct {
		At    int
		Value time.Time
	}
	// Timestamp is TIMESTAMP('RFC 3339').
	Timestamp struct {
		At    int
		Value time.Time
	}
	// Geometry is a WKT geometry literal; coordinates are 2D (a Z is read
	// and dropped).
	Geometry struct {
		At     int
		Type   string       // POINT, LINESTRING, POLYGON, MULTIPOINT, MULTILINESTRING, MULTIPOLYGON, GEOMETRYCOLLECTION
		Points [][2]float64 // POINT, LINESTRING, and each ring of a polygon
		Parts  []*Geometry  // rings of a POLYGON, members of multi and collections
	}
	// BBox is BBOX(minx, miny, maxx, maxy) (or 6 numbers with z).
	BBox struct {
		At  int
		Box [4]float64
	}
)

func (x *Logical) Pos() int   { return x.At }
func (x *Not) Pos() int       { return x.At }
func (x *Compare) Pos() int   { return x.At }
func (x *IsNull) Pos() int    { return x.At }
func (x *Like) Pos() int      { return x.At }
func (x *In) Pos() int        { return x.At }
func (x *Between) Pos() int   { return x.At }
func (x *Spatial) Pos() int   { return x.At }
func (x *BoolExpr) Pos() int  { return x.At }
func (x *Property) Pos() int  { return x.At }
func (x *String) Pos() int    { return x.At }
func (x *Number) Pos() int    { return x.At }
func (x *Bool) Pos() int      { return x.At }
func (x *Date) Pos() int      { return x.At }
func (x *Timestamp) Pos() int { return x.At }
func (x *Geometry) Pos() int  { return x.At }
func (x *BBox) Pos() int      { return x.At }

// MaxDepth bounds nesting, so a hostile filter cannot exhaust the stack.
const MaxDepth = 64

// MaxLength bounds the filter text (characters are counted as bytes here).
const MaxLength = 64 << 10

var spatialFns = map[string]string{
	"S_INTERSECTS": "ST_Intersects", "S_DISJOINT": "ST_Disjoint", "S_EQUALS": "ST_Equals",
	"S_TOUCHES": "ST_Touches", "S_WITHIN": "ST_Within", "S_OVERLAPS": "ST_Overlaps",
	"S_CROSSES": "ST_Crosses", "S_CONTAINS": "ST_Contains",
}

// reserved words cannot be property names without double quotes.
var reserved = map[string]bool{"AND": true, "OR": true, "NOT": true, "IS": true, "NULL": true,
	"LIKE": true, "IN": true, "BETWEEN": true, "TRUE": true, "FALSE": true, "DATE": true, "TIMESTAMP": true}

type parser struct {
	toks  []token
	i     int
	depth int
}

// Parse parses a CQL2-text filter.
func Parse(src string) (Expr, error) {
	if len(src) > MaxLength {
		return nil, &Error{1, fmt.Sprintf("filter longer than %d bytes", MaxLength)}
	}
	toks, err := lex(src)
	if err != nil {
		return nil, err
	}
	p := &parser{toks: toks}
	if p.peek().kind == tEOF {
		return nil, &Error{1, "empty filter"}
	}
	e, err := p.or()
	if err != nil {
		return nil, err
	}
	if t := p.peek(); t.kind != tEOF {
		return nil, &Error{t.pos, "expected AND, OR or end of filter, found " + t.describe()}
	}
	return e, nil
}

func (p *parser) peek() token { return p.toks[p.i] }
func (p *parser) next() token {
	t := p.toks[p.i]
	if t.kind != tEOF {
		p.i++
	}
	return t
}

func (p *parser) expect(k tokKind, what string) (token, error) {
	t := p.next()
	if t.kind != k {
		return t, &Error{t.pos, "expected " + what + ", found " + t.describe()}
	}
	return t, nil
}

func (p *parser) enter() error {
	p.depth++
	if p.depth > MaxDepth {
		return &Error{p.peek().pos, fmt.Sprintf("filter nested deeper than %d", MaxDepth)}
	}
	return nil
}

func (p *parser) or() (Expr, error) {
	if err := p.enter(); err != nil {
		return nil, err
	}
	defer func() { p.depth-- }()
	l, err := p.and()
	if err != nil {
		return nil, err
	}
	for p.peek().is("OR") {
		t := p.next()
		r, err := p.and()
		if err != nil {
			return nil, err
		}
		l = &Logical{t.pos, "OR", l, r}
	}
	return l, nil
}

func (p *parser) and() (Expr, error) {
	l, err := p.not()
	if err != nil {
		return nil, err
	}
	for p.peek().is("AND") {
		t := p.next()
		r, err := p.not()
		if err != nil {
			return nil, err
		}
		l = &Logical{t.pos, "AND", l, r}
	}
	return l, nil
}

func (p *parser) not() (Expr, error) {
	if p.peek().is("NOT") {
		t := p.next()
		if err := p.enter(); err != nil {
			return nil, err
		}
		defer func() { p.depth-- }()
		x, err := p.not()
		if err != nil {
			return nil, err
		}
		return &Not{t.pos, x}, nil
	}
	return p.primary()
}

func (p *parser) primary() (Expr, error) {
	t := p.peek()
	switch {
	case t.kind == tLParen:
		p.next()
		e, err := p.or()
		if err != nil {
			return nil, err
		}
		if _, err := p.expect(tRParen, "')'"); err != nil {
			return nil, err
		}
		return e, nil
	case t.kind == tIdent && spatialFns[strings.ToUpper(t.text)] != "":
		return p.spatial()
	case (t.is("TRUE") || t.is("FALSE")) && p.toks[p.i+1].kind != tOp && !p.startsPredicateTail(p.toks[p.i+1]):
		p.next()
		return &BoolExpr{t.pos, t.is("TRUE")}, nil
	}
	return p.predicate()
}

// startsPredicateTail reports whether t continues a predicate after its
// first operand (IS, LIKE, IN, BETWEEN or NOT before them).
func (p *parser) startsPredicateTail(t token) bool {
	return t.is("IS") || t.is("LIKE") || t.is("IN") || t.is("BETWEEN") || t.is("NOT")
}

func (p *parser) predicate() (Expr, error) {
	x, err := p.scalar()
	if err != nil {
		return nil, err
	}
	t := p.next()
	switch {
	case t.kind == tOp:
		r, err := p.scalar()
		if err != nil {
			return nil, err
		}
		return &Compare{t.pos, t.text, x, r}, nil
	case t.is("IS"):
		not := false
		if p.peek().is("NOT") {
			p.next()
			not = true
		}
		if n := p.next(); !n.is("NULL") {
			return nil, &Error{n.pos, "expected NULL, found " + n.describe()}
		}
		return &IsNull{t.pos, x, not}, nil
	}
	not := false
	if t.is("NOT") {
		not = true
		t = p.next()
		if !t.is("LIKE") && !t.is("IN") && !t.is("BETWEEN") {
			return nil, &Error{t.pos, "expected LIKE, IN or BETWEEN after NOT, found " + t.describe()}
		}
	}
	switch {
	case t.is("LIKE"):
		s, err := p.expect(tString, "a string pattern")
		if err != nil {
			return nil, err
		}
		return &Like{t.pos, x, String{s.pos, s.text}, not}, nil
	case t.is("IN"):
		if _, err := p.expect(tLParen, "'(' after IN"); err != nil {
			return nil, err
		}
		var list []Operand
		for {
			v, err := p.scalar()
			if err != nil {
				return nil, err
			}
			list = append(list, v)
			c := p.next()
			if c.kind == tRParen {
				break
			}
			if c.kind != tComma {
				return nil, &Error{c.pos, "expected ',' or ')' in IN list, found " + c.describe()}
			}
		}
		return &In{t.pos, x, list, not}, nil
	case t.is("BETWEEN"):
		lo, err := p.scalar()
		if err != nil {
			return nil, err
		}
		if a := p.next(); !a.is("AND") {
			return nil, &Error{a.pos, "expected AND in BETWEEN, found " + a.describe()}
		}
		hi, err := p.scalar()
		if err != nil {
			return nil, err
		}
		return &Between{t.pos, x, lo, hi, not}, nil
	}
	return nil, &Error{t.pos, "expected a comparison operator, found " + t.describe()}
}

func (p *parser) scalar() (Operand, error) {
	t := p.next()
	switch t.kind {
	case tString:
		return &String{t.pos, t.text}, nil
	case tNumber:
		v, err := strconv.ParseFloat(t.text, 64)
		if err != nil || math.IsInf(v, 0) {
			return nil, &Error{t.pos, "number out of range: " + t.text}
		}
		return &Number{t.pos, v}, nil
	case tQuoted:
		if t.text == "" {
			return nil, &Error{t.pos, "empty property name"}
		}
		return &Property{t.pos, t.text}, nil
	case tIdent:
		up := strings.ToUpper(t.text)
		switch up {
		case "TRUE", "FALSE":
			return &Bool{t.pos, up == "TRUE"}, nil
		case "DATE", "TIMESTAMP":
			if _, err := p.expect(tLParen, "'(' after "+up); err != nil {
				return nil, err
			}
			s, err := p.expect(tString, "a quoted "+strings.ToLower(up))
			if err != nil {
				return nil, err
			}
			if _, err := p.expect(tRParen, "')'"); err != nil {
				return nil, err
			}
			if up == "DATE" {
				d, err := time.Parse("2006-01-02", s.text)
				if err != nil {
					return nil, &Error{s.pos, "invalid date, want 'YYYY-MM-DD'"}
				}
				return &Date{t.pos, d}, nil
			}
			ts, err := time.Parse(time.RFC3339Nano, s.text)
			if err != nil {
				return nil, &Error{s.pos, "invalid timestamp, want RFC 3339 (e.g. '2024-01-01T00:00:00Z')"}
			}
			return &Timestamp{t.pos, ts}, nil
		}
		if reserved[up] {
			return nil, &Error{t.pos, "expected a property or a literal, found keyword " + up}
		}
		if _, ok := geomTypes[up]; ok || up == "BBOX" {
			return nil, &Error{t.pos, "geometry literals are only allowed in spatial functions such as S_INTERSECTS"}
		}
		if p.peek().kind == tLParen {
			return nil, &Error{t.pos, "unknown function " + t.text}
		}
		return &Property{t.pos, t.text}, nil
	}
	return nil, &Error{t.pos, "expected a property or a literal, found " + t.describe()}
}

func (p *parser) spatial() (Expr, error) {
	fn := p.next()
	if _, err := p.expect(tLParen, "'(' after "+strings.ToUpper(fn.text)); err != nil {
		return nil, err
	}
	a, err := p.spatialArg()
	if err != nil {
		return nil, err
	}
	if _, err := p.expect(tComma, "','"); err != nil {
		return nil, err
	}
	b, err := p.spatialArg()
	if err != nil {
		return nil, err
	}
	if _, err := p.expect(tRParen, "')'"); err != nil {
		return nil, err
	}
	return &Spatial{fn.pos, strings.ToUpper(fn.text), a, b}, nil
}

var geomTypes = map[string]bool{"POINT": true, "LINESTRING": true, "POLYGON": true, "MULTIPOINT": true,
	"MULTILINESTRING": true, "MULTIPOLYGON": true, "GEOMETRYCOLLECTION": true}

func (p *parser) spatialArg() (Operand, error) {
	t := p.peek()
	up := strings.ToUpper(t.text)
	switch {
	case t.kind == tIdent && up == "BBOX":
		p.next()
		if _, err := p.expect(tLParen, "'(' after BBOX"); err != nil {
			return nil, err
		}
		var v []float64
		for {
			n, err := p.number()
			if err != nil {
				return nil, err
			}
			v = append(v, n)
			c := p.next()
			if c.kind == tRParen {
				break
			}
			if c.kind != tComma {
				return nil, &Error{c.pos, "expected ',' or ')' in BBOX, found " + c.describe()}
			}
		}
		var b [4]float64
		switch len(v) {
		case 4:
			copy(b[:], v)
		case 6:
			b = [4]float64{v[0], v[1], v[3], v[4]}
		default:
			return nil, &Error{t.pos, fmt.Sprintf("BBOX takes 4 or 6 numbers, got %d", len(v))}
		}
		if b[0] > b[2] || b[1] > b[3] {
			return nil, &Error{t.pos, "BBOX minimum greater than maximum"}
		}
		return &BBox{t.pos, b}, nil
	case t.kind == tIdent && geomTypes[up]:
		if err := p.enter(); err != nil {
			return nil, err
		}
		defer func() { p.depth-- }()
		return p.geometry()
	case t.kind == tIdent || t.kind == tQuoted:
		if reserved[up] && t.kind == tIdent {
			break
		}
		if t.kind == tIdent && p.toks[p.i+1].kind == tLParen {
			return nil, &Error{t.pos, "unknown geometry type " + t.text + " (want POINT, LINESTRING, POLYGON, MULTI…, GEOMETRYCOLLECTION or BBOX)"}
		}
		p.next()
		return &Property{t.pos, t.text}, nil
	}
	return nil, &Error{t.pos, "expected a geometry property, a WKT geometry or BBOX(...), found " + t.describe()}
}

func (p *parser) number() (float64, error) {
	t, err := p.expect(tNumber, "a number")
	if err != nil {
		return 0, err
	}
	v, err := strconv.ParseFloat(t.text, 64)
	if err != nil || math.IsInf(v, 0) {
		return 0, &Error{t.pos, "number out of range: " + t.text}
	}
	return v, nil
}

// coord reads "x y [z]".
func (p *parser) coord() ([2]float64, error) {
	x, err := p.number()
	if err != nil {
		return [2]float64{}, err
	}
	y, err := p.number()
	if err != nil {
		return [2]float64{}, err
	}
	if p.peek().kind == tNumber {
		p.next() // z, dropped
	}
	return [2]float64{x, y}, nil
}

// coords reads "(x y, x y, …)"; with parens false the points of MULTIPOINT
// may each stand in their own parentheses.
func (p *parser) coords(min int, what string) ([][2]float64, int, error) {
	open, err := p.expect(tLParen, "'('")
	if err != nil {
		return nil, 0, err
	}
	var pts [][2]float64
	for {
		c, err := p.coord()
		if err != nil {
			return nil, 0, err
		}
		pts = append(pts, c)
		t := p.next()
		if t.kind == tRParen {
			break
		}
		if t.kind != tComma {
			return nil, 0, &Error{t.pos, "expected ',' or ')', found " + t.describe()}
		}
	}
	if len(pts) < min {
		return nil, 0, &Error{open.pos, fmt.Sprintf("%s needs at least %d points", what, min)}
	}
	return pts, open.pos, nil
}

func (p *parser) ring() (*Geometry, error) {
	pts, at, err := p.coords(4, "a polygon ring")
	if err != nil {
		return nil, err
	}
	if pts[0] != pts[len(pts)-1] {
		return nil, &Error{at, "polygon ring is not closed"}
	}
	return &Geometry{At: at, Type: "LINESTRING", Points: pts}, nil
}

func (p *parser) polygonBody(at int) (*Geometry, error) {
	if _, err := p.expect(tLParen, "'('"); err != nil {
		return nil, err
	}
	g := &Geometry{At: at, Type: "POLYGON"}
	for {
		r, err := p.ring()
		if err != nil {
			return nil, err
		}
		g.Parts = append(g.Parts, r)
		t := p.next()
		if t.kind == tRParen {
			return g, nil
		}
		if t.kind != tComma {
			return nil, &Error{t.pos, "expected ',' or ')', found " + t.describe()}
		}
	}
}

// list reads "(item, item, …)".
func (p *parser) list(item func() (*Geometry, error)) ([]*Geometry, error) {
	if _, err := p.expect(tLParen, "'('"); err != nil {
		return nil, err
	}
	var out []*Geometry
	for {
		g, err := item()
		if err != nil {
			return nil, err
		}
		out = append(out, g)
		t := p.next()
		if t.kind == tRParen {
			return out, nil
		}
		if t.kind != tComma {
			return nil, &Error{t.pos, "expected ',' or ')', found " + t.describe()}
		}
	}
}

func (p *parser) geometry() (*Geometry, error) {
	t := p.next()
	typ := strings.ToUpper(t.text)
	g := &Geometry{At: t.pos, Type: typ}
	var err error
	switch typ {
	case "POINT":
		var pts [][2]float64
		pts, _, err = p.coords(1, "a point")
		if err == nil && len(pts) != 1 {
			err = &Error{t.pos, "a point has one coordinate"}
		}
		g.Points = pts
	case "LINESTRING":
		g.Points, _, err = p.coords(2, "a linestring")
	case "POLYGON":
		return p.polygonBody(t.pos)
	case "MULTIPOINT":
		g.Parts, err = p.list(func() (*Geometry, error) {
			if p.peek().kind == tLParen {
				pts, at, err := p.coords(1, "a point")
				if err == nil && len(pts) != 1 {
					err = &Error{at, "a point has one coordinate"}
				}
				return &Geometry{At: at, Type: "POINT", Points: pts}, err
			}
			at := p.peek().pos
			c, err := p.coord()
			return &Geometry{At: at, Type: "POINT", Points: [][2]float64{c}}, err
		})
	case "MULTILINESTRING":
		g.Parts, err = p.list(func() (*Geometry, error) {
			pts, at, err := p.coords(2, "a linestring")
			return &Geometry{At: at, Type: "LINESTRING", Points: pts}, err
		})
	case "MULTIPOLYGON":
		g.Parts, err = p.list(func() (*Geometry, error) { return p.polygonBody(p.peek().pos) })
	case "GEOMETRYCOLLECTION":
		g.Parts, err = p.list(func() (*Geometry, error) {
			if n := p.peek(); n.kind != tIdent || !geomTypes[strings.ToUpper(n.text)] {
				return nil, &Error{n.pos, "expected a WKT geometry, found " + n.describe()}
			}
			if err := p.enter(); err != nil {
				return nil, err
			}
			defer func() { p.depth-- }()
			return p.geometry()
		})
	}
	if err != nil {
		return nil, err
	}
	return g, nil
}

// WKT writes the geometry as WKT; flip swaps the axes (for CRSs whose
// first axis is latitude or northing, since WKT for PostGIS is x/y).
func (g *Geometry) WKT(flip bool) string {
	var b strings.Builder
	g.wkt(&b, flip, true)
	return b.String()
}

func (g *Geometry) wkt(b *strings.Builder, flip, tagged bool) {
	if tagged {
		b.WriteString(g.Type)
	}
	b.WriteByte('(')
	if len(g.Points) > 0 {
		for i, c := range g.Points {
			if i > 0 {
				b.WriteByte(',')
			}
			x, y := c[0], c[1]
			if flip {
				x, y = y, x
			}
			b.WriteString(strconv.FormatFloat(x, 'g', -1, 64))
			b.WriteByte(' ')
			b.WriteString(strconv.FormatFloat(y, 'g', -1, 64))
		}
	}
	for i, part := range g.Parts {
		if i > 0 {
			b.WriteByte(',')
		}
		// Members of collections carry their type; rings, polygons of a
		// multipolygon and points of a multipoint do not.
		part.wkt(b, flip, g.Type == "GEOMETRYCOLLECTION")
	}
	b.WriteByte(')')
}
