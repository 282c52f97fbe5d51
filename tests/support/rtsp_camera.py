"""A simulated IP camera on 127.0.0.1 for the tests: a live H.264 RTSP stream that can drop off the network.

The stream comes from GStreamer's RTSP server (tests/support/rtsp_server.py), which needs PyGObject; that
exists only for Debian's own Python, so the server runs as a child of /usr/bin/python3, not of the venv.

    with RtspCamera(width=1920, height=1080, gop=50) as camera:
        container = av.open(camera.url, options={"rtsp_transport": "tcp"}, timeout=10)
"""

from __future__ import annotations

import functools
import os
import select
import subprocess
import tempfile
import time
from pathlib import Path
from typing import IO
from urllib.parse import quote

from tests.support.pgcluster import free_port, wait_for_port
from tests.support.processes import stop_process

SYSTEM_PYTHON = "/usr/bin/python3"
SERVER = Path(__file__).with_name("rtsp_server.py")
APT_PACKAGES = ("python3-gi gir1.2-gst-rtsp-server-1.0 gstreamer1.0-plugins-base gstreamer1.0-plugins-good "
                "gstreamer1.0-plugins-bad gstreamer1.0-plugins-ugly gstreamer1.0-libav")
# The check imports what rtsp_server.py imports and looks up every element its pipeline uses.
_CHECK = """
import gi
gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import Gst, GstRtspServer
Gst.init(None)
missing = [e for e in ("videotestsrc", "timeoverlay", "x264enc", "rtph264pay") if not Gst.ElementFactory.find(e)]
raise SystemExit(", ".join(missing) or None)
"""


@functools.cache
def gstreamer_available() -> bool:
    """True if /usr/bin/python3 can import gi and GstRtspServer 1.0 and has every element the camera uses."""
    try:
        done = subprocess.run([SYSTEM_PYTHON, "-c", _CHECK], capture_output=True, timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


class RtspCamera:
    """One camera: a child process serving rtsp://127.0.0.1:{port}{path}; the port survives restarts."""

    def __init__(self, *, width: int = 1280, height: int = 720, fps: int = 25, gop: int = 50,
                 port: int | None = None, path: str = "/cam", slices: int = 1,
                 user: str | None = None, password: str | None = None) -> None:
        if (user is None) != (password is None):
            raise ValueError("user and password go together")
        self.port = port or free_port()
        self.path = path if path.startswith("/") else f"/{path}"
        credentials = "" if user is None or password is None else f"{quote(user, safe='')}:{quote(password, safe='')}@"
        self.url = f"rtsp://{credentials}127.0.0.1:{self.port}{self.path}"
        self.args = [f"--port={self.port}", f"--width={width}", f"--height={height}", f"--fps={fps}",
                     f"--gop={gop}", f"--path={self.path}", f"--slices={slices}"]
        if user is not None and password is not None:
            self.args += [f"--user={user}", f"--password={password}"]
        self.proc: subprocess.Popen[bytes] | None = None
        self._stderr: IO[bytes] | None = None

    def start(self, timeout: float = 15.0) -> None:
        """Start the server and wait for its READY line and for the port to accept connections."""
        if self.proc is not None:
            raise RuntimeError("camera already started")
        # A file, not a pipe: nobody reads stderr while the camera runs, and a full pipe would stall it.
        self._stderr = tempfile.TemporaryFile(prefix="lookout-rtsp-")  # noqa: SIM115 - lives until stop()
        self.proc = subprocess.Popen([SYSTEM_PYTHON, str(SERVER), *self.args], stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=self._stderr)
        deadline = time.monotonic() + timeout
        try:
            self._wait_ready(deadline)
            wait_for_port(self.port, timeout=max(deadline - time.monotonic(), 0.1))
        except (RuntimeError, TimeoutError) as exc:
            tail = self._stderr_tail()
            self.stop()
            raise RuntimeError(f"RTSP camera on port {self.port} did not start: {exc}\n"
                               f"server stderr (tail):\n{tail}\n"
                               f"(if GStreamer is missing: apt-get install {APT_PACKAGES})") from None

    def _wait_ready(self, deadline: float) -> None:
        """Read the child's stdout until its READY line; fail if it exits or stays silent too long."""
        assert self.proc is not None and self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        seen = b""
        while b"\n" not in seen:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no READY line in time (stdout so far: {seen!r})")
            if select.select([fd], [], [], left)[0]:
                chunk = os.read(fd, 4096)
                if not chunk:
                    raise RuntimeError(f"server exited with {self.proc.wait(timeout=5)}")
                seen += chunk
        if not seen.startswith(b"READY "):
            raise RuntimeError(f"unexpected server output {seen!r}")

    def _stderr_tail(self, limit: int = 4000) -> str:
        """The last part of the child's stderr (GStreamer and Python errors end up there)."""
        if self._stderr is None:
            return ""
        self._stderr.seek(0)
        return self._stderr.read().decode(errors="replace")[-limit:]

    def stop(self) -> None:
        """Terminate the server (SIGKILL if it lingers): the camera drops off the network."""
        stop_process(self.proc)
        if self.proc is not None and self.proc.stdout is not None:
            self.proc.stdout.close()
        if self._stderr is not None:
            self._stderr.close()
        self.proc = None
        self._stderr = None

    def restart(self, down_s: float = 0.0) -> None:
        """Stop, stay off the network for `down_s` seconds, and start again on the same port."""
        self.stop()
        if down_s > 0:
            time.sleep(down_s)
        self.start()

    def __enter__(self) -> RtspCamera:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
