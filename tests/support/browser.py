"""Headless Chromium for the live-video end-to-end tests: Debian's browser, driven by sync Playwright.

`chromium()` starts one browser with a fresh profile; `open_live()` opens the dashboard page (web/live/) with a
token in the fragment; `wait_frames()`, `frames_stalled()` and `wait_tile_state()` read what the page exposes as
`window.lookoutLive.stats(session_id)` and the tiles' `data-state`.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlencode

from playwright.sync_api import Browser, Page, sync_playwright
from playwright.sync_api import TimeoutError as PlaywrightTimeout

CHROMIUM = "/usr/bin/chromium"
# Loopback and raw-IP candidates let a server on 127.0.0.1 be reached; no network or update traffic of its own.
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-quic",
                 "--no-first-run", "--disable-component-update", "--disable-sync",
                 "--allow-loopback-in-peer-connection", "--disable-features=WebRtcHideLocalIpsWithMdns",
                 "--autoplay-policy=no-user-gesture-required"]

_STATS = "id => window.lookoutLive ? window.lookoutLive.stats(id) : null"
_TILE_NOTE = """id => {
  const tile = [...document.querySelectorAll('section.tile')].find(t => t.dataset.sessionId === id);
  const status = document.querySelector('#status');
  return {tile: tile ? `${tile.dataset.state}: ${tile.querySelector('.note').textContent}` : 'no tile',
          status: status ? status.textContent : ''};
}"""
_TILE_IN_STATE = """([id, state]) => [...document.querySelectorAll('section.tile')]
  .some(t => t.dataset.sessionId === id && t.dataset.state === state)"""


def chromium_available() -> bool:
    """Whether Debian's Chromium is installed (Playwright itself is a dev dependency)."""
    return os.access(CHROMIUM, os.X_OK)


@contextmanager
def chromium(**kwargs: Any) -> Iterator[Browser]:
    """One headless Chromium with a throwaway profile; `args` are added to CHROMIUM_ARGS, other kwargs go to launch."""
    extra_args = kwargs.pop("args", [])
    # headless=True makes Playwright add its own headless switches too; Playwright picks a fresh temporary
    # --user-data-dir for every launch and deletes it on close.
    options: dict[str, Any] = {"executable_path": CHROMIUM, "headless": True, **kwargs}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(args=[*CHROMIUM_ARGS, *extra_args], **options)
        try:
            yield browser
        finally:
            browser.close()


def open_live(browser: Browser, base_url: str, *, token: str, alert_id: str | None = None) -> Page:
    """A new page (own context) on the live dashboard, the token passed in the URL fragment as operators do."""
    fragment = {"token": token, **({"alert": alert_id} if alert_id else {})}
    page = browser.new_context().new_page()
    page.goto(f"{base_url.rstrip('/')}/live/#{urlencode(fragment)}")
    return page


def session_stats(page: Page, session_id: str) -> dict[str, Any] | None:
    """The page's decode statistics for one session, or None while it has no tile for it."""
    result = page.evaluate(_STATS, session_id)
    return dict(result) if result else None


def _describe(page: Page, session_id: str, stats: dict[str, Any] | None) -> str:
    """The stats plus what the page shows, for assertion messages."""
    shown = page.evaluate(_TILE_NOTE, session_id)
    return f"stats={stats} tile={shown['tile']!r} status={shown['status']!r}"


def wait_frames(page: Page, session_id: str, *, min_frames: int = 10, timeout_s: float = 15.0) -> dict[str, Any]:
    """Poll until the session's video decoded `min_frames` frames; return the last stats."""
    deadline = time.monotonic() + timeout_s
    while True:
        stats = session_stats(page, session_id)
        if stats and stats.get("framesDecoded", 0) >= min_frames:
            return stats
        if time.monotonic() >= deadline:
            raise AssertionError(f"session {session_id}: fewer than {min_frames} frames decoded in {timeout_s} s; "
                                 + _describe(page, session_id, stats))
        page.wait_for_timeout(100)  # unlike time.sleep, keeps Playwright's event dispatch running


def frames_decoded(page: Page, session_id: str) -> int:
    """How many frames the session's video has decoded so far (0 without a tile)."""
    stats = session_stats(page, session_id)
    return int(stats["framesDecoded"]) if stats else 0


def frames_stalled(page: Page, session_id: str, *, for_s: float = 2.0) -> bool:
    """Whether no frame was decoded during the next `for_s` seconds."""
    before = frames_decoded(page, session_id)
    page.wait_for_timeout(for_s * 1000)
    return frames_decoded(page, session_id) <= before


def wait_tile_state(page: Page, session_id: str, state: str, *, timeout_s: float = 10.0) -> None:
    """Wait until the session's tile has `data-state` = state (connecting, playing or ended)."""
    try:
        page.wait_for_function(_TILE_IN_STATE, arg=[session_id, state], timeout=timeout_s * 1000, polling=100)
    except PlaywrightTimeout as exc:  # restated with what the page shows, which says why
        raise AssertionError(f"session {session_id} not {state} in {timeout_s} s; "
                             + _describe(page, session_id, session_stats(page, session_id))) from exc
