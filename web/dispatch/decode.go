package dispatch

import (
	"bytes"
	"strconv"
	"unicode/utf8"
)

// decodeFast reads the common shape of a dispatch body — {"crs": …,
// "tickets": [{"id", "time", "lon", "lat", "category"}, …]} or one ticket's
// fields, strings without escapes — by hand: encoding/json's reflection
// took a third of a second of a 100,000-ticket request. Anything else (an
// escape, an unknown key, invalid UTF-8, bad JSON) answers ok false and the
// caller decodes with encoding/json, so its answers and its error
// messages are the reference; TestDecodeFast compares the two.
func decodeFast(b []byte) (req dispatchBody, ok bool) {
	d := &scan{b: b}
	if !d.object(func(key string) bool {
		switch key {
		case "crs":
			s, isNull, ok := d.str()
			if ok && !isNull {
				req.CRS = s
			}
			return ok
		case "tickets":
			list, ok := d.tickets()
			if ok {
				req.Tickets = list
			}
			return ok
		}
		return d.field(&req.ticketJSON, key)
	}) {
		return req, false
	}
	d.ws()
	return req, d.i == len(d.b)
}

// scan is a cursor over a JSON text.
type scan struct {
	b []byte
	i int
}

func (d *scan) ws() {
	for d.i < len(d.b) && (d.b[d.i] == ' ' || d.b[d.i] == '\t' || d.b[d.i] == '\n' || d.b[d.i] == '\r') {
		d.i++
	}
}

// eat skips whitespace and then c, if it is next.
func (d *scan) eat(c byte) bool {
	d.ws()
	if d.i < len(d.b) && d.b[d.i] == c {
		d.i++
		return true
	}
	return false
}

// object reads {"key": value, …}, each value read by f.
func (d *scan) object(f func(key string) bool) bool {
	if !d.eat('{') {
		return false
	}
	if d.eat('}') {
		return true
	}
	for {
		key, isNull, ok := d.str()
		if !ok || isNull || !d.eat(':') || !f(key) {
			return false
		}
		if d.eat('}') {
			return true
		}
		if !d.eat(',') {
			return false
		}
	}
}

// null reads the literal null, if it is next.
func (d *scan) null() bool {
	d.ws()
	if bytes.HasPrefix(d.b[d.i:], []byte("null")) {
		d.i += 4
		return true
	}
	return false
}

// str reads a string without escapes (or null).
func (d *scan) str() (s string, isNull, ok bool) {
	if d.null() {
		return "", true, true
	}
	if !d.eat('"') {
		return "", false, false
	}
	j := bytes.IndexByte(d.b[d.i:], '"')
	if j < 0 {
		return "", false, false
	}
	raw := d.b[d.i : d.i+j]
	if bytes.IndexByte(raw, '\\') >= 0 || !utf8.Valid(raw) || hasControl(raw) {
		return "", false, false
	}
	d.i += j + 1
	return string(raw), false, true
}

func hasControl(b []byte) bool {
	for _, c := range b {
		if c < 0x20 {
			return true
		}
	}
	return false
}

// number reads a JSON number's text (RFC 8259's grammar exactly).
func (d *scan) number() ([]byte, bool) {
	d.ws()
	start, b := d.i, d.b
	i := d.i
	if i < len(b) && b[i] == '-' {
		i++
	}
	digits := func() int {
		n := 0
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
			n++
		}
		return n
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case digits() == 0:
		return nil, false
	}
	if i < len(b) && b[i] == '.' {
		i++
		if digits() == 0 {
			return nil, false
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if digits() == 0 {
			return nil, false
		}
	}
	d.i = i
	return b[start:i], true
}

// tickets reads the list (null: none).
func (d *scan) tickets() (*[]ticketJSON, bool) {
	if d.null() {
		return nil, true
	}
	if !d.eat('[') {
		return nil, false
	}
	// The count of "}," only estimates the list: a hostile body of nothing
	// else would size a huge allocation, so the estimate is capped and
	// append grows the rest.
	list := make([]ticketJSON, 0, min(bytes.Count(d.b[d.i:], []byte("},"))+1, 1<<14))
	if d.eat(']') {
		return &list, true
	}
	for {
		var t ticketJSON
		if !d.object(func(key string) bool { return d.field(&t, key) }) {
			return nil, false
		}
		list = append(list, t)
		if d.eat(']') {
			return &list, true
		}
		if !d.eat(',') {
			return nil, false
		}
	}
}

// field reads one ticket field's value into t.
func (d *scan) field(t *ticketJSON, key string) bool {
	switch key {
	case "id":
		if d.ws(); d.i < len(d.b) && (d.b[d.i] == '"' || d.b[d.i] == 'n') {
			s, isNull, ok := d.str()
			t.id, t.idSet = s, ok && !isNull
			return ok
		}
		n, ok := d.number()
		t.id, t.idSet = string(n), ok
		return ok
	case "time", "category":
		s, isNull, ok := d.str()
		if ok && !isNull {
			if key == "time" {
				t.Time = s
			} else {
				t.Category = s
			}
		}
		return ok
	case "lon", "lat":
		dst := &t.Lon
		if key == "lat" {
			dst = &t.Lat
		}
		if d.null() {
			*dst = nil
			return true
		}
		n, ok := d.number()
		if !ok {
			return false
		}
		f, err := strconv.ParseFloat(string(n), 64)
		if err != nil { // out of range: encoding/json's error
			return false
		}
		*dst = &f
		return true
	}
	return false
}
