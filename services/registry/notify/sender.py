"""The notification sender: delivers due rows of the notification outbox through a mailer, with retries.

Each message is claimed in its own short transaction (`SELECT ... FOR UPDATE SKIP LOCKED` on PostgreSQL;
SQLite has a single writer) that also moves its `next_attempt_at` one lease ahead and counts the attempt.
The mail is then sent outside any transaction, so a slow mail server never holds database locks (on
SQLite it would block every writer), and the outcome is written in a second short transaction. Two
replicas never claim the same row: the second one either skips the locked row or finds it no longer due.
A sender that dies after claiming leaves the row to come due again when the lease ends: delivery is
at-least-once, and the `X-Lookout-Notification` header and the fixed Message-ID let a receiver drop a
repeat. A mail server outage loses nothing: the row stays queued with an exponential backoff.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.errors import MessageError
from email.message import EmailMessage
from email.utils import format_datetime
from typing import cast

from sqlalchemy import Connection, Engine, Table, select, update

from services.registry.crypto import ContactCipher
from services.registry.database import utcnow
from services.registry.notify.mailers import Mailer, PermanentFailure, TemporaryFailure, build_mailer, scrub
from services.registry.notify.models import Notification
from services.registry.settings import MailSettings

log = logging.getLogger("lookout.registry.notify")

HEADER = "X-Lookout-Notification"


def _table() -> Table:
    return cast(Table, Notification.__table__)


@dataclass(frozen=True)
class Claimed:
    """One row taken for a delivery attempt (attempts already counts this one)."""

    id: uuid.UUID
    kind: str
    to_enc: bytes
    subject: str
    body: str
    attempts: int


def lease_s(settings: MailSettings) -> float:
    """How long a claimed row stays invisible to other senders: far longer than one SMTP exchange."""
    return max(60.0, 10 * settings.timeout_s)


def backoff_s(attempts: int, settings: MailSettings) -> float:
    """The wait before retry number `attempts` (1, 2, ...): doubling from first_retry_s, capped."""
    return float(min(settings.max_backoff_s, settings.first_retry_s * 2 ** min(max(attempts - 1, 0), 30)))


def claim_one(conn: Connection, *, now: datetime, settings: MailSettings) -> Claimed | None:
    """Take the most overdue pending row in the caller's transaction: lock it, count the attempt, lease it."""
    t = _table()
    due = (t.c.sent_at.is_(None), t.c.failed_at.is_(None), t.c.next_attempt_at <= now)
    query = (select(t.c.id, t.c.kind, t.c.to_enc, t.c.subject, t.c.body, t.c.attempts).where(*due)
             .order_by(t.c.next_attempt_at, t.c.id).limit(1).with_for_update(skip_locked=True))
    row = conn.execute(query).first()
    if row is None:
        return None
    # The guard repeats the due condition, so a row another sender leased in the meantime is not taken twice.
    taken = conn.execute(update(t).where(t.c.id == row.id, *due).values(
        attempts=t.c.attempts + 1, next_attempt_at=now + timedelta(seconds=lease_s(settings))))
    if taken.rowcount != 1:
        return None
    return Claimed(id=row.id, kind=row.kind, to_enc=bytes(row.to_enc), subject=row.subject, body=row.body,
                   attempts=int(row.attempts) + 1)


def build_message(claimed: Claimed, *, to: str, settings: MailSettings, now: datetime) -> EmailMessage:
    """The email for one row: plain text, a stable Message-ID and the notification id as a header."""
    message = EmailMessage()
    message["From"] = settings.from_address
    message["To"] = to
    message["Subject"] = claimed.subject
    message["Date"] = format_datetime(now)
    domain = settings.from_address.rpartition("@")[2] or "localhost"
    # Fixed per notification, so a repeat after a crash is recognisable downstream.
    message["Message-ID"] = f"<{claimed.id}@{domain}>"
    message[HEADER] = str(claimed.id)
    message.set_content(claimed.body)
    header = message["To"]
    if len(header.addresses) != 1 or header.defects or "@" not in header.addresses[0].addr_spec:
        raise ValueError("the address is not exactly one mailbox")
    return message


def _finish(engine: Engine, note_id: uuid.UUID, values: dict[str, object]) -> None:
    t = _table()
    with engine.begin() as conn:
        conn.execute(update(t).where(t.c.id == note_id, t.c.sent_at.is_(None)).values(**values))


# A row that reached an end (sent, or given up) keeps its kind, subject, counts and times for the record,
# but not the owner's address nor the text: the outbox is a queue, not an archive of personal data, and
# nothing will ever read them again (a message that should go out again is enqueued anew).
_WIPED: dict[str, object] = {"to_enc": b"", "body": ""}


def _give_up(engine: Engine, claimed: Claimed, reason: str, now: datetime) -> None:
    _finish(engine, claimed.id, {"failed_at": now, "last_error": scrub(reason, 500), **_WIPED})
    log.warning("notification %s (%s) not delivered, giving up after %d attempt(s): %s", claimed.id,
                claimed.kind, claimed.attempts, scrub(reason))


