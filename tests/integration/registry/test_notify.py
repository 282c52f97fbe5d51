"""Owner notifications leave the outbox through a real SMTP server (aiosmtpd): delivery, outages, refusals,
concurrency, the background loop, and what the row keeps afterwards."""

from __future__ import annotations

import asyncio
import logging
import ssl
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any, Literal

import pytest
from sqlalchemy import delete, select

from services.registry.database import utcnow
from services.registry.deps import Registry
from services.registry.notify.mailers import PermanentFailure, SmtpMailer, TemporaryFailure
from services.registry.notify.models import Notification
from services.registry.notify.sender import HEADER, NotificationSender, claim_one, lease_s, send_due
from services.registry.notify.service import enqueue
from services.registry.settings import MailSettings
from tests.support.mosquitto import make_certificates
from tests.support.smtp import SmtpServer

TO = "pat.owner@example.org"
FROM = "lookout@lakeside-pd.example"


@pytest.fixture(scope="module")
def mail_registry(backend: str, make_registry: Callable[[str], Registry]) -> Registry:
    """A registry on its own database whose rows really commit (the sender reads them on its own connections)."""
    return make_registry(backend)


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    """A running SMTP server on a free port."""
    with SmtpServer() as server:
        yield server


@pytest.fixture
def queue(mail_registry: Registry) -> Callable[..., list[uuid.UUID]]:
    """Factory: commit n notifications (the outbox is emptied first); returns their ids."""
    with mail_registry.engine.begin() as conn:
        conn.execute(delete(Notification))

    def write(n: int = 1, *, to: str = TO, subject: str = "Footage request CASE-1", body: str = "Please help.",
              kind: str = "request.created") -> list[uuid.UUID]:
        with mail_registry.sessions() as session:
            notes = [enqueue(session, cipher=mail_registry.kit.cipher, owner_id=None, to=to, kind=kind,
                             subject=subject if n == 1 else f"{subject} #{i}", body=body) for i in range(n)]
            session.commit()
            return [note.id for note in notes]

    return write


def settings_for(server: SmtpServer, **extra: Any) -> MailSettings:
    values: dict[str, Any] = {"backend": "smtp", "host": "127.0.0.1", "port": server.port, "from_address": FROM,
                              "timeout_s": 5.0, "poll_interval_s": 0.05, **extra}
    return MailSettings(**values)


def row(registry: Registry, note_id: uuid.UUID) -> Notification:
    with registry.sessions() as session:
        note = session.get(Notification, note_id)
        assert note is not None
        session.expunge(note)
        return note


def send(registry: Registry, settings: MailSettings, *, now: datetime | None = None) -> int:
    return send_due(registry.engine, mailer=SmtpMailer(settings), cipher=registry.kit.cipher, settings=settings,
                    now=now)


async def until(check: Callable[[], bool], timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.05)


@pytest.mark.spatialite
def test_a_queued_notification_is_delivered_and_its_personal_data_wiped(
        mail_registry: Registry, smtp: SmtpServer, queue: Callable[..., list[uuid.UUID]]) -> None:
    [note_id] = queue(body="Officer Diaz asks for footage of 14 May, 21:00-21:30.\nCase CASE-1.")
    settings = settings_for(smtp)
    assert send(mail_registry, settings) == 1
    [got] = smtp.messages()
    assert (got.mail_from, got.rcpt_tos) == (FROM, (TO,))
    message = got.message
    assert (message["From"], message["To"], message["Subject"]) == (FROM, TO, "Footage request CASE-1")
    assert message[HEADER] == str(note_id)
    assert message["Message-ID"] == f"<{note_id}@lakeside-pd.example>" and message["Date"]
    assert message.get_content() == "Officer Diaz asks for footage of 14 May, 21:00-21:30.\nCase CASE-1.\n"
    note = row(mail_registry, note_id)
    assert note.sent_at is not None and note.failed_at is None and note.attempts == 1 and note.last_error is None
    # Sent: the outbox keeps what happened, not who it went to nor what it said.
    assert (bytes(note.to_enc), note.body) == (b"", "")
    assert (note.kind, note.subject) == ("request.created", "Footage request CASE-1")
    assert send(mail_registry, settings, now=utcnow() + timedelta(days=1)) == 0
    assert len(smtp.messages()) == 1


