"""The box's own policy check: every sharing mode against alerts, grants, expiry, revocation and unknown cameras."""

from __future__ import annotations

import json
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from edge_core.policy import Policy
from proto.lookout.v1 import lookout_pb2 as pb
from proto.wire import timestamp

NOW = datetime(2030, 5, 6, 12, 0, tzinfo=UTC)
LATER = NOW + timedelta(minutes=10)
MODES = ["registry_only", "on_request", "live_on_alert", "live_on_consent"]


def start(*, alert: str = "", grant: str = "", camera: str = "cam-1", expires: datetime | None = LATER,
          session: str = "s1") -> pb.StreamStart:
    message = pb.StreamStart(session_id=session, camera_id=camera, alert_id=alert, grant_id=grant, agency_id="ag-1")
    if expires is not None:
        message.expires_at.CopyFrom(timestamp(expires))
    return message


def grant(grant_id: str = "g1", *, starts: datetime | None = NOW - timedelta(hours=1),
          expires: datetime | None = NOW + timedelta(hours=1), revoked: bool = False) -> pb.ConsentGrant:
    message = pb.ConsentGrant(grant_id=grant_id, revoked=revoked)
    if starts is not None:
        message.starts_at.CopyFrom(timestamp(starts))
    if expires is not None:
        message.expires_at.CopyFrom(timestamp(expires))
    return message


def policy(tmp_path: Path, mode: str = "live_on_alert", *grants: pb.ConsentGrant) -> Policy:
    made = Policy(tmp_path / "live-policy.json", ["cam-1", "cam-2"], {"cam-1": mode, "cam-2": "live_on_alert"})
    if grants:
        mode_now = pb.SharingMode.Name(made.mode("cam-1"))
        made.apply(pb.PolicyUpdate(camera_id="cam-1", sharing_mode=mode_now, grants=grants, version=1))
    return made


@pytest.mark.parametrize("mode", MODES)
def test_an_alert_stream_needs_live_on_alert(tmp_path: Path, mode: str) -> None:
    decision = policy(tmp_path, mode).check(start(alert="a1"), NOW)
    assert decision.allowed is (mode == "live_on_alert")
    if decision.allowed:
        assert decision.until == LATER
    else:
        assert mode in decision.reason


@pytest.mark.parametrize("mode", MODES)
def test_a_grant_stream_needs_consent_or_alert_mode_and_an_active_grant(tmp_path: Path, mode: str) -> None:
    decision = policy(tmp_path, mode, grant()).check(start(grant="g1"), NOW)
    assert decision.allowed is (mode in ("live_on_alert", "live_on_consent"))


@pytest.mark.parametrize(("the_grant", "asked"), [
    (grant(), "g2"),  # unknown grant
    (grant(revoked=True), "g1"),
    (grant(starts=NOW + timedelta(minutes=1)), "g1"),  # not started yet
    (grant(expires=NOW), "g1"),  # the window is half-open: [starts_at, expires_at)
    (grant(expires=NOW - timedelta(seconds=1)), "g1"),
    (grant(expires=None), "g1"),  # a grant without an end is not one the box honours
])
def test_a_grant_that_is_not_active_refuses(tmp_path: Path, the_grant: pb.ConsentGrant, asked: str) -> None:
    decision = policy(tmp_path, "live_on_consent", the_grant).check(start(grant=asked), NOW)
    assert not decision.allowed and "grant" in decision.reason


def test_a_grant_without_a_start_is_active_from_the_beginning(tmp_path: Path) -> None:
    assert policy(tmp_path, "live_on_consent", grant(starts=None)).check(start(grant="g1"), NOW).allowed


def test_a_grant_stream_ends_with_the_grant(tmp_path: Path) -> None:
    ends = NOW + timedelta(minutes=3)
    decision = policy(tmp_path, "live_on_consent", grant(expires=ends)).check(start(grant="g1"), NOW)
    assert decision.allowed and decision.until == ends


@pytest.mark.parametrize("expires", [None, NOW, NOW - timedelta(minutes=1)])
def test_never_when_expired_or_without_expiry(tmp_path: Path, expires: datetime | None) -> None:
    decision = policy(tmp_path).check(start(alert="a1", expires=expires), NOW)
    assert not decision.allowed and "expired" in decision.reason


def test_never_for_a_camera_not_on_this_box(tmp_path: Path) -> None:
    decision = policy(tmp_path).check(start(alert="a1", camera="cam-9"), NOW)
    assert not decision.allowed and "not configured" in decision.reason


