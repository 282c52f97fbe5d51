"""Commands and answers from the services: strictly decoded, checked, handed to live video, never a crash."""

from __future__ import annotations

import logging
from collections.abc import Collection
from typing import Protocol

from proto.lookout.v1 import lookout_pb2 as pb
from proto.wire import WireError, decode

log = logging.getLogger(__name__)


class LiveControl(Protocol):
    """What the commands drive (edge_core.live.Live)."""

    def stream_start(self, start: pb.StreamStart) -> str:
        """Start a session if the policy allows it."""
        ...

    def stream_stop(self, stop: pb.StreamStop) -> str:
        """End a session."""
        ...

    def policy_update(self, update: pb.PolicyUpdate) -> str:
        """Store a newer policy and enforce it."""
        ...

    def answer(self, description: pb.SessionDescription) -> str:
        """Apply the relay's answer to an offer."""
        ...


def handle_command(payload: object, camera_ids: Collection[str], live: LiveControl | None = None) -> str:
    """Decode, check and carry out one command; return what was done ('dropped: ...' for anything refused)."""
    if not isinstance(payload, bytes | bytearray):
        return _drop("payload is not binary")
    try:
        command = decode(pb.DeviceCommand, bytes(payload))
    except WireError as exc:
        return _drop(str(exc)[:200])
    kind = command.WhichOneof("command")
    if kind is None:
        return _drop(f"command {command.command_id[:64]!r} carries no command")
    inner = getattr(command, kind)
    camera_id = str(inner.camera_id)
    if camera_id not in camera_ids:
        return _drop(f"{kind} {command.command_id[:64]!r} names camera {camera_id[:64]!r}, not one of this box's")
    if live is None:
        outcome = f"{kind} for camera {camera_id}: no live video on this box"
    elif kind == "stream_start":
        outcome = live.stream_start(inner)
    elif kind == "stream_stop":
        outcome = live.stream_stop(inner)
    else:
        outcome = live.policy_update(inner)
    log.info("command %s (%s): %s", command.command_id[:64], kind, outcome)
    return outcome


def handle_answer(session_id: str, payload: object, live: LiveControl | None) -> str:
    """Decode the relay's SessionDescription for a session (from its topic) and hand it over."""
    if not isinstance(payload, bytes | bytearray):
        return _drop("answer payload is not binary")
    try:
        description = decode(pb.SessionDescription, bytes(payload))
    except WireError as exc:
        return _drop(str(exc)[:200])
    if description.session_id != session_id:
        return _drop(f"answer on session {session_id!r}'s topic names session {description.session_id[:64]!r}")
    if description.type not in ("answer", "reject"):
        return _drop(f"signal of type {description.type[:16]!r} on an answer topic")
    if live is None:
        return _drop("no live video on this box")
    return live.answer(description)


def _drop(reason: str) -> str:
    log.warning("command dropped: %s", reason)
    return f"dropped: {reason}"
