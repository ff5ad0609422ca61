package web

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/jiedao/jiedao/boundaries/store"
	"github.com/jiedao/jiedao/web/param"
)

// oasDispatch calls the dispatch routes: one ticket and a batch (JSON and
// CSV), a replay, the refusals (bad rows, a moved ticket, a bad CRS, a
// viewer's reassignment), a reassignment, the ticket, disputes, workload.
func oasDispatch(t *testing.T, c *oasChecker, st *store.Store, keys map[string]string) {
	_, man := demoCity(t)
	ed, vw := keys["editor"], keys["viewer"]
	lon, lat := (man.BBox[0]+man.BBox[2])/2, (man.BBox[1]+man.BBox[3])/2
	one := fmt.Sprintf(`{"id":"oas-1","time":"2025-03-01 09:30","lon":%f,"lat":%f,"category":"噪音"}`, lon, lat)
	var r struct {
		Community *struct{ Code string } `json:"community"`
		Stored    bool                   `json:"stored"`
	}
	json.Unmarshal(c.want(t, 200, "", "POST", "/api/v1/dispatch", ed, []byte(one), nil), &r) //nolint:errcheck
	if r.Community == nil || r.Stored {
		t.Errorf("dispatch one: %+v", r)
	}
	json.Unmarshal(c.want(t, 200, "", "POST", "/api/v1/dispatch", ed, []byte(one), nil), &r) //nolint:errcheck
	if !r.Stored {
		t.Errorf("dispatch again: %+v, want the stored answer", r)
	}
	batch := fmt.Sprintf(`{"crs":"gcj02","tickets":[{"id":7,"time":"2025-03-02T08:00:00+08:00","lon":%f,"lat":%f},
		{"id":"oas-out","time":"2025-03-02","lon":0,"lat":0}]}`, lon+0.006, lat+0.001)
	c.want(t, 200, "", "POST", "/api/v1/dispatch", ed, []byte(batch), nil)
	csvBody := fmt.Sprintf("\uFEFFid,time,lon,lat,category\ncsv-1,2025-03-03 10:00,%f,%f,占道\n", lon, lat)
	c.want(t, 200, "", "POST", "/api/v1/dispatch", ed, []byte(csvBody), map[string]string{"Content-Type": "text/csv"})

	before := countTickets(t, st)
	bad := fmt.Sprintf(`{"tickets":[{"id":"ok-x","time":"2025-03-01","lon":%f,"lat":%f},{"time":"2025-03-01","lon":%f,"lat":%f},
		{"id":"no-lat","time":"2025-03-01","lon":1}]}`, lon, lat, lon, lat)
	got := c.want(t, 422, param.CodeValidationFailed, "POST", "/api/v1/dispatch", ed, []byte(bad), nil)
	if !strings.Contains(string(got), `"row":2`) || !strings.Contains(string(got), `"row":3`) {
		t.Errorf("bad rows not named: %s", got)
	}
	c.want(t, 422, param.CodeValidationFailed, "POST", "/api/v1/dispatch", ed,
		[]byte("id,time,lon,lat\nn1,2025-03-01,NaN,39.9\n"), map[string]string{"Content-Type": "text/csv"})
	moved := strings.Replace(one, fmt.Sprintf("%f", lon), fmt.Sprintf("%f", lon+0.001), 1)
	c.want(t, 409, param.CodeConflict, "POST", "/api/v1/dispatch", ed, []byte(moved), nil)
	c.want(t, 400, param.CodeInvalidParameter, "POST", "/api/v1/dispatch?crs=mars", ed, []byte(one), nil)
	c.want(t, 400, param.CodeInvalidBody, "POST", "/api/v1/dispatch", ed, []byte(`{"tickets":[`), nil)
	c.want(t, 401, param.CodeUnauthorized, "POST", "/api/v1/dispatch", "", []byte(one), nil)
	if n := countTickets(t, st); n != before {
		t.Errorf("refused requests stored %d tickets", n-before)
	}

	var to string
	if err := st.Primary().QueryRow(t.Context(), `SELECT code FROM units WHERE level = 'community' AND valid_to IS NULL
		AND code <> $1 ORDER BY code LIMIT 1`, r.Community.Code).Scan(&to); err != nil {
		t.Fatal(err)
	}
	body := []byte(`{"to":"` + to + `","reason":"不属于本社区"}`)
	c.want(t, 403, param.CodeForbidden, "POST", "/api/v1/tickets/oas-1/reassign", vw, body, nil)
	c.want(t, 200, "", "POST", "/api/v1/tickets/oas-1/reassign", ed, body, nil)
	c.want(t, 422, param.CodeValidationFailed, "POST", "/api/v1/tickets/oas-1/reassign", ed, body, nil) // already there
	c.want(t, 404, param.CodeNotFound, "POST", "/api/v1/tickets/nope/reassign", ed, body, nil)
	c.want(t, 400, param.CodeInvalidBody, "POST", "/api/v1/tickets/oas-1/reassign", ed, []byte(`{"to":1}`), nil)
	c.want(t, 200, "", "GET", "/api/v1/tickets/oas-1", vw, nil, nil)
	c.want(t, 401, param.CodeUnauthorized, "GET", "/api/v1/tickets/oas-1", "", nil, nil)
	c.want(t, 404, param.CodeNotFound, "GET", "/api/v1/tickets/nope", vw, nil, nil)
	c.want(t, 200, "", "GET", "/api/v1/disputes", vw, nil, nil)
	c.want(t, 200, "", "GET", "/api/v1/disputes?since=2025-01-01&until=2026-01-01&limit=5", vw, nil, nil)
	c.want(t, 400, param.CodeInvalidParameter, "GET", "/api/v1/disputes?since=2026-01-01&until=2025-01-01", vw, nil, nil)
	c.want(t, 200, "", "GET", "/api/v1/workload?level=street", vw, nil, nil)
	c.want(t, 200, "", "GET", "/api/v1/workload?since=2025-03-01", vw, nil, nil)
	c.want(t, 400, param.CodeInvalidParameter, "GET", "/api/v1/workload?level=planet", vw, nil, nil)
	t.Logf("dispatch routes: %d tickets stored", countTickets(t, st))
}

func countTickets(t *testing.T, st *store.Store) int {
	t.Helper()
	var n int
	if err := st.Primary().QueryRow(t.Context(), `SELECT count(*) FROM tickets`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}
