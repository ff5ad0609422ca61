#!/usr/bin/env python3
"""Mixed load against a running jiedao (started by mixed-load.sh, or any).

Standard library only. CONNS keep-alive connections, each requesting in a
loop for DURATION seconds: 60% vector tiles of the communities layer at
z12-14 inside the city, 25% GET /api/v1/lookup at points inside the city,
15% OGC pages /ogc/collections/communities/items?limit=100 at varied
offsets. A warm-up first (not counted) fills the tile cache and the lookup
index, so the figures are the steady state. Prints p50/p99 and requests/s
per kind and in total.

The connections are spread over several processes: one Python process
serialises its threads on the GIL, and 200 threads in one would add their
own queueing to every latency measured.
"""
import argparse, http.client, json, math, multiprocessing as mp, os, random, threading, time, urllib.parse

MIX = (("tiles", 0.60), ("lookup", 0.25), ("ogc", 0.15))


def parse():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--base", default="http://127.0.0.1:18083")
    ap.add_argument("--conns", type=int, default=200)
    ap.add_argument("--duration", type=float, default=30)
    ap.add_argument("--warmup", type=float, default=5)
    ap.add_argument("--procs", type=int, default=min(8, 2 * (os.cpu_count() or 1)))
    ap.add_argument("--timeout", type=float, default=30)
    ap.add_argument("--json", action="store_true", help="print the figures as JSON too")
    return ap.parse_args()


def get(conn, path, timeout):
    conn.timeout = timeout
    try:
        conn.request("GET", path)
        r = conn.getresponse()
        r.read()
        return r.status
    except Exception:
        conn.close()
        return None


def city(base):
    """The communities' bounds (TileJSON) and how many there are (OGC)."""
    u = urllib.parse.urlparse(base)
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
    c.request("GET", "/tiles/communities.json")
    bounds = json.loads(c.getresponse().read())["bounds"]
    c.request("GET", "/ogc/collections/communities/items?limit=1")
    n = json.loads(c.getresponse().read()).get("numberMatched") or 5000
    c.close()
    return bounds, n


def tiles(bounds):
    """Every communities tile at z12-14 over the city's bounds."""
    out = []
    for z in (12, 13, 14):
        n = 2 ** z
        def xy(lon, lat):
            return (int((lon + 180) / 360 * n),
                    int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n))
        x0, y0 = xy(bounds[0], bounds[3])
        x1, y1 = xy(bounds[2], bounds[1])
        out += [f"/tiles/communities/{z}/{x}/{y}.mvt" for x in range(x0, x1 + 1) for y in range(y0, y1 + 1)]
    return out


def pick(rnd, bounds, tile_list, n):
    r, acc = rnd.random(), 0
    for kind, share in MIX:
        acc += share
        if r < acc:
            break
    if kind == "tiles":
        return kind, rnd.choice(tile_list)
    if kind == "lookup":
        lon, lat = rnd.uniform(bounds[0], bounds[2]), rnd.uniform(bounds[1], bounds[3])
        return kind, f"/api/v1/lookup?lon={lon:.6f}&lat={lat:.6f}"
    return kind, f"/ogc/collections/communities/items?limit=100&offset={rnd.randrange(0, max(1, n - 100))}"


def worker(base, threads, start, measure_from, until, timeout, bounds, tile_list, n, out):
    """One process: threads connections; rows (kind, status, seconds) of
    the requests started in the measured window go to out."""
    u = urllib.parse.urlparse(base)
    rows, lock = [], threading.Lock()

    def run(seed):
        rnd, mine = random.Random(seed), []
        c = http.client.HTTPConnection(u.hostname, u.port, timeout=timeout)
        while time.time() < start:
            time.sleep(0.01)
        while True:
            t0 = time.time()
            if t0 >= until:
                break
            kind, path = pick(rnd, bounds, tile_list, n)
            s = get(c, path, timeout)
            if t0 >= measure_from:
                mine.append((kind, s, time.time() - t0))
            if s is None:
                c = http.client.HTTPConnection(u.hostname, u.port, timeout=timeout)
        c.close()
        with lock:
            rows.extend(mine)

    ts = [threading.Thread(target=run, args=(os.getpid() * 1000 + i,), daemon=True) for i in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    out.put(rows)


def pct(xs, p):
    if not xs:
        return float("nan")
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(math.ceil(p / 100 * len(xs))) - 1)]


def main():
    a = parse()
    bounds, n = city(a.base)
    tile_list = tiles(bounds)
    print(f"mixed load: {a.conns} connections over {a.procs} processes, {a.warmup:g} s warm-up + {a.duration:g} s measured, "
          f"against {a.base}; {len(tile_list)} tiles z12-14, {n} communities")
    start = time.time() + 1
    measure_from, until = start + a.warmup, start + a.warmup + a.duration
    q = mp.Queue()
    per = [a.conns // a.procs + (1 if i < a.conns % a.procs else 0) for i in range(a.procs)]
    ps = [mp.Process(target=worker, args=(a.base, k, start, measure_from, until, a.timeout, bounds, tile_list, n, q))
          for k in per if k]
    for p in ps:
        p.start()
    rows = []
    for _ in ps:
        rows += q.get()
    for p in ps:
        p.join()
    figures = {}
    print(f"{'kind':8s} {'req/s':>8s} {'p50 ms':>9s} {'p99 ms':>9s} {'errors':>7s}")
    for kind in [k for k, _ in MIX] + ["total"]:
        xs = [r for r in rows if kind == "total" or r[0] == kind]
        ok = [d for _, s, d in xs if s is not None and s < 400]
        bad = sum(1 for _, s, _ in xs if s is None or s >= 400)
        f = {"rps": len(xs) / a.duration, "p50_ms": pct(ok, 50) * 1000, "p99_ms": pct(ok, 99) * 1000, "errors": bad, "n": len(xs)}
        figures[kind] = f
        print(f"{kind:8s} {f['rps']:8.1f} {f['p50_ms']:9.1f} {f['p99_ms']:9.1f} {bad:7d}")
    if a.json:
        print(json.dumps(figures))


if __name__ == "__main__":
    main()