@pytest.mark.spatialite
def test_an_outage_loses_nothing_and_the_message_goes_out_once_when_the_server_is_back(
        mail_registry: Registry, smtp: SmtpServer, queue: Callable[..., list[uuid.UUID]]) -> None:
    [note_id] = queue()
    settings = settings_for(smtp, max_backoff_s=600)
    smtp.stop()
    before = utcnow()
    assert send(mail_registry, settings) == 0
    note = row(mail_registry, note_id)
    assert note.sent_at is None and note.failed_at is None and note.attempts == 1
    assert note.next_attempt_at >= before + timedelta(seconds=29)  # backed off, not retried in a busy loop
    assert note.last_error is not None and "unreachable" in note.last_error and TO not in note.last_error
    assert mail_registry.kit.cipher.decrypt(note.to_enc) == TO and note.body == "Please help."  # still queued

    smtp.start()  # same port
    assert send(mail_registry, settings) == 0  # not due before its backoff ends
    assert smtp.messages() == []
    later = note.next_attempt_at + timedelta(seconds=1)
    assert send(mail_registry, settings, now=later) == 1
    assert send(mail_registry, settings, now=later + timedelta(hours=1)) == 0
    [got] = smtp.messages()
    assert got.message[HEADER] == str(note_id)
    note = row(mail_registry, note_id)
    assert note.sent_at == later and note.attempts == 2 and note.last_error is None


@pytest.mark.spatialite
def test_a_4xx_reply_is_retried_later(mail_registry: Registry, smtp: SmtpServer,
                                      queue: Callable[..., list[uuid.UUID]]) -> None:
    [note_id] = queue()
    settings = settings_for(smtp)
    smtp.refuse(f"451 4.7.1 <{TO}> greylisted, try again later")
    assert send(mail_registry, settings) == 0
    note = row(mail_registry, note_id)
    assert (note.attempts, note.sent_at, note.failed_at) == (1, None, None)
    assert note.last_error is not None and "451" in note.last_error and "pat.owner" not in note.last_error
    smtp.refuse(None)
    assert send(mail_registry, settings, now=note.next_attempt_at) == 1
    assert [m.rcpt_tos for m in smtp.messages()] == [(TO,)]


@pytest.mark.spatialite
def test_a_5xx_refusal_fails_the_message_for_good(mail_registry: Registry, smtp: SmtpServer,
                                                  queue: Callable[..., list[uuid.UUID]],
                                                  caplog: pytest.LogCaptureFixture) -> None:
    [note_id] = queue()
    settings = settings_for(smtp)
    smtp.refuse(f"550 5.1.1 <{TO}>: Recipient address rejected: user unknown")
    with caplog.at_level(logging.WARNING, logger="lookout.registry.notify"):
        assert send(mail_registry, settings) == 0
    note = row(mail_registry, note_id)
    assert note.failed_at is not None and note.sent_at is None and note.attempts == 1
    assert note.last_error is not None and "550" in note.last_error and "pat.owner" not in note.last_error
    assert (bytes(note.to_enc), note.body) == (b"", "")
    assert str(note_id) in caplog.text and "550" in caplog.text and "pat.owner" not in caplog.text
    smtp.refuse(None)
    assert send(mail_registry, settings, now=utcnow() + timedelta(days=30)) == 0  # never tried again
    assert smtp.messages() == []


@pytest.mark.spatialite
def test_a_rejected_body_is_final_and_temporary_failures_give_up_after_max_attempts(
        mail_registry: Registry, smtp: SmtpServer, queue: Callable[..., list[uuid.UUID]]) -> None:
    first, second = queue(2)
    settings = settings_for(smtp, max_attempts=2, max_backoff_s=1)
    smtp.refuse("554 5.6.0 message content rejected", at="data")
    now = utcnow()
    assert send(mail_registry, settings, now=now) == 0
    assert row(mail_registry, first).failed_at == now and row(mail_registry, second).failed_at == now
    assert "554" in (row(mail_registry, first).last_error or "")

    [third] = queue()
    smtp.refuse(None, at="data")
    smtp.stop()
    now = utcnow()
    assert send(mail_registry, settings, now=now) == 0
    assert (row(mail_registry, third).attempts, row(mail_registry, third).failed_at) == (1, None)
    assert send(mail_registry, settings, now=now + timedelta(seconds=2)) == 0
    note = row(mail_registry, third)
    assert note.attempts == 2 and note.failed_at is not None and "after 2 attempts" in (note.last_error or "")
    smtp.start()
    assert send(mail_registry, settings, now=now + timedelta(days=1)) == 0 and smtp.messages() == []


