"""Building the email for a notification row, and the retry schedule (services/registry/notify/sender.py)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from services.registry.notify.sender import HEADER, Claimed, backoff_s, build_message, lease_s
from services.registry.settings import MailSettings

NOW = datetime(2026, 11, 24, 15, 30, tzinfo=UTC)
SETTINGS = MailSettings(from_address="lookout@lakeside-pd.example", max_backoff_s=3600, timeout_s=10)


def claimed(subject: str = "Footage request CASE-9", body: str = "Hello,\nplease look.") -> Claimed:
    return Claimed(id=uuid.UUID("00000000-0000-4000-8000-000000000009"), kind="request.created", to_enc=b"x",
                   subject=subject, body=body, attempts=1)


def test_the_message_carries_addresses_subject_body_and_the_idempotency_headers() -> None:
    msg = build_message(claimed(), to="Pat Owner <pat@example.org>", settings=SETTINGS, now=NOW)
    assert (msg["From"], msg["To"], msg["Subject"]) == ("lookout@lakeside-pd.example", "Pat Owner <pat@example.org>",
                                                        "Footage request CASE-9")
    assert msg[HEADER] == "00000000-0000-4000-8000-000000000009"
    # The same row always gets the same Message-ID, so a resend after a crash is recognisable.
    assert msg["Message-ID"] == "<00000000-0000-4000-8000-000000000009@lakeside-pd.example>"
    assert msg["Date"] == "Tue, 24 Nov 2026 15:30:00 +0000"
    assert msg.get_content_type() == "text/plain" and msg.get_content() == "Hello,\nplease look.\n"
    again = build_message(claimed(), to="pat@example.org", settings=SETTINGS, now=NOW)
    assert again["Message-ID"] == msg["Message-ID"]


@pytest.mark.parametrize("to", ["a@example.org, b@example.org", "nobody", "", "a@example.org\r\nBcc: c@example.org"])
def test_anything_but_one_mailbox_is_refused(to: str) -> None:
    with pytest.raises(ValueError):
        build_message(claimed(), to=to, settings=SETTINGS, now=NOW)


def test_a_subject_cannot_inject_headers() -> None:
    with pytest.raises(ValueError):
        build_message(claimed(subject="hi\r\nBcc: c@example.org"), to="a@example.org", settings=SETTINGS, now=NOW)


def test_backoff_doubles_from_thirty_seconds_up_to_the_cap() -> None:
    assert [backoff_s(n, SETTINGS) for n in range(1, 9)] == [30, 60, 120, 240, 480, 960, 1920, 3600]
    assert backoff_s(500, SETTINGS) == 3600  # no overflow for a huge attempt count
    assert backoff_s(1, MailSettings(max_backoff_s=0.2)) == 0.2


def test_a_lease_outlasts_one_smtp_exchange() -> None:
    assert lease_s(SETTINGS) == 100 and lease_s(MailSettings(timeout_s=1)) == 60
