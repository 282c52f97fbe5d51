"""Radius-search benchmark on PostGIS: raw SQL vs the service layer vs the HTTP API, on the same incident points.

Run: python -m tests.bench.registry_search --cameras 1000000 --queries 2000. Progress goes to stderr; the last
line of stdout is one JSON object with p50/p99 latencies per path and the API throughput at concurrency 16.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psycopg
from cryptography.fernet import Fernet

from services.common.auth import Role
from services.registry.accounts import service as accounts
from services.registry.accounts.schemas import AccountCreate
from services.registry.agencies.schemas import AgencyCreate
from services.registry.agencies.service import create_agency
from services.registry.app import build_registry
from services.registry.context import Caller
from services.registry.deps import Registry
from services.registry.migrate import upgrade
from services.registry.search.schemas import Near, SearchRequest
from services.registry.search.service import search_cameras
from services.registry.settings import DatabaseSettings, RegistrySettings, SecuritySettings
from tests.support.pgcluster import PgCluster
from tests.support.processes import stop_process
from tests.support.registry_api import start_registry_api

RADIUS_M = 300.0
PAGE = 50  # the service's default page size; it fetches one more row to know whether there is a next page
CONCURRENCY = 16
ROOT = Path(__file__).resolve().parents[2]

# (slug, name, (min_lon, min_lat, max_lon, max_lat)): disjoint boxes over real metro areas.
METROS = [
    ("dallas-pd", "Dallas Police Department", (-96.95, 32.65, -96.60, 33.00)),
    ("milwaukee-pd", "Milwaukee Police Department", (-88.05, 42.92, -87.85, 43.15)),
    ("chicopee-pd", "Chicopee Police Department", (-72.65, 42.06, -72.48, 42.20)),
    ("arlington-pd", "Arlington Police Department", (-97.23, 32.62, -97.03, 32.82)),
    ("clermont-pd", "Clermont Police Department", (-81.80, 28.40, -81.20, 28.65)),
    ("independence-pd", "Independence Police Department", (-94.65, 38.95, -94.30, 39.15)),
]

SQL = """
SELECT id, agency_id, label, ST_X(location) AS x, ST_Y(location) AS y, bearing_deg, fov_deg, range_m, indoor,
       retention_days, sharing_mode, core_enabled,
       ST_Distance(location::geography, ST_GeomFromText(%(wkt)s, 4326)::geography) AS distance_m
FROM camera
WHERE agency_id IN (%(agency)s)
  AND ST_DWithin(location::geography, ST_GeomFromText(%(wkt)s, 4326)::geography, %(radius)s)
ORDER BY distance_m, id
LIMIT %(limit)s
"""


def log(msg: str) -> None:
    """Progress line on stderr."""
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


@dataclass
class Metro:
    """One metro area: its agency, box, share of the cameras, and an investigator's token."""

    slug: str
    box: tuple[float, float, float, float]
    agency_id: Any = None
    cameras: int = 0
    token: str = ""
    caller: Caller | None = None

    def area_km2(self) -> float:
        """Approximate area of the box."""
        x0, y0, x1, y1 = self.box
        return (x1 - x0) * (y1 - y0) * 111.32**2 * math.cos(math.radians((y0 + y1) / 2))


@dataclass
class Query:
    """One incident point and the metro (agency) whose investigator searches it."""

    metro: Metro
    lon: float
    lat: float
    case: str


def pct(values: list[float], q: float) -> float:
    """The q-quantile (nearest rank) of the values, in milliseconds, rounded."""
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))] * 1000, 3)


def summary(values: list[float]) -> dict[str, float]:
    """p50/p99/mean of latencies in seconds, as milliseconds."""
    return {"p50_ms": pct(values, 0.50), "p99_ms": pct(values, 0.99),
            "mean_ms": round(sum(values) / len(values) * 1000, 3)}


def build(cluster: PgCluster, folder: Path) -> Registry:
    """A migrated registry on a new database of the cluster (settings as tests/conftest.py builds them)."""
    url = cluster.create_database("bench")
    security = SecuritySettings(signing_key_file=str(folder / "signing.pem"), data_keys=Fernet.generate_key().decode(),
                                argon2_time_cost=1, argon2_memory_kib=8 * 1024, access_token_ttl_s=4 * 3600)
    registry = build_registry(RegistrySettings(database=DatabaseSettings(url=url), security=security))
    upgrade(registry.engine)
    return registry


