package dispatch

import (
	"bytes"
	"encoding/json"
	"fmt"
	"testing"
)

var decodeSamples = []struct {
	body string
	fast bool // decodeFast reads it (else it leaves it to encoding/json)
}{
	{`{"crs":"EPSG:4326","tickets":[{"id":"a","time":"2025-06-01T10:00:00+08:00","lon":116.4,"lat":39.9,"category":"噪音"}]}`, true},
	{` { "tickets" : [ { "id" : 17 , "lon" : -1.5e2 , "lat" : 0 } , {"id":" x ","lon":1E-7,"lat":-0.0} ] , "crs" : "gcj02" } `, true},
	{`{"id":"one","time":"2025-06-01","lon":116,"lat":39,"category":""}`, true},
	{`{"tickets":[]}`, true},
	{`{"tickets":null,"crs":null,"id":null,"lon":null}`, true},
	{`{}`, true},
	{`{"tickets":[{"id":"a","lon":1,"lon":2,"time":"t","time":null}]}`, true},
	{`{"tickets":[{"ID":"a"}]}`, false},                     // encoding/json matches keys case-insensitively
	{`{"tickets":[{"id":"a\"b"}]}`, false},                  // an escape
	{`{"tickets":[{"id":"a","extra":1}]}`, false},           // an unknown key
	{`{"tickets":[{"id":01}]}`, false},                      // not JSON
	{`{"tickets":[{"id":"a","lon":1e999}]}`, false},         // out of range
	{`{"tickets":[{"id":"a","lon":"1"}]}`, false},           // a string for a number
	{`{"tickets":[{"id":"a"},]}`, false},                    // trailing comma
	{`{"tickets":[{"id":"a"}]} trailing`, false},            // trailing text
	{"{\"tickets\":[{\"id\":\"\xff\"}]}", false},            // invalid UTF-8
	{`{"tickets":[{"id":"a","lon":.5}]}`, false},            // not a JSON number
	{`{"tickets":[{"id":"a","lon":1.}]}`, false},            // not a JSON number
	{`{"tickets":[{"id":"a","lon":-}]}`, false},             // not a JSON number
	{`{"tickets":[{"id":true}]}`, false},                    // a bool id
	{`[{"id":"a"}]`, false},                                 // a bare list
	{`{"tickets":[{"id":"a","category":"tab	in"}]}`, false}, // a raw control character
	{``, false},
}

// sameBody says whether two decodings are the same request.
func sameBody(a, b dispatchBody) error {
	if a.CRS != b.CRS || (a.Tickets == nil) != (b.Tickets == nil) {
		return fmt.Errorf("crs %q / %q, tickets %v / %v", a.CRS, b.CRS, a.Tickets == nil, b.Tickets == nil)
	}
	list := func(x dispatchBody) []ticketJSON {
		l := []ticketJSON{x.ticketJSON}
		if x.Tickets != nil {
			l = append(l, *x.Tickets...)
		}
		return l
	}
	la, lb := list(a), list(b)
	if len(la) != len(lb) {
		return fmt.Errorf("%d / %d tickets", len(la), len(lb))
	}
	num := func(p *float64) string {
		if p == nil {
			return "nil"
		}
		return fmt.Sprint(*p)
	}
	for i := range la {
		x, y := la[i], lb[i]
		if rawID(x) != rawID(y) || x.Time != y.Time || x.Category != y.Category || num(x.Lon) != num(y.Lon) || num(x.Lat) != num(y.Lat) {
			return fmt.Errorf("ticket %d: %q %q %q %s %s / %q %q %q %s %s", i, rawID(x), x.Time, x.Category, num(x.Lon), num(x.Lat),
				rawID(y), y.Time, y.Category, num(y.Lon), num(y.Lat))
		}
	}
	return nil
}

// checkDecode: whatever decodeFast reads, encoding/json reads the same.
func checkDecode(t *testing.T, body []byte) bool {
	fast, ok := decodeFast(body)
	if !ok {
		return false
	}
	var std dispatchBody
	if err := json.NewDecoder(bytes.NewReader(body)).Decode(&std); err != nil {
		t.Fatalf("decodeFast read %q, encoding/json refuses it: %v", body, err)
	}
	if err := sameBody(fast, std); err != nil {
		t.Fatalf("%q: fast / encoding/json: %v", body, err)
	}
	return true
}

// TestDecodeFast: the hand-written reader agrees with encoding/json on
// what it reads and leaves everything else to it.
func TestDecodeFast(t *testing.T) {
	for _, s := range decodeSamples {
		if got := checkDecode(t, []byte(s.body)); got != s.fast {
			t.Errorf("%q: fast path %v, want %v", s.body, got, s.fast)
		}
	}
	if !checkDecode(t, batchJSON(1000)) {
		t.Error("the benchmark's body is not read by the fast path")
	}
}

func FuzzDecodeFast(f *testing.F) {
	for _, s := range decodeSamples {
		f.Add([]byte(s.body))
	}
	f.Fuzz(func(t *testing.T, body []byte) { checkDecode(t, body) })
}
