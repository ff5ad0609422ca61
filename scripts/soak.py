#!/usr/bin/env python3
"""Soak and fault phases against a running jiedao (started by soak.sh).

Standard library only. Prints one table per phase; exits 1 when a figure
of the hardening issue is missed (0 crashes, 0 5xx outside the outage, every
hostile input a 4xx that writes nothing, RSS bounds, readyz always 200).
"""
import argparse, http.client, io, json, math, os, random, sqlite3, struct, subprocess, threading, time, urllib.parse, zipfile

ap = argparse.ArgumentParser()
for a in ("base", "db", "key", "work", "pgctl-restart", "pgctl-stop", "pgctl-start"):
    ap.add_argument("--" + a, required=True)
ap.add_argument("--pid", type=int, required=True)
ap.add_argument("--duration", type=int, default=60)
args = ap.parse_args()
u = urllib.parse.urlparse(args.base)
TODAY = time.strftime("%Y-%m-%d", time.gmtime())
HOST, PORT = u.hostname, u.port
failures = []


def request(conn, method, path, body=None, headers=None, timeout=10):
    conn.timeout = timeout
    try:
        conn.request(method, path, body=body, headers=headers or {})
        r = conn.getresponse()
        data = r.read()
        # Header names lowercased: Go writes ETag as "Etag".
        return r.status, {k.lower(): v for k, v in r.getheaders()}, data
    except Exception:
        conn.close()
        return None, {}, b""


def new_conn():
    return http.client.HTTPConnection(HOST, PORT, timeout=10)


def get(path, **kw):
    c = new_conn()
    try:
        return request(c, "GET", path, **kw)
    finally:
        c.close()


def psql(sql):
    out = subprocess.run(["psql", args.db, "-tAc", sql], capture_output=True, text=True)
    return out.stdout.strip()


def rss_mb():
    try:
        for line in open(f"/proc/{args.pid}/status"):
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return float("nan")
    return float("nan")


def alive():
    try:
        os.kill(args.pid, 0)
        return True
    except OSError:
        return False


def pct(xs, p):
    if not xs:
        return float("nan")
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(math.ceil(p / 100 * len(xs))) - 1)]


# The city: bounds from TileJSON, some community codes.
st, _, b = get("/tiles/communities.json")
bounds = json.loads(b)["bounds"]


def tile_path(z, lon, lat):
    n = 2 ** z
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    return f"/tiles/communities/{z}/{x}/{y}.mvt"


def rand_point():
    return random.uniform(bounds[0], bounds[2]), random.uniform(bounds[1], bounds[3])


def mixed_path():
    r = random.random()
    lon, lat = rand_point()
    if r < 0.60:
        return "tiles", tile_path(random.choice((12, 13, 14)), lon, lat)
    if r < 0.85:
        return "lookup", f"/api/v1/lookup?lon={lon:.6f}&lat={lat:.6f}"
    return "ogc", f"/ogc/collections/communities/items?limit=100&offset={random.randrange(0, 7000)}"


class Load:
    """Threads requesting mixed paths until stopped; per kind latencies and statuses."""

    def __init__(self, threads, pick=mixed_path):
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.rows = []  # (t, kind, status, seconds, stale)
        self.pick = pick
        self.threads = [threading.Thread(target=self.run, daemon=True) for _ in range(threads)]

    def run(self):
        c = new_conn()
        mine = []
        while not self.stop.is_set():
            kind, path = self.pick()
            t0 = time.time()
            s, h, _ = request(c, "GET", path)
            mine.append((t0, kind, s, time.time() - t0, h.get("x-jiedao-stale") == "true"))
            if s is None:
                c = new_conn()
        with self.lock:
            self.rows += mine

    def start(self):
        for t in self.threads:
            t.start()
        return self

    def finish(self):
        self.stop.set()
        for t in self.threads:
            t.join(30)
        return self.rows


def sampler(stop, out):
    while not stop.is_set():
        conns = psql("SELECT count(*) FROM pg_stat_activity WHERE datname = 'jiedao'")
        out.append((time.time(), rss_mb(), int(conns or 0)))
        stop.wait(1)


def prober(stop, out):
    while not stop.is_set():
        s, _, _ = get("/readyz", timeout=5)
        out.append(s)
        stop.wait(0.5)


def summarize(rows, secs):
    by = {}
    for _, kind, s, d, _ in rows:
        by.setdefault(kind, []).append((s, d))
    lines = []
    for kind in sorted(by):
        xs = by[kind]
        ok = [d for s, d in xs if s and s < 400]
        bad = sum(1 for s, _ in xs if s and s >= 400)
        to = sum(1 for s, _ in xs if s is None)
        lines.append(f"  {kind:7s} {len(xs)/secs:8.1f} req/s  non-2xx/3xx {bad:5d}  timeouts {to:4d}  "
                     f"p50 {pct(ok,50)*1000:7.1f} ms  p99 {pct(ok,99)*1000:7.1f} ms")
    return lines


