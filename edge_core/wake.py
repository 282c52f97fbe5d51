"""A local unix datagram socket: `lookout-core panic` pokes a running agent so it sends at once."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from pathlib import Path

log = logging.getLogger(__name__)


class _Wake(asyncio.DatagramProtocol):
    def __init__(self, event: asyncio.Event) -> None:
        self.event = event

    def datagram_received(self, data: bytes, addr: object) -> None:
        self.event.set()


async def listen(path: Path, event: asyncio.Event) -> asyncio.DatagramTransport | None:
    """Set `event` whenever a datagram arrives on `path`; None (and polling only) if the socket cannot be made."""
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
    loop = asyncio.get_running_loop()
    try:
        transport, _ = await loop.create_datagram_endpoint(lambda: _Wake(event), local_addr=str(path),
                                                           family=socket.AF_UNIX)
    except OSError as exc:
        log.warning("wake socket unavailable (%s); falling back to polling the outbox", exc.strerror)
        return None
    path.chmod(0o600)
    return transport


def poke(path: Path) -> bool:
    """Wake a running agent; False if none listens (it will still find the press when it polls or starts)."""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
            sock.sendto(b"!", str(path))
        return True
    except OSError:
        return False
