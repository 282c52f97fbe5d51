"""The owner's sharing policy as the box enforces it: the box is the owner's last gate before any frame leaves.

Per camera: the sharing mode (from enrolment, then from the newest PolicyUpdate) and the consent grants, plus
the revocations made on the box itself (the LAN page's "stop sharing"), which no retried StreamStart undoes.
Kept in one JSON file in the data dir, replaced atomically on every change.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from proto.lookout.v1 import lookout_pb2 as pb

log = logging.getLogger(__name__)
MODES: dict[str, int] = {"registry_only": pb.SHARING_MODE_REGISTRY_ONLY, "on_request": pb.SHARING_MODE_ON_REQUEST,
         "live_on_alert": pb.SHARING_MODE_LIVE_ON_ALERT, "live_on_consent": pb.SHARING_MODE_LIVE_ON_CONSENT}
MODE_NAMES: dict[int, str] = {v: k for k, v in MODES.items()}
MAX_REVOCATIONS = 10_000  # oldest forgotten first; a StreamStart that old has long expired


@dataclass(frozen=True)
class Grant:
    """One consent window the owner gave."""

    grant_id: str
    starts_at: datetime | None
    expires_at: datetime | None
    revoked: bool = False
    agency_id: str = ""  # the agency the owner granted; empty = any (older registries did not say)

    def active(self, now: datetime) -> bool:
        """Not revoked, and now is within [starts_at, expires_at)."""
        started = self.starts_at is None or self.starts_at <= now
        return not self.revoked and started and self.expires_at is not None and now < self.expires_at


@dataclass
class CameraPolicy:
    """What the owner allows for one camera, and which registry version said so."""

    mode: int = pb.SHARING_MODE_REGISTRY_ONLY
    version: int = 0
    grants: dict[str, Grant] = field(default_factory=dict)


@dataclass(frozen=True)
class Decision:
    """Whether a stream may run, why not, and until when."""

    allowed: bool
    reason: str
    until: datetime | None = None


def when(ts: Any) -> datetime | None:
    """An aware datetime from a protobuf Timestamp; None when unset."""
    if ts.seconds == 0 and ts.nanos == 0:
        return None
    return ts.ToDatetime(tzinfo=UTC)


class Policy:
    """The box's copy of its cameras' policies and its own revocations."""

    def __init__(self, path: Path, camera_ids: Iterable[str], initial_modes: Mapping[str, str]) -> None:
        self.path = path
        self.cameras = {c: CameraPolicy(mode=MODES.get(initial_modes.get(c, ""), pb.SHARING_MODE_REGISTRY_ONLY))
                        for c in camera_ids}
        self.revoked: dict[tuple[str, str, str], str] = {}  # (camera, "alert"|"grant", id) -> when, ISO
        self._load()

    def mode(self, camera_id: str) -> int:
        """The camera's sharing mode (registry-only for an unknown camera)."""
        policy = self.cameras.get(camera_id)
        return policy.mode if policy else pb.SHARING_MODE_REGISTRY_ONLY

    def apply(self, update: pb.PolicyUpdate) -> bool:
        """Store an update if it is newer than what the box has; True if it was applied."""
        current = self.cameras.get(update.camera_id)
        if current is None or update.version <= current.version:
            return False
        grants = {g.grant_id: Grant(g.grant_id, when(g.starts_at), when(g.expires_at), g.revoked, g.agency_id)
                  for g in update.grants if g.grant_id}
        mode = update.sharing_mode if update.sharing_mode in MODE_NAMES else pb.SHARING_MODE_REGISTRY_ONLY
        self.cameras[update.camera_id] = CameraPolicy(mode=mode, version=update.version, grants=grants)
        self.save()
        return True

    def check(self, start: pb.StreamStart, now: datetime) -> Decision:
        """May this stream run now? Every rule the box enforces, whatever the relay decided."""
        camera = self.cameras.get(start.camera_id)
        expires = when(start.expires_at)
        refusal = self._refusal(start, camera, expires, now)
        if refusal:
            return Decision(False, refusal)
        assert camera is not None and expires is not None
        if start.alert_id and camera.mode == pb.SHARING_MODE_LIVE_ON_ALERT:
            return Decision(True, "live on alert", expires)
        if start.grant_id:
            grant = camera.grants.get(start.grant_id)
            if camera.mode not in (pb.SHARING_MODE_LIVE_ON_CONSENT, pb.SHARING_MODE_LIVE_ON_ALERT):
                return Decision(False, f"sharing mode {MODE_NAMES[camera.mode]} allows no consent stream")
            if grant is None or not grant.active(now):
                return Decision(False, f"grant {start.grant_id[:64]} is unknown, revoked or outside its window")
            if grant.agency_id and start.agency_id != grant.agency_id:
                return Decision(False, f"grant {start.grant_id[:64]} is for another agency than "
                                       f"{start.agency_id[:64] or 'the one asking'}")
            assert grant.expires_at is not None
            return Decision(True, "consent grant", min(expires, grant.expires_at))
        return Decision(False, f"sharing mode {MODE_NAMES[camera.mode]} allows no live stream for an alert")

    def _refusal(self, start: pb.StreamStart, camera: CameraPolicy | None, expires: datetime | None,
                 now: datetime) -> str:
        if camera is None:
            return "camera not configured on this box"
        if expires is None or expires <= now:
            return "already expired (or no expiry given)"
        if not start.alert_id and not start.grant_id:
            return "neither an alert nor a consent grant"
        if self.is_revoked(start.camera_id, start.alert_id, start.grant_id):
            return "revoked by the owner on the box"
        return ""

    def is_revoked(self, camera_id: str, alert_id: str, grant_id: str) -> bool:
        """Whether the owner stopped sharing this camera for this alert or grant on the box."""
        return bool((alert_id and (camera_id, "alert", alert_id) in self.revoked)
                    or (grant_id and (camera_id, "grant", grant_id) in self.revoked))

    def revoke(self, camera_id: str, alert_id: str, grant_id: str, now: datetime) -> None:
        """Record (durably) that the owner stopped this camera's sharing for this alert and/or grant."""
        for kind, ident in (("alert", alert_id), ("grant", grant_id)):
            if ident:
                self.revoked[(camera_id, kind, ident)] = now.isoformat()
        while len(self.revoked) > MAX_REVOCATIONS:
            del self.revoked[next(iter(self.revoked))]
        self.save()

    def save(self) -> None:
        """Write the file atomically (temporary file, fsync, rename), readable by the agent's user only."""
        doc = {"cameras": {c: _camera_doc(p) for c, p in self.cameras.items()},
               "revoked": [{"camera_id": c, "kind": k, "id": i, "at": at} for (c, k, i), at in self.revoked.items()]}
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp = self.path.with_name(self.path.name + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump(doc, fh, indent=1, sort_keys=True)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.path)

    def _load(self) -> None:
        try:
            doc = json.loads(self.path.read_text())
            stored = {c: _camera_policy(d) for c, d in doc["cameras"].items()}
            revoked = {(r["camera_id"], r["kind"], r["id"]): r["at"] for r in doc["revoked"]}
        except FileNotFoundError:
            return
        except (OSError, ValueError, KeyError, TypeError) as exc:
            # Safer to share nothing until the registry pushes the policy again than to guess.
            log.error("%s unreadable (%s): sharing nothing until a policy update arrives", self.path, exc)
            self.cameras = {c: CameraPolicy() for c in self.cameras}
            return
        for camera_id, policy in stored.items():
            if camera_id in self.cameras and policy.version > 0:
                self.cameras[camera_id] = policy
        self.revoked = revoked


def _camera_doc(policy: CameraPolicy) -> dict[str, Any]:
    return {"mode": MODE_NAMES[policy.mode], "version": policy.version,
            "grants": [{"grant_id": g.grant_id, "revoked": g.revoked, "agency_id": g.agency_id,
                        "starts_at": g.starts_at.isoformat() if g.starts_at else None,
                        "expires_at": g.expires_at.isoformat() if g.expires_at else None}
                       for g in policy.grants.values()]}


def _camera_policy(doc: dict[str, Any]) -> CameraPolicy:
    def parse(value: str | None) -> datetime | None:
        return datetime.fromisoformat(value) if value else None

    grants = {g["grant_id"]: Grant(str(g["grant_id"]), parse(g["starts_at"]), parse(g["expires_at"]),
                                   bool(g["revoked"]), str(g.get("agency_id") or "")) for g in doc["grants"]}
    return CameraPolicy(mode=MODES[doc["mode"]], version=int(doc["version"]), grants=grants)
