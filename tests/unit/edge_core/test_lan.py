"""The LAN panic page: PIN checked in constant time, wrong PINs rate-limited, POST only, says when recorded."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from urllib.parse import urlencode

from edge_core.lan import LanPage, PinGuard, page
from edge_core.live import LiveInfo

PIN = "482913"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_right_and_wrong_pins() -> None:
    guard = PinGuard(PIN)
    assert guard.check("10.0.0.2", PIN) == "ok"
    assert guard.check("10.0.0.2", "000000") == "wrong"
    assert guard.check("10.0.0.2", PIN[:-1]) == "wrong"
    assert guard.check("10.0.0.2", PIN + "0") == "wrong"
    assert guard.check("10.0.0.2", "") == "wrong"
    assert guard.check("10.0.0.2", "\u00e9" * 6) == "wrong"


def test_wrong_pins_are_limited_per_client_then_forgotten() -> None:
    clock = Clock()
    guard = PinGuard(PIN, per_client=5, overall=100, window_s=300, clock=clock)
    assert [guard.check("10.0.0.9", "111111") for _ in range(5)] == ["wrong"] * 5
    assert guard.check("10.0.0.9", PIN) == "limited"  # even the right PIN is not compared while limited
    assert guard.check("10.0.0.3", PIN) == "ok"  # another device on the LAN is unaffected
    clock.now += 301
    assert guard.check("10.0.0.9", PIN) == "ok"


def test_overall_limit_stops_a_distributed_guess() -> None:
    clock = Clock()
    guard = PinGuard(PIN, per_client=5, overall=20, window_s=300, clock=clock)
    for i in range(20):
        assert guard.check(f"10.0.1.{i}", "111111") == "wrong"
    assert guard.check("10.0.2.1", PIN) == "limited"
    clock.now += 301
    assert guard.check("10.0.2.1", PIN) == "ok"


def test_a_right_pin_clears_that_clients_failures() -> None:
    guard = PinGuard(PIN, per_client=3, clock=Clock())
    guard.check("c", "1")
    guard.check("c", "2")
    assert guard.check("c", PIN) == "ok"
    assert guard.check("c", "3") == "wrong" and guard.check("c", "4") == "wrong"
    assert guard.check("c", PIN) == "ok"


def test_page_escapes_its_notice() -> None:
    assert "<script>" not in page("<script>alert(1)</script>")


async def _request(port: int, raw: bytes) -> tuple[int, dict[str, str], str]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(raw)
    await writer.drain()
    data = await reader.read()
    writer.close()
    await writer.wait_closed()
    head, _, body = data.decode().partition("\r\n\r\n")
    lines = head.split("\r\n")
    headers = {k.lower(): v.strip() for k, v in (line.split(":", 1) for line in lines[1:])}
    return int(lines[0].split()[1]), headers, body


def _post(pin: str, path: str = "/panic") -> bytes:
    body = urlencode({"pin": pin}).encode()
    return (f"POST {path} HTTP/1.1\r\nHost: box\r\nContent-Type: application/x-www-form-urlencoded\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode() + body


def test_the_page_over_http() -> None:
    presses: list[str] = []

    async def press() -> tuple[str, datetime]:
        presses.append("x")
        return "0b5e3c1a-1111-4222-8333-444455556666", datetime(2030, 5, 6, 7, 8, 9, tzinfo=UTC)

    async def main() -> None:
        server = await LanPage(PIN, press, guard=PinGuard(PIN, per_client=2)).start("127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        status, headers, body = await _request(port, b"GET / HTTP/1.1\r\nHost: box\r\n\r\n")
        assert status == 200 and "PANIC" in body and 'method=post' in body
        assert headers["x-frame-options"] == "DENY" and headers["cache-control"] == "no-store"
        assert (await _request(port, b"GET /panic?pin=482913 HTTP/1.1\r\n\r\n"))[0] == 405
        assert (await _request(port, b"DELETE / HTTP/1.1\r\n\r\n"))[0] == 405
        assert (await _request(port, b"GET /admin HTTP/1.1\r\n\r\n"))[0] == 404
        assert (await _request(port, b"POST /panic HTTP/1.1\r\nContent-Length: 99999\r\n\r\n"))[0] == 413
        assert (await _request(port, b"garbage\r\n\r\n"))[0] == 400
        status, _, body = await _request(port, _post("000000"))
        assert status == 403 and "Wrong PIN" in body and presses == []
        status, _, body = await _request(port, _post(PIN))
        assert status == 200 and "Panic recorded at" in body and "0b5e3c1a" in body and len(presses) == 1
        await _request(port, _post("000001"))
        await _request(port, _post("000002"))
        status, _, body = await _request(port, _post(PIN))
        assert status == 429 and "Too many wrong PINs" in body and len(presses) == 1
        server.close()
        await server.wait_closed()

    asyncio.run(main())


class FakeLive:
    def __init__(self) -> None:
        self.live = [LiveInfo("s-1", "cam-1", "Front <door>", "ag-7", "alert-9", "", "live",
                              datetime(2030, 5, 6, 7, 30, tzinfo=UTC))]
        self.stopped: list[str] = []

    def sessions(self) -> list[LiveInfo]:
        return self.live

    async def stop_sharing(self, session_id: str) -> bool:
        if not any(s.session_id == session_id for s in self.live):
            return False
        self.stopped.append(session_id)
        self.live = []
        return True


def _stop(pin: str, session: str) -> bytes:
    body = urlencode({"pin": pin, "session": session}).encode()
    return (f"POST /stop HTTP/1.1\r\nHost: box\r\nContent-Type: application/x-www-form-urlencoded\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode() + body


def test_the_page_shows_what_is_shared_and_stops_it_with_the_pin() -> None:
    live = FakeLive()

    async def press() -> tuple[str, datetime]:
        raise AssertionError("no panic here")

    async def main() -> None:
        server = await LanPage(PIN, press, live=live).start("127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        status, _, body = await _request(port, b"GET / HTTP/1.1\r\nHost: box\r\n\r\n")
        assert status == 200 and "LIVE: Front &lt;door&gt;" in body and "ag-7" in body and "alert-9" in body
        assert 'name=session value="s-1"' in body and "Stop sharing" in body
        assert (await _request(port, b"GET /stop HTTP/1.1\r\n\r\n"))[0] == 405
        status, _, body = await _request(port, _stop("000000", "s-1"))
        assert status == 403 and "Sharing goes on" in body and live.stopped == []
        status, _, body = await _request(port, _stop(PIN, "s-1"))
        assert status == 200 and "Sharing of Front &lt;door&gt; stopped" in body and live.stopped == ["s-1"]
        assert "LIVE:" not in body
        status, _, body = await _request(port, _stop(PIN, "s-1"))
        assert status == 200 and "no longer shared" in body
        server.close()
        await server.wait_closed()

    asyncio.run(main())
