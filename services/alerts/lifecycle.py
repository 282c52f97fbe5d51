"""The alert lifecycle in the database: open once per event id, step through the state machine, feed."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from services.alerts.copies import dialect_insert
from services.alerts.feed import lock_feed
from services.alerts.models import Alert, AlertFeed, AlertStep, CameraCopy, SiteCopy, Status
from services.alerts.validation import PanicRequest
from services.common.errors import Conflict, NotFound

# action -> (states it may leave from, state it leads to)
TRANSITIONS: dict[str, tuple[frozenset[Status], Status]] = {
    "acknowledge": (frozenset({Status.OPEN}), Status.ACKNOWLEDGED),
    "resolve": (frozenset({Status.ACKNOWLEDGED}), Status.RESOLVED),
    "cancel": (frozenset({Status.OPEN, Status.ACKNOWLEDGED}), Status.CANCELLED),
}
STEP_NAMES = {Status.ACKNOWLEDGED: "acknowledged", Status.RESOLVED: "resolved", Status.CANCELLED: "cancelled"}


def next_status(current: str, action: str) -> Status:
    """The state an action leads to from `current`, or Conflict when the machine forbids it."""
    if action not in TRANSITIONS:
        raise ValueError(f"unknown action {action!r}")
    sources, target = TRANSITIONS[action]
    if Status(current) not in sources:
        raise Conflict(f"cannot {action} an alert that is {current}", code="invalid_transition")
    return target


@dataclass(frozen=True)
class Opened:
    """The alert of an event id and whether this call created it."""

    alert: Alert
    created: bool


def alert_view(alert: Alert) -> dict[str, Any]:
    """The JSON shape of an alert for the REST API and the dashboard feed."""
    def iso(value: datetime | None) -> str | None:
        return value.isoformat() if value else None

    return {
        "id": str(alert.id), "event_id": str(alert.event_id), "device_id": alert.device_id,
        "site_id": alert.site_id, "agency_id": alert.agency_id, "lon": alert.lon, "lat": alert.lat,
        "trigger": alert.trigger, "camera_ids": list(alert.camera_ids or []), "status": alert.status,
        "pressed_at": iso(alert.pressed_at), "opened_at": iso(alert.opened_at),
        "acknowledged_by": alert.acknowledged_by, "acknowledged_at": iso(alert.acknowledged_at),
        "resolved_by": alert.resolved_by, "resolved_at": iso(alert.resolved_at), "outcome": alert.outcome,
    }


def append_feed(session: Session, alert: Alert, kind: str, at: datetime) -> None:
    """Record what dashboards of the alert's agency must be told."""
    lock_feed(session)
    session.add(AlertFeed(agency_id=alert.agency_id, alert_id=alert.id, kind=kind, payload=alert_view(alert), at=at))


def open_alert(session: Session, req: PanicRequest, site: SiteCopy, now: datetime) -> Opened:
    """Insert the alert of this event id unless it exists (ON CONFLICT DO NOTHING); not committed."""
    row = {"id": uuid.uuid4(), "event_id": req.event_id, "device_id": req.device_id, "site_id": site.site_id,
           "owner_id": site.owner_id or None, "agency_id": site.agency_id, "lon": site.lon, "lat": site.lat,
           "trigger": req.trigger, "camera_ids": list(req.camera_ids), "pressed_at": req.pressed_at,
           "opened_at": now, "status": Status.OPEN.value}
    table: Any = Alert.__table__
    stmt = dialect_insert(session, table).values(**row).on_conflict_do_nothing(index_elements=["event_id"])
    created = session.execute(stmt.returning(table.c.id)).first() is not None
    alert = session.scalars(select(Alert).where(Alert.event_id == req.event_id)
                            .execution_options(populate_existing=True)).one()
    if created:
        session.add(AlertStep(alert_id=alert.id, step="opened", by=req.device_id or site.owner_id, at=now))
        append_feed(session, alert, "opened", now)
    return Opened(alert, created)


def get_alert(session: Session, alert_id: uuid.UUID, *, lock: bool = False) -> Alert:
    """The alert, or NotFound."""
    stmt = select(Alert).where(Alert.id == alert_id).execution_options(populate_existing=True)
    alert = session.scalars(stmt.with_for_update() if lock else stmt).one_or_none()
    if alert is None:
        raise NotFound("no such alert")
    return alert


def apply_action(session: Session, alert: Alert, action: str, by: str, now: datetime) -> Alert:
    """Move a (locked) alert through the state machine, log the step and feed it; not committed."""
    target = next_status(alert.status, action)
    alert.status = target.value
    if target is Status.ACKNOWLEDGED:
        alert.acknowledged_by, alert.acknowledged_at = by, now
    else:
        alert.resolved_by, alert.resolved_at = by, now
        alert.outcome = "resolved" if target is Status.RESOLVED else "false_alarm"
    session.add(AlertStep(alert_id=alert.id, step=STEP_NAMES[target], by=by, at=now))
    append_feed(session, alert, STEP_NAMES[target], now)
    return alert


def live_cameras(session: Session, site_id: str, device_id: str | None) -> list[CameraCopy]:
    """Cameras of the site that may go live on an alert, served by this device (or by any, for the app)."""
    stmt = select(CameraCopy).where(
        CameraCopy.site_id == site_id, CameraCopy.sharing_mode == "live_on_alert",
        CameraCopy.core_enabled.is_(True), CameraCopy.deleted.is_(False), CameraCopy.device_id != "",
    )
    if device_id is not None:
        stmt = stmt.where(CameraCopy.device_id == device_id)
    return list(session.scalars(stmt.order_by(CameraCopy.camera_id)))


def mark_announced(session: Session, alert_id: uuid.UUID, now: datetime) -> None:
    """Note that the alert's opening was published (so a redelivered event does not publish it again)."""
    session.execute(update(Alert).where(Alert.id == alert_id, Alert.announced_at.is_(None)).values(announced_at=now))
