"""Program statistics over time and the public transparency report (aggregates only)."""

from __future__ import annotations

import uuid
from collections import defaultdict
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from services.registry.agencies.models import Agency
from services.registry.audit.models import AuditEvent
from services.registry.database import utcnow
from services.registry.requests.models import LEGAL_BASES, REQUEST_STATES, FootageRequest
from services.registry.stats.models import CameraLedger
from services.registry.stats.schemas import (
    AgencyTransparency,
    MonthCount,
    ProgramStats,
    RequestMonth,
    TransparencyReport,
)


def record_camera_change(session: Session, *, agency_id: uuid.UUID, registered: int, core: int) -> None:
    """Note a change in an agency's registered or CORE-integrated camera count."""
    if registered or core:
        session.add(CameraLedger(agency_id=agency_id, registered_delta=registered, core_delta=core))


def _month(at: datetime) -> str:
    return at.strftime("%Y-%m")


def program_stats(session: Session, *, agency_id: uuid.UUID) -> ProgramStats:
    """Registered and CORE-integrated cameras at the end of every month since the first registration."""
    rows = session.execute(
        select(CameraLedger.recorded_at, CameraLedger.registered_delta, CameraLedger.core_delta)
        .where(CameraLedger.agency_id == agency_id).order_by(CameraLedger.id)
    ).all()
    at_month_end: dict[str, tuple[int, int]] = {}
    registered = core = 0
    for at, reg, cor in rows:
        registered, core = registered + reg, core + cor
        at_month_end[_month(at)] = (registered, core)
    months, last = [], (0, 0)
    for month in _months_between(min(at_month_end, default=None), _month(utcnow())):
        last = at_month_end.get(month, last)  # a month without changes carries the previous count
        months.append(MonthCount(month=month, registered=last[0], core_integrated=last[1]))
    return ProgramStats(agency_id=agency_id, months=months)


def _months_between(first: str | None, last: str) -> list[str]:
    if first is None:
        return []
    year, month = map(int, first.split("-"))
    out = []
    while f"{year:04d}-{month:02d}" <= last:
        out.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return out


def _utc_month(session: Session, column: Any) -> Any:
    """The UTC month of a timestamp column as 'YYYY-MM', computed by the database."""
    # UTC months, as program_stats counts them (to_char of a timestamptz would use the session's time zone).
    if session.get_bind().dialect.name == "postgresql":
        return func.to_char(func.timezone("UTC", column), "YYYY-MM")
    return func.strftime("%Y-%m", column)


def _per_month(session: Session, action: str) -> dict[uuid.UUID, dict[str, int]]:
    month = _utc_month(session, AuditEvent.recorded_at)
    out: dict[uuid.UUID, dict[str, int]] = defaultdict(dict)
    rows = session.execute(
        select(AuditEvent.agency_id, month, func.count()).where(AuditEvent.action == action,
                                                                AuditEvent.agency_id.is_not(None))
        .group_by(AuditEvent.agency_id, month)
    )
    for agency_id, m, n in rows:
        out[agency_id][m] = n
    return out


def _requests_per_month(session: Session) -> dict[uuid.UUID, dict[str, RequestMonth]]:
    """Requests per agency and month of creation, by legal basis and current state (counts only)."""
    month = _utc_month(session, FootageRequest.created_at)
    rows = session.execute(
        select(FootageRequest.agency_id, month, FootageRequest.legal_basis, FootageRequest.state, func.count())
        .group_by(FootageRequest.agency_id, month, FootageRequest.legal_basis, FootageRequest.state)
    )
    out: dict[uuid.UUID, dict[str, RequestMonth]] = defaultdict(dict)
    for agency_id, m, basis, state, n in rows:
        # Every basis and state is listed, zero or not, so the report's shape does not depend on the data.
        entry = out[agency_id].setdefault(m, RequestMonth(total=0, by_legal_basis=dict.fromkeys(LEGAL_BASES, 0),
                                                          by_outcome=dict.fromkeys(REQUEST_STATES, 0)))
        entry.total += n
        entry.by_legal_basis[basis] = entry.by_legal_basis.get(basis, 0) + n
        entry.by_outcome[state] = entry.by_outcome.get(state, 0) + n
    return out


def transparency(session: Session) -> TransparencyReport:
    """Counts per agency: cameras, CORE cameras, searches, contact views and footage requests by month."""
    searches, views = _per_month(session, "camera.search"), _per_month(session, "contact.view")
    requests = _requests_per_month(session)
    agencies = []
    for agency in session.scalars(select(Agency).order_by(Agency.slug)):
        latest = program_stats(session, agency_id=agency.id).months
        agencies.append(AgencyTransparency(
            agency=agency.slug, name=agency.name,
            cameras_registered=latest[-1].registered if latest else 0,
            cameras_core_integrated=latest[-1].core_integrated if latest else 0,
            searches_by_month=dict(sorted(searches.get(agency.id, {}).items())),
            contact_views_by_month=dict(sorted(views.get(agency.id, {}).items())),
            requests_by_month=dict(sorted(requests.get(agency.id, {}).items())),
        ))
    return TransparencyReport(generated_at=utcnow().isoformat(timespec="seconds"), agencies=agencies)
