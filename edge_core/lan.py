"""The panic page on the owner's LAN: one big button behind a PIN (stdlib asyncio HTTP, no framework).

GET / shows the page; POST /panic with the PIN records a press in the outbox and says when. The PIN is compared
in constant time, and wrong PINs are rate-limited per client address and overall. While a camera is shared
live, the page says which, with whom and why, and POST /stop with the PIN stops it for good (that alert or
grant is revoked on the box).
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import html
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Protocol
from urllib.parse import parse_qs

if TYPE_CHECKING:
    from edge_core.live import LiveInfo

log = logging.getLogger(__name__)

MAX_HEADER_BYTES = 8 * 1024
MAX_BODY_BYTES = 1024 + 128
READ_TIMEOUT_S = 10.0
Press = Callable[[], Awaitable[tuple[str, datetime]]]  # records a press, returns (event_id, pressed_at)

_HEADERS = ("Content-Type: text/html; charset=utf-8\r\nCache-Control: no-store\r\nX-Frame-Options: DENY\r\n"
            "X-Content-Type-Options: nosniff\r\nReferrer-Policy: no-referrer\r\n"
            "Content-Security-Policy: default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
            "frame-ancestors 'none'\r\n")
_STYLE = ("body{font-family:sans-serif;text-align:center;margin:2em}input{font-size:2em;width:8em}"
          "button{font-size:3em;padding:1em 1.5em;background:#c00;color:#fff;border:0;border-radius:.5em;margin:1em}"
          ".live{border:.3em solid #c00;padding:1em;margin:1em auto;max-width:40em}"
          ".live button{font-size:1.5em;padding:.5em 1em;background:#333}")
_REASONS = {200: "OK", 400: "Bad Request", 403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed",
            413: "Payload Too Large", 429: "Too Many Requests", 500: "Internal Server Error"}


class PinGuard:
    """Constant-time PIN check with a sliding-window limit on failures, per client and in total."""

    def __init__(self, pin: str, *, per_client: int = 5, overall: int = 20, window_s: float = 300.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._pin = pin.encode()
        self.per_client = per_client
        self.overall = overall
        self.window_s = window_s
        self._clock = clock
        self._failures: dict[str, deque[float]] = {}
        self._all: deque[float] = deque()

    def check(self, client: str, pin: str) -> str:
        """'ok', 'wrong' or 'limited' (too many recent failures: the PIN is not even compared)."""
        now = self._clock()
        mine = self._failures.setdefault(client, deque())
        for q in (mine, self._all):
            while q and q[0] <= now - self.window_s:
                q.popleft()
        if len(mine) >= self.per_client or len(self._all) >= self.overall:
            return "limited"
        if hmac.compare_digest(pin.encode(), self._pin):
            mine.clear()
            return "ok"
        mine.append(now)
        self._all.append(now)
        if len(self._failures) > 1024:  # forget idle clients so the table stays small
            for key in [k for k, v in self._failures.items() if not v]:
                del self._failures[key]
        return "wrong"


class LiveView(Protocol):
    """What the page needs of live video (edge_core.live.Live)."""

    def sessions(self) -> list[LiveInfo]:
        """Sessions running now."""
        ...

    async def stop_sharing(self, session_id: str) -> bool:
        """Revoke on the box and end one session; False if it had already ended."""
        ...


def live_section(sessions: Sequence[LiveInfo]) -> str:
    """One block per shared camera: what, with whom, why, until when, and a PIN-protected stop button."""
    blocks = []
    for s in sessions:
        why = f"for alert {s.alert_id}" if s.alert_id else f"under your consent grant {s.grant_id}"
        until = s.until.astimezone().strftime("%H:%M on %Y-%m-%d")
        blocks.append(
            f'<div class=live><h2>LIVE: {html.escape(s.label)}</h2><p>Shared with agency '
            f"{html.escape(s.agency_id or 'unknown')} {html.escape(why)} ({html.escape(s.state)}), "
            f"until {until} at the latest.</p><form method=post action=/stop>"
            f'<input type=hidden name=session value="{html.escape(s.session_id)}">'
            "<p><label>PIN <input name=pin type=password inputmode=numeric autocomplete=off required></label> "
            "<button type=submit>Stop sharing</button></p></form></div>")
    return "".join(blocks)


def page(message: str = "", *, error: bool = False, live: Sequence[LiveInfo] = ()) -> str:
    """The panic page, with an optional notice and the cameras shared live now."""
    notice = ""
    if message:
        colour = "#c00" if error else "#070"
        notice = f'<p role="status" style="font-size:1.5em;color:{colour}">{html.escape(message)}</p>'
    return ("<!doctype html><html lang=en><head><meta charset=utf-8><meta name=viewport "
            f'content="width=device-width,initial-scale=1"><title>Lookout panic</title><style>{_STYLE}</style>'
            f"</head><body><h1>Lookout panic button</h1>{notice}{live_section(live)}<form method=post action=/panic>"
            '<p><label>PIN <input name=pin type=password inputmode=numeric autocomplete=off required></label></p>'
            "<button type=submit>PANIC</button></form></body></html>")


class LanPage:
    """The asyncio HTTP server behind the page."""

    def __init__(self, pin: str, press: Press, *, guard: PinGuard | None = None, live: LiveView | None = None) -> None:
        self.guard = guard or PinGuard(pin)
        self._press = press
        self._live = live

    def _page(self, message: str = "", *, error: bool = False) -> str:
        return page(message, error=error, live=self._live.sessions() if self._live else ())

    async def start(self, host: str, port: int) -> asyncio.Server:
        """Listen on host:port."""
        return await asyncio.start_server(self._serve, host, port, limit=MAX_HEADER_BYTES)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername")
        client = str(peer[0]) if isinstance(peer, tuple) else "?"
        try:
            status, body = await asyncio.wait_for(self._handle(reader, client), READ_TIMEOUT_S)
        except (TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError, ConnectionError):
            status, body = 400, page("Bad request.", error=True)
        except Exception:
            log.exception("LAN page failed")
            status, body = 500, page("Something went wrong; the press may not be recorded. Try again.", error=True)
        data = body.encode()
        head = f"HTTP/1.1 {status} {_REASONS[status]}\r\n{_HEADERS}Content-Length: {len(data)}\r\nConnection: close\r\n"
        if status == 405:
            head += "Allow: GET, POST\r\n"
        try:
            writer.write(head.encode() + b"\r\n" + data)
            await writer.drain()
        except ConnectionError:
            pass
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, client: str) -> tuple[int, str]:
        request = await reader.readuntil(b"\r\n\r\n")
        lines = request.decode("latin-1").split("\r\n")
        method, target, _version = lines[0].split(" ", 2)
        headers = {k.strip().lower(): v.strip() for k, v in (h.split(":", 1) for h in lines[1:] if ":" in h)}
        path = target.split("?", 1)[0]
        if path not in ("/", "/panic", "/stop"):
            return 404, self._page("Not found.", error=True)
        if method == "GET" and path == "/":
            return 200, self._page()
        if method != "POST" or path == "/":
            return 405, self._page("Use the button.", error=True)
        length = int(headers.get("content-length", "0"))
        if length < 0 or length > MAX_BODY_BYTES:
            return 413, self._page("Request too large.", error=True)
        form = parse_qs((await reader.readexactly(length)).decode("utf-8", "replace"), max_num_fields=4)
        pin = form.get("pin", [""])[0]
        if path == "/stop":
            return await self._stop(client, pin, form.get("session", [""])[0])
        return await self._panic(client, pin)

    def _refused(self, client: str, pin: str, nothing: str) -> tuple[int, str] | None:
        verdict = self.guard.check(client, pin)
        if verdict == "limited":
            log.warning("LAN page: too many wrong PINs (client %s)", client)
            return 429, self._page("Too many wrong PINs. Wait a few minutes, or use the button on the box.",
                                   error=True)
        if verdict == "wrong":
            log.warning("LAN page: wrong PIN (client %s)", client)
            return 403, self._page(f"Wrong PIN. {nothing}", error=True)
        return None

    async def _stop(self, client: str, pin: str, session_id: str) -> tuple[int, str]:
        refused = self._refused(client, pin, "Sharing goes on.")
        if refused:
            return refused
        label = next((s.label for s in self._live.sessions() if s.session_id == session_id), "") if self._live else ""
        if self._live is None or not await self._live.stop_sharing(session_id):
            return 200, self._page("That camera was no longer shared.")
        log.info("LAN page: owner stopped sharing (session %s)", session_id[:64])
        return 200, self._page(f"Sharing of {label} stopped. It will not restart for this alert or grant.")

    async def _panic(self, client: str, pin: str) -> tuple[int, str]:
        refused = self._refused(client, pin, "Nothing was sent.")
        if refused:
            return refused
        event_id, pressed_at = await self._press()
        log.info("LAN page: panic recorded (event %s)", event_id)
        when = pressed_at.astimezone().strftime("%H:%M:%S on %Y-%m-%d")
        return 200, self._page(f"Panic recorded at {when}. It is being sent now (reference {event_id[:8]}).")
