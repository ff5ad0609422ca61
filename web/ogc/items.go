package ogc

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/jiedao/jiedao/boundaries"
	"github.com/jiedao/jiedao/boundaries/layers"
	"github.com/jiedao/jiedao/web/param"
)

// featureQuery reads the items parameters.
func (o *Handler) featureQuery(c echo.Context, l *layers.Layer, items bool) (layers.FeatureQuery, error) {
	q := layers.FeatureQuery{Layer: l.Name, Limit: defaultLimit}
	var err error
	if q.Profile, err = o.profiles.Profile(c); err != nil {
		return q, err
	}
	if q.At, err = asOf(c); err != nil {
		return q, err
	}
	if q.Scenario, err = param.Scenario(c); err != nil {
		return q, err
	}
	if q.CRS, err = crsParam(c, "crs"); err != nil {
		return q, err
	}
	if !items {
		return q, nil // one feature: an interval's end day
	}
	if q.Interval, err = interval(c); err != nil {
		return q, err
	}
	if v := c.QueryParam("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return q, invalid("limit", fmt.Sprintf("%q is not a positive integer", v))
		}
		q.Limit = min(n, maxLimit) // larger limits are clamped, as the standard allows
	}
	if v := c.QueryParam("offset"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return q, invalid("offset", fmt.Sprintf("%q is not a non-negative integer", v))
		}
		q.Offset = n
	}
	// The cursor comes from a next link; an offset with it would be
	// ambiguous (from the start, or after the cursor?).
	if q.Cursor = c.QueryParam("cursor"); q.Cursor != "" && c.QueryParam("offset") != "" {
		return q, invalid("cursor", "give cursor or offset, not both")
	}
	if v := c.QueryParam("bbox"); v != "" {
		for _, part := range strings.Split(v, ",") {
			x, err := strconv.ParseFloat(strings.TrimSpace(part), 64)
			if err != nil {
				return q, invalid("bbox", fmt.Sprintf("%q is not a number", part))
			}
			q.BBox = append(q.BBox, x)
		}
		if len(q.BBox) != 4 && len(q.BBox) != 6 {
			return q, invalid("bbox", "want 4 or 6 comma-separated numbers")
		}
	}
	if q.BBoxCRS, err = crsParam(c, "bbox-crs"); err != nil {
		return q, err
	}
	if c.QueryParam("bbox-crs") != "" && q.BBox == nil {
		return q, invalid("bbox-crs", "given without bbox")
	}
	q.Filter = c.QueryParam("filter")
	if lang := c.QueryParam("filter-lang"); lang != "" && !slices.Contains(filterLangs, lang) {
		return q, invalid("filter-lang", fmt.Sprintf("unsupported %q (want cql2-text)", lang))
	}
	if q.FilterCRS, err = crsParam(c, "filter-crs"); err != nil {
		return q, err
	}
	for k, v := range c.QueryParams() {
		if slices.Contains(itemsParams, k) {
			continue
		}
		if len(v) != 1 {
			return q, invalid(k, "give it once")
		}
		if q.Equal == nil {
			q.Equal = map[string]string{}
		}
		q.Equal[k] = v[0]
	}
	return q, nil
}

func (o *Handler) items(c echo.Context) error {
	l, f, err := collectionRequest(c, itemsParams, true)
	if err != nil {
		return err
	}
	q, err := o.featureQuery(c, l, true)
	if err != nil {
		return err
	}
	cur, err := o.layers.Features(c.Request().Context(), q)
	if err != nil {
		return err
	}
	defer cur.Close()
	path := baseURL(c) + "/collections/" + l.Name + "/items"
	links := selfLinks(c, path, f, mediaGeoJSON)
	// next pages by keyset, so page n costs what page 1 does; prev only
	// where the offset is known.
	if cur.NextPage != "" {
		links = append(links, Link{Href: withQuery(c, path, map[string]string{"cursor": cur.NextPage, "offset": "",
			"limit": strconv.Itoa(q.Limit)}), Rel: "next", Type: mediaGeoJSON, Title: "next page"})
	}
	if q.Offset > 0 {
		links = append(links, Link{Href: withQuery(c, path, map[string]string{"offset": strconv.Itoa(max(0, q.Offset-q.Limit)),
			"limit": strconv.Itoa(q.Limit)}), Rel: "prev", Type: mediaGeoJSON, Title: "previous page"})
	}
	links = append(links, Link{Href: baseURL(c) + "/collections/" + l.Name, Rel: "collection", Type: mediaJSON, Title: l.Title})
	if f == "html" {
		return itemsHTML(c, l, cur, links, q)
	}
	h := c.Response().Header()
	h.Set(echo.HeaderContentType, mediaGeoJSON)
	h.Set("Content-Crs", "<"+q.CRS.URI+">")
	c.Response().WriteHeader(http.StatusOK)
	w := bufio.NewWriterSize(c.Response(), 64<<10)
	lj, _ := json.Marshal(links)
	head := fmt.Sprintf(`{"type":"FeatureCollection","numberMatched":%d,"features":[`, cur.Matched)
	if _, err := layers.WriteCollection(w, head, cur, func(n int) string {
		return fmt.Sprintf("\n],\"numberReturned\":%d,\"timeStamp\":%q,\"links\":%s}\n", n, time.Now().UTC().Format(time.RFC3339), lj)
	}); err != nil {
		return fmt.Errorf("items %s: %w", l.Name, err) // a database error, or the client gone
	}
	return w.Flush()
}

func (o *Handler) item(c echo.Context) error {
	l, f, err := collectionRequest(c, routeParams("crs"), false)
	if err != nil {
		return err
	}
	q, err := o.featureQuery(c, l, false)
	if err != nil {
		return err
	}
	q.ID = c.Param("feature")
	if id, err := url.PathUnescape(q.ID); err == nil {
		q.ID = id
	}
	feat, err := o.layers.Feature(c.Request().Context(), q)
	if errors.Is(err, boundaries.ErrNotFound) {
		return notFound(fmt.Sprintf("no feature %q in collection %s", q.ID, l.Name))
	}
	if err != nil {
		return err
	}
	path := baseURL(c) + "/collections/" + l.Name + "/items/" + url.PathEscape(q.ID)
	links := append(selfLinks(c, path, f, mediaGeoJSON),
		Link{Href: baseURL(c) + "/collections/" + l.Name, Rel: "collection", Type: mediaJSON, Title: l.Title})
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(feat, &doc); err != nil {
		return fmt.Errorf("feature %s: %w", q.ID, err)
	}
	doc["links"], _ = json.Marshal(links)
	if f == "html" {
		return render(c, f, http.StatusOK, mediaGeoJSON, doc)
	}
	c.Response().Header().Set("Content-Crs", "<"+q.CRS.URI+">")
	o.setETag(c, l, q.ID)
	body, _ := json.Marshal(doc)
	return c.Blob(http.StatusOK, mediaGeoJSON, body)
}
