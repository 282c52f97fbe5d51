"""Commands from the services (devices/{id}/commands): strictly decoded, checked, never a crash.

Stream start/stop are only checked and logged here; the live-video work implements them.
"""

from __future__ import annotations

import logging
from collections.abc import Collection

from proto.lookout.v1 import lookout_pb2 as pb
from proto.wire import WireError, decode

log = logging.getLogger(__name__)


def handle_command(payload: object, camera_ids: Collection[str]) -> str:
    """Decode and check one command; return what was done ('dropped: ...' for anything refused)."""
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
    if kind == "policy_update":
        outcome = f"policy_update for camera {camera_id}: version {inner.version} (stored by the live-video work)"
    else:
        outcome = f"{kind} for camera {camera_id}, session {inner.session_id[:64]!r}: not implemented yet"
    log.info("command %s: %s", command.command_id[:64], outcome)
    return outcome


def _drop(reason: str) -> str:
    log.warning("command dropped: %s", reason)
    return f"dropped: {reason}"
