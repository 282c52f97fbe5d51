"""The pure rules of footage requests: the retention refusal and the owner's email texts."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone

import pytest

from services.common.errors import InvalidInput
from services.registry.owners.models import Camera
from services.registry.requests import mail
from services.registry.requests.service import check_retained

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


def camera(retention_days: int, label: str = "Porch") -> Camera:
    return Camera(id=uuid.uuid4(), label=label, retention_days=retention_days)


def test_footage_inside_retention_is_askable() -> None:
    week = camera(7)
    check_retained([week], window_start_at=NOW - timedelta(days=7), now=NOW)  # the oldest kept second: fine
    check_retained([week], window_start_at=NOW - timedelta(hours=1), now=NOW)


def test_footage_past_retention_names_camera_days_and_time() -> None:
    week, month = camera(7, "Porch"), camera(30, "Garage")
    start = NOW - timedelta(days=7, seconds=1)
    with pytest.raises(InvalidInput) as refused:
        check_retained([month, week], window_start_at=start, now=NOW)
    error = refused.value
    assert (error.code, error.field) == ("footage_not_retained", "camera_ids")
    assert error.message == (f"camera 'Porch' ({week.id}) keeps 7 days; footage from "
                             f"{start:%Y-%m-%d %H:%M} UTC is gone")


def test_a_camera_that_keeps_nothing_is_refused_even_for_a_minute_ago() -> None:
    live, week = camera(0, "Doorbell"), camera(7, "Side")
    with pytest.raises(InvalidInput) as refused:
        check_retained([live, week], window_start_at=NOW - timedelta(minutes=1), now=NOW)
    assert "keeps no recordings" in refused.value.message and str(live.id) in refused.value.message
    assert str(week.id) not in refused.value.message


def test_every_refused_camera_is_listed() -> None:
    cams = [camera(1, "One"), camera(2, "Two"), camera(90, "Ninety")]
    with pytest.raises(InvalidInput) as refused:
        check_retained(cams, window_start_at=NOW - timedelta(days=3), now=NOW)
    message = refused.value.message
    assert str(cams[0].id) in message and str(cams[1].id) in message and str(cams[2].id) not in message
    assert message.count("is gone") == 2


def test_window_times_are_shown_in_utc() -> None:
    offset = datetime(2026, 11, 24, 2, 0, tzinfo=timezone(timedelta(hours=-5)))  # 07:00 UTC, given in UTC-5
    with pytest.raises(InvalidInput) as refused:
        check_retained([camera(0)], window_start_at=offset, now=NOW)
    assert "2026-11-24 07:00 UTC" in refused.value.message


def created(**change: object) -> mail.Mail:
    fields: dict[str, object] = dict(
        agency_name="Lakeside Police", case_number="2026-77", legal_basis="warrant",
        window_start_at=NOW - timedelta(hours=3), window_end_at=NOW - timedelta(hours=2),
        due_at=NOW + timedelta(days=14), message="Please send the porch camera's video.",
        camera_labels=["Porch", "Garage"], url="https://lookout.example/v1/my/requests/abc")
    fields.update(change)
    return mail.request_created(**fields)  # type: ignore[arg-type]


def test_request_mail_says_who_what_when_and_how_to_answer() -> None:
    message = created()
    assert message.subject == "Footage request from Lakeside Police (case 2026-77)"
    for part in ("Lakeside Police", "2026-77", "2026-11-24 09:00 UTC to 2026-11-24 10:00 UTC", "  - Porch",
                 "  - Garage", "a warrant", "2026-12-08 12:00 UTC", "Please send the porch camera's video.",
                 "https://lookout.example/v1/my/requests/abc", "accept", "decline", "upload"):
        assert part in message.body, part


def test_subject_is_one_header_line_whatever_the_agency_is_called() -> None:
    message = created(agency_name="Lakeside\r\nBcc: someone@example.org")
    assert "\r" not in message.subject and "\n" not in message.subject
    assert message.subject == "Footage request from Lakeside Bcc: someone@example.org (case 2026-77)"


@pytest.mark.parametrize(("basis", "words"), [("owner_consent", "your consent"), ("exigent", "urgent")])
def test_legal_basis_in_plain_words(basis: str, words: str) -> None:
    assert words in created(legal_basis=basis).body


def test_withdrawn_mail_and_portal_url() -> None:
    assert mail.portal_url("https://lookout.example/", "r1") == "https://lookout.example/v1/my/requests/r1"
    assert mail.portal_url("https://lookout.example", "r1") == "https://lookout.example/v1/my/requests/r1"
    message = mail.request_withdrawn(agency_name="Lakeside Police", case_number="2026-77", url="https://x/r1")
    assert "withdrawn" in message.subject and "2026-77" in message.body and "https://x/r1" in message.body
