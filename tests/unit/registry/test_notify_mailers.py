"""Mailers without a database: error mapping, scrubbing, the log mailer, choosing a backend."""

from __future__ import annotations

import logging
import smtplib
import ssl
from email.message import EmailMessage

import pytest

from services.registry.notify.mailers import (
    LogMailer,
    MailFailure,
    PermanentFailure,
    SmtpMailer,
    TemporaryFailure,
    build_mailer,
    scrub,
)
from services.registry.settings import MailSettings


def message(to: str = "Pat Owner <pat.owner@example.org>") -> EmailMessage:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "lookout@pd.example", to, "Footage request CASE-7"
    msg.set_content("Secret body: 12 Elm St.")
    return msg


def test_scrub_removes_addresses_line_breaks_and_length() -> None:
    text = "550 5.1.1 <pat.owner@example.org>: rejected\r\n for Pat.Owner+x@Mail.Example.ORG, sorry"
    assert scrub(text) == "550 5.1.1 <<address>>: rejected for <address>, sorry"
    assert len(scrub("x" * 1000)) == 300 and len(scrub("x" * 1000, 500)) == 500
    assert "owner" not in str(TemporaryFailure("SMTP 451 owner@example.org busy"))


@pytest.mark.parametrize(("error", "expected"), [
    (smtplib.SMTPRecipientsRefused({"a@b.org": (550, b"5.1.1 <a@b.org> unknown")}), PermanentFailure),
    (smtplib.SMTPRecipientsRefused({"a@b.org": (451, b"4.7.1 greylisted")}), TemporaryFailure),
    (smtplib.SMTPDataError(554, b"5.6.0 content rejected"), PermanentFailure),
    (smtplib.SMTPDataError(452, b"4.3.1 out of storage"), TemporaryFailure),
    # 5xx about our own setup is retried: a misconfiguration must delay mail, not drop it.
    (smtplib.SMTPSenderRefused(553, b"sender not allowed", "lookout@pd.example"), TemporaryFailure),
    (smtplib.SMTPAuthenticationError(535, b"5.7.8 bad credentials"), TemporaryFailure),
    (smtplib.SMTPConnectError(554, b"no service"), TemporaryFailure),
    (smtplib.SMTPResponseException(421, b"4.3.2 shutting down"), TemporaryFailure),
    (smtplib.SMTPServerDisconnected("Connection unexpectedly closed"), TemporaryFailure),
    (smtplib.SMTPNotSupportedError("STARTTLS extension not supported by server."), TemporaryFailure),
    (ConnectionRefusedError(111, "Connection refused"), TemporaryFailure),
    (TimeoutError("timed out"), TemporaryFailure),
    (ssl.SSLCertVerificationError("certificate verify failed"), TemporaryFailure),
])
def test_smtp_errors_map_to_temporary_or_permanent(monkeypatch: pytest.MonkeyPatch, error: Exception,
                                                   expected: type[MailFailure]) -> None:
    def fail(_self: SmtpMailer, _message: EmailMessage) -> None:
        raise error

    monkeypatch.setattr(SmtpMailer, "_deliver", fail)
    with pytest.raises(MailFailure) as raised:
        SmtpMailer(MailSettings(backend="smtp")).send(message())
    assert type(raised.value) is expected
    assert "@" not in str(raised.value)


def test_starttls_and_implicit_tls_exclude_each_other() -> None:
    with pytest.raises(ValueError, match="exclude"):
        SmtpMailer(MailSettings(backend="smtp", starttls=True, use_tls=True))


def test_the_log_mailer_logs_domain_and_subject_only(caplog: pytest.LogCaptureFixture) -> None:
    mailer = LogMailer()
    with caplog.at_level(logging.INFO, logger="lookout.registry.notify"):
        mailer.send(message())
        mailer.send(message("plain@lakeside.example"))
    assert "example.org" in caplog.text and "lakeside.example" in caplog.text and "CASE-7" in caplog.text
    for secret in ("pat.owner", "Pat Owner", "plain@", "Elm St"):
        assert secret not in caplog.text
    assert mailer.sent == 2


def test_build_mailer_follows_the_backend_setting() -> None:
    assert isinstance(build_mailer(MailSettings(backend="smtp")), SmtpMailer)
    assert isinstance(build_mailer(MailSettings(backend="log")), LogMailer)
    assert build_mailer(MailSettings(backend="none")) is None
