"""The MQTT messages the alert service publishes: AlertEvent and the stream_start DeviceCommand."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from proto import topics, wire
from proto.lookout.v1 import lookout_pb2 as pb
from services.alerts.models import Alert, CameraCopy, Status
from services.alerts.settings import AlertRules
from services.alerts.validation import TRIGGER_KINDS

# Stream sessions are named from (alert, camera): a republished command after a crash carries the same
# session id, so a device or relay that already started it sees a duplicate, not a second stream.
SESSION_NAMESPACE = uuid.UUID("5b0f3f7e-8d0c-4d0e-9a51-6c2a3e1d9f40")


@dataclass(frozen=True)
class Outgoing:
    """One message to publish after the database commit."""

    topic: str
    payload: bytes


def session_id_for(alert_id: uuid.UUID, camera_id: str) -> str:
    """The stream session id of one camera for one alert (deterministic)."""
    return str(uuid.uuid5(SESSION_NAMESPACE, f"{alert_id}/{camera_id}"))


def opened_event(alert: Alert) -> Outgoing:
    """AlertEvent(opened) on alerts/{agency}/{alert}."""
    opened = pb.AlertOpened(
        alert_id=str(alert.id), agency_id=alert.agency_id, site_id=alert.site_id, device_id=alert.device_id or "",
        event_id=str(alert.event_id), lon=alert.lon, lat=alert.lat, camera_ids=list(alert.camera_ids or []),
        pressed_at=wire.timestamp(alert.pressed_at), opened_at=wire.timestamp(alert.opened_at),
        trigger=TRIGGER_KINDS.get(alert.trigger, pb.TRIGGER_KIND_UNSPECIFIED),
    )
    return Outgoing(topics.alert(alert.agency_id, str(alert.id)), wire.encode(pb.AlertEvent(opened=opened)))


def change_event(alert: Alert) -> Outgoing:
    """AlertEvent(acknowledged | resolved) after a step; a cancel is `resolved` with outcome false alarm."""
    if alert.status == Status.ACKNOWLEDGED:
        assert alert.acknowledged_at is not None
        event = pb.AlertEvent(acknowledged=pb.AlertAcknowledged(
            alert_id=str(alert.id), agency_id=alert.agency_id, by_account_id=alert.acknowledged_by or "",
            at=wire.timestamp(alert.acknowledged_at)))
    else:
        assert alert.resolved_at is not None
        outcome = pb.ALERT_OUTCOME_FALSE_ALARM if alert.status == Status.CANCELLED else pb.ALERT_OUTCOME_RESOLVED
        event = pb.AlertEvent(resolved=pb.AlertResolved(
            alert_id=str(alert.id), agency_id=alert.agency_id, by_account_id=alert.resolved_by or "",
            at=wire.timestamp(alert.resolved_at), outcome=outcome))
    return Outgoing(topics.alert(alert.agency_id, str(alert.id)), wire.encode(event))


def stream_start(alert: Alert, camera: CameraCopy, rules: AlertRules, now: datetime) -> Outgoing:
    """DeviceCommand(stream_start) asking the camera's box to publish it to the relay for this alert."""
    ice = [pb.IceServer(urls=[s["urls"]] if isinstance(s["urls"], str) else list(s["urls"]),
                        username=str(s.get("username") or ""), credential=str(s.get("credential") or ""))
           for s in rules.stream_ice_servers]
    start = pb.StreamStart(
        session_id=session_id_for(alert.id, camera.camera_id), camera_id=camera.camera_id, relay_id=rules.relay_id,
        alert_id=str(alert.id), agency_id=alert.agency_id,
        expires_at=wire.timestamp(now + timedelta(seconds=rules.stream_ttl_s)), ice_servers=ice,
    )
    command = pb.DeviceCommand(command_id=str(uuid.uuid5(SESSION_NAMESPACE, f"start/{start.session_id}")),
                               issued_at=wire.timestamp(now), stream_start=start)
    return Outgoing(topics.device_commands(camera.device_id), wire.encode(command))


def announcement(alert: Alert, cameras: list[CameraCopy], rules: AlertRules, now: datetime) -> list[Outgoing]:
    """Everything published when an alert opens: the AlertEvent, then one stream_start per live camera."""
    return [opened_event(alert), *(stream_start(alert, c, rules, now) for c in cameras)]
