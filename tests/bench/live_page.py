"""The dashboard side of the live-video benchmark: headless Chromium on web/live/, timed from inside the page.

A recorder script (added to every page of the context before the dashboard's own script runs) notes, per
session, when its tile was inserted (= when its viewer-token request went out), when that request and the
WHEP offer went out and came back (resource timing), and when `window.lookoutLive.stats(id)` first reported
`framesDecoded >= 1` (polled every 10 ms), all in epoch milliseconds: the same clock as the APIs'
timestamps and the box's press time.
"""

from __future__ import annotations

import random
import time
from typing import Any
from urllib.parse import urlencode

import httpx
from playwright.sync_api import Browser, BrowserContext, Page

from tests.bench.live_probe import FPS, GOP, epoch, log, pcts
from tests.bench.live_viewers import Viewers
from tests.support.live import LiveStack
from tests.support.services import wait_for

RECORDER = """(() => {
  const seen = {};
  const http = {};
  const created = {};
  window.__bench = { seen, http };
  // When the dashboard inserts each session's tile (its data-session-id is set before insertion).
  new MutationObserver((changes) => {
    for (const change of changes) {
      for (const node of change.addedNodes) {
        if (node.nodeType === 1 && node.matches('section.tile')) created[node.dataset.sessionId] = Date.now();
      }
    }
  }).observe(document, { childList: true, subtree: true });
  // The page's own viewer-token and WHEP requests per session (an observer: no resource-buffer limit), moved
  // from the performance timeline onto Date.now()'s clock (timeOrigin + now() can be tens of ms off it).
  new PerformanceObserver((list) => {
    const offset = Date.now() - performance.now();
    for (const e of list.getEntries()) {
      const m = e.name.match(/\\/v1\\/sessions\\/([^/?]+)\\/(viewer-token|whep)$/);
      if (m) (http[m[1]] = http[m[1]] || {})[m[2]] = [offset + e.startTime, offset + e.responseEnd];
    }
  }).observe({ type: 'resource', buffered: true });
  const tick = async () => {
    try {
      for (const el of document.querySelectorAll('section.tile')) {
        const id = el.dataset.sessionId;
        const rec = seen[id] || (seen[id] = { tile: created[id] || Date.now(), first: null, width: 0,
                                                 height: 0 });
        if (rec.first === null && el.dataset.state !== 'ended' && window.lookoutLive) {
          const s = await window.lookoutLive.stats(id);
          if (s && s.framesDecoded >= 1) Object.assign(rec, { first: Date.now(), width: s.frameWidth,
                                                             height: s.frameHeight });
        }
      }
    } finally {
      setTimeout(tick, 10);
    }
  };
  tick();
})();"""
PAGE_STAGES = ("tile_shown", "token_received", "offer_posted", "answer_received", "first_frame")
STAGES = ("cli_returned", "alert_opened", "session_started", "session_live", *PAGE_STAGES)


def token_of(live: LiveStack) -> str:
    """The dispatcher's bearer token."""
    return live.dispatcher["Authorization"].removeprefix("Bearer ")


def open_page(browser: Browser, live: LiveStack, poll_ms: int, alert_id: str | None = None) -> Page:
    """A new context and page on /live/ (no alert filter unless given), polling sessions every poll_ms."""
    context = browser.new_context()
    context.add_init_script(script=RECORDER)
    page = context.new_page()
    fragment = {"token": token_of(live), "poll": str(poll_ms), **({"alert": alert_id} if alert_id else {})}
    page.goto(f"{live.streams.url}/live/#{urlencode(fragment)}")
    return page


def records(page: Page) -> dict[str, dict[str, Any]]:
    """What the recorder saw, by session id: frame width and height, and the epoch ms of tile_shown,
    token_received, offer_posted, answer_received and first_frame (None until it happened)."""
    got = page.evaluate("() => window.__bench || { seen: {}, http: {} }")
    out = {}
    for sid, rec in got["seen"].items():
        http = got["http"].get(sid, {})
        token, whep = http.get("viewer-token"), http.get("whep")
        # The page asks for the viewer token in the same task that inserts the tile: the request's start is the
        # exact moment (the mutation observer's callback can come tens of ms later on a busy page).
        out[sid] = {"width": rec["width"], "height": rec["height"], "tile_shown": token[0] if token else rec["tile"],
                    "token_received": token[1] if token else None, "offer_posted": whep[0] if whep else None,
                    "answer_received": whep[1] if whep else None, "first_frame": rec["first"]}
    return out


def first_frame_of(page: Page, session_id: str | None, skip: set[str]) -> tuple[str, dict[str, Any]] | None:
    """The (session id, record) that decoded a frame: that session, or any not in `skip`."""
    for sid, rec in records(page).items():
        if rec["first_frame"] is not None and (sid == session_id if session_id else sid not in skip):
            return sid, rec
    return None


