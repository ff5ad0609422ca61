package dispatch_test

import (
	"bytes"
	"errors"
	"io"
	"testing"

	"github.com/jiedao/jiedao/boundaries/dispatch"
)

// FuzzReadTickets: no input makes the reader panic, run away or return a
// ticket CheckTicket refuses; every refusal is an error, not a crash.
func FuzzReadTickets(f *testing.F) {
	for _, s := range []string{
		"id,time,lon,lat,category\na,2025-01-01 08:00,116.4,39.9,噪音\n",
		"\ufeffID,Time,Lat,Lon\nx,2025-01-01T08:00:00Z,39.9,116.4\n",
		"id,time,lon,lat\n\"a\nb\",2025-01-01,NaN,1\n",
		"id,time,lon,lat\n,2025-01-01,1,1\n",
		"lon,lat\n1,2\n",
		"id,time,lon,lat,category\na,2025-01-01,116.4,39.9,\xd4\xeb\xd2\xf4\n",
	} {
		f.Add([]byte(s))
	}
	crs, _ := dispatch.ParseCRS("gcj02")
	f.Fuzz(func(t *testing.T, b []byte) {
		ts, err := dispatch.ReadTickets(bytes.NewReader(b), crs, 1000)
		if err != nil {
			if err.Error() == "" {
				t.Fatal("an error without a message")
			}
			return
		}
		for i := range ts {
			if field, msg := dispatch.CheckTicket(&ts[i]); field != "" {
				t.Fatalf("ticket %+v passed the reader but %s: %s", ts[i], field, msg)
			}
		}
		// The streaming reader agrees.
		rd, err := dispatch.NewReader(bytes.NewReader(b), crs)
		if err != nil {
			t.Fatalf("ReadTickets accepted what NewReader refuses: %v", err)
		}
		n := 0
		for {
			_, err := rd.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("row error after ReadTickets accepted the input: %v", err)
			}
			n++
		}
		if n != len(ts) {
			t.Fatalf("stream %d tickets, batch %d", n, len(ts))
		}
	})
}
