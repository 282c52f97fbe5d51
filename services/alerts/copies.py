"""Copies of the registry's sites, devices and cameras, kept from its MQTT events (newest version wins)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from proto.lookout.v1 import lookout_pb2 as pb
from services.alerts.models import CameraCopy, DeviceCopy, SiteCopy

MODES = {pb.SHARING_MODE_REGISTRY_ONLY: "registry_only", pb.SHARING_MODE_ON_REQUEST: "on_request",
         pb.SHARING_MODE_LIVE_ON_ALERT: "live_on_alert", pb.SHARING_MODE_LIVE_ON_CONSENT: "live_on_consent"}


def dialect_insert(session: Session, table: Table) -> Any:
    """An INSERT that supports ON CONFLICT on the session's backend (PostgreSQL or SQLite)."""
    name = session.get_bind().dialect.name
    return (postgresql.insert(table) if name == "postgresql" else sqlite.insert(table))


def upsert_newest(session: Session, table: Table, key: str, row: dict[str, Any]) -> bool:
    """Insert or update the row unless the stored version is as new; race-free across replicas."""
    stmt = dialect_insert(session, table).values(**row)
    stmt = stmt.on_conflict_do_update(
        index_elements=[key], set_={c: stmt.excluded[c] for c in row if c != key},
        where=table.c.version < stmt.excluded.version,
    )
    # RETURNING, not rowcount: psycopg reports 1 for a conflicting row the WHERE left alone.
    return session.execute(stmt.returning(table.c.version)).first() is not None


def apply_site(session: Session, msg: pb.SiteChanged) -> bool:
    """Keep the newest SiteChanged of a site."""
    row = {"site_id": msg.site_id, "owner_id": msg.owner_id, "agency_id": msg.agency_id, "lon": msg.lon,
           "lat": msg.lat, "deleted": msg.deleted, "version": msg.version}
    return upsert_newest(session, SiteCopy.__table__, "site_id", row)  # type: ignore[arg-type]


def apply_device(session: Session, msg: pb.DeviceChanged) -> bool:
    """Keep the newest DeviceChanged of a CORE box."""
    row = {"device_id": msg.device_id, "site_id": msg.site_id, "agency_id": msg.agency_id,
           "revoked": msg.revoked, "version": msg.version}
    return upsert_newest(session, DeviceCopy.__table__, "device_id", row)  # type: ignore[arg-type]


def apply_camera(session: Session, msg: pb.CameraChanged) -> bool:
    """Keep the newest CameraChanged of a camera."""
    row = {"camera_id": msg.camera_id, "site_id": msg.site_id, "device_id": msg.device_id,
           "agency_id": msg.agency_id, "sharing_mode": MODES.get(msg.sharing_mode, "registry_only"),
           "core_enabled": msg.core_enabled, "deleted": msg.deleted, "version": msg.version}
    return upsert_newest(session, CameraCopy.__table__, "camera_id", row)  # type: ignore[arg-type]
