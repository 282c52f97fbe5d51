"""Press-to-dashboard latency: CORE agents' outboxes -> production Mosquitto -> alerts (uvicorn, PostGIS) -> SSE.

Run: python -m tests.bench.panic_latency --slow 60 --fast 2000. A press is recorded as `lookout-core panic` does it
(outbox row + wake datagram) on one of several running agents, round-robin; the clock stops when a dispatcher's
`GET /v1/alerts/stream` delivers the `opened` event. Progress goes to stderr; the last line of stdout is one JSON
object with p50/p99 per rate, the bare broker round trip (QoS 1) as the floor, and lost/duplicated alerts.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import httpx
import psycopg
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import create_engine

from edge_core import wake
from edge_core.outbox import Outbox, PendingPress
from proto import topics, wire
from proto.lookout.v1 import lookout_pb2 as pb
from services.alerts.migrate import upgrade
from services.common.auth import Role
from services.registry.accounts.tokens import TokenIssuer
from tests.support.mosquitto import MqttClient, ProductionBroker
from tests.support.pgcluster import PgCluster, free_port
from tests.support.processes import stop_process

ROOT = Path(__file__).resolve().parents[2]


def log(msg: str) -> None:
    """Progress line on stderr."""
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def pct(values: list[float], q: float) -> float:
    """The q-quantile (nearest rank) of the values, in milliseconds, rounded."""
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))] * 1000, 3)


def summary(values: list[float]) -> dict[str, float]:
    """p50/p99/max/mean of latencies in seconds, as milliseconds (zeros when empty)."""
    if not values:
        return {"p50_ms": 0.0, "p99_ms": 0.0, "max_ms": 0.0, "mean_ms": 0.0}
    return {"p50_ms": pct(values, 0.50), "p99_ms": pct(values, 0.99), "max_ms": pct(values, 1.0),
            "mean_ms": round(sum(values) / len(values) * 1000, 3)}


@dataclass
class Device:
    """One CORE box: its account, folder, `lookout-core run` process and (shared) outbox file."""

    root: Path
    device_id: str
    password: str
    site_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    camera_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    proc: subprocess.Popen[bytes] | None = None
    outbox: Outbox | None = None

    def write(self, port: int) -> None:
        """core.toml and credentials.json as enrolment would leave them (plain loopback listener)."""
        data = self.root / "data"
        data.mkdir(parents=True, mode=0o700)
        (self.root / "core.toml").write_text(
            'data_dir = "data"\noutbox_poll_s = 5\nstatus_interval_s = 3600\ncamera_probe_interval_s = 3600\n'
            f'reconnect_base_s = 0.2\nreconnect_cap_s = 1.0\n[broker]\nhost = "127.0.0.1"\nport = {port}\n'
            f'[[cameras]]\ncamera_id = "{self.camera_id}"\nrtsp_url = "rtsp://127.0.0.1:9/stream"\n')
        creds = {"device_id": self.device_id, "site_id": self.site_id, "cameras": [{"camera_id": self.camera_id}],
                 "mqtt": {"host": "127.0.0.1", "port": port, "tls": False, "username": self.device_id,
                          "password": self.password, "client_id": self.device_id}}
        fd = os.open(data / "credentials.json", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump(creds, fh)

    def start(self) -> None:
        """Start the agent and open the outbox the way `lookout-core panic` does."""
        with (self.root / "agent.log").open("ab") as out:
            self.proc = subprocess.Popen([sys.executable, "-m", "edge_core.cli", "run", "--config",
                                          str(self.root / "core.toml")], cwd=ROOT, stdout=out, stderr=out)
        self.outbox = Outbox(self.root / "data" / "outbox.db")

    def press(self) -> PendingPress:
        """Record a press durably and poke the running agent (what `lookout-core panic` does)."""
        assert self.outbox is not None
        pressed = self.outbox.add(pb.TRIGGER_KIND_CLI)
        wake.poke(self.root / "data" / "wake.sock")
        return pressed

    def stop(self) -> None:
        """SIGTERM the agent (SIGKILL if it hangs) and close the outbox."""
        stop_process(self.proc)
        if self.outbox is not None:
            self.outbox.close()


def registry_messages(agency: str, device: Device) -> list[tuple[str, bytes]]:
    """SiteChanged, DeviceChanged and CameraChanged (live on alert) as the registry's outbox relay publishes them."""
    return [
        (topics.registry_site(device.site_id), wire.encode(pb.SiteChanged(
            site_id=device.site_id, owner_id=str(uuid.uuid4()), agency_id=agency, lon=-81.77, lat=28.55, version=1))),
        (topics.registry_device(device.device_id), wire.encode(pb.DeviceChanged(
            device_id=device.device_id, site_id=device.site_id, agency_id=agency, version=1))),
        (topics.registry_camera(device.camera_id), wire.encode(pb.CameraChanged(
            camera_id=device.camera_id, site_id=device.site_id, agency_id=agency, device_id=device.device_id,
            sharing_mode=pb.SHARING_MODE_LIVE_ON_ALERT, core_enabled=True, version=1))),
    ]


