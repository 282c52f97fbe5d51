"""Panic validation, the alert state machine, SSE resume points and the MQTT backoff (no I/O)."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from proto import wire
from proto.lookout.v1 import lookout_pb2 as pb
from services.alerts.lifecycle import next_status
from services.alerts.models import DeviceCopy, SiteCopy, Status
from services.alerts.service import may_see
from services.alerts.stream import resume_point
from services.alerts.validation import Rejected, check_site, panic_request
from services.common.auth import Principal, Role
from services.common.errors import Conflict
from services.common.mqtt import backoff_delays

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
DEVICE = DeviceCopy(device_id="core-1", site_id="site-1", agency_id="ag", revoked=False, version=1)


def event(**over: object) -> pb.PanicEvent:
    fields: dict[str, object] = {"event_id": str(uuid.uuid4()), "device_id": "core-1", "site_id": "site-1",
                                 "pressed_at": wire.timestamp(NOW), "trigger": pb.TRIGGER_KIND_BUTTON}
    fields.update(over)
    return pb.PanicEvent(**fields)  # type: ignore[arg-type]


def test_valid_event_becomes_a_request() -> None:
    req = panic_request(event(site_id=""), "core-1", DEVICE, NOW, 300)
    assert req.site_id == "site-1" and req.device_id == "core-1" and req.trigger == "button"


@pytest.mark.parametrize(("over", "topic_device", "device", "reason"), [
    ({"device_id": "core-2"}, "core-1", DEVICE, "device_mismatch"),
    ({}, "core-1", None, "unknown_device"),
    ({}, "core-1", DeviceCopy(device_id="core-1", site_id="site-1", agency_id="ag", revoked=True, version=2),
     "revoked_device"),
    ({"site_id": "site-2"}, "core-1", DEVICE, "site_mismatch"),
    ({"event_id": "42"}, "core-1", DEVICE, "bad_event_id"),
    ({"pressed_at": wire.timestamp(NOW + timedelta(minutes=6))}, "core-1", DEVICE, "pressed_at_in_future"),
    ({"pressed_at": None}, "core-1", DEVICE, "missing_pressed_at"),
])
def test_bad_events_are_rejected(over: dict[str, object], topic_device: str, device: DeviceCopy | None,
                                 reason: str) -> None:
    with pytest.raises(Rejected) as caught:
        panic_request(event(**over), topic_device, device, NOW, 300)
    assert caught.value.reason == reason


def test_small_clock_skew_is_accepted() -> None:
    panic_request(event(pressed_at=wire.timestamp(NOW + timedelta(minutes=4))), "core-1", DEVICE, NOW, 300)


def test_site_checks() -> None:
    with pytest.raises(Rejected, match="unknown_site"):
        check_site(None, "s")
    with pytest.raises(Rejected, match="unknown_site"):
        check_site(SiteCopy(site_id="s", agency_id="a", deleted=True, version=1), "s")
    with pytest.raises(Rejected, match="site_without_agency"):
        check_site(SiteCopy(site_id="s", agency_id="", deleted=False, version=1), "s")


ALLOWED = {(Status.OPEN, "acknowledge"): Status.ACKNOWLEDGED, (Status.ACKNOWLEDGED, "resolve"): Status.RESOLVED,
           (Status.OPEN, "cancel"): Status.CANCELLED, (Status.ACKNOWLEDGED, "cancel"): Status.CANCELLED}


@pytest.mark.parametrize("current", list(Status))
@pytest.mark.parametrize("action", ["acknowledge", "resolve", "cancel"])
def test_state_machine(current: Status, action: str) -> None:
    if (current, action) in ALLOWED:
        assert next_status(current.value, action) is ALLOWED[(current, action)]
    else:
        with pytest.raises(Conflict):
            next_status(current.value, action)


def test_who_sees_an_alert() -> None:
    from services.alerts.models import Alert

    agency, owner = uuid.uuid4(), uuid.uuid4()
    alert = Alert(agency_id=str(agency), owner_id=str(owner))
    staff = Principal(uuid.uuid4(), Role.DISPATCHER, agency)
    assert may_see(staff, alert)
    assert not may_see(Principal(uuid.uuid4(), Role.DISPATCHER, uuid.uuid4()), alert)
    assert not may_see(Principal(uuid.uuid4(), Role.INVESTIGATOR, agency), alert)
    assert may_see(Principal(uuid.uuid4(), Role.OWNER, None, owner_id=owner), alert)
    assert not may_see(Principal(uuid.uuid4(), Role.OWNER, None, owner_id=uuid.uuid4()), alert)


def test_resume_point() -> None:
    assert resume_point("17", None) == 17
    assert resume_point(None, 5) == 5
    assert resume_point("garbage", None) is None
    assert resume_point(None, None) is None


def test_backoff_is_full_jitter_and_capped() -> None:
    delays = backoff_delays(0.5, 8.0, random.Random(1))
    values = [next(delays) for _ in range(50)]
    assert all(0 <= v <= 8.0 for v in values)
    assert values[0] <= 0.5 and values[1] <= 1.0 and values[2] <= 2.0
    assert max(values[10:]) > 4.0  # reaches the cap region, not stuck at the base
