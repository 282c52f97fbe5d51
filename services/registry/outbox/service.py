"""Writing events into the outbox inside the caller's transaction, and reading what is still pending."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol, cast

from google.protobuf.message import Message
from sqlalchemy import Connection, Table, insert, select, update
from sqlalchemy.orm import Session

from proto import wire
from services.registry.database import utcnow
from services.registry.outbox.models import OutboxEvent


class Versioned(Protocol):
    """A contract message carrying the registry's outbox sequence."""

    version: int


def _table() -> Table:
    return cast(Table, OutboxEvent.__table__)


def emit(session: Session, *, topic: str, message: Message, versioned: Message | None = None) -> int:
    """Append `message` for `topic` to the outbox in the caller's transaction; its version is the row id.

    The version goes into `versioned` (a part of `message`) when given, else into `message` itself.
    """
    table = _table()
    # The row goes in first (Core, past the unit of work) so its id can be the version inside the payload.
    event_id = int(session.execute(insert(table).values(topic=topic, payload=b"", created_at=utcnow())
                                   .returning(table.c.id)).scalar_one())
    cast(Versioned, message if versioned is None else versioned).version = event_id
    session.execute(update(table).where(table.c.id == event_id).values(payload=wire.encode(message)))
    return event_id


def claim_pending(conn: Connection, *, limit: int) -> Sequence[tuple[int, str, bytes]]:
    """The oldest pending rows, locked for this transaction; rows another relay holds are skipped."""
    table = _table()
    query = (select(table.c.id, table.c.topic, table.c.payload).where(table.c.published_at.is_(None))
             .order_by(table.c.id).limit(limit).with_for_update(skip_locked=True))
    return [(int(r.id), str(r.topic), bytes(r.payload)) for r in conn.execute(query)]


def mark_published(conn: Connection, *, ids: Sequence[int], at: datetime | None = None) -> None:
    """Record that the broker acknowledged these rows."""
    if ids:
        table = _table()
        conn.execute(update(table).where(table.c.id.in_(list(ids))).values(published_at=at or utcnow()))


def events_after(session: Session, *, topic_prefix: str, after: int, limit: int) -> list[OutboxEvent]:
    """Events of one kind with a version above `after`, oldest first (a late consumer's catch-up)."""
    query = (select(OutboxEvent).where(OutboxEvent.id > after, OutboxEvent.topic.startswith(topic_prefix,
                                                                                           autoescape=True))
             .order_by(OutboxEvent.id).limit(limit))
    return list(session.scalars(query))
