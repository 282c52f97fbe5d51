"""Appending to and verifying the hash-chained audit log."""

from __future__ import annotations

import functools
import hashlib
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import String, Table, bindparam, func, insert, select, update
from sqlalchemy.orm import Session

from services.registry.audit.models import AuditEvent, AuditHead
from services.registry.context import SYSTEM_ROLE, Caller
from services.registry.database import utcnow

GENESIS = "0" * 64
HASHED_FIELDS = (
    "recorded_at", "actor_id", "actor_role", "agency_id", "action", "object_type", "object_id",
    "subject_owner_id", "case_number", "reason", "outcome", "source", "detail",
)


def _plain(value: object) -> object:
    if isinstance(value, datetime):
        return value.isoformat(timespec="microseconds")
    if isinstance(value, uuid.UUID):
        return str(value)
    return value


def canonical(fields: dict[str, Any]) -> str:
    """The hashed fields as canonical JSON (sorted keys, no spaces, ISO times, UUIDs as text)."""
    return json.dumps({f: _plain(fields[f]) for f in HASHED_FIELDS}, sort_keys=True, separators=(",", ":"))


def chain_hash(prev_hash: str, event: Any) -> str:
    """SHA-256 over the previous row's hash and this row's fields in canonical JSON."""
    body = canonical({f: getattr(event, f) for f in HASHED_FIELDS})
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
    principal = caller.principal if caller else None
    fields: dict[str, Any] = {
        "recorded_at": utcnow(),
        "actor_id": principal.account_id if principal else None,
        "actor_role": str(principal.role) if principal else SYSTEM_ROLE,
        "agency_id": agency_id or (principal.agency_id if principal else None),
        "action": action,
        "object_type": object_type,
        "object_id": str(object_id) if object_id is not None else None,
        "subject_owner_id": subject_owner_id,
        "case_number": case_number,
        "reason": reason,
        "outcome": outcome,
        "source": caller.source if caller else None,
        "detail": json.dumps(detail, sort_keys=True, default=str) if detail else None,
    }
    body = canonical(fields)
    append = _append_postgres if session.get_bind().dialect.name == "postgresql" else _append_locked
    event_id, prev, new = append(session, fields, body)
    # A detached copy for the caller: the row itself went in through Core, past the ORM unit of work.
    return AuditEvent(id=event_id, **fields, prev_hash=prev, hash=new)


def _tables() -> tuple[Table, Table]:
    return cast(Table, AuditHead.__table__), cast(Table, AuditEvent.__table__)


@functools.cache
def _postgres_append() -> Any:
    # One statement: the UPDATE locks the head row (waiters re-read it once the holder commits), the hash is
    # computed by the server with the same formula as chain_hash, and the row is inserted from the result.
    # Built once; every value is a bind parameter.
    head_t, event_t = _tables()
    next_hash = func.encode(func.sha256(func.convert_to(head_t.c.hash + bindparam("body", type_=String()), "UTF8")),
                            "hex")
    head = (update(head_t).where(head_t.c.id == 1).values(prev_hash=head_t.c.hash, hash=next_hash)
            .returning(head_t.c.prev_hash, head_t.c.hash).cte("head"))
    values = [bindparam(f, type_=event_t.c[f].type) for f in HASHED_FIELDS]
    return (insert(event_t).from_select([*HASHED_FIELDS, "prev_hash", "hash"],
                                        select(*values, head.c.prev_hash, head.c.hash))
            .returning(event_t.c.id, event_t.c.prev_hash, event_t.c.hash))


def _append_postgres(session: Session, fields: dict[str, Any], body: str) -> tuple[int, str, str]:
    row = session.connection().execute(_postgres_append(), {**fields, "body": body}).one()
    return int(row.id), row.prev_hash, row.hash


def _append_locked(session: Session, fields: dict[str, Any], body: str) -> tuple[int, str, str]:
    # SQLite: every transaction began with BEGIN IMMEDIATE, so this read-then-write cannot interleave.
    head_t, event_t = _tables()
    prev = session.execute(select(head_t.c.hash).where(head_t.c.id == 1)).scalar_one()
    new = hashlib.sha256(prev.encode() + body.encode()).hexdigest()
    session.execute(update(head_t).where(head_t.c.id == 1).values(prev_hash=prev, hash=new))
    event_id = session.execute(insert(event_t).values(**fields, prev_hash=prev, hash=new)
                               .returning(event_t.c.id)).scalar_one()
    return int(event_id), prev, new


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
    head = session.execute(select(AuditHead.hash)).scalar_one()
    if head != prev:
        return ChainReport(False, checked, None, "the newest rows were removed: the chain's head points past them")
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