def wait_for(check: Callable[[], object], timeout: float, what: str) -> None:
    """Poll `check()` every 50 ms until truthy, or raise TimeoutError."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        time.sleep(0.05)


def start_alerts(db_url: str, broker: ProductionBroker, jwks: dict[str, object], folder: Path,
                 feed_poll_s: float | None) -> tuple[subprocess.Popen[bytes], str]:
    """uvicorn (one process: the SSE wake-up is in-process) serving the alerts app as its `alerts` account."""
    port = free_port()
    env = {**os.environ, "ALERTS_DATABASE_URL": db_url, "ALERTS_REGISTRY_JWKS_JSON": json.dumps(jwks),
           "ALERTS_MQTT_HOST": "127.0.0.1", "ALERTS_MQTT_PORT": str(broker.port), "ALERTS_MQTT_USERNAME": "alerts",
           "ALERTS_MQTT_PASSWORD": broker.service_passwords["alerts"],
           "ALERTS_MQTT_CLIENT_ID": f"alerts-bench-{uuid.uuid4().hex[:8]}"}
    if feed_poll_s is not None:
        env["ALERTS_FEED_POLL_S"] = str(feed_poll_s)
    cmd = [sys.executable, "-m", "uvicorn", "--factory", "services.alerts.app:create_app", "--host", "127.0.0.1",
           "--port", str(port), "--no-access-log", "--log-level", "warning"]
    with (folder / "alerts.log").open("wb") as out:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"

    def ready() -> bool:
        if proc.poll() is not None:
            raise RuntimeError(f"alerts exited: {(folder / 'alerts.log').read_text()[-2000:]}")
        try:
            return httpx.get(f"{base}/readyz", timeout=1, trust_env=False).status_code == 200
        except httpx.HTTPError:
            return False

    wait_for(ready, 60, "the alerts service to be ready (database and broker)")
    return proc, base


class Dashboard:
    """A dispatcher's SSE client in a thread: the wall-clock time each `opened` event arrived, and its payload."""

    def __init__(self, base: str, token: str) -> None:
        self.base, self.token = base, token
        self.opened: list[tuple[str, float, str]] = []  # (event_id, received at, opened_at)
        self.lock = threading.Lock()
        self.ready = threading.Event()
        self.closing = False
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> Dashboard:
        """Connect and wait for the stream to begin."""
        self.thread.start()
        if not self.ready.wait(30):
            raise TimeoutError(f"SSE stream did not start: {self.error!r}")
        return self

    def _run(self) -> None:
        headers = {"Authorization": f"Bearer {self.token}", "Accept": "text/event-stream"}
        try:
            with httpx.Client(base_url=self.base, timeout=httpx.Timeout(30, read=None), trust_env=False) as http, \
                    http.stream("GET", "/v1/alerts/stream", headers=headers) as response:
                response.raise_for_status()
                self.ready.set()
                kind, data = "", ""
                for line in response.iter_lines():
                    if line.startswith("event: "):
                        kind = line[7:]
                    elif line.startswith("data: "):
                        data = line[6:]
                    elif not line and data:
                        if kind == "opened":
                            at = time.time()
                            alert = json.loads(data)
                            with self.lock:
                                self.opened.append((alert["event_id"], at, alert["opened_at"]))
                        kind, data = "", ""
        except BaseException as exc:
            if not self.closing:
                self.error = exc
            self.ready.set()

    def snapshot(self) -> list[tuple[str, float, str]]:
        """What arrived so far."""
        with self.lock:
            return list(self.opened)


