"""The whole panic path for fault tests: registry (PostGIS, outbox relay), production broker, alerts process, boxes."""

from __future__ import annotations

import gc
import json
import logging
import uuid
import warnings
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select

from edge_core.credentials import store_credentials
from services.alerts.migrate import upgrade
from services.alerts.models import CameraCopy, DeviceCopy, SiteCopy
from services.common.db import build_engine
from services.registry.app import create_app
from services.registry.deps import Registry
from services.registry.settings import BrokerSettings, MqttSettings
from tests import builders as b
from tests.integration.faults.support import AlertsProcess, Box, Cable
from tests.support.mosquitto import ProductionBroker
from tests.support.pgcluster import PgCluster
from tests.support.services import wait_for

DEVICES = 20
# Site points inside the two test jurisdictions: even boxes in the west agency, odd ones in the east.
POINTS = ((-81.7745, 28.5567), (-81.7250, 28.5567))


@dataclass
class System:
    """Everything one fault test runs against; `alerts_engine` reads the alerts database for the final count."""

    broker: ProductionBroker
    registry: Registry
    alerts: AlertsProcess
    alerts_engine: Engine
    boxes: list[Box]
    root: Path
    cables: dict[str, Cable] = field(default_factory=dict)

    def cable(self, device_id: str) -> Cable:
        """Put a cuttable link between one box and the broker's TLS port (before the fleet starts)."""
        self.cables[device_id] = Cable(self.broker.tls_port)
        return self.cables[device_id]

    def ports(self) -> dict[str, int]:
        """The TLS port each box connects to (its cable, or the broker itself)."""
        return {box.device_id: self.cables[box.device_id].port if box.device_id in self.cables
                else self.broker.tls_port for box in self.boxes}


def enrol_boxes(client: TestClient, registry: Registry, root: Path) -> list[Box]:
    """Two agencies, one owner, site and live-on-alert CORE camera per box; each box enrolled through the API."""
    with registry.sessions() as db:
        agencies = [b.make_agency(db, bounds=b.WEST), b.make_agency(db, bounds=b.EAST)]
        homes = []
        for i in range(DEVICES):
            owner = b.make_owner(db, registry)
            lon, lat = POINTS[i % 2]
            site = b.make_site(db, registry, owner, lon=lon, lat=lat)
            camera = b.make_camera(db, registry, owner, site, core=True, mode="live_on_alert", label=f"Door {i}")
            homes.append((owner, site.id, str(agencies[i % 2].id), str(camera.id)))
        db.commit()
    boxes = []
    for i, (owner, site_id, agency_id, camera_id) in enumerate(homes):
        made = client.post(f"/v1/sites/{site_id}/enrolment-codes", headers=owner.headers)
        assert made.status_code == 201, made.text
        answer = client.post("/v1/devices/enroll", json={"code": made.json()["code"], "firmware": "lookout-core/test"})
        assert answer.status_code == 201, answer.text
        doc = answer.json()
        assert [c["camera_id"] for c in doc["cameras"]] == [camera_id]
        folder = root / f"box-{i:02d}"
        store_credentials(folder / "data" / "credentials.json", doc)
        boxes.append(Box(folder, doc["device_id"], str(site_id), agency_id, [camera_id]))
    return boxes


def copies_complete(engine: Engine, boxes: list[Box]) -> bool:
    """The alerts service holds a copy of every box, its site and its camera."""
    with engine.connect() as conn:
        counts = [conn.scalar(select(func.count()).select_from(model)) for model in (DeviceCopy, SiteCopy, CameraCopy)]
    return counts == [len(boxes)] * 3


@pytest.fixture
def system(pg_cluster: PgCluster, make_registry: Callable[[str], Registry], tmp_path: Path) -> Iterator[System]:
    """Broker, alerts service (own database and process), registry with its relay, 20 enrolled boxes."""
    with ExitStack() as stack:
        quiet = logging.getLogger("edge_core")  # 20 agents log every press and command at INFO
        stack.callback(quiet.setLevel, quiet.level)
        quiet.setLevel(logging.WARNING)
        broker = ProductionBroker().start()
        stack.callback(broker.close)
        registry = make_registry("postgis")
        registry.broker = broker.accounts()
        registry.settings.broker = BrokerSettings(host="127.0.0.1", port=broker.tls_port, tls=True)
        registry.settings.mqtt = MqttSettings(host="127.0.0.1", port=broker.port, username="registry",
                                              password=broker.service_passwords["registry"], poll_interval_s=0.1,
                                              max_backoff_s=1.0)
        alerts_url = pg_cluster.create_database(f"alerts_faults_{uuid.uuid4().hex[:8]}")
        alerts_engine = build_engine(alerts_url, echo=False, pool_size=2)
        stack.callback(alerts_engine.dispose)
        upgrade(alerts_engine)
        env = {"ALERTS_DATABASE_URL": alerts_url, "ALERTS_MQTT_HOST": "127.0.0.1", "ALERTS_MQTT_PORT": str(broker.port),
               "ALERTS_MQTT_USERNAME": "alerts", "ALERTS_MQTT_PASSWORD": broker.service_passwords["alerts"],
               "ALERTS_MQTT_CLIENT_ID": "alerts-1", "ALERTS_MQTT_BACKOFF_BASE_S": "0.1",
               "ALERTS_MQTT_BACKOFF_CAP_S": "1.0",
               "ALERTS_REGISTRY_JWKS_JSON": json.dumps(registry.kit.issuer.jwks()), "LOOKOUT_LOG_LEVEL": "WARNING"}
        alerts = AlertsProcess(env, tmp_path / "alerts.log")
        stack.callback(alerts.kill)
        alerts.start()  # subscribed before the registry publishes anything
        client = stack.enter_context(TestClient(create_app(registry=registry)))  # its lifespan runs the relay
        boxes = enrol_boxes(client, registry, tmp_path)
        wait_for(lambda: copies_complete(alerts_engine, boxes), 30, f"registry copies; alerts log:\n{alerts.tail()}")
        made = System(broker, registry, alerts, alerts_engine, boxes, tmp_path)
        yield made
        for cable in made.cables.values():
            cable.close()
    # Known edge_core leak (reported): after a broker-side disconnect an agent's aiomqtt/paho client leaves its TLS
    # socket to the garbage collector; collect them now so the ResourceWarning does not fail the next test's setup.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        gc.collect()
