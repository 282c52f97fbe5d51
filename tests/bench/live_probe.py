"""Helpers of the live-video benchmark: /proc readings, percentiles, one live stack per camera, ffmpeg baselines.

CPU time is utime + stime of /proc/<pid>/stat (every thread of the process), resident memory is VmRSS of
/proc/<pid>/status. The ffmpeg baselines pull the same RTSP camera and send SRTP to a local UDP sink.
"""

from __future__ import annotations

import base64
import math
import os
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import datetime
from pathlib import Path

from services.registry.app import build_registry
from services.registry.deps import Registry
from services.registry.migrate import upgrade
from tests.conftest import registry_settings
from tests.support.live import LiveStack, start_stack
from tests.support.pgcluster import PgCluster
from tests.support.processes import stop_process
from tests.support.rtsp_camera import RtspCamera

RESOLUTIONS = {"720p": (1280, 720), "1080p": (1920, 1080)}
FPS, GOP = 25, 50
CLK_TCK = os.sysconf("SC_CLK_TCK")
FFMPEG = ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error"]


def log(msg: str) -> None:
    """Progress line on stderr."""
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def cpu_s(pid: int) -> float:
    """CPU seconds (user + system, all threads) the process used so far."""
    with open(f"/proc/{pid}/stat") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def main_thread_cpu_s(pid: int) -> float:
    """CPU seconds of the process's first thread (an asyncio service's event loop) so far."""
    with open(f"/proc/{pid}/task/{pid}/stat") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def rss_mb(pid: int) -> float:
    """Resident memory of the process in MB."""
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return round(int(line.split()[1]) / 1024, 1)
    raise RuntimeError(f"no VmRSS for pid {pid}")


def udp_socket_stats(pid: int) -> tuple[int, int]:
    """(datagrams the kernel dropped because a receive buffer was full, bytes waiting to be read now) over the
    process's open UDP sockets: drops say a receiver fell behind, the queue says by how much."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:  # closed meanwhile
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    drops = queued = 0
    for table in ("/proc/net/udp", "/proc/net/udp6"):
        with open(table) as fh:
            for line in list(fh)[1:]:
                fields = line.split()
                if fields[9] in inodes:
                    drops += int(fields[-1])
                    queued += int(fields[4].split(":")[1], 16)
    return drops, queued


def host_ticks() -> tuple[int, int]:
    """(busy, total) clock ticks of the whole machine so far, from /proc/stat."""
    with open("/proc/stat") as fh:
        ticks = [int(x) for x in fh.readline().split()[1:8]]  # user nice system idle iowait irq softirq
    return sum(ticks) - ticks[3] - ticks[4], sum(ticks)


class CpuWindow:
    """CPU seconds per minute of several processes over the same wall-clock window, and how busy the host was."""

    def __init__(self, pids: dict[str, int]) -> None:
        self.pids = pids
        self.start = time.monotonic()
        self.before = {name: cpu_s(pid) for name, pid in pids.items()}
        self.host = host_ticks()

    def host_busy_pct(self) -> int:
        """Percent of all cores busy (with anything, ours or not) since the window began."""
        busy, total = host_ticks()
        return round(100 * (busy - self.host[0]) / max(1, total - self.host[1]))

    @property
    def elapsed(self) -> float:
        """Seconds since the window began."""
        return time.monotonic() - self.start

    def per_min(self) -> dict[str, float]:
        """CPU-s/min of each process since the window began."""
        wall = self.elapsed
        return {name: round((cpu_s(pid) - self.before[name]) / wall * 60, 2) for name, pid in self.pids.items()}


def nearest_rank(values: list[float], q: float) -> float:
    """The q-quantile by nearest rank."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


def pcts(values: list[float]) -> dict[str, float | int | None]:
    """p50/p95/min/max (seconds, 3 decimals) and n; p95 of ten samples is their maximum."""
    if not values:
        return {"p50_s": None, "p95_s": None, "min_s": None, "max_s": None, "n": 0}
    return {"p50_s": round(nearest_rank(values, 0.5), 3), "p95_s": round(nearest_rank(values, 0.95), 3),
            "min_s": round(min(values), 3), "max_s": round(max(values), 3), "n": len(values)}


def spread(values: list[float]) -> dict[str, float]:
    """min/median/max of a list (e.g. frames per second of each viewer)."""
    return {"min": round(min(values), 1), "median": round(statistics.median(values), 1), "max": round(max(values), 1)}


def epoch(iso: str) -> float:
    """Seconds since the epoch of an ISO 8601 timestamp from an API."""
    return datetime.fromisoformat(iso).timestamp()