def broker_floor(broker: ProductionBroker, samples: int) -> list[float]:
    """Bare QoS 1 publish-to-receive through the broker: the streams service publishes a probe device's commands."""
    device_id, password = broker.add_device(f"probe-{uuid.uuid4().hex[:8]}")
    topic = topics.device_commands(device_id)
    sub = broker.client(device_id, password, client_id=device_id)
    pub = broker.client("streams", client_id=f"streams-bench-{uuid.uuid4().hex[:6]}")
    try:
        assert sub.subscribe(topic, qos=1), "probe subscription refused"
        out = []
        for i in range(samples + 50):
            t = time.perf_counter()
            pub.paho.publish(topic, b"p" * 64, qos=1)
            sub.messages.get(timeout=10)
            if i >= 50:  # warm-up
                out.append(time.perf_counter() - t)
        return out
    finally:
        sub.close()
        pub.close()


def run_rate(devices: list[Device], dash: Dashboard, rate: float, count: int, settle_s: float,
             everything: dict[str, float]) -> dict[str, object]:
    """`count` presses at `rate`/s round-robin over the devices; latency from pressed_at to SSE receipt."""
    pressed: dict[str, float] = {}
    add_s: list[float] = []
    late: list[float] = []
    lock = threading.Lock()
    start = time.monotonic() + 0.5

    def presser(k: int) -> None:
        for i in range(k, count, len(devices)):
            due = start + i / rate
            delay = due - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            t = time.perf_counter()
            press = devices[k].press()
            with lock:
                add_s.append(time.perf_counter() - t)
                late.append(max(0.0, time.monotonic() - due))
                pressed[press.event_id] = press.pressed_at.timestamp()

    before = len(dash.snapshot())
    threads = [threading.Thread(target=presser, args=(k,), daemon=True) for k in range(len(devices))]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    wall = time.monotonic() - start
    everything.update(pressed)
    ours = set(pressed)
    deadline = time.monotonic() + settle_s
    while time.monotonic() < deadline and not ours <= {e for e, _, _ in dash.snapshot()[before:]}:
        time.sleep(0.05)
    time.sleep(1.0)  # a duplicate would show up by now
    got = [x for x in dash.snapshot()[before:] if x[0] in ours]
    seen = Counter(e for e, _, _ in got)
    first: dict[str, tuple[float, float]] = {}
    for event_id, at, opened_at in got:
        first.setdefault(event_id, (at, datetime.fromisoformat(opened_at).timestamp()))
    total = [first[e][0] - pressed[e] for e in first]
    to_open = [first[e][1] - pressed[e] for e in first]
    to_dash = [first[e][0] - first[e][1] for e in first]
    return {**summary(total), "n": len(total), "presses": count, "rate_per_s": rate,
            "achieved_rate_per_s": round(count / wall, 1), "not_within_settle": len(ours - set(first)),
            "duplicated": sum(n - 1 for n in seen.values()),
            "press_to_opened": summary(to_open), "opened_to_dashboard": summary(to_dash),
            "outbox_add": summary(add_s), "press_schedule_late": summary(late)}


def count_rows(dsn: str, table: str) -> int:
    """Rows in one table of the alerts database."""
    with psycopg.connect(dsn) as conn:
        row = conn.execute(f"SELECT count(*) FROM {table}").fetchone()
        return int(row[0]) if row else 0