def import_body():
    """A small street import (multipart), new code under the first district."""
    s, _, b = get("/api/v1/units?level=district&limit=1")
    d = json.loads(b)["items"][0]["code"]
    lon, lat = bounds[0] + 0.001, bounds[1] + 0.001
    poly = [[[lon, lat], [lon + 0.002, lat], [lon + 0.002, lat + 0.002], [lon, lat + 0.002], [lon, lat]]]
    fc = {"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {"code": d + "999", "name": "试验街道"},
                                                         "geometry": {"type": "Polygon", "coordinates": poly}}]}
    return multipart("soak.geojson", json.dumps(fc).encode(), {"level": "street", "approval": "soak", "valid_from": "2020-01-01", "allow_orphans": "true"})


def multipart(name, content, fields):
    bnd = "jiedaosoak"
    out = io.BytesIO()
    for k, v in fields.items():
        out.write(f'--{bnd}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode())
    out.write(f'--{bnd}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n\r\n'.encode())
    out.write(content + b"\r\n")
    out.write(f"--{bnd}--\r\n".encode())
    return out.getvalue(), {"Content-Type": f"multipart/form-data; boundary={bnd}", "Authorization": "Bearer " + args.key}


def phase_load():
    print(f"\n## 1. load: 200 connections for {args.duration} s (60% tiles z12-14, 25% lookups, 15% OGC pages; one import midway)")
    stop = threading.Event()
    samples, probes = [], []
    threading.Thread(target=sampler, args=(stop, samples), daemon=True).start()
    threading.Thread(target=prober, args=(stop, probes), daemon=True).start()
    load = Load(200).start()
    time.sleep(args.duration / 2)
    body, hdr = import_body()
    c = new_conn()
    s, _, msg = request(c, "POST", "/api/v1/imports", body=body, headers=hdr, timeout=60)
    print(f"  import midway: {s}")
    time.sleep(args.duration / 2)
    rows = load.finish()
    stop.set()
    time.sleep(1)
    for line in summarize(rows, args.duration):
        print(line)
    rss = [r for _, r, _ in samples if r == r]
    conns = [n for _, _, n in samples]
    bad_ready = sum(1 for s in probes if s != 200)
    print(f"  RSS {min(rss):.0f}–{max(rss):.0f} MB; DB connections {min(conns)}–{max(conns)}; /readyz non-200 {bad_ready} of {len(probes)}")
    five = sum(1 for r in rows if r[2] and r[2] >= 500)
    if five:
        failures.append(f"load: {five} 5xx")
    if bad_ready:
        failures.append(f"load: /readyz non-200 {bad_ready} times")
    if max(rss) > 600:
        failures.append(f"load: RSS {max(rss):.0f} MB > 600")
    time.sleep(5)
    after = rss_mb()
    print(f"  RSS 5 s after the load: {after:.0f} MB")
    if after > 200:
        failures.append(f"after load: RSS {after:.0f} MB > 200")


def phase_new_dates():
    print("\n## 1b. 100 parallel requests with distinct new at= dates, while 8 clients read cached tiles")
    lon, lat = (bounds[0] + bounds[2]) / 2, (bounds[1] + bounds[3]) / 2
    cached = [tile_path(13, lon + dx * 0.01, lat + dy * 0.01) for dx in range(-2, 3) for dy in range(-2, 3)]
    for p in cached:
        get(p)
    load = Load(8, pick=lambda: ("cached", random.choice(cached))).start()
    results = []

    def one(i):
        day = time.strftime("%Y-%m-%d", time.gmtime(time.time() - 86400 * (400 + i)))
        s, _, _ = get(tile_path(13, lon, lat) + "?at=" + day, timeout=60)
        results.append(s)

    ts = [threading.Thread(target=one, args=(i,)) for i in range(100)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(120)
    rows = load.finish()
    ok = [d for _, _, s, d, _ in rows if s == 200]
    counts = {s: results.count(s) for s in set(results)}
    print(f"  new-date answers by status {counts}; cached tiles meanwhile: {len(rows)} requests, p99 {pct(ok, 99)*1000:.1f} ms")
    if pct(ok, 99) > 0.1:
        failures.append(f"new dates: cached p99 {pct(ok,99)*1000:.0f} ms > 100")
    if any(s is None or s == 500 for s in results):
        failures.append("new dates: 500 or timeouts")


def phase_outage():
    print("\n## 2. outage: 40 connections for 40 s; PostgreSQL restart -m fast at 8 s, stopped 20–30 s")
    lon, lat = (bounds[0] + bounds[2]) / 2, (bounds[1] + bounds[3]) / 2
    warm = [tile_path(13, lon + dx * 0.01, lat) for dx in range(-3, 4)]
    look = f"/api/v1/lookup?lon={lon:.6f}&lat={lat:.6f}"
    for p in warm + [look]:
        get(p)
    pick = lambda: random.choice([("tiles", random.choice(warm)), ("lookup", look), ("units", "/api/v1/units?limit=1")])
    load = Load(40, pick=pick).start()
    t0 = time.time()
    time.sleep(8)
    t_restart0 = time.time()
    subprocess.run(["bash", "-c", args.pgctl_restart])
    t_restart = time.time()
    time.sleep(12 - (time.time() - t_restart) if time.time() - t_restart < 12 else 0)
    t_stop0 = time.time()
    subprocess.run(["bash", "-c", args.pgctl_stop])
    t_stop = time.time()
    time.sleep(10)
    subprocess.run(["bash", "-c", args.pgctl_start])
    t_start = time.time()
    recovered = None
    while time.time() - t_start < 30:
        s, _, _ = get("/api/v1/units?limit=1", timeout=5)
        if s == 200:
            recovered = time.time() - t_start
            break
        time.sleep(0.1)
    time.sleep(3)
    rows = load.finish()
    window = lambda t: t_restart0 - 0.5 <= t <= t_restart + 5 or t_stop0 - 0.5 <= t <= t_start + (recovered or 30) + 0.5
    out5 = sum(1 for t, _, s, _, _ in rows if s and s >= 500 and not window(t))
    in5 = sum(1 for t, _, s, _, _ in rows if s and s >= 500 and window(t))
    n500 = sum(1 for _, _, s, _, _ in rows if s == 500)
    stale = sum(1 for t, k, s, _, st in rows if st and s == 200)
    cached_ok = sum(1 for t, k, s, _, _ in rows if k in ("tiles", "lookup") and s == 200 and t_stop + 1 < t < t_start)
    when = sorted({round(t - t0) for t, _, s, _, _ in rows if s and s >= 500 and not window(t)})
    print(f"  (restart {t_restart0-t0:.1f}–{t_restart-t0:.1f} s, stop {t_stop0-t0:.1f}–{t_start-t0:.1f} s; 5xx outside at seconds {when[:10]})")
    print(f"  of the 5xx, 500 (not 503 + Retry-After): {n500}")
    print(f"  5xx outside the outage window {out5}, inside {in5}; answers marked stale {stale}; "
          f"cached tiles/lookups answered during the stop {cached_ok}")
    print(f"  recovery after start: {recovered if recovered is None else round(recovered, 2)} s (jiedao not restarted); alive {alive()}")
    # An edit after recovery moves the tile's ETag and the lookup's answer.
    s, h, b = get(look)
    code = json.loads(b)["community"]["code"]
    s, h, _ = get(f"/api/v1/units/{code}")
    et = h.get("etag")
    tile = tile_path(13, lon, lat)
    _, th, _ = get(tile)
    body = json.dumps({"type": "Feature", "geometry": None, "properties": {"name": "改名社区", "approval": "soak", "valid_from": TODAY}})
    c = new_conn()
    s, _, msg = request(c, "PUT", f"/api/v1/units/{code}", body=body, headers={"If-Match": et, "Authorization": "Bearer " + args.key, "Content-Type": "application/json"})
    _, th2, _ = get(tile)
    _, _, lb = get(look)
    renamed = json.loads(lb)["community"]["name"] == "改名社区"
    print(f"  edit after recovery: PUT {s}; tile ETag changed {th.get('etag') != th2.get('etag')}; lookup sees it {renamed}")
    if out5:
        failures.append(f"outage: {out5} 5xx outside the window")
    if n500:
        failures.append(f"outage: {n500} answers 500 instead of 503")
    if recovered is None or recovered > 2:
        failures.append(f"outage: recovery {recovered} s > 2")
    if not alive():
        failures.append("outage: jiedao died")


def hostile_gpkg():
    src = os.path.join(os.path.dirname(__file__), "..", "boundaries", "layerfile", "testdata", "streets.gpkg")
    dst = os.path.join(args.work, "hostile.gpkg")
    open(dst, "wb").write(open(src, "rb").read())
    db = sqlite3.connect(dst)
    for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'").fetchall():
        db.execute(f'DROP TRIGGER "{name}"')
    db.execute("UPDATE streets SET geom = X'47500001E61000000103000000FFFFFFFF' WHERE rowid = (SELECT min(rowid) FROM streets)")
    db.commit()
    db.close()
    return open(dst, "rb").read()


def zip_bomb():
    hdr = bytearray(100)
    struct.pack_into(">I", hdr, 0, 9994)
    struct.pack_into(">I", hdr, 24, 1 << 30)
    struct.pack_into("<I", hdr, 28, 1000)
    struct.pack_into("<I", hdr, 32, 5)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("bomb.shp", bytes(hdr) + bytes(64 << 20))
    return out.getvalue()


def phase_hostile():
    print("\n## 3. hostile inputs (status; units rows before = after)")
    auth = {"Authorization": "Bearer " + args.key}
    s, _, b = get("/api/v1/units?level=community&limit=1")
    if s != 200:
        failures.append(f"hostile: the database did not come back ({s})")
        return
    code = json.loads(b)["items"][0]["code"]
    _, h, _ = get(f"/api/v1/units/{code}")
    et = h.get("etag")
    cases = []
    for name, content in (("hostile.gpkg", hostile_gpkg()), ("bomb.zip", zip_bomb())):
        body, hdr = multipart(name, content, {"level": "street", "approval": "x", "valid_from": "2020-01-01"})
        cases.append((f"POST /api/v1/imports {name}", "POST", "/api/v1/imports", body, hdr))
    for p in ("/api/v1/units?q=%00", "/ogc/collections/communities/items?name=%ff", "/map/api/search?q=%00", "/api/v1/units/%00"):
        cases.append(("GET " + p, "GET", p, None, {}))
    put = lambda props, match: ("PUT", f"/api/v1/units/{code}", json.dumps({"type": "Feature", "geometry": None, "properties": props}).encode(),
                               dict(auth, **{"If-Match": match, "Content-Type": "application/json"}))
    cases.append(("PUT name with NUL", *put({"name": "a\u0000b", "approval": "x", "valid_from": TODAY}, et)))
    cases.append(("PUT weak ETag", *put({"name": "x", "approval": "x", "valid_from": TODAY}, "W/" + et)))
    cases.append(("PUT ?dryrun typo", "PUT", f"/api/v1/units/{code}?dryrun=true", put({"name": "x", "approval": "x", "valid_from": TODAY}, et)[2],
                  dict(auth, **{"If-Match": et, "Content-Type": "application/json"})))
    cases.append(("DELETE without If-Match", "DELETE", f"/api/v1/units/{code}", b'{"approval":"x","valid_to":"2030-01-01"}', auth))
    for label, body in (("truncated", b'{"points":[{"lon":116.4,'), ("NaN", b'{"points":[{"lon":NaN,"lat":1}]}'), ("nested", b"[" * 100000)):
        cases.append((f"POST /api/v1/lookup {label} JSON", "POST", "/api/v1/lookup", body, {"Content-Type": "application/json"}))
    before = psql("SELECT count(*) FROM units")
    bad = 0
    for label, method, path, body, hdr in cases:
        c = new_conn()
        s, _, msg = request(c, method, path, body=body, headers=hdr, timeout=60)
        ok = s is not None and 400 <= s < 500
        bad += not ok
        reason = msg[:90].decode("utf-8", "replace").replace("\n", " ")
        print(f"  {'ok ' if ok else 'BAD'} {s}  {label:38s} {reason}")
    # Two PUTs with one ETag: exactly one wins.
    res = []
    def race(i):
        c = new_conn()
        m, p, b2, h2 = put({"name": f"竞争{i}", "approval": "x", "valid_from": TODAY}, et)
        res.append(request(c, m, p, body=b2, headers=h2)[0])
    ts = [threading.Thread(target=race, args=(i,)) for i in range(2)]
    [t.start() for t in ts]
    [t.join() for t in ts]
    print(f"  two PUTs with one ETag: {sorted(res)} (want [200, 412])")
    after = psql("SELECT count(*) FROM units")
    print(f"  units rows: {before} before the hostile inputs, {after} after (the race's winner adds one version)")
    if bad:
        failures.append(f"hostile: {bad} inputs not a 4xx")
    if sorted(res) != [200, 412]:
        failures.append(f"race: {sorted(res)}")
    if int(after) - int(before) != (1 if 200 in res else 0):
        failures.append("hostile: rows written")


print(f"# jiedao soak — {time.strftime('%Y-%m-%d %H:%M', time.gmtime())} UTC, {os.cpu_count()} CPUs, beijing demo")
phase_load()
phase_new_dates()
phase_outage()
phase_hostile()
print("\n" + ("all figures met" if not failures else "MISSED: " + "; ".join(failures)))
raise SystemExit(1 if failures else 0)
