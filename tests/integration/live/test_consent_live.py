"""Consent streaming, end to end: an owner's grant lets a dispatcher start a camera live; revoking ends it.

Every part is real: the owner grants through the registry API (outbox -> CameraChanged to the relay and a
PolicyUpdate to the box), the dispatcher starts the stream on the relay, the CORE box checks the grant itself
and publishes the GStreamer camera's H.264, a WHEP viewer decodes frames; the owner's revocation ends the
session within a second and the next start is refused.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from services.registry.deps import Registry
from services.streams.media.ice import restrict_host_addresses
from tests.integration.streams.peers import Viewer
from tests.support.live import LiveStack, start_stack
from tests.support.pgcluster import PgCluster
from tests.support.services import wait_for

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def live(pg_cluster: PgCluster, make_registry: Callable[[str], Registry],
         tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveStack]:
    """One running system for the module; this process's viewer gathers loopback ICE like the relay."""
    restrict_host_addresses(["127.0.0.1"])
    try:
        with ExitStack() as stack:
            yield start_stack(stack, pg_cluster, make_registry("postgis"), tmp_path_factory.mktemp("consent"),
                              warm=False)
    finally:
        restrict_host_addresses([])


def box_grants(live: LiveStack, camera_id: str) -> dict[str, dict[str, Any]]:
    """The grants the box itself holds for a camera (its policy file), by id."""
    path = live.box.root / "data" / "live-policy.json"
    if not path.exists():
        return {}
    camera = json.loads(path.read_text())["cameras"].get(camera_id, {})
    return {g["grant_id"]: g for g in camera.get("grants", [])}


def start_consent(live: LiveStack, camera_id: str) -> httpx.Response:
    """The dispatcher's POST /v1/consent-sessions."""
    return httpx.post(f"{live.streams.url}/v1/consent-sessions", json={"camera_id": camera_id},
                      headers=live.dispatcher, timeout=10)


def session(live: LiveStack, session_id: str) -> dict[str, Any]:
    """The dispatcher's view of one session."""
    answer = httpx.get(f"{live.streams.url}/v1/sessions/{session_id}", headers=live.dispatcher, timeout=5)
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


async def watch(live: LiveStack, session_id: str) -> Viewer:
    """A WHEP viewer on the session, with a viewer token the dispatcher asked for."""
    async with httpx.AsyncClient(base_url=live.streams.url, timeout=10) as http:
        issued = await http.post(f"/v1/sessions/{session_id}/viewer-token", headers=live.dispatcher)
        assert issued.status_code == 200, issued.text
        viewer = Viewer()
        answer = await http.post(issued.json()["whep_url"], content=await viewer.offer(),
                                 headers={"Authorization": f"Bearer {issued.json()['token']}",
                                          "Content-Type": "application/sdp"})
        assert answer.status_code == 201, answer.text
    await viewer.answered(answer.text)
    return viewer


def test_a_grant_lets_the_dispatcher_watch_and_revoking_it_ends_the_stream(live: LiveStack) -> None:
    camera = live.box.cameras["live_on_alert"]
    switched = live.client.patch(f"/v1/cameras/{camera}", headers=live.owner,
                                 json={"sharing_mode": "live_on_consent"})
    assert switched.status_code == 200, switched.text
    # Before any grant, the relay refuses (and sends the box nothing).
    refused = start_consent(live, camera)
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "no_active_grant", refused.text
    expires = datetime.now(UTC) + timedelta(minutes=10)
    created = live.client.post(f"/v1/cameras/{camera}/grants", headers=live.owner,
                               json={"expires_at": expires.isoformat()})
    assert created.status_code == 201, created.text
    grant = created.json()
    assert grant["agency_id"] == live.agency_id
    box_grant = wait_for(lambda: box_grants(live, camera).get(grant["id"]), 15,
                         f"the grant on the box; agent log:\n{live.box.log_tail()}")
    assert box_grant["agency_id"] == live.agency_id and not box_grant["revoked"]
    # The relay's copy arrives through the same outbox: until then the start is refused, never half-made.
    def admitted() -> httpx.Response | None:
        answer = start_consent(live, camera)
        return None if answer.status_code == 409 else answer
    started = wait_for(admitted, 15, f"the grant at the relay; streams log:\n{live.streams.tail()}")
    assert started.status_code == 201, started.text
    body = started.json()
    assert body["grant_id"] == grant["id"] and body["agency_id"] == live.agency_id and body["alert_id"] is None
    session_id = body["session_id"]
    again = start_consent(live, camera)
    assert again.status_code == 200 and again.json()["session_id"] == session_id
    wait_for(lambda: session(live, session_id)["state"] == "live", 20,
             f"media at the relay; streams log:\n{live.streams.tail()}\nagent log:\n{live.box.log_tail()}")

    async def scenario() -> tuple[float, dict[str, Any]]:
        viewer = await watch(live, session_id)
        try:
            await viewer.wait_frames(25, timeout=20)
            assert viewer.width == 1280
            revoked_at = time.monotonic()
            gone = await asyncio.to_thread(live.client.delete, f"/v1/cameras/{camera}/grants/{grant['id']}",
                                           headers=live.owner)
            assert gone.status_code == 204, gone.text

            def ended() -> dict[str, Any] | None:
                row = session(live, session_id)
                return row if row["state"] == "ended" else None
            row = await asyncio.to_thread(wait_for, ended, 5, "the session to end", 0.05)
            took = time.monotonic() - revoked_at
            await asyncio.wait_for(viewer.ended.wait(), 1.0)
            frames = viewer.frames
            await asyncio.sleep(0.5)
            assert viewer.frames == frames  # nothing more reaches the viewer
            return took, row
        finally:
            await viewer.close()

    took, row = asyncio.run(scenario())
    print(f"grant revocation to session end: {took * 1000:.0f} ms (reason {row['end_reason']})")
    assert took < 1.0 and row["end_reason"] == "revoked"
    refused = start_consent(live, camera)
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "no_active_grant", refused.text
    wait_for(lambda: box_grants(live, camera)[grant["id"]]["revoked"], 10, "the revocation on the box")
