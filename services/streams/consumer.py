"""MQTT consumers of the relay: stream commands, the boxes' offers and status, alert ends, camera policy.

Every message is validated; a bad one is counted and logged with a reason, never a crash.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import aiomqtt

from proto import topics, wire
from proto.lookout.v1 import lookout_pb2 as pb
from services.common.mqtt import MqttClient, MqttSettings, Subscription
from services.streams.models import CameraPolicy
from services.streams.policy import allows, policy_row
from services.streams.relay import Live, Relay

log = logging.getLogger("lookout.streams.consumer")
Handle = Callable[[topics.Topic, bytes], Awaitable[None]]


class Rejected(ValueError):
    """A message that is well-formed MQTT but not acceptable; `reason` is a short code for logs and counts."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(reason)
        self.reason, self.detail = reason, detail


@dataclass
class Consumer:
    """Turns MQTT messages into relay actions."""

    relay: Relay
    counts: dict[str, int] = field(default_factory=dict)
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)

    def _count(self, key: str) -> None:
        self.counts[key] = self.counts.get(key, 0) + 1

    async def _guarded(self, what: str, message: aiomqtt.Message, handle: Handle) -> None:
        topic, payload = str(message.topic), message.payload
        size = len(payload) if isinstance(payload, bytes | bytearray) else -1
        try:
            parsed = topics.parse(topic)
            if not isinstance(payload, bytes | bytearray):
                raise wire.WireError("payload is not binary")
            await handle(parsed, bytes(payload))
        except topics.TopicError as exc:
            self._reject(what, "bad_topic", topic, str(exc), size)
        except wire.WireError as exc:
            self._reject(what, "bad_payload", topic, str(exc), size)
        except Rejected as exc:
            self._reject(what, exc.reason, topic, exc.detail, size)

    def _reject(self, what: str, reason: str, topic: str, detail: str, size: int) -> None:
        self._count(f"{what}_rejected_{reason}")
        log.warning(f"{what} rejected", extra={"reason": reason, "topic": topic[:200], "detail": detail[:300],
                                               "bytes": size})

    async def on_command(self, message: aiomqtt.Message) -> None:
        """A command sent to a box: note the stream starts aimed at this relay, and stops."""
        await self._guarded("command", message, self._command)

    async def _command(self, parsed: topics.Topic, payload: bytes) -> None:
        command = wire.decode(pb.DeviceCommand, payload)
        kind = command.WhichOneof("command")
        if kind == "stream_start":
            await self._start(parsed.device_id or "", command.stream_start)
        elif kind == "stream_stop":
            stop = command.stream_stop
            await self.relay.end(topics.check_id(stop.session_id, "session_id"), stop.reason[:64] or "stopped",
                                 tell_device=False)
        self._count(f"command_{kind}")

    async def _start(self, device_id: str, start: pb.StreamStart) -> None:
        if start.relay_id != self.relay.settings.relay_id:
            self._count("command_other_relay")
            return
        for name in ("session_id", "camera_id", "agency_id"):
            topics.check_id(getattr(start, name), name)
        if bool(start.alert_id) == bool(start.grant_id):
            raise Rejected("no_basis", "a stream needs exactly one of alert_id and grant_id")
        expires = start.expires_at.ToDatetime(tzinfo=UTC) if start.HasField("expires_at") else None
        if expires is None or expires <= datetime.now(UTC):
            raise Rejected("expired", f"session {start.session_id} has no future expiry")
        await self.relay.started(session_id=start.session_id, camera_id=start.camera_id, device_id=device_id,
                                 agency_id=start.agency_id, alert_id=start.alert_id or None,
                                 grant_id=start.grant_id or None, expires_at=expires)

    async def on_offer(self, message: aiomqtt.Message) -> None:
        """A box's SDP offer; answered in the background (it may wait for its stream_start)."""
        await self._guarded("offer", message, self._offer)

    async def _offer(self, parsed: topics.Topic, payload: bytes) -> None:
        offer = wire.decode(pb.SessionDescription, payload)
        if offer.type != "offer" or offer.session_id != parsed.session_id:
            raise Rejected("bad_offer", "type must be 'offer' and session_id must match the topic")
        task = asyncio.create_task(self.relay.offered(device_id=parsed.device_id or "",
                                                      session_id=offer.session_id, sdp=offer.sdp))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        self._count("offer")

    async def on_alert(self, message: aiomqtt.Message) -> None:
        """An alert resolved or cancelled: every session it started ends now."""
        await self._guarded("alert event", message, self._alert)

    async def _alert(self, parsed: topics.Topic, payload: bytes) -> None:
        event = wire.decode(pb.AlertEvent, payload)
        if event.WhichOneof("event") != "resolved":
            return
        alert_id = parsed.alert_id
        if event.resolved.alert_id != alert_id:
            raise Rejected("id_mismatch", "payload alert_id differs from the topic")
        ended = await self.relay.end_where("alert_resolved", lambda live: live.alert_id == alert_id)
        self._count("alert_resolved")
        if ended:
            log.info("alert resolved: streams ended", extra={"alert_id": alert_id, "sessions": len(ended)})

    async def on_camera(self, message: aiomqtt.Message) -> None:
        """A camera's policy changed in the registry: sessions it no longer allows end now."""
        await self._guarded("camera event", message, self._camera)

    async def _camera(self, parsed: topics.Topic, payload: bytes) -> None:
        changed = wire.decode(pb.CameraChanged, payload)
        if changed.camera_id != parsed.camera_id:
            raise Rejected("id_mismatch", "payload camera_id differs from the topic")
        row = policy_row(changed)
        await self._revoke(row)  # before storing: revocation wins even when the copy is stale-equal
        await asyncio.to_thread(self.relay.store.apply_policy, row=row)

    async def _revoke(self, row: CameraPolicy) -> None:
        now = datetime.now(UTC)

        def refused(live: Live) -> bool:
            return live.camera_id == row.camera_id and not allows(row, alert_id=live.alert_id,
                                                                  grant_id=live.grant_id, now=now)
        ended = await self.relay.end_where("revoked", refused)
        if ended:
            log.info("camera policy revoked live streams", extra={"camera_id": row.camera_id, "sessions": len(ended)})

    async def on_status(self, message: aiomqtt.Message) -> None:
        """A box's status: when it is offline or no longer lists a live session, that session is over."""
        await self._guarded("status", message, self._status)

    async def _status(self, parsed: topics.Topic, payload: bytes) -> None:
        status = wire.decode(pb.DeviceStatus, payload)
        device, listed = parsed.device_id, set(status.live_session_ids)

        def gone(live: Live) -> bool:
            # Only sessions the box had taken (answered): a start still on its way is not in its status yet.
            return live.device_id == device and live.pc is not None and (
                not status.online or live.session_id not in listed) and live.hub.units_in > 0
        await self.relay.end_where("device_stopped", gone)


def build_mqtt(consumer: Consumer, settings: MqttSettings, client_id: str | None = None) -> MqttClient:
    """The relay's MQTT client and its subscriptions."""
    subs = [Subscription(topics.COMMANDS_FILTER, consumer.on_command),
            Subscription(topics.OFFER_FILTER, consumer.on_offer),
            Subscription(topics.ALERTS_FILTER, consumer.on_alert),
            Subscription(topics.CAMERAS_FILTER, consumer.on_camera),
            Subscription(topics.STATUS_FILTER, consumer.on_status)]
    return MqttClient(settings, subs, client_id=client_id)
