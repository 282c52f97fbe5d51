"""The whole live-video path on loopback: registry, production Mosquitto, alerts, relay, a CORE box, a camera.

Every part is real: the registry in process (PostGIS, outbox relay), Mosquitto with the production config,
alerts and streams as uvicorn processes, `lookout-core run` as a process pulling the GStreamer RTSP camera.
"""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from fastapi.testclient import TestClient

from edge_core.credentials import store_credentials
from services.alerts.migrate import upgrade as upgrade_alerts
from services.common.auth import Role
from services.common.db import build_engine
from services.registry.app import create_app
from services.registry.deps import Registry
from services.registry.settings import BrokerSettings, MqttSettings
from services.streams.migrate import upgrade as upgrade_streams
from tests import builders as b
from tests.support.mosquitto import ProductionBroker
from tests.support.pgcluster import PgCluster
from tests.support.rtsp_camera import RtspCamera
from tests.support.services import ROOT, ServiceProcess, wait_for

MODES = ("live_on_alert", "registry_only", "on_request")


@dataclass
class LiveBox:
    """The CORE box: its folder, identity, cameras by sharing mode, and its `lookout-core run` process."""

    root: Path
    device_id: str
    cameras: dict[str, str]  # sharing mode -> registry camera id
    proc: subprocess.Popen[bytes] | None = None

    @property
    def config(self) -> Path:
        """core.toml."""
        return self.root / "core.toml"

    def write_config(self, port: int, ca_file: Path, camera_url: str, *, warm: bool) -> None:
        """core.toml: broker over TLS, every camera on the simulator, loopback ICE, optional warm standby."""
        cams = "".join(f'[[cameras]]\ncamera_id = "{c}"\nrtsp_url = "{camera_url}"\nlabel = "{mode}"\n'
                       for mode, c in self.cameras.items())
        self.config.write_text(
            f'data_dir = "data"\noutbox_poll_s = 0.5\nreconnect_base_s = 0.2\nreconnect_cap_s = 1.0\n'
            f'camera_probe_interval_s = 600\nstatus_interval_s = 600\n'
            f'[broker]\nhost = "127.0.0.1"\nport = {port}\ntls = true\nca_file = "{ca_file}"\n'
            f'[live]\nwarm_standby = {"true" if warm else "false"}\nice_host_addresses = ["127.0.0.1"]\n{cams}')

    def start(self) -> None:
        """`lookout-core run` in the background, logging to the box folder."""
        with (self.root / "agent.log").open("ab") as log:
            self.proc = subprocess.Popen([sys.executable, "-m", "edge_core.cli", "run", "--config", str(self.config)],
                                         cwd=ROOT, stdout=log, stderr=log)

    def panic(self) -> str:
        """Press through the CLI; the event id it recorded."""
        result = subprocess.run([sys.executable, "-m", "edge_core.cli", "panic", "--config", str(self.config)],
                                cwd=ROOT, capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stderr
        return result.stdout.split("(event ")[1].split(")")[0]

    def stop(self) -> None:
        """SIGTERM, then SIGKILL."""
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)

    def log_tail(self, lines: int = 40) -> str:
        """The end of the agent's log."""
        path = self.root / "agent.log"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""


@dataclass
class LiveStack:
    """Everything a live-video test talks to."""

    broker: ProductionBroker
    registry: Registry
    client: TestClient
    alerts: ServiceProcess
    streams: ServiceProcess
    camera: RtspCamera
    box: LiveBox
    agency_id: str
    dispatcher: dict[str, str]  # Authorization header of a dispatcher of the agency
    owner: dict[str, str]
    extra: dict[str, Any] = field(default_factory=dict)

    def open_alert(self, event_id: str, timeout: float = 15) -> str:
        """The id of the alert the press opened."""
        def find() -> str | None:
            rows = httpx.get(f"{self.alerts.url}/v1/alerts", headers=self.dispatcher, timeout=5).json()
            return next((a["id"] for a in rows if a.get("event_id") == event_id), None)
        return str(wait_for(find, timeout, f"alert of event {event_id}; alerts log:\n{self.alerts.tail()}"))

    def sessions(self, **params: str) -> list[dict[str, Any]]:
        """The dispatcher's view of the relay's sessions."""
        answer = httpx.get(f"{self.streams.url}/v1/sessions", params=params, headers=self.dispatcher, timeout=5)
        assert answer.status_code == 200, answer.text
        return list(answer.json())

    def live_session(self, alert_id: str, timeout: float = 20) -> dict[str, Any]:
        """The alert's live session, once media reaches the relay."""
        def find() -> dict[str, Any] | None:
            return next(iter(self.sessions(alert_id=alert_id, state="live")), None)
        return dict(wait_for(find, timeout, f"a live session; streams log:\n{self.streams.tail()}\n"
                                            f"agent log:\n{self.box.log_tail()}"))

    def resolve(self, alert_id: str) -> None:
        """Acknowledge and resolve the alert as the dispatcher."""
        for step in ("acknowledge", "resolve"):
            answer = httpx.post(f"{self.alerts.url}/v1/alerts/{alert_id}/{step}", headers=self.dispatcher, timeout=5)
            assert answer.status_code == 200, answer.text


