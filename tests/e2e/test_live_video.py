"""Panic to pixels in a real headless Chromium: a CORE box press opens an alert, the dashboard plays the camera
through the relay (WHEP), frames stop when the alert is resolved, and resume after the camera restarts."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack

import pytest
from playwright.sync_api import Browser

from services.registry.deps import Registry
from tests.support.browser import chromium, frames_decoded, frames_stalled, open_live, wait_frames, wait_tile_state
from tests.support.live import LiveStack, start_stack
from tests.support.pgcluster import PgCluster
from tests.support.services import wait_for

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def live(pg_cluster: PgCluster, make_registry: Callable[[str], Registry],
         tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveStack]:
    """One running system (warm standby on) for the module."""
    with ExitStack() as stack:
        yield start_stack(stack, pg_cluster, make_registry("postgis"), tmp_path_factory.mktemp("e2e"), warm=True)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Debian's Chromium, headless."""
    with chromium() as launched:
        yield launched


def token_of(headers: dict[str, str]) -> str:
    return headers["Authorization"].removeprefix("Bearer ")


def test_panic_to_decoded_frames_and_resolution_stops_them(live: LiveStack, browser: Browser) -> None:
    pressed = time.monotonic()
    alert_id = live.open_alert(live.box.panic())
    session = live.live_session(alert_id)
    # Only the live-on-alert camera of the box went live; registry-only and on-request ones did not.
    assert session["camera_id"] == live.box.cameras["live_on_alert"]
    assert [s["camera_id"] for s in live.sessions(alert_id=alert_id)] == [session["camera_id"]]
    page = open_live(browser, live.streams.url, token=token_of(live.dispatcher), alert_id=alert_id)
    try:
        stats = wait_frames(page, session["session_id"], min_frames=25, timeout_s=20)
        print(f"press to 25 decoded frames in the browser: {time.monotonic() - pressed:.2f} s")
        assert stats["frameWidth"] == 1280 and stats["videoWidth"] == 1280 and stats["videoHeight"] == 720
        assert stats["codec"] == "video/H264"
        live.resolve(alert_id)
        wait_tile_state(page, session["session_id"], "ended", timeout_s=5)
        assert frames_stalled(page, session["session_id"], for_s=2.0)
        ended = live.sessions(alert_id=alert_id)[0]
        assert ended["state"] == "ended" and ended["end_reason"] == "alert_resolved"
    finally:
        page.context.close()


def test_the_camera_restarts_mid_stream_and_frames_resume(live: LiveStack, browser: Browser) -> None:
    alert_id = live.open_alert(live.box.panic())
    session = live.live_session(alert_id)
    page = open_live(browser, live.streams.url, token=token_of(live.dispatcher), alert_id=alert_id)
    try:
        wait_frames(page, session["session_id"], min_frames=25, timeout_s=20)
        live.camera.restart(down_s=2.0)
        before = frames_decoded(page, session["session_id"])
        wait_for(lambda: frames_decoded(page, session["session_id"]) > before + 50, 30,
                 f"frames after the camera came back; agent log:\n{live.box.log_tail()}")
        assert live.sessions(alert_id=alert_id)[0]["state"] == "live"  # the same session carried on
        live.resolve(alert_id)
    finally:
        page.context.close()
