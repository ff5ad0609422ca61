// jiedao map page: MapLibre over the server's vector tiles. Labels are HTML
// markers (local CJK fonts), so no glyph server is needed and it works
// offline.
(async function () {
  'use strict';
  const $ = (id) => document.getElementById(id);
  const esc = (s) => String(s ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]));
  const getJSON = async (url) => {
    const r = await fetch(url);
    if (!r.ok) throw new Error(url + ': ' + r.status);
    return r.json();
  };
  const cfg = await getJSON('/map/api/config');
  const state = { profile: cfg.default_profile, at: '', colour: 'status', status: '', street: null, selected: null };
  const LAYERS = ['districts', 'streets', 'communities', 'zones'];

  // query is ?profile=&at= as the tile, analysis and download routes take it.
  function query(extra) {
    const p = new URLSearchParams();
    if (state.profile !== cfg.default_profile) p.set('profile', state.profile);
    if (state.at) p.set('at', state.at);
    for (const [k, v] of Object.entries(extra || {})) if (v) p.set(k, v);
    const s = p.toString();
    return s ? '?' + s : '';
  }

  for (const name of cfg.profiles) $('profile').add(new Option(name, name, false, name === state.profile));
  $('at').value = cfg.today;
  $('community-minzoom').textContent = cfg.minzoom.communities;

  const districts = await getJSON('/tiles/districts.json');
  const map = new maplibregl.Map({
    container: 'map',
    style: '/tiles/style.json',
    bounds: [[districts.bounds[0], districts.bounds[1]], [districts.bounds[2], districts.bounds[3]]],
    fitBoundsOptions: { padding: 20 },
    attributionControl: { compact: true },
  });
  map.addControl(new maplibregl.NavigationControl(), 'top-right');
  map.addControl(new maplibregl.ScaleControl(), 'bottom-right');
  window.jiedaoMap = map;
  map.on('idle', () => { window.jiedaoIdle = true; });

  // ---- legend and colouring ----
  function legend() {
    let h = '';
    if (state.colour === 'status') {
      for (const [k, c] of cfg.status_colors) h += `<div><span class="swatch" style="background:${c}"></span>${k}</div>`;
    } else {
      for (const [v, c] of cfg.density_stops) h += `<div><span class="swatch" style="background:${c}"></span>${v.toLocaleString()} /km²</div>`;
    }
    h += '<div style="margin-top:4px">zones:</div>';
    for (const [k, c] of cfg.zone_colors) h += `<div><span class="swatch" style="background:${c}"></span>${k}</div>`;
    $('legend').innerHTML = h;
  }
  function applyColour() {
    map.setLayoutProperty('communities-fill', 'visibility', state.colour === 'status' ? 'visible' : 'none');
    map.setLayoutProperty('communities-density', 'visibility', state.colour === 'density' ? 'visible' : 'none');
    const f = state.status ? ['==', ['get', 'status'], state.status] : null;
    map.setFilter('communities-fill', f);
    map.setFilter('communities-density', f);
    legend();
  }

  // ---- labels: HTML markers at label points, by zoom, only in view ----
  let places = { districts: [], streets: [] };
  let markers = [];
  async function loadPlaces() {
    const q = query();
    const [d, s] = await Promise.all([getJSON('/map/api/places/districts' + q), getJSON('/map/api/places/streets' + q)]);
    places = { districts: d, streets: s };
    labels();
  }
  function labels() {
    for (const m of markers) m.remove();
    markers = [];
    const z = map.getZoom(), b = map.getBounds();
    const show = [];
    if (z < 12.5) show.push(['districts', 'label-district']);
    if (z >= cfg.minzoom.streets + 2) show.push(['streets', 'label-street']);
    for (const [layer, cls] of show) {
      for (const p of places[layer]) {
        if (markers.length >= 250) break;
        if (!b.contains([p.lon, p.lat])) continue;
        const el = document.createElement('div');
        el.className = 'label ' + cls;
        el.textContent = p.name;
        markers.push(new maplibregl.Marker({ element: el }).setLngLat([p.lon, p.lat]).addTo(map));
      }
    }
  }
  map.on('moveend', labels);

  // ---- panel ----
  const fmt = (v, d = 0) => (v === undefined || v === null || v === '') ? '–' : Number(v).toLocaleString(undefined, { maximumFractionDigits: d });
  async function showUnit(props, level) {
    state.selected = props.code;
    map.setFilter('selected-line', ['==', ['get', 'code'], level === 'community' ? props.code : '']);
    map.setFilter('selected-street-line', ['==', ['get', 'code'], level === 'street' ? props.code : '']);
    const staff = props.staff_min != null ? `${fmt(props.staff_min)}–${fmt(props.staff_max)}` : '–';
    const color = Object.fromEntries(cfg.status_colors)[props.status] || '#999';
    const panel = $('panel');
    panel.hidden = false;
    panel.innerHTML = `<h2 id="panel-name">${esc(props.name)}</h2>
      <table>
      <tr><td>code 代码</td><td id="panel-code">${esc(props.code)}</td></tr>
      <tr><td>level</td><td>${esc(level)}</td></tr>
      <tr><td>parent 上级</td><td>${esc(props.parent_code)}</td></tr>
      <tr><td>households 户数</td><td>${fmt(props.households)}</td></tr>
      <tr><td>population 人口</td><td>${fmt(props.population)}</td></tr>
      <tr><td>area 面积</td><td>${fmt(props.area_km2, 3)} km²</td></tr>
      <tr><td>density 密度</td><td>${fmt(props.density)} /km²</td></tr>
      <tr><td>status 状态</td><td><span class="tag" style="background:${color}">${esc(props.status)}</span></td></tr>
      <tr><td>reasons 原因</td><td>${esc(props.reasons || '–')}</td></tr>
      <tr><td>staff 社工</td><td>${staff}</td></tr>
      </table><h2>History 沿革</h2><table class="history" id="panel-history"><tr><td>loading…</td></tr></table>`;
    state.street = level === 'community' ? props.parent_code : (level === 'street' ? props.code : null);
    histogram();
    downloads();
    try {
      const h = await getJSON('/map/api/history/' + encodeURIComponent(props.code));
      $('panel-history').innerHTML = h.map((v) => `<tr><td>${v.valid_from.slice(0, 10)} → ${v.valid_to ? v.valid_to.slice(0, 10) : 'now'}</td>
        <td>${esc(v.name)}, ${fmt(v.households)} hh, ${fmt(v.area_km2, 3)} km²${v.approval ? ', ' + esc(v.approval) : ''}</td></tr>`).join('');
    } catch (e) {
      $('panel-history').innerHTML = `<tr><td>${esc(e.message)}</td></tr>`;
    }
  }
  map.on('click', (e) => {
    for (const [layer, level] of [['communities-fill', 'community'], ['communities-density', 'community'], ['streets-fill', 'street']]) {
      if (map.getLayoutProperty(layer, 'visibility') === 'none') continue;
      const fs = map.queryRenderedFeatures(e.point, { layers: [layer] });
      if (fs.length) { showUnit(fs[0].properties, level); return; }
    }
  });
  for (const l of ['communities-fill', 'communities-density', 'streets-fill']) {
    map.on('mouseenter', l, () => { map.getCanvas().style.cursor = 'pointer'; });
    map.on('mouseleave', l, () => { map.getCanvas().style.cursor = ''; });
  }

  async function zoomTo(codes) {
    const e = await getJSON('/map/api/extent' + query({ codes: codes.join(',') }));
    map.fitBounds([[e.bbox[0], e.bbox[1]], [e.bbox[2], e.bbox[3]]], { padding: 60, maxZoom: 16 });
  }

  // ---- findings ----
  async function findings() {
    const f = await getJSON('/api/v1/findings' + query());
    const colors = Object.fromEntries(cfg.status_colors), zc = Object.fromEntries(cfg.zone_colors);
    const items = [];
    for (const z of f.zones) items.push({ codes: z.codes, html: `<span class="tag" style="background:${zc[z.kind] || '#000'}">${esc(z.kind)}</span>${esc(z.codes.join(', '))} · ${fmt(z.area_m2)} m²` });
    for (const u of f.units) items.push({ codes: [u.code], html: `<span class="tag" style="background:${colors[u.status]}">${esc(u.status)}</span>${esc(u.name)} ${esc(u.code)} · ${fmt(u.households)} hh` });
    const ul = $('findings');
    ul.innerHTML = '';
    for (const it of items) {
      const li = document.createElement('li');
      li.className = 'finding';
      li.innerHTML = it.html;
      li.onclick = () => zoomTo(it.codes);
      ul.appendChild(li);
    }
    ul.dataset.count = items.length;
    $('findings-count').textContent = `(${f.zones.length} zones, ${f.units.length} units)`;
  }

  // ---- search ----
  let searchTimer;
  $('search').addEventListener('input', () => {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(async () => {
      const q = $('search').value.trim();
      const ul = $('search-results');
      ul.innerHTML = '';
      if (!q) return;
      for (const p of await getJSON('/map/api/search' + query({ q }))) {
        const li = document.createElement('li');
        li.textContent = `${p.name} ${p.code} (${p.level})`;
        li.onclick = () => map.fitBounds([[p.bbox[0], p.bbox[1]], [p.bbox[2], p.bbox[3]]], { padding: 60, maxZoom: 16 });
        ul.appendChild(li);
      }
    }, 250);
  });

  // ---- histogram of community households with the profile's thresholds ----
  let analysis = null, profile = null;
  async function loadAnalysis() {
    [analysis, profile] = await Promise.all([getJSON('/api/v1/analysis' + query()), getJSON('/map/api/profile' + query())]);
    histogram();
  }
  function histogram() {
    if (!analysis) return;
    const cv = $('histogram'), g = cv.getContext('2d');
    const W = cv.width, H = cv.height, pad = { l: 30, r: 8, t: 8, b: 22 };
    g.clearRect(0, 0, W, H);
    const hh = analysis.units.filter((u) => u.level === 'community' && u.households != null &&
      (!state.street || u.parent_code === state.street)).map((u) => u.households);
    $('hist-scope').textContent = state.street ? `(street ${state.street}, ${hh.length})` : `(city, ${hh.length})`;
    const lo = profile.community.min_households.value, hi = profile.community.max_households.value;
    const top = Math.max(hi ? hi * 2 : 0, ...hh.slice(0, 1e5), 1);
    const nb = 30, bw = top / nb, bins = new Array(nb).fill(0);
    for (const v of hh) bins[Math.min(nb - 1, Math.floor(v / bw))]++;
    const maxc = Math.max(1, ...bins);
    const x = (v) => pad.l + (W - pad.l - pad.r) * v / top;
    const y = (c) => H - pad.b - (H - pad.t - pad.b) * c / maxc;
    g.fillStyle = '#8aa9c9';
    bins.forEach((c, i) => { if (c) g.fillRect(x(i * bw) + 0.5, y(c), Math.max(1, x(bw) - pad.l - 1), H - pad.b - y(c)); });
    g.strokeStyle = '#333'; g.beginPath(); g.moveTo(pad.l, pad.t); g.lineTo(pad.l, H - pad.b); g.lineTo(W - pad.r, H - pad.b); g.stroke();
    g.fillStyle = '#333'; g.font = '10px sans-serif'; g.textAlign = 'center';
    for (const t of [0, top / 2, top]) g.fillText(Math.round(t).toLocaleString(), Math.min(W - 20, Math.max(pad.l, x(t))), H - 8);
    g.textAlign = 'right'; g.fillText(maxc, pad.l - 3, pad.t + 8);
    for (const [v, label] of [[lo, 'min'], [hi, 'max']]) {
      if (v == null) continue;
      g.strokeStyle = '#d62728'; g.setLineDash([4, 3]); g.beginPath(); g.moveTo(x(v), pad.t); g.lineTo(x(v), H - pad.b); g.stroke(); g.setLineDash([]);
      g.fillStyle = '#d62728'; g.textAlign = 'left'; g.fillText(`${label} ${v}`, x(v) + 2, pad.t + 10);
    }
    cv.dataset.thresholds = [lo, hi].join(',');
  }

  // ---- downloads: the current filter ----
  function downloads() {
    const h = [];
    for (const layer of ['communities', 'streets', 'districts', 'zones']) {
      const extra = layer === 'communities' ? { parent_code: state.street, status: state.status } : {};
      h.push(`<a href="/download/${layer}.geojson${esc(query(extra))}" download>${layer}.geojson</a>`);
    }
    $('downloads').innerHTML = h.join(' ');
  }

  // ---- switches: profile and date re-colour from the tiles ----
  function retile() {
    for (const l of LAYERS) map.getSource(l).setTiles([location.origin + `/tiles/${l}/{z}/{x}/{y}.mvt` + query()]);
  }
  async function reload() {
    retile();
    downloads();
    await Promise.all([findings(), loadAnalysis(), loadPlaces()]);
  }
  $('profile').onchange = () => { state.profile = $('profile').value; reload(); };
  $('at').onchange = () => { state.at = $('at').value === cfg.today ? '' : $('at').value; reload(); };
  $('colour').onchange = () => { state.colour = $('colour').value; applyColour(); };
  $('status-filter').onchange = () => { state.status = $('status-filter').value; applyColour(); downloads(); };

  map.on('load', () => { applyColour(); });
  legend();
  downloads();
  await Promise.all([findings(), loadAnalysis(), loadPlaces()]);
})().catch((e) => { console.error(e); document.title = 'jiedao: ' + e.message; });
