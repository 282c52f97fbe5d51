"""The relay's REST API: who sees which session, viewer tokens scoped to one session, WHEP input checks."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from services.common.auth import Role
from services.streams.app import create_app
from services.streams.deps import Streams

AGENCY, OTHER = str(uuid.uuid4()), str(uuid.uuid4())


@pytest.fixture
def relay(make_streams: Callable[..., Streams]) -> Iterator[tuple[Streams, TestClient, list[str]]]:
    """A relay (MQTT off) with two pending sessions of AGENCY and one of OTHER."""
    streams = make_streams()
    ids = [str(uuid.uuid4()) for _ in range(3)]
    for session_id, agency in zip(ids, (AGENCY, AGENCY, OTHER), strict=True):
        asyncio.run(streams.relay.started(session_id=session_id, camera_id="cam", device_id="core-1",
                                          agency_id=agency, alert_id="alert-1", grant_id=None,
                                          expires_at=datetime.now(UTC) + timedelta(minutes=5)))
    streams.relay.live.clear()  # the expiry timers belonged to the loop asyncio.run closed
    with TestClient(create_app(streams=streams)) as client:
        yield streams, client, ids


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_dispatchers_see_only_their_agencys_sessions(relay: tuple[Streams, TestClient, list[str]],
                                                     token: Callable[..., str]) -> None:
    _, client, ids = relay
    mine = client.get("/v1/sessions", headers=auth(token(Role.DISPATCHER, agency=AGENCY)))
    assert mine.status_code == 200 and {s["session_id"] for s in mine.json()} == set(ids[:2])
    assert client.get(f"/v1/sessions/{ids[2]}", headers=auth(token(Role.DISPATCHER, agency=AGENCY))).status_code == 404
    for role, agency in ((Role.INVESTIGATOR, AGENCY), (Role.OWNER, None), (Role.AUDITOR, AGENCY)):
        assert client.get("/v1/sessions", headers=auth(token(role, agency=agency))).status_code == 403
        answer = client.post(f"/v1/sessions/{ids[0]}/viewer-token", headers=auth(token(role, agency=agency)))
        assert answer.status_code == 404, role
    assert client.get("/v1/sessions").status_code == 401


def test_a_viewer_token_opens_only_its_own_session(relay: tuple[Streams, TestClient, list[str]],
                                                   token: Callable[..., str]) -> None:
    _, client, ids = relay
    issued = client.post(f"/v1/sessions/{ids[0]}/viewer-token", headers=auth(token(Role.SUPERVISOR, agency=AGENCY)))
    assert issued.status_code == 200, issued.text
    body = issued.json()
    assert body["whep_url"] == f"/v1/sessions/{ids[0]}/whep"
    sdp = {"Content-Type": "application/sdp"}
    other = client.post(f"/v1/sessions/{ids[1]}/whep", content="v=0\r\n", headers=auth(body["token"]) | sdp)
    assert other.status_code == 403 and other.json()["error"]["code"] == "wrong_session"
    registry_token = client.post(f"/v1/sessions/{ids[0]}/whep", content="v=0\r\n",
                                 headers=auth(token(Role.DISPATCHER, agency=AGENCY)) | sdp)
    assert registry_token.status_code == 401  # an identity token is not a viewer token
    not_live = client.post(f"/v1/sessions/{ids[0]}/whep", content="v=0\r\nm=video 9 x\r\n",
                           headers=auth(body["token"]) | sdp)
    assert not_live.status_code == 409 and not_live.json()["error"]["code"] == "not_live"


@pytest.mark.parametrize(("content", "headers", "code"), [
    ("v=0\r\n", {"Content-Type": "text/plain"}, "bad_content_type"),
    ("", {"Content-Type": "application/sdp"}, "empty_offer"),
    ("v=0\r\n" + "a=x\r\n" * 20000, {"Content-Type": "application/sdp"}, "offer_too_large"),
])
def test_bad_whep_requests_get_a_clear_422(relay: tuple[Streams, TestClient, list[str]], token: Callable[..., str],
                                           content: str, headers: dict[str, str], code: str) -> None:
    _, client, ids = relay
    viewer = client.post(f"/v1/sessions/{ids[0]}/viewer-token", headers=auth(token(Role.DISPATCHER, agency=AGENCY)))
    answer = client.post(f"/v1/sessions/{ids[0]}/whep", content=content, headers=auth(viewer.json()["token"]) | headers)
    assert answer.status_code == 422 and answer.json()["error"]["code"] == code


def test_the_dashboard_page_and_openapi_are_served(relay: tuple[Streams, TestClient, list[str]]) -> None:
    _, client, _ = relay
    page = client.get("/live/")
    assert page.status_code == 200 and "live.js" in page.text
    paths = client.get("/openapi.json").json()["paths"]
    assert "/v1/sessions/{session_id}/whep" in paths and "/v1/sessions/{session_id}/viewer-token" in paths
