// jiedao map page: MapLibre over the server's vector tiles. Labels are the
// style's symbol layers (MapLibre drops colliding ones); their Chinese text
// is drawn with local fonts (LOCAL_CJK), so it works offline: the server's
// glyph ranges are empty, and digits and Latin letters are not drawn.
(async function () {
  'use strict';
  const $ = (id) => document.getElementById(id);
  const esc = (s) => String(s ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]));
  const getJSON = async (url) => {
    const r = await fetch(url);
    if (!r.ok) throw new Error(url + ': ' + r.status);
    return r.json();
  };
  // The config and the style in one round trip: the style's sources carry
  // their tiles and bounds, so tiles follow at once.
  const [cfg, style] = await Promise.all([getJSON('/map/api/config'), getJSON('/tiles/style.json')]);
  // ?scenario=ID opens the before/after view: the live map and the
  // scenario's side by side with one camera.
  const state = { profile: cfg.default_profile, at: '', colour: 'status', status: '', street: null, selected: null,
    scenario: new URLSearchParams(location.search).get('scenario') || '' };
  const LAYERS = ['districts', 'streets', 'communities', 'grids', 'zones', 'barriers'];
  // MapLibre draws CJK characters of symbol labels with these local fonts
  // instead of fetching glyphs (see web/tiles/glyphs.go).
  const LOCAL_CJK = '"WenQuanYi Micro Hei", "Noto Sans CJK SC", "PingFang SC", "Microsoft YaHei", sans-serif';
  let summary = null, profile = null, summarySeq = 0; // see loadSummary

  // query is ?profile=&at= as the tile, analysis and download routes take it.
  function query(extra) {
    const p = new URLSearchParams();
    if (state.profile !== cfg.default_profile) p.set('profile', state.profile);
    if (state.at) p.set('at', state.at);
    for (const [k, v] of Object.entries(extra || {})) if (v) p.set(k, v);
    const s = p.toString();
    return s ? '?' + s : '';
  }
  // scenQuery is query() for the scenario's map.
  const scenQuery = (extra) => query({ ...(extra || {}), scenario: state.scenario });

  for (const name of cfg.profiles) $('profile').add(new Option(name, name, false, name === state.profile));
  $('at').value = cfg.today;
  $('community-minzoom').textContent = cfg.minzoom.communities;
  $('grid-minzoom').textContent = cfg.minzoom.grids;

  // The landing camera fits the data: the sources' bounds are the units' extent.
  const extent = style.sources.communities.bounds;
  const map = new maplibregl.Map({
    container: 'map',
    style,
    bounds: [[extent[0], extent[1]], [extent[2], extent[3]]],
    fitBoundsOptions: { padding: 20 },
    attributionControl: { compact: true },
    localIdeographFontFamily: LOCAL_CJK,
  });
  map.addControl(new maplibregl.NavigationControl(), 'top-right');
  map.addControl(new maplibregl.ScaleControl(), 'bottom-right');
  window.jiedaoMap = map;
  map.on('idle', () => { window.jiedaoIdle = true; });
  // The first frame drawn once the streets' tiles in view are loaded: the
  // status colours are on screen (what BenchmarkMapLoad reports as first
  // paint; idle also waits for labels and the other layers).
  map.on('data', (e) => {
    if (window.jiedaoStatusPaint || e.sourceId !== 'streets' || !map.isSourceLoaded('streets')) return;
    map.once('render', () => { window.jiedaoStatusPaint ??= performance.now(); });
  });
  let map2 = null; // the scenario's map, made when a scenario is opened
  const maps = () => (map2 && state.scenario ? [map, map2] : [map]);
  let syncing = false;
  function sync(a, b) {
    a.on('move', () => {
      if (syncing) return;
      syncing = true;
      b.jumpTo({ center: a.getCenter(), zoom: a.getZoom(), bearing: a.getBearing(), pitch: a.getPitch() });
      syncing = false;
    });
  }

  // ---- legend and colouring ----
  // The status legend names its thresholds (households) once the profile is known.
  function legend() {
    let h = '';
    if (state.colour === 'status') {
      const c = profile && profile.community, lo = c && c.min_households.value, hi = c && c.max_households.value;
      const why = { undersized: lo != null ? `< ${lo} households` : '', oversized: hi != null ? `> ${hi} households` : '',
        normal: lo != null && hi != null ? `${lo}–${hi} households` : '', unknown: 'households not counted' };
      h += '<div class="legend-head">communities: households 户数</div>';
      for (const [k, c] of cfg.status_colors) h += `<div><span class="swatch" style="background:${c}"></span>${k} <span class="note">${why[k] || ''}</span></div>`;
      h += `<div class="legend-head" id="legend-streets">streets: own status (below zoom ${cfg.minzoom.communities})</div>`;
    } else if (state.colour === 'workload') {
      h += `<div class="legend-head">communities: workload 工单负荷, tickets per 1,000 households per month${workload ? ' (' + esc(workload.period) + ')' : ''}</div>`;
      for (const [v, c] of workloadStops()) h += `<div><span class="swatch" style="background:${c}"></span>${fmt(v, 1)}</div>`;
      h += `<div><span class="swatch" style="background:${WORKLOAD_NONE}"></span><span class="note">no households or no tickets</span></div>`;
      if (workload && workload.max_ratio != null) {
        h += `<div class="note">profile rule: ${Object.keys(workload.flagged).length} communities over ${workload.max_ratio}× their street's median 超过街道中位数</div>`;
      }
    } else {
      h += '<div class="legend-head">communities: density, people/km² 人/平方公里</div>';
      for (const [v, c] of cfg.density_stops) h += `<div><span class="swatch" style="background:${c}"></span>${v.toLocaleString()} people/km²</div>`;
    }
    if ($('disputes').checked) {
      h += '<div class="legend-head">disputes 争议热点 (tickets reassigned across a boundary; size by tickets):</div>';
      h += `<div><span class="swatch line" style="background:${DISPUTE_COLOR}"></span>shared boundary <span class="note">line</span></div>`;
      h += `<div><span class="swatch" style="background:${DISPUTE_COLOR}"></span>gap or overlap <span class="note">area</span></div>`;
    }
    if (state.scenario) {
      h += `<div class="legend-head">scenario 方案:</div><div><span class="swatch outline" style="border-color:${cfg.proposed_color}"></span>proposed 拟调整 <span class="note">dashed, right map</span></div>`;
      h += `<div><span class="swatch outline" style="border-color:${cfg.removed_color}"></span>removed 撤销 <span class="note">dotted, live map</span></div>`;
      const nb = cfg.new_boundary_colors;
      h += `<div><span class="swatch line" style="background:${nb.on_barrier}"></span>new boundary on a road, river or railway 沿道路/河流 <span class="note">solid</span></div>`;
      h += `<div><span class="swatch line dashed" style="border-color:${nb.off_barrier}"></span>new boundary across blocks 穿越街坊 <span class="note">dashed</span></div>`;
    }
    h += `<div class="legend-head">barriers 道路·河流·铁路 (from zoom ${cfg.minzoom.barriers}; all classes from 13):</div><div class="barrier-legend">`;
    for (const [k, c] of cfg.barrier_colors) h += `<span><span class="swatch line" style="background:${c}"></span>${k}</span> `;
    h += '</div>';
    const gc = cfg.grid_colors;
    h += `<div class="legend-head">grids 网格 (from zoom ${cfg.minzoom.grids}):</div><div><span class="swatch line dashed" style="border-color:${gc.line}"></span>grid boundary <span class="note">dashed</span></div>`;
    h += `<div id="legend-grids"><span class="swatch line" style="background:${gc.selected}"></span>grids of the selected community, numbered by their 3-digit sequence and listed in the panel</div>`;
    h += '<div class="legend-head">zones (always shown):</div>';
    for (const [k, c] of cfg.zone_colors) h += `<div><span class="swatch" style="background:${c}"></span>${k}</div>`;
    $('legend').innerHTML = h;
  }
  function applyColour() {
    const f = state.status ? ['==', ['get', 'status'], state.status] : null;
    for (const m of maps()) {
      if (!m.getLayer('communities-fill')) continue; // style still loading: its load event comes back here
      m.setLayoutProperty('communities-fill', 'visibility', state.colour === 'status' ? 'visible' : 'none');
      m.setLayoutProperty('communities-density', 'visibility', state.colour === 'density' ? 'visible' : 'none');
      m.setLayoutProperty('streets-status', 'visibility', state.colour === 'status' ? 'visible' : 'none');
      m.setFilter('communities-fill', f);
      m.setFilter('communities-density', f);
      if (m === map && m.getLayer('communities-workload')) {
        m.setLayoutProperty('communities-workload', 'visibility', state.colour === 'workload' ? 'visible' : 'none');
        m.setFilter('communities-workload', f);
      }
    }
    if (state.colour === 'workload') loadWorkload().catch((e) => console.error(e));
    legend();
  }

  // ---- workload 工单负荷: tickets per 1,000 households per month ----
  // One compact code → value map from /map/api/workload, made into a match
  // expression over the community tiles' code (the live map's only: the
  // tickets are the live boundaries').
  const WORKLOAD_NONE = '#d9d9d9', DISPUTE_COLOR = '#4b0082';
  let workload = null, workloadFor = null;
  function workloadStops() {
    const top = Math.max(workload ? workload.max : 0, 1);
    return [[0, '#fff5eb'], [top / 8, '#fdd0a2'], [top / 4, '#fd8d3c'], [top / 2, '#d94801'], [top, '#7f2704']];
  }
  async function loadWorkload() {
    const q = query();
    if (workloadFor === q) return;
    workloadFor = q;
    const w = await getJSON('/map/api/workload' + q);
    if (workloadFor !== q) return; // the day changed meanwhile
    workload = w;
    const entries = Object.entries(w.values);
    const value = entries.length ? ['match', ['get', 'code'], ...entries.flat(), -1] : -1;
    const ramp = ['interpolate', ['linear'], value, ...workloadStops().flat()];
    const colour = ['case', ['<', value, 0], WORKLOAD_NONE, ramp];
    if (!map.getLayer('communities-workload')) {
      map.addLayer({ id: 'communities-workload', type: 'fill', source: 'communities', 'source-layer': 'communities',
        layout: { visibility: 'none' }, paint: { 'fill-color': WORKLOAD_NONE, 'fill-opacity': 0.75 } }, 'communities-line');
    }
    map.setPaintProperty('communities-workload', 'fill-color', colour);
    applyColour();
  }

  // ---- disputes 争议热点: where tickets were reassigned across a boundary ----
  // Aggregates from /map/api/disputes: shared lines, gap and overlap areas
  // and points, sized by tickets.
  function disputesData() { return '/map/api/disputes' + query(); }
  function addDisputes() {
    if (map.getSource('disputes')) return;
    map.addSource('disputes', { type: 'geojson', data: disputesData() });
    const vis = $('disputes').checked ? 'visible' : 'none';
    const by = (a, b) => ['interpolate', ['linear'], ['get', 'tickets'], 1, a, 50, b];
    map.addLayer({ id: 'disputes-fill', type: 'fill', source: 'disputes', filter: ['==', ['geometry-type'], 'Polygon'],
      layout: { visibility: vis }, paint: { 'fill-color': DISPUTE_COLOR, 'fill-opacity': by(0.25, 0.7) } });
    map.addLayer({ id: 'disputes-line', type: 'line', source: 'disputes', filter: ['==', ['geometry-type'], 'LineString'],
      layout: { visibility: vis, 'line-cap': 'round' }, paint: { 'line-color': DISPUTE_COLOR, 'line-width': by(2, 10), 'line-opacity': 0.85 } });
    map.addLayer({ id: 'disputes-point', type: 'circle', source: 'disputes', filter: ['==', ['geometry-type'], 'Point'],
      layout: { visibility: vis }, paint: { 'circle-color': DISPUTE_COLOR, 'circle-radius': by(4, 14), 'circle-opacity': 0.7 } });
  }
  const DISPUTE_LAYERS = ['disputes-fill', 'disputes-line', 'disputes-point'];
  $('disputes').onchange = () => {
    for (const l of DISPUTE_LAYERS) if (map.getLayer(l)) map.setLayoutProperty(l, 'visibility', $('disputes').checked ? 'visible' : 'none');
    legend();
  };

  // ---- labels: the style's symbol layers over /map/api/places ----
  // The label sources follow ?at= (places are not per profile or scenario).
  // Community label points grow with the city, so they are loaded only
  // once the map reaches their zoom (the style starts them empty).
  const communityLabels = new WeakMap(); // map → the query its labels were loaded for
  function loadPlaces() {
    const q = query({ format: 'geojson' });
    for (const m of maps()) {
      for (const l of ['districts', 'streets']) {
        const src = m.getSource('labels-' + l);
        if (src) src.setData(location.origin + `/map/api/places/${l}` + q); // no source yet: the style has the URL
      }
    }
    loadCommunityLabels();
  }
  function loadCommunityLabels() {
    const q = query({ format: 'geojson' });
    if (map.getZoom() < 12.5) return;
    for (const m of maps()) {
      const src = m.getSource('labels-communities');
      if (!src || communityLabels.get(m) === q) continue;
      communityLabels.set(m, q);
      src.setData(location.origin + '/map/api/places/communities' + q);
    }
  }

  // ---- notes on the map: what the current zoom or date hides ----
  function zoomNote() {
    const hidden = map.getZoom() < cfg.minzoom.communities;
    $('zoom-note').hidden = !hidden;
    $('zoom-note').textContent = `Communities hidden at this zoom: zoom in to see communities (from zoom ${cfg.minzoom.communities}) · streets show their own status`;
  }
  map.on('zoom', zoomNote);
  map.on('zoomend', () => loadCommunityLabels());
  map.on('load', zoomNote);

  // ---- panel ----
  const fmt = (v, d = 0) => (v === undefined || v === null || v === '') ? '–' : Number(v).toLocaleString(undefined, { maximumFractionDigits: d });
  const withUnit = (v, unit, d) => (v === undefined || v === null || v === '') ? '–' : `${fmt(v, d)} ${unit}`;
  const reasonsText = (r) => (Array.isArray(r) ? r.join('; ') : r) || '–';
  // highlight outlines codes (a zone's units: all of them) on every map.
  function highlight(codes, level) {
    for (const m of maps()) {
      if (!m.getLayer('selected-line')) continue;
      m.setFilter('selected-line', ['in', ['get', 'code'], ['literal', level === 'community' ? codes : []]]);
      m.setFilter('selected-street-line', ['in', ['get', 'code'], ['literal', level === 'street' ? codes : []]]);
      m.setFilter('selected-grid-line', ['in', ['get', 'code'], ['literal', level === 'grid' ? codes : []]]);
      m.setFilter('grids-selected-line', ['==', ['get', 'parent_code'], state.gridsOf || '']);
    }
  }

  // ---- grids: the selected community's, outlined, numbered and listed ----
  // The numbers are HTML markers at the grids' label points: the style's
  // glyphs draw no digits (see web/tiles/glyphs.go), and a community has
  // only a handful of grids.
  let gridMarkers = [];
  function showGrids(community, grids, current) {
    state.gridsOf = community;
    for (const mk of gridMarkers) mk.remove();
    gridMarkers = grids.map((g) => {
      const el = document.createElement('div');
      el.className = 'grid-num' + (g.code === current ? ' current' : '');
      el.textContent = g.code.slice(-3);
      el.title = `${g.name} ${g.code}`;
      el.onclick = (e) => { e.stopPropagation(); selectUnit(g.code, { zoom: false }); };
      return new maplibregl.Marker({ element: el }).setLngLat([g.lon, g.lat]).addTo(map);
    });
    gridLabelZoom();
    if (state.highlight) highlight(state.highlight.codes, state.highlight.level);
    const box = $('panel-grids');
    if (!box) return;
    const colors = Object.fromEntries(cfg.status_colors);
    box.innerHTML = grids.length === 0 ? '' : `<h2>Grids 网格 (${grids.length})</h2><table id="panel-grid-list" data-community="${esc(community)}">` +
      '<tr><th>no.</th><th>code 代码</th><th>households 户数</th><th>status</th></tr>' +
      grids.map((g) => `<tr data-code="${esc(g.code)}"${g.code === current ? ' class="current"' : ''}><td><a class="unit-link" data-code="${esc(g.code)}">${esc(g.code.slice(-3))}</a></td>` +
        `<td>${esc(g.code)}</td><td class="num">${fmt(g.households)}</td>` +
        `<td><span class="tag" style="background:${colors[g.status] || '#999'}">${esc(g.status)}</span></td></tr>`).join('') + '</table>';
    for (const a of box.querySelectorAll('a.unit-link')) a.onclick = () => selectUnit(a.dataset.code, { zoom: false });
  }
  // The numbers show where the grids are drawn.
  function gridLabelZoom() {
    $('map').classList.toggle('grid-labels-hidden', map.getZoom() < cfg.minzoom.grids - 0.5);
  }
  map.on('zoom', gridLabelZoom);
  // showUnit fills the panel; codes are the units to outline (default the unit).
  async function showUnit(props, level, codes) {
    state.selected = props.code;
    state.highlight = { codes: codes || [props.code], level };
    highlight(state.highlight.codes, level);
    const u = new URL(location.href);
    u.hash = 'unit=' + encodeURIComponent(props.code);
    history.replaceState(null, '', u);
    const staff = props.staff_min != null ? `${fmt(props.staff_min)}–${fmt(props.staff_max)}` : '–';
    const color = Object.fromEntries(cfg.status_colors)[props.status] || '#999';
    const panel = $('panel');
    panel.hidden = false;
    panel.innerHTML = `<h2 id="panel-name">${esc(props.name)}</h2>
      <table>
      <tr><td>code 代码</td><td id="panel-code">${esc(props.code)}</td></tr>
      <tr><td>level</td><td>${esc(level)}</td></tr>
      <tr><td>parent 上级</td><td id="panel-parent">${esc(props.parent_code || '–')}</td></tr>
      <tr><td>grandparent</td><td id="panel-grandparent">–</td></tr>
      <tr><td>households 户数</td><td>${withUnit(props.households, 'households')}</td></tr>
      <tr><td>population 人口</td><td>${withUnit(props.population, 'people')}</td></tr>
      <tr><td>area 面积</td><td>${withUnit(props.area_km2, 'km²', 3)}</td></tr>
      <tr><td>density 密度</td><td>${withUnit(props.density, 'people/km²')}</td></tr>
      <tr><td>status 状态</td><td><span class="tag" style="background:${color}">${esc(props.status)}</span></td></tr>
      <tr><td>reasons 原因</td><td>${esc(reasonsText(props.reasons))}</td></tr>
      <tr><td>staff 社工</td><td>${staff}</td></tr>
      </table><div id="panel-grids"></div><h2>History 沿革</h2><table class="history" id="panel-history"><tr><td>loading…</td></tr></table>`;
    // A grid keeps the street of its community (selected from it, or set by parents()).
    if (level !== 'grid') state.street = level === 'community' ? props.parent_code : (level === 'street' ? props.code : null);
    if (level !== 'grid' && level !== 'community') showGrids('', []);
    streetFilter();
    loadSummary().catch((e) => console.error(e));
    downloads();
    parents(props).catch((e) => console.error(e));
    if (props.proposed === true || props.proposed === 'true') {
      // A scenario's unit has no versions until the scenario is adopted.
      $('panel-history').innerHTML = `<tr><td>proposed 拟调整</td><td>by scenario ${esc(state.scenario)}, not adopted</td></tr>`;
      return;
    }
    try {
      const h = await getJSON('/map/api/history/' + encodeURIComponent(props.code));
      $('panel-history').innerHTML = h.map((v) => `<tr><td>${v.valid_from.slice(0, 10)} → ${v.valid_to ? v.valid_to.slice(0, 10) : 'now'}</td>
        <td>${esc(v.name)}, ${fmt(v.households)} households, ${fmt(v.area_km2, 3)} km²${v.approval ? ', ' + esc(v.approval) : ''}</td></tr>`).join('');
    } catch (e) {
      $('panel-history').innerHTML = `<tr><td>${esc(e.message)}</td></tr>`;
    }
  }
  // parents links the parent and grandparent by name. A proposed unit is
  // not in the live data, so its live parent is asked for instead.
  async function parents(props) {
    const code = props.code, proposed = props.proposed === true || props.proposed === 'true';
    if (proposed && !props.parent_code) return;
    const r = await getJSON('/map/api/unit/' + encodeURIComponent(proposed ? props.parent_code : code) + query());
    if (state.selected !== code) return; // another unit was chosen meanwhile
    const up = proposed ? [{ code: r.unit.code, name: r.unit.name, level: r.unit.level }, ...r.parents] : r.parents;
    for (const [id, a] of [['panel-parent', up[0]], ['panel-grandparent', up[1]]]) {
      if (!a) continue;
      $(id).innerHTML = `<a class="unit-link" data-code="${esc(a.code)}">${esc(a.name)}</a> <span class="note">${esc(a.code)} · ${esc(a.level)}</span>`;
      $(id).querySelector('a').onclick = () => selectUnit(a.code, { zoom: true });
    }
    if (proposed) return;
    if (r.unit.level === 'community') showGrids(code, r.grids || []);
    if (r.unit.level === 'grid' && up[0]) {
      // A grid: its siblings stay listed and numbered, this one marked.
      if (up[1] && state.street !== up[1].code) { state.street = up[1].code; streetFilter(); }
      const c = await getJSON('/map/api/unit/' + encodeURIComponent(up[0].code) + query());
      if (state.selected === code) showGrids(up[0].code, c.grids || [], code);
    }
  }
  // selectUnit chooses a unit by code (a finding, a search hit, a parent
  // link, #unit= in the address): the panel, the outline and the camera.
  async function selectUnit(code, opts = {}) {
    let r;
    try {
      r = await getJSON('/map/api/unit/' + encodeURIComponent(code) + query());
    } catch (e) {
      $('filter-note').hidden = false;
      $('filter-note').textContent = `unit ${code} not found on ${state.at || cfg.today}`;
      return;
    }
    const u = r.unit, level = u.level;
    // A status filter would hide the unit just chosen: turn it off, and say so.
    if (level === 'community' && state.status && u.status !== state.status) {
      $('filter-note').hidden = false;
      $('filter-note').textContent = `"${state.status}" filter turned off to show ${u.name} (${u.status}) 已关闭筛选`;
      state.status = '';
      $('status-filter').value = '';
      applyColour();
    }
    const codes = opts.codes || [u.code];
    if (opts.zoom !== false) zoomTo(codes).catch((e) => console.error(e));
    await showUnit(u, level, codes);
  }
  window.addEventListener('hashchange', () => {
    const code = new URLSearchParams(location.hash.slice(1)).get('unit');
    if (code && code !== state.selected) selectUnit(code);
  });

  function clickable(m) {
    m.on('click', (e) => {
      // Inside the selected community, a click picks one of its grids.
      const g = state.gridsOf ? m.queryRenderedFeatures(e.point, { layers: ['grids-fill'] }).find((f) => f.properties.parent_code === state.gridsOf) : null;
      if (g) { showUnit(g.properties, 'grid'); return; }
      for (const [layer, level] of [['communities-fill', 'community'], ['communities-density', 'community'], ['streets-fill', 'street']]) {
        if (m.getLayoutProperty(layer, 'visibility') === 'none') continue;
        const fs = m.queryRenderedFeatures(e.point, { layers: [layer] });
        if (fs.length) { showUnit(fs[0].properties, level); return; }
      }
    });
    for (const l of ['communities-fill', 'communities-density', 'streets-fill']) {
      m.on('mouseenter', l, () => { m.getCanvas().style.cursor = 'pointer'; });
      m.on('mouseleave', l, () => { m.getCanvas().style.cursor = ''; });
    }
  }
  clickable(map);

  async function zoomTo(codes) {
    const e = await getJSON('/map/api/extent' + query({ codes: codes.join(',') }));
    map.fitBounds([[e.bbox[0], e.bbox[1]], [e.bbox[2], e.bbox[3]]], { padding: 60, maxZoom: 16 });
  }

  // ---- findings: a page at a time, so the load does not grow with the city ----
  let findingsSeq = 0;
  async function findings(more) {
    const ul = $('findings');
    const offset = more ? ul.querySelectorAll('li.finding').length : 0;
    const seq = more ? findingsSeq : ++findingsSeq;
    const f = await getJSON('/map/api/findings' + query({ limit: 50, offset, ...findingsFilter() }));
    if (seq !== findingsSeq) return; // the profile, date or a filter changed meanwhile
    const colors = Object.fromEntries(cfg.status_colors), zc = Object.fromEntries(cfg.zone_colors);
    if (!more) { ul.innerHTML = ''; delete ul.dataset.street; }
    ul.querySelector('li.more')?.remove();
    for (const it of f.items) {
      if (it.kind === 'disputed_boundary') { disputedLine(ul, it); continue; }
      // The list comes street by street: a header where the street changes.
      const street = it.street || '';
      if (ul.dataset.street !== street) {
        ul.dataset.street = street;
        const h = document.createElement('li');
        h.className = 'street-head';
        h.dataset.street = street;
        h.innerHTML = street ? `${esc(it.street_name || street)} <span class="note">${esc(street)}</span>` : 'districts 区级';
        if (street) h.onclick = () => selectUnit(street);
        ul.appendChild(h);
      }
      const li = document.createElement('li');
      li.className = 'finding';
      li.dataset.code = it.codes[0];
      li.dataset.kind = it.kind || 'unit';
      li.dataset.level = it.level;
      li.dataset.status = it.status || '';
      // Name, code, street, kind or status and why: readable without a click.
      const where = it.parent_name ? ` · ${esc(it.parent_name)}` : '';
      li.innerHTML = it.kind
        ? `<span class="tag" style="background:${zc[it.kind] || '#000'}">${esc(it.kind)}</span>` +
          it.codes.map((c, i) => `<b>${esc((it.names || [])[i] || '')}</b> ${esc(c)}`).join(' / ') +
          `<div class="where">${esc(it.level)}${where} · ${esc(it.kind)} ${fmt(it.area_m2)} m²</div>`
        : `<span class="tag" style="background:${colors[it.status]}">${esc(it.status)}</span><b>${esc(it.name)}</b> ${esc(it.code)}` +
          `<div class="where">${esc(it.level)}${where} · ${esc(it.status)} · ${esc(reasonsText(it.reasons) === '–' ? fmt(it.households) + ' households' : reasonsText(it.reasons))}</div>`;
      li.onclick = () => {
        for (const x of ul.querySelectorAll('li.selected')) x.classList.remove('selected');
        li.classList.add('selected');
        selectUnit(it.codes[0], { codes: it.codes });
      };
      ul.appendChild(li);
    }
    const shown = offset + f.items.length, total = (f.disputed || 0) + f.zones + f.units;
    if (shown < total) {
      const li = document.createElement('li');
      li.className = 'more';
      li.textContent = `more 更多… (${shown} of ${total})`;
      li.onclick = () => findings(true);
      ul.appendChild(li);
    }
    ul.dataset.count = shown;
    $('findings-count').textContent = `(${f.zones} zones, ${f.units} units${f.disputed ? `, ${f.disputed} disputed 争议` : ''})`;
  }
  // disputedLine lists a dispute spot: the list puts them first, ranked by
  // tickets, under a header of their own; a click flies to the tickets.
  function disputedLine(ul, it) {
    if (ul.dataset.street !== '#disputed') {
      ul.dataset.street = '#disputed';
      const h = document.createElement('li');
      h.className = 'street-head';
      h.dataset.street = '#disputed';
      h.textContent = 'disputed boundaries 争议边界 (by tickets reassigned)';
      ul.appendChild(h);
    }
    const li = document.createElement('li');
    li.className = 'finding';
    li.dataset.code = it.codes[0];
    li.dataset.kind = it.kind;
    li.dataset.spot = it.spot;
    li.dataset.level = it.level;
    const streets = (it.streets || []).map((c, i) => `${esc((it.street_names || [])[i] || '')} ${esc(c)}`).join(' / ');
    li.innerHTML = `<span class="tag" style="background:${DISPUTE_COLOR}">${esc(it.spot_kind)}</span>` +
      it.codes.map((c, i) => `<b>${esc((it.names || [])[i] || '')}</b> ${esc(c)}`).join(' / ') +
      `<div class="where">${streets} · ${it.tickets} tickets reassigned (${esc(it.period)})</div>`;
    li.onclick = () => {
      for (const x of ul.querySelectorAll('li.selected')) x.classList.remove('selected');
      li.classList.add('selected');
      map.flyTo({ center: [it.lon, it.lat], zoom: Math.max(map.getZoom(), 15) });
      selectUnit(it.codes[it.codes.length - 1], { zoom: false, codes: it.codes }).catch((e) => console.error(e));
    };
    ul.appendChild(li);
  }

  // findingsFilter is the findings list's ?kind=, ?status=, ?street= and,
  // with "in view", ?bbox= of the map (clamped: the API takes degrees).
  function findingsFilter() {
    const f = { kind: $('findings-kind').value, status: $('findings-status').value,
      street: $('findings-street').checked ? state.street : '' };
    if ($('findings-view').checked) {
      const b = map.getBounds(), c = (v, lim) => Math.max(-lim, Math.min(lim, v)).toFixed(5);
      f.bbox = [c(b.getWest(), 180), c(b.getSouth(), 90), c(b.getEast(), 180), c(b.getNorth(), 90)].join(',');
    }
    return f;
  }
  for (const [kind] of cfg.zone_colors) $('findings-kind').add(new Option(kind, kind));
  $('findings-kind').add(new Option('disputed_boundary 争议边界', 'disputed_boundary'));
  for (const id of ['findings-kind', 'findings-status', 'findings-street', 'findings-view']) {
    $(id).onchange = () => findings().catch((e) => console.error(e));
  }
  // In view, the list follows the map once it stops moving.
  map.on('moveend', () => { if ($('findings-view').checked) findings().catch((e) => console.error(e)); });
  // streetFilter offers "this street" while a street or community is
  // selected, and follows the selection while it is ticked.
  function streetFilter() {
    const box = $('findings-street'), was = box.checked ? box.dataset.street : '';
    $('findings-street-label').hidden = !state.street;
    if (!state.street) box.checked = false;
    box.dataset.street = state.street || '';
    if (was !== (box.checked ? box.dataset.street : '')) findings().catch((e) => console.error(e));
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
        // The street and district tell apart units of one name.
        li.innerHTML = `<b>${esc(p.name)}</b> ${esc(p.code)} (${esc(p.level)})` +
          (p.parents.length ? `<div class="note">${p.parents.map(esc).join(' · ')}</div>` : '');
        li.onclick = () => {
          for (const x of ul.querySelectorAll('li.selected')) x.classList.remove('selected');
          li.classList.add('selected');
          map.fitBounds([[p.bbox[0], p.bbox[1]], [p.bbox[2], p.bbox[3]]], { padding: 60, maxZoom: 16 });
          selectUnit(p.code, { zoom: false });
        };
        ul.appendChild(li);
      }
    }, 250);
  });

  // ---- histogram of community households with the profile's thresholds ----
  // The server counts and bins (/map/api/summary); the page never lists units.
  const profiles = {};
  async function loadSummary() {
    const seq = ++summarySeq, q = query(), extra = { street: state.street };
    const [s, p] = await Promise.all([getJSON('/map/api/summary' + (state.scenario ? scenQuery(extra) : query(extra))),
      profiles[q] || getJSON('/map/api/profile' + q)]);
    profiles[q] = p;
    if (seq !== summarySeq) return; // a newer profile, date, street or scenario asked since
    summary = s;
    profile = p;
    legend();
    histogram();
    scenarioSummary();
    dateNote();
  }
  function histogram() {
    if (!summary) return;
    const cv = $('histogram'), g = cv.getContext('2d');
    // Drawn in CSS pixels on a backing store of device pixels: sharp on high-DPI screens.
    const W = Number(cv.dataset.w ||= cv.width), H = Number(cv.dataset.h ||= cv.height), dpr = window.devicePixelRatio || 1;
    if (cv.width !== Math.round(W * dpr)) {
      cv.style.width = W + 'px'; cv.style.height = H + 'px';
      cv.width = Math.round(W * dpr); cv.height = Math.round(H * dpr);
    }
    g.setTransform(dpr, 0, 0, dpr, 0, 0);
    const pad = { l: 30, r: 8, t: 8, b: 22 };
    g.clearRect(0, 0, W, H);
    const live = summary.live, scen = summary.scenario;
    const bins = live.bins, bins2 = scen ? scen.bins : null;
    $('hist-scope').textContent = (state.street ? `(street ${state.street}, ${live.households}` : `(city, ${live.households}`) +
      (scen ? ` → ${scen.households} in the scenario)` : ')');
    const lo = profile.community.min_households.value, hi = profile.community.max_households.value;
    const top = summary.top, nb = bins.length, bw = top / nb;
    const maxc = Math.max(1, ...bins, ...(bins2 || []));
    const x = (v) => pad.l + (W - pad.l - pad.r) * v / top;
    const y = (c) => H - pad.b - (H - pad.t - pad.b) * c / maxc;
    g.fillStyle = '#8aa9c9';
    bins.forEach((c, i) => { if (c) g.fillRect(x(i * bw) + 0.5, y(c), Math.max(1, x(bw) - pad.l - 1), H - pad.b - y(c)); });
    if (bins2) {
      // The scenario's distribution as a step outline over the live bars.
      g.strokeStyle = '#e15759'; g.lineWidth = 1.5; g.beginPath(); g.moveTo(x(0), y(0));
      bins2.forEach((c, i) => { g.lineTo(x(i * bw), y(c)); g.lineTo(x((i + 1) * bw), y(c)); });
      g.lineTo(x(top), y(0)); g.stroke(); g.lineWidth = 1;
      g.fillStyle = '#e15759'; g.font = '10px sans-serif'; g.textAlign = 'right'; g.fillText('— scenario 方案', W - pad.r, pad.t + 22);
      g.fillStyle = '#8aa9c9'; g.fillText('■ live 现状', W - pad.r, pad.t + 34);
    }
    cv.dataset.scenarioUnits = scen ? scen.households : '';
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

  // dateNote says when the chosen day has no boundaries, and which days do.
  function dateNote() {
    const n = Object.values(summary.live.status).reduce((t, byStatus) => t + Object.values(byStatus).reduce((a, b) => a + b, 0), 0);
    $('date-note').hidden = n > 0;
    if (n === 0) {
      $('date-note').textContent = `No boundaries on ${summary.at}: data from ${summary.data_from || '–'} to ${summary.data_to || 'today 今天'} 该日期无边界数据`;
    }
  }

  // ---- downloads: the current filter ----
  function downloads() {
    const h = [];
    for (const layer of ['communities', 'grids', 'streets', 'districts', 'zones']) {
      const extra = layer === 'communities' ? { parent_code: state.street, status: state.status } : {};
      h.push(`<a href="/download/${layer}.geojson${esc(query(extra))}" download>${layer}.geojson</a>`);
    }
    if (state.scenario) {
      for (const layer of ['communities', 'zones']) {
        const extra = layer === 'communities' ? { parent_code: state.street, status: state.status } : {};
        h.push(`<a href="/download/${layer}.geojson${esc(scenQuery(extra))}" download>scenario ${layer}.geojson</a>`);
      }
    }
    // Reports: the scenario's adjustment proposal (of the selected street
    // when the scenario changes it), the selected street's status report.
    const r = [];
    if (state.scenario) {
      const id = encodeURIComponent(state.scenario);
      const changed = scenarioInfo && state.street && scenarioInfo.streets.some((x) => x.code === state.street);
      const q = query(changed ? { street: state.street } : {});
      r.push(`<a href="/reports/scenarios/${id}.html${esc(q)}" target="_blank" data-testid="report-scenario">调整方案 report${changed ? ' (this street)' : ''}</a>`,
        `<a href="/reports/scenarios/${id}.pdf${esc(q)}" target="_blank">PDF</a>`);
    }
    const sq = query(state.street ? { street: state.street } : {});
    r.push(`<a href="/reports/status.html${esc(sq)}" target="_blank" data-testid="report-status">现状评估 report${state.street ? ' (this street)' : ' (city)'}</a>`,
      `<a href="/reports/status.pdf${esc(sq)}" target="_blank">PDF</a>`);
    $('downloads').innerHTML = h.join(' ') + '<div class="reports">reports 报告: ' + r.join(' · ') + '</div>';
  }

  // ---- scenarios: choose one, and see it beside the live map ----
  let scenarios = [];
  async function loadScenarios() {
    try {
      scenarios = (await getJSON('/api/v1/scenarios')).scenarios;
    } catch (e) {
      scenarios = [];
    }
    const sel = $('scenario');
    for (const sc of scenarios) {
      const label = `${sc.name} #${sc.id} (${sc.units} units, −${sc.removed})${sc.adopted_at ? ' adopted' : ''}`;
      sel.add(new Option(label, String(sc.id), false, String(sc.id) === state.scenario));
    }
    if (state.scenario && !scenarios.some((sc) => String(sc.id) === state.scenario)) {
      sel.add(new Option(`#${state.scenario}`, state.scenario, false, true));
    }
  }
  // The communities by status and the zones, live and in the scenario.
  function scenarioSummary() {
    const box = $('scenario-summary');
    box.hidden = !summary.scenario;
    if (!summary.scenario) { box.innerHTML = ''; return; }
    const count = (s) => ({ ...(s.status.community || {}), zones: Object.values(s.zones).reduce((n, z) => n + z, 0) });
    const b = count(summary.live), a = count(summary.scenario);
    const sc = scenarios.find((x) => String(x.id) === state.scenario);
    let h = `<h2>Scenario 方案 ${esc(sc ? sc.name : '#' + state.scenario)}</h2><table data-testid="scenario-table">
      <tr><td></td><td>live 现状</td><td>scenario 方案</td></tr>`;
    for (const k of ['undersized', 'normal', 'oversized', 'unknown', 'zones']) {
      if (!b[k] && !a[k]) continue;
      h += `<tr data-key="${k}"><td>${k}</td><td>${b[k] || 0}</td><td>${a[k] || 0}</td></tr>`;
    }
    h += '</table>';
    const info = scenarioInfo && String(scenarioInfo.id) === state.scenario ? scenarioInfo : null;
    if (info && info.streets.length) {
      // Each changed street links to itself: the panel, outline and camera.
      h += `<div class="legend-head">changed streets 涉及街道 (${info.streets.length})</div><ul id="scenario-streets" data-testid="scenario-streets">` +
        info.streets.map((st) => `<li><a class="unit-link" data-code="${esc(st.code)}">${esc(st.name || st.code)}</a> <span class="note">${esc(st.code)} · ` +
          `${st.proposed} proposed${st.removed ? `, −${st.removed} removed` : ''}</span></li>`).join('') + '</ul>';
    }
    h += `<a href="/api/v1/scenarios/${encodeURIComponent(state.scenario)}/diff${esc(query())}" target="_blank">before/after table (JSON)</a>`;
    box.innerHTML = h;
    for (const a of box.querySelectorAll('a.unit-link')) a.onclick = () => selectUnit(a.dataset.code, { zoom: true });
  }
  // loadScenarioInfo asks which live communities the scenario removes and
  // which streets it changes: the tiles of the scenario lack the former.
  let scenarioInfo = null;
  async function loadScenarioInfo() {
    const id = state.scenario;
    const info = id ? await getJSON(`/map/api/scenario/${encodeURIComponent(id)}` + query()) : null;
    if (id !== state.scenario) return; // another scenario was chosen meanwhile
    scenarioInfo = info;
    downloads();
    markRemoved();
    markNewBoundaries();
    if (summary) scenarioSummary();
  }
  // markNewBoundaries draws the scenario's new boundaries on its map,
  // green where they follow a barrier and dashed red where they cross blocks.
  function markNewBoundaries() {
    const src = map2 && map2.getSource('new-boundaries');
    if (!src) return; // style still loading: its load event comes back here
    src.setData(scenarioInfo && state.scenario ? scenarioInfo.new_boundaries : { type: 'FeatureCollection', features: [] });
  }
  // markRemoved outlines the removed communities on the live map only.
  function markRemoved() {
    if (!map.getLayer('removed-line')) return; // style still loading: its load event comes back here
    const codes = scenarioInfo && state.scenario ? scenarioInfo.removed : [];
    map.setFilter('removed-line', ['in', ['get', 'code'], ['literal', codes]]);
  }
  async function openScenario() {
    const on = !!state.scenario;
    $('pane2').hidden = !on;
    $('caption-live').hidden = !on;
    if (on) {
      const sc = scenarios.find((x) => String(x.id) === state.scenario);
      $('caption-scenario').textContent = '方案 scenario: ' + (sc ? sc.name : '#' + state.scenario);
      if (!map2) {
        map2 = new maplibregl.Map({ container: 'map2', style: '/tiles/style.json' + scenQuery(),
          center: map.getCenter(), zoom: map.getZoom(), attributionControl: { compact: true },
          localIdeographFontFamily: LOCAL_CJK });
        window.jiedaoMap2 = map2;
        map2.on('idle', () => { window.jiedaoIdle2 = true; });
        map2.on('load', () => loadCommunityLabels());
        map2.on('load', applyColour);
        map2.on('load', markNewBoundaries);
        clickable(map2);
        sync(map, map2);
        sync(map2, map);
      } else {
        window.jiedaoIdle2 = false;
        retile();
      }
    }
    map.resize();
    if (map2) map2.resize();
    downloads();
    legend();
    await Promise.all([loadSummary(), loadScenarioInfo().catch((e) => console.error(e))]);
  }

  // ---- switches: profile and date re-colour from the tiles ----
  function retile() {
    for (const l of LAYERS) map.getSource(l).setTiles([location.origin + `/tiles/${l}/{z}/{x}/{y}.mvt` + query()]);
    if (map2 && state.scenario && map2.getSource('communities')) {
      for (const l of LAYERS) map2.getSource(l).setTiles([location.origin + `/tiles/${l}/{z}/{x}/{y}.mvt` + scenQuery()]);
    }
  }
  async function reload() {
    retile();
    downloads();
    if (map.getSource('disputes')) map.getSource('disputes').setData(disputesData());
    if (state.colour === 'workload') loadWorkload().catch((e) => console.error(e));
    await Promise.all([findings(), loadSummary(), loadPlaces()]);
    // The panel follows the profile and the day, as the map does.
    if (state.selected) await selectUnit(state.selected, { zoom: false });
  }
  $('profile').onchange = () => { state.profile = $('profile').value; reload(); };
  $('at').onchange = () => { state.at = $('at').value === cfg.today ? '' : $('at').value; reload(); };
  $('colour').onchange = () => { state.colour = $('colour').value; applyColour(); };
  $('status-filter').onchange = () => { state.status = $('status-filter').value; applyColour(); downloads(); };
  $('scenario').onchange = () => {
    state.scenario = $('scenario').value;
    const u = new URL(location.href);
    if (state.scenario) u.searchParams.set('scenario', state.scenario); else u.searchParams.delete('scenario');
    history.replaceState(null, '', u);
    openScenario();
  };

  map.on('load', () => {
    addDisputes();
    applyColour();
    markRemoved();
    if (state.highlight) highlight(state.highlight.codes, state.highlight.level);
  });
  legend();
  downloads();
  await loadScenarios();
  // #unit=CODE in the address selects that unit, as a click on it did.
  const hashUnit = new URLSearchParams(location.hash.slice(1)).get('unit');
  if (hashUnit) selectUnit(hashUnit).catch((e) => console.error(e));
  await Promise.all([findings(), openScenario()]); // the style's label sources are loaded already
})().catch((e) => { console.error(e); document.title = 'jiedao: ' + e.message; });
