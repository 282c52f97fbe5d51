"""The live dashboard (web/live/) in headless Chromium against a stub WHEP server that relays H.264 with aiortc.

Proves the browser harness (tests/support/browser.py) and the page together: the page lists sessions, fetches a
viewer token, negotiates WHEP over loopback, decodes H.264 at 640x360, and hands the viewer back when the
session ends, the server hangs up or the page goes away.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page

from tests.e2e.whep_stub import SESSION, make_clip
from tests.support.browser import chromium, chromium_available, open_live, wait_frames, wait_tile_state
from tests.support.pgcluster import free_port, wait_for_port
from tests.support.processes import stop_process

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]  # a hung browser should fail this module, not the suite

ROOT = Path(__file__).resolve().parents[2]
SID: str = SESSION["session_id"]


class StubServer:
    """The stub WHEP server in its own process (its aioice patch and aiortc threads stay out of pytest)."""

    def __init__(self, clip: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen([sys.executable, "-m", "tests.e2e.whep_stub", "--port", str(self.port),
                                      "--clip", str(clip)], cwd=ROOT)

    def set_sessions(self, sessions: list[dict[str, Any]]) -> None:
        """Replace the session list the page polls."""
        httpx.put(f"{self.url}/_stub/sessions", json=sessions).raise_for_status()

    def log(self) -> list[dict[str, str]]:
        """Every API request the stub received, oldest first."""
        return list(httpx.get(f"{self.url}/_stub/log").json())

    def hangup(self) -> None:
        """Close every viewer's peer connection from the server side."""
        httpx.post(f"{self.url}/_stub/hangup").raise_for_status()

    def wait_delete(self, timeout_s: float = 5.0) -> dict[str, str]:
        """The first WHEP DELETE, waiting for it: the page sends it with keepalive, after the tile ends."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            deletes = [entry for entry in self.log() if entry["method"] == "DELETE"]
            if deletes:
                return deletes[0]
            time.sleep(0.05)
        raise AssertionError(f"no WHEP DELETE in {timeout_s} s: {self.log()}")


@pytest.fixture(scope="module", autouse=True)
def require_chromium() -> None:
    """No skipping: the dev setup installs Chromium, so its absence is a broken setup."""
    if not chromium_available():
        pytest.fail("Chromium is missing: apt-get install chromium")


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Ten seconds of 640x360 H.264, encoded once for the module."""
    return make_clip(tmp_path_factory.mktemp("clip") / "clip.ts")


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """One headless Chromium for the module; every test opens its own context."""
    with chromium() as launched:
        yield launched


@pytest.fixture
def stub(clip: Path) -> Iterator[StubServer]:
    """A fresh stub server per test, stopped with SIGTERM so its lifespan closes every peer."""
    server = StubServer(clip)
    try:
        wait_for_port(server.port, timeout=30)
        yield server
    finally:
        stop_process(server.proc)


@pytest.fixture
def live(browser: Browser, stub: StubServer) -> Iterator[Callable[..., Page]]:
    """Open the dashboard on the stub; the pages' contexts are closed after the test."""
    pages: list[Page] = []

    def open_page(token: str = "x", **kwargs: Any) -> Page:
        pages.append(open_live(browser, stub.url, token=token, **kwargs))
        return pages[-1]

    yield open_page
    for page in pages:
        page.context.close()


def test_plays_h264_then_ends_with_the_session(stub: StubServer, live: Callable[..., Page]) -> None:
    page = live()
    stats = wait_frames(page, SID, min_frames=20)
    assert (stats["frameWidth"], stats["frameHeight"], stats["videoWidth"]) == (640, 360, 640)
    assert stats["codec"] == "video/H264"
    assert stats["remoteCandidate"].startswith("127.0.0.1:")
    assert page.get_attribute(f'section.tile[data-session-id="{SID}"]', "data-state") == "playing"
    assert "token" not in page.url  # read from the fragment, then scrubbed from the address bar

    stub.set_sessions([])
    wait_tile_state(page, SID, "ended")
    delete = stub.wait_delete()
    assert delete["path"].startswith(f"/v1/sessions/{SID}/whep/")
    assert delete["authorization"] == f"Bearer viewer-{SID}"
    offer = next(entry for entry in stub.log() if entry["path"] == f"/v1/sessions/{SID}/whep")
    assert offer["content_type"] == "application/sdp"
    assert not any("token" in entry["query"] for entry in stub.log())


def test_server_hangup_ends_the_tile(stub: StubServer, live: Callable[..., Page]) -> None:
    page = live()
    wait_frames(page, SID, min_frames=5)
    stub.hangup()
    wait_tile_state(page, SID, "ended", timeout_s=5)  # DTLS close_notify, well before ICE consent expires


def test_leaving_the_page_hands_the_viewer_back(stub: StubServer, live: Callable[..., Page]) -> None:
    page = live()
    wait_frames(page, SID, min_frames=5)
    page.goto("about:blank")
    assert stub.wait_delete()["authorization"] == f"Bearer viewer-{SID}"


def test_a_rejected_token_is_shown(live: Callable[..., Page]) -> None:
    page = live(token="wrong")
    page.wait_for_function("() => document.querySelector('#status').textContent.includes('HTTP 401')")
    assert "missing or wrong bearer token" in (page.text_content("#status") or "")
    assert page.query_selector("section.tile") is None