def end_alert(live: LiveStack, alert_id: str, session_id: str, settle_s: float = 1.0) -> None:
    """Resolve the alert, wait until its session ended at the relay, and let the box close its side."""
    live.resolve(alert_id)
    wait_for(lambda: all(s["state"] == "ended" for s in live.sessions(alert_id=alert_id)), 20,
             f"session {session_id} ended")
    time.sleep(settle_s)


def press_to_frame(live: LiveStack, page: Page) -> dict[str, float]:
    """One press: seconds from the press (the box's pressed_at) to each stage, up to the first decoded frame."""
    time.sleep(random.uniform(0, GOP / FPS))  # the press lands anywhere in the camera's GOP, not in step with it
    before = set(records(page))
    event_id = live.box.panic()
    returned = time.time()
    alert_id = live.open_alert(event_id)
    sid, rec = wait_for(lambda: first_frame_of(page, None, before), 30,
                        f"a decoded frame for alert {alert_id}; agent log:\n{live.box.log_tail()}", every=0.05)
    sessions = live.sessions(alert_id=alert_id)
    if [s["session_id"] for s in sessions] != [sid]:
        raise RuntimeError(f"the page played {sid}, the alert's sessions are {sessions}")
    alert = httpx.get(f"{live.alerts.url}/v1/alerts/{alert_id}", headers=live.dispatcher, timeout=5).json()
    pressed, session = epoch(alert["pressed_at"]), sessions[0]
    stages = {"cli_returned": returned, "alert_opened": epoch(alert["opened_at"]),
              "session_started": epoch(session["started_at"]), "session_live": epoch(session["live_at"]),
              **{name: rec[name] / 1000 for name in PAGE_STAGES if rec[name] is not None}}
    end_alert(live, alert_id, sid)
    return {name: round(at - pressed, 3) for name, at in stages.items()} | {"width": rec["width"]}


def first_frame_tries(live: LiveStack, browser: Browser, tries: int, poll_ms: int, label: str) -> dict[str, Any]:
    """`tries` presses with the dashboard already open (no alert filter): press -> first decoded frame."""
    page = open_page(browser, live, poll_ms)
    runs: list[dict[str, float]] = []
    try:
        for i in range(tries):
            runs.append(press_to_frame(live, page))
            log(f"{label} try {i + 1}/{tries}: " + ", ".join(f"{k} {v}" for k, v in runs[-1].items()))
    finally:
        page.context.close()
    result: dict[str, Any] = dict(pcts([r["first_frame"] for r in runs]))
    result["stages"] = {name: pcts([r[name] for r in runs if name in r]) for name in STAGES}
    result["frame_width"] = sorted({int(r["width"]) for r in runs})
    return result


def join_page(browser: Browser, live: LiveStack, poll_ms: int, alert_id: str, session_id: str) -> dict[str, float]:
    """Open a new dashboard page on a running session: seconds to its tile and to its first decoded frame."""
    context: BrowserContext | None = None
    start = time.time()
    try:
        page = open_page(browser, live, poll_ms, alert_id)
        context = page.context
        _, rec = wait_for(lambda: first_frame_of(page, session_id, set()), 20,
                          f"a frame of running session {session_id}", every=0.05)
    finally:
        if context is not None:
            context.close()
    return {name: round(rec[name] / 1000 - start, 3) for name in PAGE_STAGES if rec[name] is not None}


def whep_join(viewers: Viewers) -> float:
    """One more bare WHEP viewer: seconds from posting its offer to its first complete frame; then it leaves."""
    viewer = viewers.add(1)[0]
    sink = viewer.sink
    first = wait_for(lambda: sink.first_at, 20, "a WHEP viewer's first frame", every=0.01)
    viewers.drop([viewer])
    return float(first) - viewer.posted_at


def join_running(live: LiveStack, browser: Browser, tries: int, poll_ms: int, label: str) -> dict[str, Any]:
    """Viewers joining a stream that is already live: a new dashboard page, and a bare WHEP client."""
    alert_id = live.open_alert(live.box.panic())
    session_id = live.live_session(alert_id)["session_id"]
    viewers = Viewers(live.streams.url, live.dispatcher, session_id)
    try:
        viewers.add(1)
        viewers.wait_receiving(25)  # the stream is running: the relay's GOP cache is filled
        pages = [join_page(browser, live, poll_ms, alert_id, session_id) for _ in range(tries)]
        log(f"{label} page joins: {pages}")
        whep = [whep_join(viewers) for _ in range(tries)]
    finally:
        viewers.close()
    end_alert(live, alert_id, session_id)
    page = pcts([p["first_frame"] for p in pages]) | {
        "stages": {name: pcts([p[name] for p in pages if name in p]) for name in PAGE_STAGES}}
    return {"page_open_to_first_frame": page, "whep_post_to_first_frame_received": pcts(whep)}
