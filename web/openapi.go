package web

import (
	_ "embed"
	"net/http"

	"github.com/labstack/echo/v4"
)

// openAPIDoc describes every /api/v1 route; TestOpenAPICoversRoutes keeps
// it and the router in step.
//
//go:embed openapi.json
var openAPIDoc []byte

func (s *Server) openAPI(c echo.Context) error {
	return c.Blob(http.StatusOK, echo.MIMEApplicationJSON, openAPIDoc)
}

// docsPage renders openapi.json in the browser with a few lines of inline
// script: no CDN, so it works offline and behind strict firewalls.
const docsPage = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>jiedao API</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font:15px/1.45 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#222}
h2{border-bottom:1px solid #ddd;padding-bottom:.2rem;margin-top:2rem}
.op{border:1px solid #ddd;border-radius:6px;margin:.8rem 0;padding:.6rem .9rem}
.m{display:inline-block;min-width:4.2rem;font-weight:600;font-family:monospace}
.GET{color:#0a6}.POST{color:#06c}.PUT{color:#c70}.DELETE{color:#c22}
code,.p{font-family:ui-monospace,monospace;font-size:90%}
table{border-collapse:collapse;margin:.4rem 0}td,th{border:1px solid #e4e4e4;padding:.2rem .5rem;text-align:left;vertical-align:top}
.sec{font-size:85%;color:#666}
</style></head><body>
<h1 id="title">jiedao API</h1><p id="desc"></p><div id="ops">Loading openapi.json…</div>
<script>
const esc = s => String(s ?? '').replace(/[&<>"]/g, c => ({'&':'&amp;','<':'&lt;','>':'&gt;','"':'&quot;'}[c]));
fetch('openapi.json').then(r => r.json()).then(doc => {
  document.getElementById('title').textContent = doc.info.title + ' ' + doc.info.version;
  document.getElementById('desc').textContent = doc.info.description || '';
  const out = [];
  const groups = {};
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(item)) {
      if (method === 'parameters') continue;
      const tag = (op.tags || ['other'])[0];
      (groups[tag] = groups[tag] || []).push([path, method.toUpperCase(), op, item.parameters || []]);
    }
  }
  for (const [tag, ops] of Object.entries(groups)) {
    out.push('<h2>' + esc(tag) + '</h2>');
    for (const [path, m, op, common] of ops) {
      out.push('<div class="op"><span class="m ' + m + '">' + m + '</span> <span class="p">' + esc(path) + '</span>');
      out.push('<div>' + esc(op.summary) + '</div>');
      if (op.description) out.push('<div class="sec">' + esc(op.description) + '</div>');
      if (op.security && op.security.length) out.push('<div class="sec">needs an API key (Authorization: Bearer …)</div>');
      const params = common.concat(op.parameters || []);
      if (params.length) {
        out.push('<table><tr><th>parameter</th><th>in</th><th>description</th></tr>');
        for (const p of params) out.push('<tr><td><code>' + esc(p.name) + '</code>' + (p.required ? ' *' : '') + '</td><td>' + esc(p.in) + '</td><td>' + esc(p.description) + '</td></tr>');
        out.push('</table>');
      }
      if (op.requestBody) out.push('<div class="sec">body: ' + esc(Object.keys(op.requestBody.content || {}).join(', ')) + ' — ' + esc(op.requestBody.description) + '</div>');
      out.push('<table><tr><th>status</th><th>response</th></tr>');
      for (const [code, r] of Object.entries(op.responses || {})) out.push('<tr><td>' + esc(code) + '</td><td>' + esc(r.description) + '</td></tr>');
      out.push('</table></div>');
    }
  }
  document.getElementById('ops').innerHTML = out.join('');
}).catch(e => { document.getElementById('ops').textContent = 'Could not load openapi.json: ' + e; });
</script></body></html>
`

func (s *Server) docs(c echo.Context) error {
	return c.HTML(http.StatusOK, docsPage)
}
