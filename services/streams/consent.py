"""Consent sessions: a dispatcher starts a camera's live stream under the owner's grant to their agency.

The relay decides from its own copy of the registry's camera policy (CameraChanged), registers the session
itself (so the answer can name it and a repeated request finds it), then sends the box its stream_start. The
relay's command consumer reads that command back like any other start; registering is idempotent, so the echo
changes nothing. The box checks the grant again before it sends a single frame.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from weakref import WeakKeyDictionary

import aiomqtt
from sqlalchemy import select

from proto import topics, wire
from proto.lookout.v1 import lookout_pb2 as pb
from services.common.auth import Principal
from services.common.errors import Conflict, Forbidden, NotFound
from services.common.mqtt import NotConnected
from services.streams.models import CameraPolicy, State, StreamSession
from services.streams.policy import active_grants
from services.streams.relay import Relay
from services.streams.service import WATCHERS, SessionStore

log = logging.getLogger("lookout.streams.consent")
Publish = Callable[[str, bytes], Awaitable[None]]  # (topic, payload): QoS 1 through the relay's MQTT client
LIVE_MODES = ("live_on_consent", "live_on_alert")
PENDING_GRACE = timedelta(seconds=30)  # a start the box never answered (it refused, or is away) is given up after
_locks: WeakKeyDictionary[Relay, asyncio.Lock] = WeakKeyDictionary()


async def start_consent_session(*, principal: Principal, camera_id: str, relay: Relay, publish: Publish | None,
                                ice_servers: list[dict[str, Any]]) -> tuple[StreamSession, bool]:
    """Start (or find the running) live session of a camera under a grant to the caller's agency; True if new."""
    if not principal.has(*WATCHERS) or principal.agency_id is None:
        raise Forbidden("only dispatchers and supervisors start live video", code="role_forbidden")
    agency_id, store = str(principal.agency_id), relay.store
    lock = _locks.setdefault(relay, asyncio.Lock())
    async with lock:  # one decision at a time: two quick clicks make one session
        now = store.clock()
        policy = await asyncio.to_thread(_camera, store, camera_id=camera_id, agency_id=agency_id)
        grant_ids = _grant_ids(policy, agency_id=agency_id, now=now)
        running = await asyncio.to_thread(_running, store, camera_id=camera_id, grant_ids=grant_ids,
                                          relay_id=relay.settings.relay_id)
        if running is not None and (running.state == State.LIVE or running.started_at > now - PENDING_GRACE):
            return running, False
        if running is not None and not await relay.end(running.id, "box_did_not_answer"):
            # the box never published it (refused, or away): a new click deserves a new start
            await asyncio.to_thread(store.mark_ended, session_id=running.id, reason="box_did_not_answer")
        if publish is None:
            raise Conflict("this relay has no broker connection configured", code="broker_unavailable")
        grant = active_grants(policy, agency_id=agency_id, now=now)[0]
        cap = now + timedelta(seconds=relay.settings.max_session_s)
        expires_at = min(datetime.fromtimestamp(float(grant["expires_at"]), UTC), cap)  # type: ignore[arg-type]
        session_id, grant_id = str(uuid.uuid4()), str(grant["grant_id"])
        await relay.started(session_id=session_id, camera_id=camera_id, device_id=policy.device_id,
                            agency_id=agency_id, alert_id=None, grant_id=grant_id, expires_at=expires_at)
        command = _command(session_id=session_id, camera_id=camera_id, relay_id=relay.settings.relay_id,
                           grant_id=grant_id, agency_id=agency_id, expires_at=expires_at, ice_servers=ice_servers,
                           now=now)
        try:
            await publish(topics.device_commands(policy.device_id), wire.encode(command))
        except (NotConnected, aiomqtt.MqttError, TimeoutError) as exc:
            await relay.end(session_id, "command_not_sent", tell_device=False)
            raise Conflict("the relay cannot reach the broker now; try again", code="broker_unavailable") from exc
    log.info("consent session started", extra={"session_id": session_id, "camera_id": camera_id,
                                                "grant_id": grant_id, "agency_id": agency_id,
                                                "account_id": str(principal.account_id),
                                                "device_id": policy.device_id, "expires_at": expires_at.isoformat()})
    return await asyncio.to_thread(store.get, session_id=session_id), True


def _camera(store: SessionStore, *, camera_id: str, agency_id: str) -> CameraPolicy:
    """The relay's copy of the camera, if the caller's agency may know of it."""
    with store.sessions() as db:
        policy = db.get(CameraPolicy, camera_id[:64])
    if policy is None or policy.deleted or not (
            policy.agency_id == agency_id or any(g.get("agency_id") == agency_id for g in policy.grants)):
        raise NotFound("no such camera", code="camera_not_found")  # no hint that another agency's camera exists
    return policy


def _grant_ids(policy: CameraPolicy, *, agency_id: str, now: datetime) -> list[str]:
    """Ids of the grants that let the caller's agency watch now, or a 409 saying why none does."""
    if policy.sharing_mode not in LIVE_MODES:
        raise Conflict("the owner does not share this camera live (sharing mode "
                       f"{policy.sharing_mode})", code="no_active_grant")
    grants = [str(g["grant_id"]) for g in active_grants(policy, agency_id=agency_id, now=now)]
    if not grants:
        raise Conflict("the owner has no consent grant in force for your agency on this camera (none, revoked, "
                       "not yet started or expired)", code="no_active_grant")
    if not policy.device_id:
        raise Conflict("this camera has no CORE box to stream from", code="no_device")
    return grants


def _running(store: SessionStore, *, camera_id: str, grant_ids: list[str], relay_id: str) -> StreamSession | None:
    """This relay's pending or live session of the camera under one of these grants."""
    query = (select(StreamSession).where(StreamSession.camera_id == camera_id, StreamSession.relay_id == relay_id,
                                         StreamSession.grant_id.in_(grant_ids), StreamSession.state != State.ENDED)
             .order_by(StreamSession.started_at.desc()).limit(1))
    with store.sessions() as db:
        return db.scalars(query).first()


def _command(*, session_id: str, camera_id: str, relay_id: str, grant_id: str, agency_id: str,
             expires_at: datetime, ice_servers: list[dict[str, Any]], now: datetime) -> pb.DeviceCommand:
    """DeviceCommand(stream_start) under a grant."""
    ice = [pb.IceServer(urls=[s["urls"]] if isinstance(s.get("urls"), str) else list(s.get("urls") or []),
                        username=str(s.get("username") or ""), credential=str(s.get("credential") or ""))
           for s in ice_servers]
    start = pb.StreamStart(session_id=session_id, camera_id=camera_id, relay_id=relay_id, grant_id=grant_id,
                           agency_id=agency_id, expires_at=wire.timestamp(expires_at), ice_servers=ice)
    return pb.DeviceCommand(command_id=f"start-{session_id}"[:64], issued_at=wire.timestamp(now), stream_start=start)
