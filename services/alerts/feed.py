"""The dashboard feed: reading alert_feed in order, and waking SSE streams when this replica writes."""

from __future__ import annotations

import asyncio
import contextlib

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from services.alerts.models import AlertFeed

# Feed writers on PostgreSQL take this transaction-scoped advisory lock before inserting, so sequence
# numbers become visible in commit order and a reader that saw seq N never later meets a smaller one.
FEED_LOCK_KEY = 0x4C4F4F4B  # "LOOK"


def lock_feed(session: Session) -> None:
    """Serialise feed writers until commit (PostgreSQL; SQLite already has one writer at a time)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": FEED_LOCK_KEY})


def read_feed(session: Session, agency_id: str, after: int, limit: int = 200) -> list[AlertFeed]:
    """Feed entries of one agency after `after`, oldest first."""
    stmt = (select(AlertFeed).where(AlertFeed.agency_id == agency_id, AlertFeed.seq > after)
            .order_by(AlertFeed.seq).limit(limit))
    return list(session.scalars(stmt))


def last_seq(session: Session) -> int:
    """The newest feed sequence number (0 when empty)."""
    return int(session.scalar(select(func.coalesce(func.max(AlertFeed.seq), 0))) or 0)


class FeedSignal:
    """Wakes every waiting SSE stream of this process when a feed entry was committed here."""

    def __init__(self) -> None:
        self._event: asyncio.Event | None = None

    def notify(self) -> None:
        """Wake all current waiters."""
        event, self._event = self._event, None
        if event is not None:
            event.set()

    async def wait(self, timeout: float) -> None:
        """Return when notified or after `timeout` seconds (other replicas' writes are found by polling)."""
        if self._event is None:
            self._event = asyncio.Event()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._event.wait(), timeout)
