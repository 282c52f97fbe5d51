"""MQTT consumers: panic events (shared among replicas) and registry changes (every replica, all of them)."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

import aiomqtt
from google.protobuf.message import Message

from proto import topics, wire
from proto.lookout.v1 import lookout_pb2 as pb
from services.alerts import copies
from services.alerts.models import DeviceCopy
from services.alerts.service import AlertService, Outcome
from services.alerts.validation import Rejected, panic_request
from services.common.mqtt import MqttClient, MqttSettings, Subscription

log = logging.getLogger("lookout.alerts.consumer")

REGISTRY_KINDS: dict[str, tuple[type[Message], str]] = {
    "site": (pb.SiteChanged, "site_id"), "device": (pb.DeviceChanged, "device_id"),
    "camera": (pb.CameraChanged, "camera_id"),
}


@dataclass
class Consumer:
    """Turns MQTT messages into database changes; rejects bad input with a log line, never by crashing."""

    service: AlertService
    counts: dict[str, int] = field(default_factory=dict)

    def _count(self, key: str) -> None:
        self.counts[key] = self.counts.get(key, 0) + 1

    def _reject(self, what: str, reason: str, topic: str, detail: str, size: int) -> None:
        self._count(f"{what}_rejected_{reason}")
        log.warning(f"{what} rejected", extra={"reason": reason, "topic": topic[:200], "detail": detail[:300],
                                               "bytes": size})

    async def on_panic(self, message: aiomqtt.Message) -> None:
        """Validate a PanicEvent, open its alert once, then publish the opening (acked after return)."""
        topic, payload = str(message.topic), message.payload
        size = len(payload) if isinstance(payload, bytes | bytearray) else -1
        try:
            parsed = topics.parse(topic)
            if parsed.kind != "panic" or parsed.device_id is None:
                raise Rejected("unexpected_topic", topic[:120])
            event = wire.decode(pb.PanicEvent, payload)
            outcome = await asyncio.to_thread(self._open, parsed.device_id, event)
        except topics.TopicError as exc:
            return self._reject("panic", "bad_topic", topic, str(exc), size)
        except wire.WireError as exc:
            return self._reject("panic", "bad_payload", topic, str(exc), size)
        except Rejected as exc:
            return self._reject("panic", exc.reason, topic, exc.detail, size)
        if outcome.created:
            self._count("panic_opened")
            self.service.signal.notify()
            log.info("alert opened", extra={"alert_id": str(outcome.alert.id), "agency_id": outcome.alert.agency_id,
                                            "event_id": str(outcome.alert.event_id)})
        else:
            self._count("panic_duplicate")
            log.info("panic event already handled", extra={"event_id": str(outcome.alert.event_id),
                                                          "alert_id": str(outcome.alert.id),
                                                          "republish": bool(outcome.outgoing)})
        # Raises when the broker is away: the event stays unacknowledged and comes back to be announced.
        await self.service.announce(outcome)

    def _open(self, device_id: str, event: pb.PanicEvent) -> Outcome:
        service = self.service
        with service.sessions() as session:
            device = session.get(DeviceCopy, device_id)
            req = panic_request(event, device_id, device, service.clock(), service.rules.max_clock_skew_s)
            return service.open_in_db(session, req)

    async def on_registry(self, message: aiomqtt.Message) -> None:
        """Keep the newest copy of a site, device or camera from a registry event."""
        topic, payload = str(message.topic), message.payload
        size = len(payload) if isinstance(payload, bytes | bytearray) else -1
        try:
            parsed = topics.parse(topic)
            if parsed.kind not in REGISTRY_KINDS:
                raise Rejected("unexpected_topic", topic[:120])
            kind, id_field = REGISTRY_KINDS[parsed.kind]
            msg = wire.decode(kind, payload)
            if getattr(msg, id_field) != getattr(parsed, id_field):
                raise Rejected("id_mismatch", f"payload {id_field} differs from the topic")
            changed = await asyncio.to_thread(self._apply, msg)
        except topics.TopicError as exc:
            return self._reject("registry event", "bad_topic", topic, str(exc), size)
        except wire.WireError as exc:
            return self._reject("registry event", "bad_payload", topic, str(exc), size)
        except Rejected as exc:
            return self._reject("registry event", exc.reason, topic, exc.detail, size)
        self._count("registry_applied" if changed else "registry_stale")

    def _apply(self, msg: Message) -> bool:
        with self.service.sessions() as session:
            if isinstance(msg, pb.SiteChanged):
                changed = copies.apply_site(session, msg)
            elif isinstance(msg, pb.DeviceChanged):
                changed = copies.apply_device(session, msg)
            else:
                assert isinstance(msg, pb.CameraChanged)
                changed = copies.apply_camera(session, msg)
            session.commit()
            return changed


def build_mqtt(consumer: Consumer, settings: MqttSettings, shared_group: str,
               client_id: str | None = None) -> MqttClient:
    """The service's MQTT client: shared panic subscription, plain registry subscription."""
    panic_filter = topics.shared(shared_group, topics.PANIC_FILTER) if shared_group else topics.PANIC_FILTER
    subs = [Subscription(panic_filter, consumer.on_panic), Subscription(topics.REGISTRY_FILTER, consumer.on_registry)]
    return MqttClient(settings, subs, client_id=client_id)