def dsn(registry: Registry) -> str:
    """The libpq connection string of the registry database."""
    return registry.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)


def seed(registry: Registry, metros: list[Metro], cameras: int) -> float:
    """Agencies through the service, then owners, sites and cameras with set-based SQL; returns seconds."""
    started = time.perf_counter()
    total_area = sum(m.area_km2() for m in metros)
    for i, m in enumerate(metros):
        m.cameras = cameras - sum(x.cameras for x in metros[:-1]) if i == len(metros) - 1 else \
            round(cameras * m.area_km2() / total_area)
        with registry.sessions() as session:
            x0, y0, x1, y1 = m.box
            ring = [[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]
            m.agency_id = create_agency(session, caller=None, data=AgencyCreate(
                slug=m.slug, name=m.slug.replace("-", " ").title(),
                jurisdiction={"type": "Polygon", "coordinates": [ring]})).id
    cipher = registry.kit.cipher
    name, address = cipher.encrypt("Bench Owner"), cipher.encrypt("1 Benchmark Way")
    with psycopg.connect(dsn(registry)) as conn, conn.cursor() as cur:
        # Bulk load: no FK triggers (the rows are consistent by construction), secondary indexes rebuilt after.
        cur.execute("SET session_replication_role = replica")
        cur.execute("SET maintenance_work_mem = '1GB'")
        cur.execute("SELECT indexname, indexdef FROM pg_indexes WHERE tablename IN ('owner', 'site', 'camera') "
                    "AND indexdef NOT LIKE 'CREATE UNIQUE%'")
        indexes = cur.fetchall()
        for index_name, _ in indexes:
            cur.execute(f'DROP INDEX "{index_name}"')
        for m in metros:
            x0, y0, x1, y1 = m.box
            p = {"a": m.agency_id, "n": m.cameras, "sites": (m.cameras + 1) // 2, "x0": x0, "y0": y0, "x1": x1,
                 "y1": y1, "name": name, "addr": address}
            cur.execute("DROP TABLE IF EXISTS bench_site")
            cur.execute("""CREATE TEMP TABLE bench_site AS SELECT g AS n, gen_random_uuid() AS site_id,
                gen_random_uuid() AS owner_id, %(x0)s + random() * (%(x1)s - %(x0)s) AS x,
                %(y0)s + random() * (%(y1)s - %(y0)s) AS y FROM generate_series(1, %(sites)s) g""", p)
            cur.execute("""INSERT INTO owner (id, agency_id, name_enc, created_at, updated_at)
                SELECT owner_id, %(a)s, %(name)s, now(), now() FROM bench_site""", p)
            cur.execute("""INSERT INTO site (id, owner_id, agency_id, kind, address_enc, location, created_at,
                updated_at) SELECT site_id, owner_id, %(a)s,
                CASE WHEN random() < 0.85 THEN 'residential' ELSE 'commercial' END, %(addr)s,
                ST_SetSRID(ST_MakePoint(x, y), 4326), now(), now() FROM bench_site""", p)
            cur.execute("""INSERT INTO camera (id, site_id, owner_id, agency_id, label, location, bearing_deg,
                fov_deg, range_m, retention_days, indoor, sharing_mode, core_enabled, created_at, updated_at)
                SELECT gen_random_uuid(), s.site_id, s.owner_id, %(a)s, 'Camera ' || g,
                  ST_SetSRID(ST_MakePoint(least(greatest(s.x + (random() - 0.5) * 0.0004, %(x0)s), %(x1)s),
                                          least(greatest(s.y + (random() - 0.5) * 0.0004, %(y0)s), %(y1)s)), 4326),
                  random() * 360, (ARRAY[60, 90, 110, 130, 180, 360])[1 + floor(random() * 6)::int],
                  10 + random() * 60, (ARRAY[3, 7, 14, 30, 60, 90])[1 + floor(random() * 6)::int], random() < 0.1,
                  (ARRAY['registry_only', 'on_request', 'live_on_alert', 'live_on_consent'])
                    [1 + floor(random() * 4)::int], random() < 0.2, now(), now()
                FROM generate_series(1, %(n)s) g JOIN bench_site s ON s.n = (g + 1) / 2""", p)
            log(f"seeded {m.slug}: {m.cameras} cameras ({time.perf_counter() - started:.1f} s)")
        for index_name, definition in indexes:
            t = time.perf_counter()
            cur.execute(definition)
            log(f"rebuilt {index_name} in {time.perf_counter() - t:.1f} s")
        conn.commit()
        conn.autocommit = True
        cur.execute("VACUUM ANALYZE owner, site, camera")
    seconds = time.perf_counter() - started
    log(f"seeding took {seconds:.1f} s")
    return seconds


def investigators(registry: Registry, metros: list[Metro]) -> None:
    """One investigator per agency, with a real signed access token and its service-layer caller."""
    for m in metros:
        with registry.sessions() as session:
            data = AccountCreate(username=f"inv-{m.slug}", password="bench password 12345", role=Role.INVESTIGATOR)
            account, _ = accounts.create_staff(session, kit=registry.kit, caller=None, agency_id=m.agency_id,
                                               data=data)
            m.token = accounts.issue_tokens(session, kit=registry.kit, account=account).access_token
        m.caller = Caller(registry.verifier.verify(m.token), "127.0.0.1")


def incidents(metros: list[Metro], count: int, rng: random.Random, prefix: str) -> list[Query]:
    """Random incident points inside the metros, weighted by their camera counts."""
    picks = rng.choices(metros, weights=[m.cameras for m in metros], k=count)
    out = []
    for i, m in enumerate(picks):
        x0, y0, x1, y1 = m.box
        out.append(Query(m, rng.uniform(x0, x1), rng.uniform(y0, y1), f"{prefix}-{i:05d}"))
    return out


def run_sql(conn: psycopg.Connection[Any], q: Query) -> list[Any]:
    """The service's radius query as plain SQL (no ORM); returns the camera ids of the page."""
    rows = conn.execute(SQL, {"wkt": f"POINT ({q.lon} {q.lat})", "agency": q.metro.agency_id, "radius": RADIUS_M,
                              "limit": PAGE + 1}).fetchall()
    return [str(r[0]) for r in rows[:PAGE]]


def run_service(registry: Registry, q: Query) -> list[Any]:
    """search_cameras in its own session (audited and committed, as a request would)."""
    with registry.sessions() as session:
        assert q.metro.caller is not None
        result = search_cameras(session, caller=q.metro.caller, request=SearchRequest(
            case_number=q.case, area=Near(lon=q.lon, lat=q.lat, radius_m=RADIUS_M)), limits=registry.settings.search)
    return [str(hit.camera_id) for hit in result.items]


def params(q: Query) -> dict[str, Any]:
    """Query string of GET /v1/search/cameras."""
    return {"lon": q.lon, "lat": q.lat, "radius_m": RADIUS_M, "case_number": q.case}


def timed(fn: Callable[[Query], list[Any]], queries: list[Query]) -> tuple[list[float], list[list[Any]]]:
    """Latency of each call, sequentially, and what each returned."""
    latencies, results = [], []
    for q in queries:
        t = time.perf_counter()
        results.append(fn(q))
        latencies.append(time.perf_counter() - t)
    return latencies, results


def start_api(registry: Registry, folder: Path, workers: int) -> tuple[subprocess.Popen[bytes], str]:
    """uvicorn serving the registry app on a free port, with the same database and keys."""
    sec = registry.settings.security
    return start_registry_api({"REGISTRY_DATABASE_URL": registry.settings.database.url,
                               "REGISTRY_SIGNING_KEY_FILE": sec.signing_key_file, "REGISTRY_DATA_KEYS": sec.data_keys,
                               "REGISTRY_ARGON2_TIME_COST": "1", "REGISTRY_ARGON2_MEMORY_KIB": "8192",
                               "LOOKOUT_LOG_LEVEL": "WARNING"}, folder, workers=workers)


def api_caller(client: httpx.Client) -> Callable[[Query], list[Any]]:
    """One sequential GET per query over a keep-alive connection."""
    def call(q: Query) -> list[Any]:
        r = client.get("/v1/search/cameras", params=params(q), headers={"Authorization": f"Bearer {q.metro.token}"})
        r.raise_for_status()
        return [item["camera_id"] for item in r.json()["items"]]
    return call


async def throughput(base: str, queries: list[Query], total: int) -> tuple[float, int, float]:
    """Searches per second at CONCURRENCY in-flight requests over `total` requests; also errors and client CPU."""
    limits = httpx.Limits(max_connections=CONCURRENCY, max_keepalive_connections=CONCURRENCY)
    errors, counter = 0, iter(range(total))

    async def worker(client: httpx.AsyncClient) -> None:
        nonlocal errors
        for i in counter:
            q = queries[i % len(queries)]
            r = await client.get("/v1/search/cameras", params=params(q),
                                 headers={"Authorization": f"Bearer {q.metro.token}"})
            errors += r.status_code != 200

    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=30, trust_env=False) as client:
        cpu, t = time.process_time(), time.perf_counter()
        await asyncio.gather(*(worker(client) for _ in range(CONCURRENCY)))
        wall = time.perf_counter() - t
        return total / wall, errors, (time.process_time() - cpu) / wall


