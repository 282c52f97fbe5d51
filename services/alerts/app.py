"""The alert service's FastAPI application. `create_app` builds everything; importing builds nothing."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from services.alerts import api, stream
from services.alerts.consumer import Consumer, build_mqtt
from services.alerts.deps import Alerts
from services.alerts.service import AlertService, Publisher
from services.alerts.settings import AlertsSettings, AuthSettings
from services.common.auth import TokenVerifier
from services.common.db import build_engine, ping, session_factory
from services.common.errors import ERROR_RESPONSES, install_error_handlers
from services.common.health import health_router
from services.common.logs import configure_logging
from services.common.metrics import install_metrics
from services.common.mqtt import MqttClient

DESCRIPTION = """Panic alerts of Lookout: opened from CORE boxes (MQTT) or the owner's app (REST), pushed to the
dashboards of the agency (Server-Sent Events), acknowledged and resolved by dispatchers.

Every error has the shape `{"error": {"code", "message", "field"}}`."""


def build_verifier(auth: AuthSettings) -> TokenVerifier:
    """Verify the registry's tokens (inline JWKS JSON, else its JWKS URL)."""
    return TokenVerifier.from_source(jwks_json=auth.registry_jwks_json, jwks_url=auth.registry_jwks_url,
                                     staff_session_max_s=auth.staff_session_max_s)


class _Unconnected:
    """The publisher when MQTT is disabled: every publish fails (alerts still reach dashboards by SSE)."""

    async def publish(self, topic: str, payload: bytes, *, qos: int = 1) -> None:
        raise RuntimeError("MQTT is disabled (ALERTS_MQTT_ENABLED=false)")


def build_alerts(settings: AlertsSettings, *, verifier: TokenVerifier | None = None,
                 publisher: Publisher | None = None, client_id: str | None = None) -> Alerts:
    """The engine, verifier, service, consumer and MQTT client the app shares."""
    db = settings.database
    engine = build_engine(db.url, echo=db.echo, pool_size=db.pool_size)
    service = AlertService(session_factory(engine), publisher or _Unconnected(), settings.rules)
    consumer = Consumer(service)
    mqtt: MqttClient | None = None
    if settings.mqtt.enabled:
        mqtt = build_mqtt(consumer, settings.mqtt, settings.mqtt.shared_group, client_id=client_id)
        if publisher is None:
            service.publisher = mqtt
    return Alerts(settings=settings, engine=engine, verifier=verifier or build_verifier(settings.auth),
                  service=service, consumer=consumer, mqtt=mqtt)


def create_app(settings: AlertsSettings | None = None, *, alerts: Alerts | None = None) -> FastAPI:
    """The alert service API; the MQTT consumer runs while the app does. Pass `alerts` to share parts."""
    configure_logging()
    alerts = alerts or build_alerts(settings or AlertsSettings())

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        task = asyncio.create_task(alerts.mqtt.run(), name="alerts-mqtt") if alerts.mqtt else None
        yield
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        alerts.engine.dispose()

    app = FastAPI(title="Lookout alerts", version="1.0.0", description=DESCRIPTION, lifespan=lifespan)
    app.state.alerts = alerts
    install_error_handlers(app)
    install_metrics(app, service="alerts")

    def ready() -> None:
        ping(alerts.engine)
        if alerts.mqtt is not None and not alerts.mqtt.connected:
            raise ConnectionError("no broker connection")

    app.include_router(health_router(ready))
    for module in (stream, api):  # /stream before /{alert_id}
        app.include_router(module.router, responses=ERROR_RESPONSES)
    return app