@pytest.mark.spatialite
@pytest.mark.parametrize("to", ["two@example.org, three@example.org", "no-address", ""])
def test_an_unusable_address_fails_without_sending(mail_registry: Registry, smtp: SmtpServer,
                                                    queue: Callable[..., list[uuid.UUID]], to: str) -> None:
    [note_id] = queue(to=to)
    assert send(mail_registry, settings_for(smtp)) == 0
    note = row(mail_registry, note_id)
    assert note.failed_at is not None and "invalid message" in (note.last_error or "")
    assert smtp.messages() == []


@pytest.mark.spatialite
def test_the_running_loop_delivers_a_message_queued_after_it_started(
        mail_registry: Registry, smtp: SmtpServer, queue: Callable[..., list[uuid.UUID]]) -> None:
    sender = NotificationSender(mail_registry.engine, settings_for(smtp), mail_registry.kit.cipher)

    async def scenario() -> uuid.UUID:
        async with sender.running() as task:
            assert task is not None
            await asyncio.sleep(0.2)
            [note_id] = await asyncio.to_thread(queue)
            await until(lambda: row(mail_registry, note_id).sent_at is not None)
            return note_id

    note_id = asyncio.run(scenario())
    assert [m.message[HEADER] for m in smtp.messages()] == [str(note_id)] and sender.sent == 1


@pytest.mark.spatialite
def test_the_running_loop_rides_out_an_outage(mail_registry: Registry, smtp: SmtpServer,
                                             queue: Callable[..., list[uuid.UUID]]) -> None:
    sender = NotificationSender(mail_registry.engine, settings_for(smtp, max_backoff_s=0.2),
                                mail_registry.kit.cipher)

    async def scenario() -> list[uuid.UUID]:
        async with sender.running():
            smtp.stop()
            ids = await asyncio.to_thread(queue, 3)
            await until(lambda: all(row(mail_registry, i).attempts >= 2 for i in ids))
            assert all(row(mail_registry, i).sent_at is None for i in ids)
            smtp.start()
            await until(lambda: all(row(mail_registry, i).sent_at is not None for i in ids))
            return ids

    ids = asyncio.run(scenario())
    assert sorted(m.message[HEADER] for m in smtp.messages()) == sorted(str(i) for i in ids)  # each once


@pytest.mark.spatialite
def test_a_message_claimed_by_a_sender_that_died_goes_out_when_its_lease_ends(
        mail_registry: Registry, smtp: SmtpServer, queue: Callable[..., list[uuid.UUID]]) -> None:
    [note_id] = queue()
    settings = settings_for(smtp)
    now = utcnow()
    with mail_registry.engine.begin() as conn:  # claimed, then the process is gone before sending
        assert claim_one(conn, now=now, settings=settings) is not None
    assert send(mail_registry, settings, now=now + timedelta(seconds=lease_s(settings) - 1)) == 0
    assert smtp.messages() == []  # another sender keeps off a leased row
    assert send(mail_registry, settings, now=now + timedelta(seconds=lease_s(settings) + 1)) == 1
    assert [m.message[HEADER] for m in smtp.messages()] == [str(note_id)]
    assert row(mail_registry, note_id).attempts == 2


@pytest.mark.spatialite
def test_the_log_backend_marks_messages_sent_and_logs_no_personal_data(
        mail_registry: Registry, queue: Callable[..., list[uuid.UUID]], caplog: pytest.LogCaptureFixture) -> None:
    [note_id] = queue(body="Footage of 12 Elm St, please.")
    sender = NotificationSender(mail_registry.engine, MailSettings(backend="log", poll_interval_s=0.05),
                                mail_registry.kit.cipher)

    async def scenario() -> None:
        async with sender.running():
            await until(lambda: row(mail_registry, note_id).sent_at is not None)

    with caplog.at_level(logging.INFO, logger="lookout.registry.notify"):
        asyncio.run(scenario())
    assert "example.org" in caplog.text and "Footage request CASE-1" in caplog.text
    assert "pat.owner" not in caplog.text and "Elm St" not in caplog.text


