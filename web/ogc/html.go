package ogc

import (
	"encoding/json"
	"fmt"
	"html/template"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/jiedao/jiedao/boundaries/layers"
)

// --- HTML ---

var pageTemplate = template.Must(template.New("page").Parse(`<!doctype html>
<html lang="zh"><head><meta charset="utf-8"><title>{{.Title}}</title>
<style>body{font-family:sans-serif;margin:2em;max-width:80em}table{border-collapse:collapse;font-size:90%}
td,th{border:1px solid #ccc;padding:.2em .5em;text-align:left}pre{background:#f6f6f6;padding:1em;overflow:auto}</style>
</head><body><h1>{{.Title}}</h1>
{{if .Links}}<ul>{{range .Links}}<li><a href="{{.Href}}">{{if .Title}}{{.Title}}{{else}}{{.Rel}}{{end}}</a> <small>({{.Rel}}{{if .Type}}, {{.Type}}{{end}})</small></li>{{end}}</ul>{{end}}
{{if .Header}}<p>{{.Summary}}</p><table><tr>{{range .Header}}<th>{{.}}</th>{{end}}</tr>
{{range .Rows}}<tr>{{range .}}<td>{{.}}</td>{{end}}</tr>
{{end}}</table>{{end}}
{{if .JSON}}<pre>{{.JSON}}</pre>{{end}}
</body></html>`))

type pageData struct {
	Title   string
	Links   []Link
	Summary string
	Header  []string
	Rows    [][]string
	JSON    string
}

// render writes doc as JSON (with the given media type) or as a simple
// HTML page listing its links and showing the document.
func render(c echo.Context, f string, status int, jsonType string, doc any) error {
	if f != "html" {
		body, err := json.Marshal(doc)
		if err != nil {
			return fmt.Errorf("render: %w", err)
		}
		return c.Blob(status, jsonType, body)
	}
	p := pageData{Title: "jiedao OGC API"}
	raw, _ := json.Marshal(doc)
	var generic struct {
		Title string `json:"title"`
		ID    any    `json:"id"`
		Links []Link `json:"links"`
	}
	json.Unmarshal(raw, &generic) //nolint:errcheck
	if generic.Title != "" {
		p.Title = generic.Title
	} else if generic.ID != nil {
		p.Title = fmt.Sprint(generic.ID)
	}
	p.Links = generic.Links
	pretty, _ := json.MarshalIndent(doc, "", "  ")
	p.JSON = string(pretty)
	c.Response().Header().Set(echo.HeaderContentType, echo.MIMETextHTMLCharsetUTF8)
	c.Response().WriteHeader(status)
	return pageTemplate.Execute(c.Response(), p)
}

// itemsHTML renders a page of features as a table of properties.
func itemsHTML(c echo.Context, l *layers.Layer, cur *layers.FeatureCursor, links []Link, q layers.FeatureQuery) error {
	p := pageData{Title: l.Title, Links: links}
	for _, f := range l.Fields {
		p.Header = append(p.Header, f.Name)
	}
	for cur.Next() {
		var feat struct {
			Properties map[string]any `json:"properties"`
		}
		if err := json.Unmarshal(cur.Feature(), &feat); err != nil {
			return fmt.Errorf("items html: %w", err)
		}
		row := make([]string, len(l.Fields))
		for i, f := range l.Fields {
			if v := feat.Properties[f.Name]; v != nil {
				row[i] = fmt.Sprint(v)
			}
		}
		p.Rows = append(p.Rows, row)
	}
	if err := cur.Err(); err != nil {
		return fmt.Errorf("items %s: %w", l.Name, err)
	}
	p.Summary = fmt.Sprintf("%d of %d features, from %d", len(p.Rows), cur.Matched, q.Offset+1)
	if q.Cursor != "" {
		p.Summary = fmt.Sprintf("%d of %d features", len(p.Rows), cur.Matched)
	}
	c.Response().Header().Set(echo.HeaderContentType, echo.MIMETextHTMLCharsetUTF8)
	c.Response().WriteHeader(http.StatusOK)
	return pageTemplate.Execute(c.Response(), p)
}
