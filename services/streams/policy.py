"""The registry's sharing rules as the relay applies them: which sessions a camera's policy still allows."""

from __future__ import annotations

from datetime import UTC, datetime

from proto.lookout.v1 import lookout_pb2 as pb
from services.streams.models import CameraPolicy

MODES = {pb.SHARING_MODE_REGISTRY_ONLY: "registry_only", pb.SHARING_MODE_ON_REQUEST: "on_request",
         pb.SHARING_MODE_LIVE_ON_ALERT: "live_on_alert", pb.SHARING_MODE_LIVE_ON_CONSENT: "live_on_consent"}


def policy_row(changed: pb.CameraChanged) -> CameraPolicy:
    """The relay's copy of a CameraChanged."""
    grants = [{"grant_id": g.grant_id, "starts_at": _epoch(g.starts_at), "expires_at": _epoch(g.expires_at),
               "revoked": g.revoked, "agency_id": g.agency_id or changed.agency_id} for g in changed.grants]
    return CameraPolicy(camera_id=changed.camera_id, device_id=changed.device_id, agency_id=changed.agency_id,
                        label=changed.label[:200], sharing_mode=MODES.get(changed.sharing_mode, "registry_only"),
                        grants=grants, deleted=changed.deleted, version=changed.version)


def _epoch(ts: object) -> float:
    return ts.ToDatetime(tzinfo=UTC).timestamp() if ts.ByteSize() else 0.0  # type: ignore[attr-defined]


def active_grants(policy: CameraPolicy, *, agency_id: str, now: datetime) -> list[dict[str, object]]:
    """The policy's grants in force now for this agency, longest-lasting first."""
    at = now.timestamp()
    found = [g for g in policy.grants if not g.get("revoked") and (g.get("agency_id") or policy.agency_id) == agency_id
             and float(g.get("starts_at") or 0) <= at < float(g.get("expires_at") or 0)]  # type: ignore[arg-type]
    return sorted(found, key=lambda g: -float(g.get("expires_at") or 0))  # type: ignore[arg-type]


def allows(policy: CameraPolicy, *, alert_id: str | None, grant_id: str | None, now: datetime) -> bool:
    """True when the policy still allows a session started for this alert or grant."""
    if policy.deleted:
        return False
    if alert_id:
        return policy.sharing_mode == "live_on_alert"
    if grant_id and policy.sharing_mode in ("live_on_consent", "live_on_alert"):
        at = now.timestamp()
        return any(g.get("grant_id") == grant_id and not g.get("revoked")
                   and float(g.get("starts_at") or 0) <= at < float(g.get("expires_at") or 0)  # type: ignore[arg-type]
                   for g in policy.grants)
    return False