def test_two_senders_deliver_each_message_exactly_once(mail_registry: Registry, smtp: SmtpServer,
                                                        queue: Callable[..., list[uuid.UUID]]) -> None:
    ids = queue(60)
    senders = [NotificationSender(mail_registry.engine, settings_for(smtp, batch_size=5), mail_registry.kit.cipher)
               for _ in range(2)]

    async def scenario() -> None:
        async with senders[0].running(), senders[1].running():
            await until(lambda: len(smtp.messages()) >= len(ids), timeout=30)
            await asyncio.sleep(0.3)  # time for a duplicate to show up, if there were one

    asyncio.run(scenario())
    headers = [m.message[HEADER] for m in smtp.messages()]
    assert sorted(headers) == sorted(str(i) for i in ids)
    assert sum(s.sent for s in senders) == len(ids) and all(s.sent > 0 for s in senders)
    with mail_registry.sessions() as session:
        assert all(n.sent_at is not None and n.attempts == 1 for n in session.scalars(select(Notification)))


@pytest.mark.spatialite
def test_with_mail_switched_off_the_loop_does_not_start_and_nothing_is_lost(
        mail_registry: Registry, queue: Callable[..., list[uuid.UUID]]) -> None:
    [note_id] = queue()
    sender = NotificationSender(mail_registry.engine, MailSettings(backend="none"), mail_registry.kit.cipher)

    async def scenario() -> None:
        async with sender.running() as task:
            assert task is None

    asyncio.run(scenario())
    assert sender.send_due() == 0
    note = row(mail_registry, note_id)
    assert (note.attempts, note.sent_at, note.failed_at) == (0, None, None)


# --- the SMTP mailer alone: encryption, login, refusals ---------------------------------------------------------


def message_to(to: str = TO) -> EmailMessage:
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = FROM, to, "hello"
    message.set_content("body")
    return message


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, ssl.SSLContext]:
    """A throwaway CA and server certificate, and a client context that trusts only that CA."""
    folder = tmp_path_factory.mktemp("smtp-tls")
    ca = make_certificates(folder)
    return folder, ssl.create_default_context(cafile=str(ca))


@pytest.mark.parametrize("mode", ["starttls", "implicit"])
def test_the_smtp_mailer_encrypts_and_logs_in_when_configured(certs: tuple[Path, ssl.SSLContext],
                                                            mode: Literal["starttls", "implicit"]) -> None:
    folder, trust = certs
    with SmtpServer(tls=mode, cert_dir=folder, user=("lookout", "s3cret")) as server:
        settings = MailSettings(backend="smtp", port=server.port, starttls=mode == "starttls",
                                use_tls=mode == "implicit", username="lookout", password="s3cret", timeout_s=5)
        SmtpMailer(settings, tls_context=trust).send(message_to())
        [got] = server.messages()
        assert (got.tls, got.login, got.rcpt_tos) == (True, "lookout", (TO,))
        # A wrong password is a setup problem: retried (TemporaryFailure), never a silently dropped message.
        wrong = settings.model_copy(update={"password": "nope"})
        with pytest.raises(TemporaryFailure, match="535"):
            SmtpMailer(wrong, tls_context=trust).send(message_to())
        # A server whose certificate we do not trust gets nothing.
        with pytest.raises(TemporaryFailure, match="CERTIFICATE_VERIFY_FAILED"):
            SmtpMailer(settings).send(message_to())
        assert server.logins_refused > 0 and len(server.messages()) == 1


def test_the_smtp_mailer_maps_replies_and_hides_addresses(smtp: SmtpServer) -> None:
    mailer = SmtpMailer(settings_for(smtp))
    smtp.refuse(f"450 4.2.0 <{TO}> mailbox busy")
    with pytest.raises(TemporaryFailure) as temporary:
        mailer.send(message_to())
    smtp.refuse(f"550 5.1.1 <{TO}> no such user")
    with pytest.raises(PermanentFailure) as permanent:
        mailer.send(message_to())
    for failure in (temporary.value, permanent.value):
        assert "pat.owner" not in str(failure) and "<address>" in str(failure)
    smtp.refuse(None)
    smtp.stop()
    with pytest.raises(TemporaryFailure, match="unreachable"):
        mailer.send(message_to())
    smtp.start()
    mailer.send(message_to())
    assert len(smtp.messages()) == 1