def main(argv: list[str] | None = None) -> None:
    """Start everything, measure the floor and both rates, print the JSON summary as the last stdout line."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--slow", type=int, default=60, help="presses at --slow-rate")
    ap.add_argument("--slow-rate", type=float, default=1.0)
    ap.add_argument("--fast", type=int, default=2000, help="presses at --fast-rate")
    ap.add_argument("--fast-rate", type=float, default=100.0)
    ap.add_argument("--devices", type=int, default=10)
    ap.add_argument("--floor-samples", type=int, default=1000)
    ap.add_argument("--warmup", type=int, default=20, help="presses before measuring (not reported)")
    ap.add_argument("--settle", type=float, default=60.0, help="seconds to wait for stragglers after a run")
    ap.add_argument("--feed-poll-s", type=float, default=None, help="override ALERTS_FEED_POLL_S (default 0.3)")
    ap.add_argument("--keep", action="store_true", help="keep the temporary folder (logs) and print its path")
    args = ap.parse_args(argv)
    folder = Path(tempfile.mkdtemp(prefix="lookout-bench-alerts-"))
    cluster, broker, proc, dash = PgCluster(), ProductionBroker(), None, None
    devices: list[Device] = []
    watcher: MqttClient | None = None
    try:
        cluster.start()
        broker.start()
        log(f"PostGIS on port {cluster.port}, production Mosquitto on port {broker.port}")
        db_url = cluster.create_database("alerts_bench")
        engine = create_engine(db_url)
        upgrade(engine)
        engine.dispose()
        dsn = db_url.replace("postgresql+psycopg://", "postgresql://")

        floor = broker_floor(broker, args.floor_samples)
        log(f"broker QoS 1 round trip: {summary(floor)}")

        issuer = TokenIssuer(Ed25519PrivateKey.generate(), access_ttl_s=3600, staff_session_max_s=12 * 3600)
        proc, base = start_alerts(db_url, broker, issuer.jwks(), folder, args.feed_poll_s)
        agency = str(uuid.uuid4())
        for i in range(args.devices):
            device_id, password = broker.add_device(f"core-bench-{i:02d}-{uuid.uuid4().hex[:6]}")
            devices.append(Device(folder / f"box-{i:02d}", device_id, password))
        registry = broker.client("registry", client_id=f"registry-bench-{uuid.uuid4().hex[:6]}")
        try:
            for device in devices:
                for topic, payload in registry_messages(agency, device):
                    registry.publish(topic, payload, qos=1)
        finally:
            registry.close()
        wait_for(lambda: count_rows(dsn, "device_copy") == len(devices)
                 and count_rows(dsn, "camera_copy") == len(devices), 30, "registry copies in the alerts service")
        log(f"alerts service at {base} knows {len(devices)} devices of agency {agency}")

        watcher = broker.client("registry", client_id=f"registry-watch-{uuid.uuid4().hex[:6]}")
        assert watcher.subscribe(topics.STATUS_FILTER)
        online: set[str] = set()
        for device in devices:
            device.write(broker.port)
            device.start()

        def all_online() -> bool:
            for m in watcher.drain(0.05):
                status = wire.decode(pb.DeviceStatus, m.payload)
                (online.add if status.online else online.discard)(status.device_id)
            return len(online) == len(devices)

        wait_for(all_online, 60, "every agent online")
        log(f"{len(devices)} agents online")

        claims = {"sub": str(uuid.uuid4()), "role": str(Role.DISPATCHER), "agency": agency, "owner": None,
                  "scope": ""}
        token = issuer.issue(claims, auth_time=int(time.time()), session_max_s=12 * 3600).access_token
        dash = Dashboard(base, token).start()
        everything: dict[str, float] = {}
        warm = run_rate(devices, dash, 20.0, args.warmup, args.settle, everything)
        log(f"warm-up: {warm['n']}/{warm['presses']} arrived, p50 {warm['p50_ms']} ms")
        results: dict[str, object] = {}
        for name, count, rate in (("rate_1", args.slow, args.slow_rate), ("rate_100", args.fast, args.fast_rate)):
            log(f"{name}: {count} presses at {rate}/s over {len(devices)} agents")
            results[name] = res = run_rate(devices, dash, rate, count, args.settle, everything)
            log(f"{name}: {json.dumps(res)}")
            if dash.error is not None:
                raise RuntimeError(f"SSE stream failed: {dash.error!r}")
        deadline = time.monotonic() + args.settle  # stragglers still count as delivered (late), not lost
        while time.monotonic() < deadline and not set(everything) <= {e for e, _, _ in dash.snapshot()}:
            time.sleep(0.2)
        seen = Counter(e for e, _, _ in dash.snapshot())
        alerts_in_db = count_rows(dsn, "alert")
        print(json.dumps({
            **results, "broker_rtt_p50_ms": pct(floor, 0.5), "broker_rtt_p99_ms": pct(floor, 0.99),
            "broker_rtt_n": len(floor),
            "lost": len(set(everything) - set(seen)), "duplicated": sum(seen[e] - 1 for e in everything if seen[e]),
            "alerts_in_db": alerts_in_db, "presses_total": len(everything), "devices": len(devices),
            "broker_tcp_nodelay": "set_tcp_nodelay true" in broker.config_file.read_text(),
            "feed_poll_s": args.feed_poll_s if args.feed_poll_s is not None else 0.3,
            "target_p99_ms_at_100": 50, "cores": os.cpu_count(),
        }), flush=True)
    finally:
        if dash is not None:
            dash.closing = True
        stop_process(proc)
        for device in devices:
            device.stop()
        if watcher is not None:
            watcher.close()
        broker.close()
        cluster.stop()
        if args.keep:
            log(f"kept {folder}")
        else:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
