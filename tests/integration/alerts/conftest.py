"""Fixtures for the alert service: a fresh PostGIS database, a fresh Mosquitto, real tokens, registry copies."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import count
from typing import Any

import aiomqtt
import pytest

from proto import topics, wire
from proto.lookout.v1 import lookout_pb2 as pb
from services.alerts.app import build_alerts
from services.alerts.deps import Alerts
from services.alerts.migrate import upgrade
from services.alerts.settings import AlertsMqttSettings, AlertsSettings, AuthSettings, DatabaseSettings
from services.registry.accounts.tokens import TokenIssuer
from tests.support.mosquitto import Mosquitto
from tests.support.pgcluster import PgCluster

_names = count()


@dataclass
class Recorder:
    """A publisher that keeps what it was asked to publish."""

    sent: list[tuple[str, bytes]] = field(default_factory=list)

    async def publish(self, topic: str, payload: bytes, *, qos: int = 1) -> None:
        self.sent.append((topic, payload))


@pytest.fixture
def alerts_db(pg_cluster: PgCluster) -> str:
    """A fresh, migrated PostGIS database for one test."""
    url = pg_cluster.create_database(f"alerts_{next(_names)}_{uuid.uuid4().hex[:6]}")
    return url


@pytest.fixture
def broker() -> Iterator[Mosquitto]:
    """A fresh Mosquitto for one test (no persistent session of another test can take its messages)."""
    with Mosquitto() as mosquitto:
        yield mosquitto


def alerts_settings(db_url: str, issuer: TokenIssuer, port: int | None = None, **rules: Any) -> AlertsSettings:
    """Settings for a test alert service (MQTT off when no port)."""
    mqtt = AlertsMqttSettings(port=port or 1, enabled=port is not None, backoff_base_s=0.05, backoff_cap_s=0.5)
    settings = AlertsSettings(database=DatabaseSettings(url=db_url), mqtt=mqtt,
                              auth=AuthSettings(registry_jwks_json=json.dumps(issuer.jwks())))
    for key, value in rules.items():
        setattr(settings.rules, key, value)
    return settings


@pytest.fixture
def make_alerts(alerts_db: str, issuer: TokenIssuer) -> Iterator[Callable[..., Alerts]]:
    """Factory: an alert service on the test's database (migrated once)."""
    made: list[Alerts] = []

    def make(port: int | None = None, *, client_id: str | None = None, **kwargs: Any) -> Alerts:
        alerts = build_alerts(alerts_settings(alerts_db, issuer, port), client_id=client_id, **kwargs)
        if not made:
            upgrade(alerts.engine)
        made.append(alerts)
        return alerts

    yield make
    for alerts in made:
        alerts.engine.dispose()


@dataclass
class World:
    """Registry data as the alert service knows it: one agency, owner, site, device and its cameras."""

    agency: str = field(default_factory=lambda: str(uuid.uuid4()))
    owner: str = field(default_factory=lambda: str(uuid.uuid4()))
    site: str = field(default_factory=lambda: str(uuid.uuid4()))
    device: str = field(default_factory=lambda: f"core-{uuid.uuid4().hex[:8]}")
    live: list[str] = field(default_factory=lambda: [str(uuid.uuid4()), str(uuid.uuid4())])
    not_live: list[str] = field(default_factory=lambda: [str(uuid.uuid4()), str(uuid.uuid4())])

    def registry_messages(self, version: int = 1, revoked: bool = False) -> list[tuple[str, bytes]]:
        """SiteChanged, DeviceChanged and CameraChanged messages describing this world."""
        out = [(topics.registry_site(self.site), wire.encode(pb.SiteChanged(
                   site_id=self.site, owner_id=self.owner, agency_id=self.agency, lon=-81.77, lat=28.55,
                   version=version))),
               (topics.registry_device(self.device), wire.encode(pb.DeviceChanged(
                   device_id=self.device, site_id=self.site, agency_id=self.agency, revoked=revoked,
                   version=version)))]
        modes = [(c, pb.SHARING_MODE_LIVE_ON_ALERT) for c in self.live]
        modes += list(zip(self.not_live, [pb.SHARING_MODE_REGISTRY_ONLY, pb.SHARING_MODE_ON_REQUEST], strict=False))
        for camera, mode in modes:
            out.append((topics.registry_camera(camera), wire.encode(pb.CameraChanged(
                camera_id=camera, site_id=self.site, agency_id=self.agency, device_id=self.device, sharing_mode=mode,
                core_enabled=True, version=version))))
        return out


def seed(alerts: Alerts, world: World, **kwargs: Any) -> None:
    """Apply the world's registry events directly (as the registry consumer would)."""
    for topic, payload in world.registry_messages(**kwargs):
        msg = aiomqtt.Message(topic, payload, qos=1, retain=False, mid=0, properties=None)
        asyncio.run(alerts.consumer.on_registry(msg))


def panic_event(world: World, *, event_id: str | None = None, **over: Any) -> pb.PanicEvent:
    """A valid PanicEvent of the world's device, with fields overridden."""
    fields: dict[str, Any] = {"event_id": event_id or str(uuid.uuid4()), "device_id": world.device,
                              "site_id": world.site, "trigger": pb.TRIGGER_KIND_BUTTON,
                              "camera_ids": world.live + world.not_live,
                              "pressed_at": wire.timestamp(datetime.now(UTC))}
    fields.update(over)
    return pb.PanicEvent(**fields)


async def until(check: Callable[[], Any], timeout: float = 10.0, every: float = 0.05) -> Any:
    """Wait until `check()` is truthy (run in a thread: it may query the database); return its value."""
    deadline = time.monotonic() + timeout
    while True:
        value = await asyncio.to_thread(check)
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(every)