def test_never_without_an_alert_or_a_grant(tmp_path: Path) -> None:
    assert not policy(tmp_path).check(start(), NOW).allowed


def test_a_local_revocation_survives_a_restart_and_refuses_every_retry(tmp_path: Path) -> None:
    first = policy(tmp_path)
    first.revoke("cam-1", "a1", "", NOW)
    assert not first.check(start(alert="a1"), NOW).allowed
    again = policy(tmp_path)  # as after a reboot
    decision = again.check(start(alert="a1", session="s-retry"), NOW)
    assert not decision.allowed and "revoked" in decision.reason
    assert again.check(start(alert="a2"), NOW).allowed  # another alert is another decision
    assert again.check(start(alert="a1", camera="cam-2"), NOW).allowed  # and another camera too
    assert stat.S_IMODE((tmp_path / "live-policy.json").stat().st_mode) == 0o600


def test_a_revoked_grant_is_refused_even_when_the_registry_still_lists_it(tmp_path: Path) -> None:
    made = policy(tmp_path, "live_on_consent", grant())
    made.revoke("cam-1", "", "g1", NOW)
    assert not made.check(start(grant="g1"), NOW).allowed


def test_only_a_newer_policy_update_applies_and_it_persists(tmp_path: Path) -> None:
    made = policy(tmp_path, "registry_only")
    assert made.apply(pb.PolicyUpdate(camera_id="cam-1", sharing_mode=pb.SHARING_MODE_LIVE_ON_ALERT, version=5))
    assert made.check(start(alert="a1"), NOW).allowed
    older = pb.PolicyUpdate(camera_id="cam-1", sharing_mode=pb.SHARING_MODE_REGISTRY_ONLY, version=4)
    same = pb.PolicyUpdate(camera_id="cam-1", sharing_mode=pb.SHARING_MODE_REGISTRY_ONLY, version=5)
    assert not made.apply(older) and not made.apply(same)
    assert made.check(start(alert="a1"), NOW).allowed
    assert policy(tmp_path, "registry_only").mode("cam-1") == pb.SHARING_MODE_LIVE_ON_ALERT  # stored, not creds
    assert made.apply(pb.PolicyUpdate(camera_id="cam-1", sharing_mode=pb.SHARING_MODE_REGISTRY_ONLY, version=6))
    assert not made.check(start(alert="a1"), NOW).allowed


def test_an_update_for_an_unknown_camera_or_with_version_zero_is_ignored(tmp_path: Path) -> None:
    made = policy(tmp_path, "registry_only")
    assert not made.apply(pb.PolicyUpdate(camera_id="cam-9", sharing_mode=pb.SHARING_MODE_LIVE_ON_ALERT, version=9))
    assert not made.apply(pb.PolicyUpdate(camera_id="cam-1", sharing_mode=pb.SHARING_MODE_LIVE_ON_ALERT))
    assert made.mode("cam-1") == pb.SHARING_MODE_REGISTRY_ONLY


def test_unknown_or_missing_enrolment_modes_share_nothing(tmp_path: Path) -> None:
    made = Policy(tmp_path / "p.json", ["cam-1", "cam-2"], {"cam-1": "everything"})
    assert made.mode("cam-1") == made.mode("cam-2") == pb.SHARING_MODE_REGISTRY_ONLY


def test_a_corrupt_file_shares_nothing_until_the_next_update(tmp_path: Path) -> None:
    (tmp_path / "live-policy.json").write_text("{not json")
    made = policy(tmp_path)
    assert not made.check(start(alert="a1"), NOW).allowed
    assert made.apply(pb.PolicyUpdate(camera_id="cam-1", sharing_mode=pb.SHARING_MODE_LIVE_ON_ALERT, version=1))
    assert made.check(start(alert="a1"), NOW).allowed
    assert json.loads((tmp_path / "live-policy.json").read_text())["cameras"]["cam-1"]["mode"] == "live_on_alert"


def test_grants_round_trip_through_the_file(tmp_path: Path) -> None:
    policy(tmp_path, "live_on_consent", grant(), grant("g2", revoked=True))
    again = Policy(tmp_path / "live-policy.json", ["cam-1"], {})
    assert again.check(start(grant="g1"), NOW).allowed
    assert not again.check(start(grant="g2"), NOW).allowed
