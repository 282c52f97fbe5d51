"""Checks a panic event must pass before it may open an alert: pure functions, no I/O."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from proto import wire
from proto.lookout.v1 import lookout_pb2 as pb
from services.alerts.models import DeviceCopy, SiteCopy

TRIGGERS = {pb.TRIGGER_KIND_BUTTON: "button", pb.TRIGGER_KIND_LAN_PAGE: "lan_page", pb.TRIGGER_KIND_CLI: "cli",
            pb.TRIGGER_KIND_APP: "app", pb.TRIGGER_KIND_UNSPECIFIED: "unspecified"}
TRIGGER_KINDS = {name: kind for kind, name in TRIGGERS.items()}


class Rejected(ValueError):
    """A panic event that must not open an alert; `reason` is a stable, loggable code."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class PanicRequest:
    """A validated request to open an alert (from a device or the owner's app)."""

    event_id: uuid.UUID
    site_id: str
    trigger: str
    pressed_at: datetime
    device_id: str | None = None
    camera_ids: tuple[str, ...] = field(default_factory=tuple)


def parse_event_id(value: str) -> uuid.UUID:
    """The event id as a UUID, or Rejected."""
    try:
        return uuid.UUID(value)
    except (ValueError, AttributeError, TypeError) as exc:
        raise Rejected("bad_event_id", repr(value)[:80]) from exc


def check_pressed_at(event: pb.PanicEvent, now: datetime, max_skew_s: int) -> datetime:
    """When the press happened; refuses a missing time or one too far in the future."""
    if not event.HasField("pressed_at"):
        raise Rejected("missing_pressed_at")
    try:
        pressed_at = wire.to_datetime(event.pressed_at)
    except (ValueError, OverflowError) as exc:
        raise Rejected("bad_pressed_at", str(exc)) from exc
    if pressed_at > now + timedelta(seconds=max_skew_s):
        raise Rejected("pressed_at_in_future", pressed_at.isoformat())
    return pressed_at


def check_device(event: pb.PanicEvent, topic_device: str, device: DeviceCopy | None) -> DeviceCopy:
    """The device is the one of the topic, known, not revoked, and the event's site is its site."""
    if event.device_id != topic_device:
        raise Rejected("device_mismatch", f"payload {event.device_id[:64]!r} on topic of {topic_device!r}")
    if device is None:
        raise Rejected("unknown_device", topic_device)
    if device.revoked:
        raise Rejected("revoked_device", topic_device)
    if not device.site_id:
        raise Rejected("device_without_site", topic_device)
    if event.site_id and event.site_id != device.site_id:
        raise Rejected("site_mismatch", f"device {topic_device} is not at site {event.site_id[:64]!r}")
    return device


def check_site(site: SiteCopy | None, site_id: str) -> SiteCopy:
    """The site is known, not deleted, and served by an agency."""
    if site is None or site.deleted:
        raise Rejected("unknown_site", site_id)
    if not site.agency_id:
        raise Rejected("site_without_agency", site_id)
    return site


def panic_request(event: pb.PanicEvent, topic_device: str, device: DeviceCopy | None,
                  now: datetime, max_skew_s: int) -> PanicRequest:
    """Validate a device's PanicEvent into a PanicRequest, or raise Rejected."""
    checked = check_device(event, topic_device, device)
    return PanicRequest(
        event_id=parse_event_id(event.event_id), site_id=checked.site_id,
        trigger=TRIGGERS.get(event.trigger, "unspecified"), pressed_at=check_pressed_at(event, now, max_skew_s),
        device_id=topic_device, camera_ids=tuple(event.camera_ids)[:64],
    )
