"""MQTT topic names of the wire contract (prefix `lookout/v1/`): builders and one strict parser.

Identifiers in topics are 1-64 characters of [A-Za-z0-9_-] (UUIDs fit), so no id can smuggle a level
separator or a wildcard (`/`, `+`, `#`) into a topic or an ACL pattern.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

PREFIX = "lookout/v1"
_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
SIGNAL_KINDS = ("offer", "answer", "candidate")
SignalKind = Literal["offer", "answer", "candidate"]

PANIC_FILTER = f"{PREFIX}/devices/+/events/panic"
STATUS_FILTER = f"{PREFIX}/devices/+/status"
REGISTRY_FILTER = f"{PREFIX}/registry/#"
COMMANDS_FILTER = f"{PREFIX}/devices/+/commands"
OFFER_FILTER = f"{PREFIX}/devices/+/webrtc/+/offer"
ALERTS_FILTER = f"{PREFIX}/alerts/#"
CAMERAS_FILTER = f"{PREFIX}/registry/cameras/+"


class TopicError(ValueError):
    """A topic, or an identifier meant for one, that is not part of the contract."""


def check_id(value: str, what: str = "id") -> str:
    """Return the identifier if it is safe inside a topic, else raise TopicError."""
    if not isinstance(value, str) or not _ID.match(value):
        raise TopicError(f"{what} must be 1-64 characters of letters, digits, '-' or '_'")
    return value


def device_status(device_id: str) -> str:
    """Retained status of a CORE box."""
    return f"{PREFIX}/devices/{check_id(device_id, 'device_id')}/status"


def device_panic(device_id: str) -> str:
    """Panic presses of a CORE box."""
    return f"{PREFIX}/devices/{check_id(device_id, 'device_id')}/events/panic"


def device_commands(device_id: str) -> str:
    """Commands for a CORE box (stream start/stop, policy)."""
    return f"{PREFIX}/devices/{check_id(device_id, 'device_id')}/commands"


def device_webrtc(device_id: str, session_id: str, kind: SignalKind) -> str:
    """WebRTC signalling between a box and the relay for one session."""
    if kind not in SIGNAL_KINDS:
        raise TopicError(f"signalling kind must be one of {SIGNAL_KINDS}")
    return f"{PREFIX}/devices/{check_id(device_id, 'device_id')}/webrtc/{check_id(session_id, 'session_id')}/{kind}"


def alert(agency_id: str, alert_id: str) -> str:
    """Lifecycle events of one alert, for dashboards and the relay."""
    return f"{PREFIX}/alerts/{check_id(agency_id, 'agency_id')}/{check_id(alert_id, 'alert_id')}"


def registry_camera(camera_id: str) -> str:
    """A camera changed in the registry."""
    return f"{PREFIX}/registry/cameras/{check_id(camera_id, 'camera_id')}"


def registry_site(site_id: str) -> str:
    """A site changed in the registry (created, moved, deleted)."""
    return f"{PREFIX}/registry/sites/{check_id(site_id, 'site_id')}"


def registry_device(device_id: str) -> str:
    """A CORE box changed in the registry (enrolled, moved, revoked)."""
    return f"{PREFIX}/registry/devices/{check_id(device_id, 'device_id')}"


def shared(group: str, topic_filter: str) -> str:
    """An MQTT 5 shared subscription, so replicas of a consumer split the messages."""
    return f"$share/{check_id(group, 'group')}/{topic_filter}"


@dataclass(frozen=True)
class Topic:
    """A parsed topic: what it is and the identifiers in it."""

    kind: str
    device_id: str | None = None
    session_id: str | None = None
    signal: str | None = None
    agency_id: str | None = None
    alert_id: str | None = None
    camera_id: str | None = None
    site_id: str | None = None


def parse(topic: str) -> Topic:
    """Parse a concrete topic of the contract, or raise TopicError."""
    parts = topic.split("/")
    if parts[:2] != PREFIX.split("/") or len(parts) < 4:
        raise TopicError(f"not a {PREFIX} topic: {topic[:120]!r}")
    rest = parts[2:]
    try:
        return _parse_rest(rest)
    except (IndexError, TopicError) as exc:
        raise TopicError(f"unknown topic: {topic[:120]!r}") from exc


def _parse_rest(rest: list[str]) -> Topic:
    head = rest[0]
    if head == "devices":
        device = check_id(rest[1])
        tail = rest[2:]
        if tail == ["status"]:
            return Topic("status", device_id=device)
        if tail == ["events", "panic"]:
            return Topic("panic", device_id=device)
        if tail == ["commands"]:
            return Topic("commands", device_id=device)
        if len(tail) == 3 and tail[0] == "webrtc" and tail[2] in SIGNAL_KINDS:
            return Topic("webrtc", device_id=device, session_id=check_id(tail[1]), signal=tail[2])
    elif head == "alerts" and len(rest) == 3:
        return Topic("alert", agency_id=check_id(rest[1]), alert_id=check_id(rest[2]))
    elif head == "registry" and len(rest) == 3 and rest[1] == "cameras":
        return Topic("camera", camera_id=check_id(rest[2]))
    elif head == "registry" and len(rest) == 3 and rest[1] == "sites":
        return Topic("site", site_id=check_id(rest[2]))
    elif head == "registry" and len(rest) == 3 and rest[1] == "devices":
        return Topic("device", device_id=check_id(rest[2]))
    raise TopicError("unknown topic")
