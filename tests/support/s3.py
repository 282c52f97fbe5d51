"""An S3-compatible store for tests: moto's server, a real HTTP server on loopback."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from tests.support.pgcluster import free_port


@contextmanager
def moto_s3() -> Iterator[str]:
    """Run moto's S3 server on a free 127.0.0.1 port for the block; yields its endpoint URL."""
    from moto.server import ThreadedMotoServer  # heavy import, only for the tests that use S3

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=free_port(), verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        yield f"http://{host}:{port}"
    finally:
        server.stop()
