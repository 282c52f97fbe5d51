"""Appending to and verifying the hash-chained audit log."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from services.registry.audit.models import AuditEvent
from services.registry.context import SYSTEM_ROLE, Caller
from services.registry.database import utcnow

GENESIS = "0" * 64
HASHED_FIELDS = (
    "recorded_at", "actor_id", "actor_role", "agency_id", "action", "object_type", "object_id",
    "subject_owner_id", "case_number", "reason", "outcome", "source", "detail",
)
# Any constant works: it names the one lock that serialises appends to the chain on PostgreSQL.
_CHAIN_LOCK = 0x4C4F4F4B


def _plain(value: object) -> object:
    if isinstance(value, datetime):
        return value.isoformat(timespec="microseconds")
    if isinstance(value, uuid.UUID):
        return str(value)
    return value


def chain_hash(prev_hash: str, event: Any) -> str:
    """SHA-256 over the previous row's hash and this row's fields in canonical JSON."""
    body = json.dumps({f: _plain(getattr(event, f)) for f in HASHED_FIELDS}, sort_keys=True,
                      separators=(",", ":"))
    return hashlib.sha256(prev_hash.encode() + body.encode()).hexdigest()


def record(
    session: Session,
    *,
    caller: Caller | None,
    action: str,
    object_type: str | None = None,
    object_id: object = None,
    subject_owner_id: uuid.UUID | None = None,
    agency_id: uuid.UUID | None = None,
    case_number: str | None = None,
    reason: str | None = None,
    outcome: str = "ok",
    detail: dict[str, object] | None = None,
) -> AuditEvent:
    """Append one event to the chain inside the caller's transaction (committed with its change)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _CHAIN_LOCK})
    prev = session.scalar(select(AuditEvent.hash).order_by(AuditEvent.id.desc()).limit(1)) or GENESIS
    principal = caller.principal if caller else None
    event = AuditEvent(
        recorded_at=utcnow(),
        actor_id=principal.account_id if principal else None,
        actor_role=str(principal.role) if principal else SYSTEM_ROLE,
        agency_id=agency_id or (principal.agency_id if principal else None),
        action=action,
        object_type=object_type,
        object_id=str(object_id) if object_id is not None else None,
        subject_owner_id=subject_owner_id,
        case_number=case_number,
        reason=reason,
        outcome=outcome,
        source=caller.source if caller else None,
        detail=json.dumps(detail, sort_keys=True, default=str) if detail else None,
        prev_hash=prev,
    )
    event.hash = chain_hash(prev, event)
    session.add(event)
    session.flush()
    return event


@dataclass(frozen=True)
class ChainReport:
    """Outcome of a chain verification: the first broken row, if any, and why."""

    ok: bool
    rows_checked: int
    first_broken_id: int | None = None
    problem: str | None = None


def _rows(session: Session, batch: int) -> Iterator[Any]:
    # Plain rows, not ORM objects: a long chain must not pile up in the session's identity map.
    table, last = AuditEvent.__table__, 0
    while True:
        rows = session.execute(
            select(*table.c).where(table.c.id > last).order_by(table.c.id).limit(batch)
        ).all()
        if not rows:
            return
        yield from rows
        last = rows[-1].id


def verify_chain(session: Session, *, batch: int = 5000) -> ChainReport:
    """Walk the whole chain; report the first row that was edited, or whose predecessor was removed."""
    prev, checked = GENESIS, 0
    for row in _rows(session, batch):
        if row.prev_hash != prev:
            return ChainReport(False, checked, row.id, "the row before this one was removed or altered")
        if chain_hash(prev, row) != row.hash:
            return ChainReport(False, checked, row.id, "this row was edited after it was written")
        prev, checked = row.hash, checked + 1
    return ChainReport(True, checked)


def list_events(session: Session, *, caller: Caller, action: str | None = None, case_number: str | None = None,
                after_id: int = 0, limit: int = 100) -> list[AuditEvent]:
    """The events of the caller's agency, oldest first from `after_id` (for paging and export)."""
    stmt = select(AuditEvent).where(AuditEvent.agency_id == caller.principal.agency_id, AuditEvent.id > after_id)
    if action:
        stmt = stmt.where(AuditEvent.action == action)
    if case_number:
        stmt = stmt.where(AuditEvent.case_number == case_number)
    return list(session.scalars(stmt.order_by(AuditEvent.id).limit(limit)))


def verify_and_record(session: Session, *, caller: Caller | None) -> ChainReport:
    """Verify the chain and note in it that (and how) it was verified."""
    report = verify_chain(session)
    record(session, caller=caller, action="audit.verified", outcome="ok" if report.ok else "broken",
           detail={"rows": report.rows_checked, "first_broken_id": report.first_broken_id})
    session.commit()
    return report