def make_registry(pg: PgCluster, folder: Path, access_ttl_s: int | None = None) -> Registry:
    """A migrated registry on a new PostGIS database, built as the tests' make_registry fixture builds one."""
    folder.mkdir(parents=True, exist_ok=True)
    settings = registry_settings(pg.create_database(f"registry_bench_{uuid.uuid4().hex[:8]}"), folder)
    if access_ttl_s is not None:  # the soak outlives the default 15 min dispatcher token
        settings.security.access_token_ttl_s = access_ttl_s
    registry = build_registry(settings)
    upgrade(registry.engine)
    return registry


def keep_camera_busy(url: str) -> subprocess.Popen[bytes]:
    """A client that stays on the camera (as an NVR would), so the simulator's encoder runs like a real camera's:
    a box that connects waits for the next scheduled keyframe instead of getting a fresh pipeline's first IDR."""
    return subprocess.Popen([*FFMPEG, "-rtsp_transport", "tcp", "-i", url, "-c", "copy", "-f", "null", "-"],
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


@contextmanager
def live_stack(pg: PgCluster, folder: Path, res: str, *, warm: bool, pattern: str = "ball",
               access_ttl_s: int | None = None) -> Iterator[LiveStack]:
    """The whole live-video system with a `res` 25 fps camera (GOP 50), torn down on leaving."""
    width, height = RESOLUTIONS[res]
    with ExitStack() as stack:
        registry = make_registry(pg, folder / "registry", access_ttl_s)
        stack.callback(registry.engine.dispose)
        camera = RtspCamera(width=width, height=height, fps=FPS, gop=GOP)
        camera.args.append(f"--pattern={pattern}")  # the simulator's videotestsrc pattern (ball: its default)
        live = start_stack(stack, pg, registry, folder, warm=warm, camera=camera)
        keeper = keep_camera_busy(camera.url)
        stack.callback(stop_process, keeper)
        time.sleep(3.0)  # the keeper and (warm) the box's standby source are reading the camera
        if keeper.poll() is not None:
            raise RuntimeError("the camera keeper (ffmpeg) exited")
        yield live


class UdpSink:
    """A UDP port on 127.0.0.1 that reads and counts whatever arrives (the SRTP baselines send here)."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.5)
        self.port = int(self.sock.getsockname()[1])
        self.packets = 0
        self.closing = False
        self.thread = threading.Thread(target=self._drain, daemon=True)
        self.thread.start()

    def _drain(self) -> None:
        while not self.closing:
            try:
                self.sock.recv(65536)
                self.packets += 1
            except TimeoutError:
                continue
            except OSError:
                return

    def close(self) -> None:
        """Stop reading and release the port."""
        self.closing = True
        self.thread.join(2)
        self.sock.close()


def ffmpeg_command(url: str, port: int, *, reencode: bool) -> list[str]:
    """Pull the camera over RTSP/TCP and send SRTP to 127.0.0.1:port, as is (-c copy) or re-encoded by x264."""
    key = base64.b64encode(secrets.token_bytes(30)).decode()
    codec = (["-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency", "-g", str(GOP)] if reencode
             else ["-c", "copy"])
    return [*FFMPEG, "-rtsp_transport", "tcp", "-i", url, "-an", *codec, "-f", "rtp",
            "-srtp_out_suite", "AES_CM_128_HMAC_SHA1_80", "-srtp_out_params", key, f"srtp://127.0.0.1:{port}"]


def ffmpeg_cpu(url: str, *, reencode: bool, window_s: float, warmup_s: float = 3.0) -> dict[str, float]:
    """CPU-s/min of an ffmpeg RTSP -> SRTP pipe over the window (after a warm-up), and the packets it sent."""
    sink, errors = UdpSink(), tempfile.TemporaryFile()  # noqa: SIM115 - closed below
    proc = subprocess.Popen(ffmpeg_command(url, sink.port, reencode=reencode), stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=errors)
    try:
        time.sleep(warmup_s)
        window, before = CpuWindow({"ffmpeg": proc.pid}), sink.packets
        time.sleep(window_s)
        if proc.poll() is not None:
            errors.seek(0)
            raise RuntimeError(f"ffmpeg exited: {errors.read().decode(errors='replace')[-1000:]}")
        used, host = window.per_min()["ffmpeg"], window.host_busy_pct()
        sent = sink.packets - before
    finally:
        stop_process(proc)
        errors.close()
        sink.close()
    if sent == 0:
        raise RuntimeError("ffmpeg sent nothing to the sink")
    return {"cpu_s_per_min": used, "packets_per_s": round(sent / window_s, 1), "host_busy_pct": host}
