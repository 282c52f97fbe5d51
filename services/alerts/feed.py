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


FEED_PAGE = 200  # entries per read


def read_feed(session: Session, agency_id: str, after: int, limit: int = FEED_PAGE) -> list[AlertFeed]:
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

    def arm(self) -> asyncio.Event:
        """The event the next `notify` sets: take it before reading the feed, so a commit during the read wakes you."""
        if self._event is None:
            self._event = asyncio.Event()
        return self._event

    async def wait(self, timeout: float, armed: asyncio.Event | None = None) -> None:
        """Return when notified (since `armed` was taken) or after `timeout` s (other replicas' writes: polling)."""
        event = armed or self.arm()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(event.wait(), timeout)
