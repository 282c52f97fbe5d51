"""The relay's FastAPI application. `create_app` builds everything; importing builds nothing."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles

from proto import topics, wire
from proto.lookout.v1 import lookout_pb2 as pb
from services.common.auth import TokenVerifier
from services.common.db import build_engine, ping, session_factory, utcnow
from services.common.errors import ERROR_RESPONSES, install_error_handlers
from services.common.health import health_router
from services.common.logs import configure_logging
from services.common.metrics import install_metrics
from services.common.mqtt import MqttClient
from services.streams import api
from services.streams.consumer import Consumer, build_mqtt
from services.streams.deps import Streams
from services.streams.media.ice import restrict_host_addresses
from services.streams.media.peers import check_aiortc
from services.streams.relay import Relay
from services.streams.service import SessionStore
from services.streams.settings import AuthSettings, StreamsSettings
from services.streams.tokens import ViewerTokens

WEB = Path(__file__).resolve().parents[2] / "web" / "live"
DESCRIPTION = """Live video of Lookout: CORE boxes publish their cameras' H.264 over WebRTC (signalled over MQTT)
only for an open alert or an owner's consent grant; dispatchers of the agency watch through WHEP, with a
token for that one session. Nothing is decoded or re-encoded.

Every error has the shape `{"error": {"code", "message", "field"}}`."""


def build_verifier(auth: AuthSettings) -> TokenVerifier:
    """Verify the registry's tokens (inline JWKS JSON, else its JWKS URL)."""
    return TokenVerifier.from_source(jwks_json=auth.registry_jwks_json, jwks_url=auth.registry_jwks_url,
                                     staff_session_max_s=auth.staff_session_max_s)


class _Signals:
    """Publishes the relay's answers and stop commands (through the MQTT client, when there is one)."""

    def __init__(self) -> None:
        self.mqtt: MqttClient | None = None

    async def _publish(self, topic: str, payload: bytes) -> None:
        if self.mqtt is None:
            raise RuntimeError("MQTT is disabled (STREAMS_MQTT_ENABLED=false)")
        await self.mqtt.publish(topic, payload, qos=1)

    async def answer(self, device_id: str, session_id: str, kind: str, sdp: str) -> None:
        """SessionDescription(answer | reject) to the box."""
        message = pb.SessionDescription(session_id=session_id, type=kind, sdp=sdp)
        await self._publish(topics.device_webrtc(device_id, session_id, "answer"), wire.encode(message))

    async def stop(self, device_id: str, session_id: str, reason: str) -> None:
        """DeviceCommand(stream_stop) to the box."""
        command = pb.DeviceCommand(command_id=f"stop-{session_id}"[:64], issued_at=wire.timestamp(utcnow()),
                                   stream_stop=pb.StreamStop(session_id=session_id, reason=reason[:64]))
        await self._publish(topics.device_commands(device_id), wire.encode(command))


def build_streams(settings: StreamsSettings, *, verifier: TokenVerifier | None = None,
                  client_id: str | None = None) -> Streams:
    """The engine, verifier, store, relay, consumer and MQTT client the app shares."""
    check_aiortc()
    restrict_host_addresses(settings.relay.ice_host_addresses)
    db = settings.database
    engine = build_engine(db.url, echo=db.echo, pool_size=db.pool_size)
    store = SessionStore(session_factory(engine))
    signals = _Signals()
    relay = Relay(store, settings.relay, stop_device=signals.stop, answer=signals.answer)
    consumer = Consumer(relay)
    mqtt = build_mqtt(consumer, settings.mqtt, client_id=client_id) if settings.mqtt.enabled else None
    signals.mqtt = mqtt
    tokens = ViewerTokens(settings.auth.viewer_token_key, settings.auth.viewer_token_ttl_s)
    return Streams(settings=settings, engine=engine, verifier=verifier or build_verifier(settings.auth), store=store,
                   relay=relay, tokens=tokens, consumer=consumer, mqtt=mqtt)


def create_app(settings: StreamsSettings | None = None, *, streams: Streams | None = None) -> FastAPI:
    """The relay API; its MQTT consumer runs while the app does. Pass `streams` to share parts."""
    configure_logging()
    streams = streams or build_streams(settings or StreamsSettings())

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await asyncio.to_thread(streams.store.end_stale, relay_id=streams.settings.relay.relay_id)
        task = asyncio.create_task(streams.mqtt.run(), name="streams-mqtt") if streams.mqtt else None
        yield
        await streams.relay.close()
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        streams.engine.dispose()

    app = FastAPI(title="Lookout streams", version="1.0.0", description=DESCRIPTION, lifespan=lifespan)
    app.state.streams = streams
    install_error_handlers(app)
    install_metrics(app, service="streams")

    def ready() -> None:
        ping(streams.engine)
        if streams.mqtt is not None and not streams.mqtt.connected:
            raise ConnectionError("no broker connection")

    app.include_router(health_router(ready))
    app.include_router(api.router, responses=ERROR_RESPONSES)
    app.include_router(api.consent_router, responses=ERROR_RESPONSES)
    if WEB.is_dir():
        app.mount("/live", StaticFiles(directory=WEB, html=True), name="live")
        app.add_api_route("/", lambda: RedirectResponse("/live/"), include_in_schema=False)
    return app