def _registry_on(broker: ProductionBroker, registry: Registry) -> None:
    registry.broker = broker.accounts()
    registry.settings.broker = BrokerSettings(host="127.0.0.1", port=broker.tls_port, tls=True)
    registry.settings.mqtt = MqttSettings(host="127.0.0.1", port=broker.port, username="registry",
                                          password=broker.service_passwords["registry"], poll_interval_s=0.1,
                                          max_backoff_s=1.0)


def _service_env(prefix: str, db_url: str, broker: ProductionBroker, jwks: dict[str, Any]) -> dict[str, str]:
    name = prefix.lower()
    return {f"{prefix}_DATABASE_URL": db_url, f"{prefix}_MQTT_HOST": "127.0.0.1",
            f"{prefix}_MQTT_PORT": str(broker.port),
            f"{prefix}_MQTT_USERNAME": name, f"{prefix}_MQTT_PASSWORD": broker.service_passwords[name],
            f"{prefix}_MQTT_CLIENT_ID": f"{name}-{uuid.uuid4().hex[:6]}", f"{prefix}_MQTT_BACKOFF_BASE_S": "0.1",
            f"{prefix}_MQTT_BACKOFF_CAP_S": "1.0", f"{prefix}_REGISTRY_JWKS_JSON": json.dumps(jwks),
            "LOOKOUT_LOG_LEVEL": "INFO"}


def _databases(pg: PgCluster) -> tuple[str, str]:
    urls = []
    for name, upgrade in (("alerts", upgrade_alerts), ("streams", upgrade_streams)):
        url = pg.create_database(f"{name}_live_{uuid.uuid4().hex[:8]}")
        engine = build_engine(url, echo=False, pool_size=1)
        upgrade(engine)
        engine.dispose()
        urls.append(url)
    return urls[0], urls[1]


def _enrol(client: TestClient, registry: Registry, root: Path) -> tuple[LiveBox, str, dict[str, str], dict[str, str]]:
    with registry.sessions() as db:
        agency = b.make_agency(db, bounds=b.WEST)
        owner = b.make_owner(db, registry)
        site = b.make_site(db, registry, owner)
        cameras = {mode: str(b.make_camera(db, registry, owner, site, core=True, mode=mode, label=mode).id)
                   for mode in MODES}
        dispatcher = b.make_staff(db, registry, agency, Role.DISPATCHER)
        db.commit()
        agency_id, site_id = str(agency.id), site.id
    code = client.post(f"/v1/sites/{site_id}/enrolment-codes", headers=owner.headers).json()["code"]
    answer = client.post("/v1/devices/enroll", json={"code": code, "firmware": "lookout-core/test"})
    assert answer.status_code == 201, answer.text
    store_credentials(root / "data" / "credentials.json", answer.json())
    return LiveBox(root, answer.json()["device_id"], cameras), agency_id, dispatcher.headers, owner.headers


def start_stack(stack: ExitStack, pg: PgCluster, registry: Registry, root: Path, *, warm: bool = True,
                camera: RtspCamera | None = None, relay: dict[str, str] | None = None) -> LiveStack:
    """Start every part (torn down by `stack`); the box is running and connected when this returns."""
    broker = ProductionBroker().start()
    stack.callback(broker.close)
    _registry_on(broker, registry)
    alerts_url, streams_url = _databases(pg)
    jwks = registry.kit.issuer.jwks()
    alerts = ServiceProcess("services.alerts.app:create_app", _service_env("ALERTS", alerts_url, broker, jwks),
                            root / "alerts.log", name="alerts")
    stack.callback(alerts.stop)
    alerts.start()  # subscribed before the registry announces the cameras
    streams_env = _service_env("STREAMS", streams_url, broker, jwks) | {"STREAMS_ICE_HOST_ADDRESSES": '["127.0.0.1"]'}
    streams = ServiceProcess("services.streams.app:create_app", streams_env | (relay or {}), root / "streams.log",
                             name="streams")
    stack.callback(streams.stop)
    streams.start()
    client = stack.enter_context(TestClient(create_app(registry=registry)))
    box, agency_id, dispatcher, owner = _enrol(client, registry, root / "box")
    camera = camera or RtspCamera(width=1280, height=720, fps=25, gop=50)
    camera.start()
    stack.callback(camera.stop)
    box.write_config(broker.tls_port, broker.ca_file, camera.url, warm=warm)
    box.start()
    stack.callback(box.stop)
    made = LiveStack(broker, registry, client, alerts, streams, camera, box, agency_id, dispatcher, owner)
    wait_for(lambda: "connected to the broker" in box.log_tail(200), 30, f"the box online:\n{box.log_tail()}")
    return made