def main(argv: list[str] | None = None) -> None:
    """Seed, measure the three paths, print the JSON summary as the last stdout line."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--cameras", type=int, default=1_000_000)
    ap.add_argument("--queries", type=int, default=2000)
    ap.add_argument("--warmup", type=int, default=100)
    ap.add_argument("--workers", type=int, default=2, help="uvicorn worker processes")
    ap.add_argument("--rps-requests", type=int, default=4000, help="requests in the concurrency-16 run")
    ap.add_argument("--seed", type=int, default=20261121)
    args = ap.parse_args(argv)
    rng = random.Random(args.seed)
    folder = Path(tempfile.mkdtemp(prefix="lookout-bench-"))
    cluster, registry, proc = PgCluster(), None, None
    metros = [Metro(slug, box) for slug, _, box in METROS]
    try:
        cluster.start()
        log(f"cluster on port {cluster.port}; seeding {args.cameras} cameras")
        registry = build(cluster, folder)
        seed_s = seed(registry, metros, args.cameras)
        investigators(registry, metros)
        warm, queries = incidents(metros, args.warmup, rng, "WARM"), incidents(metros, args.queries, rng, "BENCH")

        with psycopg.connect(dsn(registry), autocommit=True) as conn:
            timed(lambda q: run_sql(conn, q), warm)
            sql_lat, sql_res = timed(lambda q: run_sql(conn, q), queries)
        log(f"sql: {summary(sql_lat)}")

        timed(lambda q: run_service(registry, q), warm)
        svc_lat, svc_res = timed(lambda q: run_service(registry, q), queries)
        log(f"service: {summary(svc_lat)}")

        proc, base = start_api(registry, folder, args.workers)
        with httpx.Client(base_url=base, timeout=30, trust_env=False) as client:
            call = api_caller(client)
            timed(call, warm * 2)
            api_lat, api_res = timed(call, queries)
        log(f"api: {summary(api_lat)}")
        asyncio.run(throughput(base, warm, CONCURRENCY * 10))
        rps, errors, client_cpu = asyncio.run(throughput(base, queries, args.rps_requests))
        log(f"api at concurrency {CONCURRENCY}: {rps:.0f} searches/s, {errors} errors, client used "
            f"{client_cpu:.2f} cores")

        mismatches = sum(a != b or a != c for a, b, c in zip(sql_res, svc_res, api_res, strict=True))
        sql_s, api_s = summary(sql_lat), summary(api_lat)
        print(json.dumps({
            "cameras": args.cameras, "queries": args.queries, "radius_m": RADIUS_M,
            "sql": sql_s, "service": summary(svc_lat), "api": api_s,
            "api_over_sql_p50": round(api_s["p50_ms"] / sql_s["p50_ms"], 2), "api_rps": round(rps, 1),
            "api_rps_concurrency": CONCURRENCY, "api_rps_requests": args.rps_requests, "api_rps_errors": errors,
            "client_cpu_cores_during_rps": round(client_cpu, 2), "uvicorn_workers": args.workers,
            "mean_results": round(sum(map(len, sql_res)) / len(sql_res), 2),
            "full_pages": sum(len(r) == PAGE for r in sql_res), "result_mismatches": mismatches,
            "seed_s": round(seed_s, 1), "cores": os.cpu_count(),
        }), flush=True)
    finally:
        stop_process(proc)
        if registry is not None:
            registry.engine.dispose()
        cluster.stop()
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