def _retry_later(engine: Engine, claimed: Claimed, reason: str, now: datetime, settings: MailSettings) -> None:
    if claimed.attempts >= settings.max_attempts:
        _give_up(engine, claimed, f"{reason} (after {claimed.attempts} attempts)", now)
        return
    later = now + timedelta(seconds=backoff_s(claimed.attempts, settings))
    _finish(engine, claimed.id, {"next_attempt_at": later, "last_error": scrub(reason, 500)})
    log.info("notification %s (%s) not delivered yet (attempt %d), next try at %s: %s", claimed.id, claimed.kind,
             claimed.attempts, later.isoformat(timespec="seconds"), scrub(reason))


def deliver(engine: Engine, claimed: Claimed, *, mailer: Mailer, cipher: ContactCipher, settings: MailSettings,
            now: datetime) -> bool:
    """Send one claimed row and record the outcome; True when the mailer accepted it."""
    if claimed.attempts > settings.max_attempts:  # e.g. a sender that kept dying on this very row
        _give_up(engine, claimed, f"gave up after {claimed.attempts - 1} attempts", now)
        return False
    try:
        to = cipher.decrypt(claimed.to_enc) or ""
    except ValueError:  # a missing key is a setup problem another replica or a fixed config may not have
        _retry_later(engine, claimed, "the address cannot be decrypted with the configured keys", now, settings)
        return False
    try:
        message = build_message(claimed, to=to, settings=settings, now=now)
    except (ValueError, MessageError) as exc:  # what an email header cannot carry (line breaks, several)
        _give_up(engine, claimed, f"invalid message: {exc}", now)
        return False
    try:
        mailer.send(message)
    except TemporaryFailure as exc:
        _retry_later(engine, claimed, str(exc), now, settings)
        return False
    except PermanentFailure as exc:
        _give_up(engine, claimed, str(exc), now)
        return False
    _finish(engine, claimed.id, {"sent_at": now, "last_error": None, **_WIPED})
    return True


def _claim(engine: Engine, now: datetime, settings: MailSettings) -> Claimed | None:
    with engine.begin() as conn:
        return claim_one(conn, now=now, settings=settings)


def send_due(engine: Engine, *, mailer: Mailer, cipher: ContactCipher, settings: MailSettings,
             now: datetime | None = None, stop: threading.Event | None = None) -> int:
    """Deliver up to `settings.batch_size` due notifications (blocking); returns how many were sent.

    `now` fixes the clock for the whole call (tests, the CLI); by default each step reads the real one.
    """
    sent = 0
    for _ in range(settings.batch_size):
        if stop is not None and stop.is_set():
            break
        at = now or utcnow()
        claimed = _claim(engine, at, settings)
        if claimed is None:
            break
        sent += deliver(engine, claimed, mailer=mailer, cipher=cipher, settings=settings, now=now or utcnow())
    return sent


async def _sleep_unless(stop: asyncio.Event, seconds: float) -> None:
    with suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)


class NotificationSender:
    """One sender loop between the notification outbox and a mailer (built from the settings by default)."""

    def __init__(self, engine: Engine, mail_settings: MailSettings, cipher: ContactCipher,
                 mailer: Mailer | None = None) -> None:
        self.engine = engine
        self.settings = mail_settings
        self.cipher = cipher
        self.mailer = mailer if mailer is not None else build_mailer(mail_settings)
        self.sent = 0  # messages this sender got accepted (for tests and metrics)
        self._halt = threading.Event()  # seen by the worker thread between two messages

    def send_due(self) -> int:
        """One batch with this sender's mailer, now (blocking); 0 when mail is switched off."""
        if self.mailer is None:
            return 0
        sent = send_due(self.engine, mailer=self.mailer, cipher=self.cipher, settings=self.settings,
                        stop=self._halt)
        self.sent += sent
        return sent

    async def run(self, stop: asyncio.Event | None = None) -> None:
        """Deliver until `stop` is set; a failing database or mailer is logged and retried next round."""
        stop = stop or asyncio.Event()
        while not stop.is_set():
            try:
                sent = await asyncio.to_thread(self.send_due)
            except Exception:
                log.exception("notification sender failed; retrying in %.1fs", self.settings.poll_interval_s)
                sent = 0
            if sent < self.settings.batch_size:
                await _sleep_unless(stop, self.settings.poll_interval_s)

    @asynccontextmanager
    async def running(self) -> AsyncIterator[asyncio.Task[None] | None]:
        """Run the loop as a background task for the duration of the block (None when mail is off)."""
        if self.mailer is None:
            log.info("notification sender off (REGISTRY_MAIL_BACKEND=none): messages stay queued")
            yield None
            return
        stop = asyncio.Event()
        self._halt.clear()
        task = asyncio.create_task(self.run(stop), name="lookout-registry-notify")
        try:
            yield task
        finally:
            stop.set()
            self._halt.set()  # the message in hand is finished, the rest of the batch waits for next time
            try:
                await asyncio.wait_for(task, timeout=2 * self.settings.timeout_s + 5)
            except TimeoutError:
                task.cancel()
                with suppress(asyncio.CancelledError):
                    await task
