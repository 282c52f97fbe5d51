"""The panic page on the owner's LAN: one big button behind a PIN (stdlib asyncio HTTP, no framework).

GET / shows the page; POST /panic with the PIN records a press in the outbox and says when. The PIN is compared
in constant time, and wrong PINs are rate-limited per client address and overall.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import html
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from datetime import datetime
from urllib.parse import parse_qs

log = logging.getLogger(__name__)

MAX_HEADER_BYTES = 8 * 1024
MAX_BODY_BYTES = 1024
READ_TIMEOUT_S = 10.0
Press = Callable[[], Awaitable[tuple[str, datetime]]]  # records a press, returns (event_id, pressed_at)

_HEADERS = ("Content-Type: text/html; charset=utf-8\r\nCache-Control: no-store\r\nX-Frame-Options: DENY\r\n"
            "X-Content-Type-Options: nosniff\r\nReferrer-Policy: no-referrer\r\n"
            "Content-Security-Policy: default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
            "frame-ancestors 'none'\r\n")
_STYLE = ("body{font-family:sans-serif;text-align:center;margin:2em}input{font-size:2em;width:8em}"
          "button{font-size:3em;padding:1em 1.5em;background:#c00;color:#fff;border:0;border-radius:.5em;margin:1em}")
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


def page(message: str = "", *, error: bool = False) -> str:
    """The panic page, with an optional notice."""
    notice = ""
    if message:
        colour = "#c00" if error else "#070"
        notice = f'<p role="status" style="font-size:1.5em;color:{colour}">{html.escape(message)}</p>'
    return ("<!doctype html><html lang=en><head><meta charset=utf-8><meta name=viewport "
            f'content="width=device-width,initial-scale=1"><title>Lookout panic</title><style>{_STYLE}</style>'
            f"</head><body><h1>Lookout panic button</h1>{notice}<form method=post action=/panic>"
            '<p><label>PIN <input name=pin type=password inputmode=numeric autocomplete=off required></label></p>'
            "<button type=submit>PANIC</button></form></body></html>")


class LanPage:
    """The asyncio HTTP server behind the page."""

    def __init__(self, pin: str, press: Press, *, guard: PinGuard | None = None) -> None:
        self.guard = guard or PinGuard(pin)
        self._press = press

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
        if path not in ("/", "/panic"):
            return 404, page("Not found.", error=True)
        if method == "GET" and path == "/":
            return 200, page()
        if method != "POST" or path != "/panic":
            return 405, page("Use the button.", error=True)
        length = int(headers.get("content-length", "0"))
        if length < 0 or length > MAX_BODY_BYTES:
            return 413, page("Request too large.", error=True)
        form = parse_qs((await reader.readexactly(length)).decode("utf-8", "replace"), max_num_fields=4)
        return await self._panic(client, form.get("pin", [""])[0])

    async def _panic(self, client: str, pin: str) -> tuple[int, str]:
        verdict = self.guard.check(client, pin)
        if verdict == "limited":
            log.warning("LAN page: too many wrong PINs (client %s)", client)
            return 429, page("Too many wrong PINs. Wait a few minutes, or use the button on the box.", error=True)
        if verdict == "wrong":
            log.warning("LAN page: wrong PIN (client %s)", client)
            return 403, page("Wrong PIN. Nothing was sent.", error=True)
        event_id, pressed_at = await self._press()
        log.info("LAN page: panic recorded (event %s)", event_id)
        when = pressed_at.astimezone().strftime("%H:%M:%S on %Y-%m-%d")
        return 200, page(f"Panic recorded at {when}. It is being sent now (reference {event_id[:8]}).")
