"""The box honours a consent grant only for the agency the owner granted it to, and keeps that across restarts."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from edge_core.config import LiveConfig
from edge_core.live import Live
from edge_core.policy import Policy
from proto.lookout.v1 import lookout_pb2 as pb
from proto.wire import timestamp

NOW = datetime(2030, 5, 6, 12, 0, tzinfo=UTC)
AGENCY, OTHER = "ag-1", "ag-2"


def start(*, agency: str = AGENCY, grant: str = "g1") -> pb.StreamStart:
    return pb.StreamStart(session_id="s1", camera_id="cam-1", grant_id=grant, agency_id=agency,
                          expires_at=timestamp(NOW + timedelta(minutes=10)))


def granted(tmp_path: Path, agency: str = AGENCY) -> Policy:
    policy = Policy(tmp_path / "live-policy.json", ["cam-1"], {"cam-1": "live_on_consent"})
    the_grant = pb.ConsentGrant(grant_id="g1", agency_id=agency, starts_at=timestamp(NOW - timedelta(hours=1)),
                                expires_at=timestamp(NOW + timedelta(hours=1)))
    assert policy.apply(pb.PolicyUpdate(camera_id="cam-1", sharing_mode=pb.SHARING_MODE_LIVE_ON_CONSENT,
                                        grants=[the_grant], version=1))
    return policy


def test_a_grant_admits_the_agency_it_names(tmp_path: Path) -> None:
    decision = granted(tmp_path).check(start(), NOW)
    assert decision.allowed and decision.until == NOW + timedelta(minutes=10)


@pytest.mark.parametrize("asking", [OTHER, ""])
def test_a_grant_refuses_any_other_agency(tmp_path: Path, asking: str) -> None:
    decision = granted(tmp_path).check(start(agency=asking), NOW)
    assert not decision.allowed and "another agency" in decision.reason


def test_a_grant_naming_no_agency_admits_the_start_as_before(tmp_path: Path) -> None:
    assert granted(tmp_path, agency="").check(start(agency=OTHER), NOW).allowed


def test_the_grants_agency_survives_a_restart(tmp_path: Path) -> None:
    granted(tmp_path)
    stored = json.loads((tmp_path / "live-policy.json").read_text())
    assert stored["cameras"]["cam-1"]["grants"][0]["agency_id"] == AGENCY
    reloaded = Policy(tmp_path / "live-policy.json", ["cam-1"], {"cam-1": "registry_only"})
    assert reloaded.cameras["cam-1"].grants["g1"].agency_id == AGENCY
    assert not reloaded.check(start(agency=OTHER), NOW).allowed
    assert reloaded.check(start(), NOW).allowed


def test_a_policy_file_written_before_grants_named_an_agency_still_loads(tmp_path: Path) -> None:
    path = tmp_path / "live-policy.json"
    grant = {"grant_id": "g1", "revoked": False, "starts_at": (NOW - timedelta(hours=1)).isoformat(),
             "expires_at": (NOW + timedelta(hours=1)).isoformat()}
    path.write_text(json.dumps({"cameras": {"cam-1": {"mode": "live_on_consent", "version": 3, "grants": [grant]}},
                                "revoked": []}))
    policy = Policy(path, ["cam-1"], {"cam-1": "registry_only"})
    assert policy.cameras["cam-1"].version == 3 and policy.cameras["cam-1"].grants["g1"].agency_id == ""
    assert policy.check(start(agency=OTHER), NOW).allowed


def test_the_box_refuses_and_logs_a_start_for_another_agency(tmp_path: Path,
                                                             caplog: pytest.LogCaptureFixture) -> None:
    offers: list[pb.SessionDescription] = []

    async def send_offer(offer: pb.SessionDescription) -> None:
        offers.append(offer)

    live = Live(LiveConfig(), (), granted(tmp_path), None, send_offer, clock=lambda: NOW)  # type: ignore[arg-type]
    with caplog.at_level(logging.WARNING, logger="edge_core.live"):
        outcome = live.stream_start(start(agency=OTHER))
    assert outcome.startswith("refused") and "another agency" in outcome
    assert "stream_start refused" in caplog.text and "another agency" in caplog.text
    assert live.sessions() == [] and offers == []
