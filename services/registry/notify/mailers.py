"""Mailers: how one email leaves the registry (SMTP, the log, or nothing), behind one small protocol.

A mailer is anything with `send(message: EmailMessage) -> None` that either returns (the message was
accepted for delivery) or raises `TemporaryFailure` (try again later: the outbox keeps the message) or
`PermanentFailure` (this message can never be delivered: the outbox gives up on it). The sender calls
`send` from a worker thread, so a mailer may block; it must bound every wait with a timeout.

Adding another way to send mail (say an HTTP API such as a transactional-mail service):

1. write a class with `send(self, message: EmailMessage) -> None` that posts `message` (its To, Subject,
   text body, and the `X-Lookout-Notification` header as the provider's idempotency key, so a message
   retried after a crash is not delivered twice), mapping HTTP 429/5xx and network errors to
   `TemporaryFailure` and a rejected recipient (4xx about the address) to `PermanentFailure`;
2. add its name to `MailSettings.backend` (and any settings it needs) and a branch in `build_mailer`.

Error texts never carry addresses: they are stored in `notification.last_error` and logged.
"""

from __future__ import annotations

import logging
import re
import smtplib
import ssl
from contextlib import suppress
from email.message import EmailMessage
from typing import Protocol

from services.registry.settings import MailSettings

log = logging.getLogger("lookout.registry.notify")

_ADDRESS = re.compile(r"[^\s<>()\[\],;:\"']+@[^\s<>()\[\],;:\"']+")


class MailFailure(Exception):
    """A message was not accepted; the text is safe to store and log (no addresses)."""

    def __init__(self, reason: str) -> None:
        super().__init__(scrub(reason))


class TemporaryFailure(MailFailure):
    """Not delivered now (server down, busy, 4xx, misconfigured): try again later."""


class PermanentFailure(MailFailure):
    """This message can never be delivered as it is (5xx about its recipient or content): give up."""


class Mailer(Protocol):
    """Delivers one message or raises TemporaryFailure / PermanentFailure."""

    def send(self, message: EmailMessage) -> None:
        """Hand `message` over for delivery (may block; bounded by the mailer's timeouts)."""


def scrub(text: str, limit: int = 300) -> str:
    """`text` without anything that looks like an email address, on one line, at most `limit` characters."""
    return " ".join(_ADDRESS.sub("<address>", text).split())[:limit]


def _reply(code: int, text: bytes | str) -> str:
    raw = text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)
    return f"SMTP {code} {raw}"


def _classify(code: int, text: bytes | str, *, about_message: bool) -> MailFailure:
    """4xx is always temporary; 5xx is permanent only when it is about this message (recipient, content).

    A 5xx about our own setup (authentication, the sender address, TLS) is temporary on purpose: a
    misconfiguration then delays mail until it is fixed instead of dropping every queued message.
    """
    if 500 <= code < 600 and about_message:
        return PermanentFailure(_reply(code, text))
    return TemporaryFailure(_reply(code, text))


class SmtpMailer:
    """Sends through an SMTP server with smtplib: one connection per message, STARTTLS/TLS and login as set."""

    def __init__(self, settings: MailSettings, *, tls_context: ssl.SSLContext | None = None) -> None:
        if settings.starttls and settings.use_tls:
            raise ValueError("REGISTRY_MAIL_STARTTLS and REGISTRY_MAIL_USE_TLS exclude each other")
        self.settings = settings
        # The system trust store unless a context is given (tests pass one trusting their throwaway CA).
        self.tls_context = tls_context or ssl.create_default_context()

    def _connect(self) -> smtplib.SMTP:
        s = self.settings
        if s.use_tls:
            return smtplib.SMTP_SSL(s.host, s.port, timeout=s.timeout_s, context=self.tls_context)
        smtp = smtplib.SMTP(s.host, s.port, timeout=s.timeout_s)
        if s.starttls:
            try:
                smtp.starttls(context=self.tls_context)
            except BaseException:
                smtp.close()
                raise
        return smtp

    def _deliver(self, message: EmailMessage) -> None:
        smtp = self._connect()
        try:
            if self.settings.username:
                smtp.login(self.settings.username, self.settings.password or "")
            smtp.send_message(message)
        finally:
            # The message is accepted once DATA got its 250; a failing QUIT must not turn that into a retry.
            with suppress(smtplib.SMTPException, OSError):
                smtp.quit()
            smtp.close()

    def send(self, message: EmailMessage) -> None:
        """Deliver over SMTP, mapping every failure to TemporaryFailure or PermanentFailure."""
        try:
            self._deliver(message)
        except smtplib.SMTPRecipientsRefused as exc:
            # One recipient per message: its reply decides (a 4xx greylisting is retried, a 5xx is final).
            code, text = next(iter(exc.recipients.values()), (550, b"recipient refused"))
            raise _classify(code, text, about_message=True) from None
        except smtplib.SMTPDataError as exc:
            raise _classify(exc.smtp_code, exc.smtp_error, about_message=True) from None
        except smtplib.SMTPResponseException as exc:  # sender refused, auth failed, HELO refused, 421 ...
            raise _classify(exc.smtp_code, exc.smtp_error, about_message=False) from None
        except smtplib.SMTPNotSupportedError as exc:
            raise TemporaryFailure(f"SMTP server lacks a configured feature: {exc}") from None
        except (smtplib.SMTPException, ssl.SSLError, OSError) as exc:  # refused, reset, timed out, TLS failed
            raise TemporaryFailure(f"SMTP server unreachable: {type(exc).__name__}: {exc}") from None


class LogMailer:
    """Writes a line per message to the log instead of sending it (the demo): recipient domain and subject only."""

    def __init__(self) -> None:
        self.sent = 0

    def send(self, message: EmailMessage) -> None:
        """Log the recipient's domain and the subject; never the address or the body."""
        domain = str(message["To"] or "").rpartition("@")[2].strip(" >") or "?"
        log.info("mail (log backend) to a recipient at %s: %s", domain, message["Subject"])
        self.sent += 1


def build_mailer(settings: MailSettings) -> Mailer | None:
    """The mailer `settings.backend` names; None for "none" (messages then stay queued, unsent)."""
    if settings.backend == "smtp":
        return SmtpMailer(settings)
    if settings.backend == "log":
        return LogMailer()
    return None
