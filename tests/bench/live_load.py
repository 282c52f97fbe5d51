"""The load side of the live-video benchmark: edge agent and relay CPU while streaming, and the memory soak.

Every figure is read from /proc of the process concerned (the agent `lookout-core run`, the relay's uvicorn)
while aiortc viewers in this process (tests/bench/live_viewers.py) receive the stream and count its frames.
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.bench.live_page import end_alert
from tests.bench.live_probe import (
    CpuWindow,
    ffmpeg_cpu,
    live_stack,
    log,
    main_thread_cpu_s,
    rss_mb,
    spread,
    udp_socket_stats,
)
from tests.bench.live_viewers import Viewers
from tests.support.live import LiveStack
from tests.support.pgcluster import PgCluster

STARVING_FPS = 20.0  # a viewer of a 25 fps stream below this over a window is starving


@dataclass
class Sample:
    """One measuring window: CPU-s/min per process, frames/s and kbit/s per viewer."""

    cpu: dict[str, float]
    fps: list[float]
    kbit_s: list[float]
    udp: dict[str, dict[str, int]]
    host_busy_pct: int


def measure(viewers: Viewers, seconds: float, pids: dict[str, int]) -> Sample:
    """CPU of the processes, their UDP sockets' drops and backlog, and what each viewer received over a window."""
    frames, sizes = viewers.frames(), viewers.bytes()
    drops = {name: udp_socket_stats(pid)[0] for name, pid in pids.items()}
    window = CpuWindow(pids)
    time.sleep(seconds)
    cpu, wall, host = window.per_min(), window.elapsed, window.host_busy_pct()
    fps = [(now - was) / wall for now, was in zip(viewers.frames(), frames, strict=True)]
    kbit = [(now - was) * 8 / wall / 1000 for now, was in zip(viewers.bytes(), sizes, strict=True)]
    udp = {name: udp_socket_stats(pid) for name, pid in pids.items()}
    return Sample(cpu, fps, kbit, {name: {"dropped": got - drops[name], "queued_bytes": queued}
                                   for name, (got, queued) in udp.items()}, host)


def pids_of(live: LiveStack) -> dict[str, int]:
    """The agent's and the relay's process ids."""
    assert live.streams.proc is not None and live.box.proc is not None
    return {"agent": live.box.proc.pid, "relay": live.streams.proc.pid}


def start_streaming(live: LiveStack) -> tuple[str, str, Viewers]:
    """Press, wait for the live session, and attach one receiving viewer."""
    alert_id = live.open_alert(live.box.panic())
    session_id = live.live_session(alert_id)["session_id"]
    viewers = Viewers(live.streams.url, live.dispatcher, session_id)
    try:
        viewers.add(1)
        viewers.wait_receiving(25)
    except BaseException:
        viewers.close()
        raise
    time.sleep(2.0)  # past the start-up burst (the GOP caches)
    return alert_id, session_id, viewers


def relay_load(live: LiveStack, viewers: Viewers, steps: list[int], seconds: float) -> dict[str, Any]:
    """The relay's CPU with more and more viewers of the one stream; every viewer's frame rate."""
    pids = pids_of(live) | {"bench": os.getpid()}
    cpu: dict[str, float] = {}
    detail: dict[str, Any] = {}
    for n in steps:
        viewers.add(n - len(viewers.viewers))
        viewers.wait_receiving(10)
        time.sleep(3.0)
        got = measure(viewers, seconds, pids)
        cpu[str(n)] = got.cpu["relay"]
        detail[str(n)] = {"viewer_fps": spread(got.fps), "starving": sum(f < STARVING_FPS for f in got.fps),
                          "bench_process_cpu_s_per_min": got.cpu["bench"], "agent_cpu_s_per_min": got.cpu["agent"],
                          "udp": got.udp, "host_busy_pct": got.host_busy_pct}
        log(f"relay with {n} viewers: {got.cpu['relay']} CPU-s/min; {detail[str(n)]}")
    return {"cpu": cpu, "detail": detail}


def agent_cpu(live: LiveStack, args: Any, res: str) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """Agent CPU idle and relaying one stream to one viewer; then the relay under load (if asked for `res`)."""
    idle = CpuWindow({"agent": pids_of(live)["agent"]})
    time.sleep(min(args.edge_window, 30.0))
    idle_agent = idle.per_min()["agent"]
    log(f"{res} agent idle (cold, nothing streaming): {idle_agent} CPU-s/min")
    alert_id, session_id, viewers = start_streaming(live)
    try:
        loop_before = main_thread_cpu_s(pids_of(live)["agent"])
        got = measure(viewers, args.edge_window, pids_of(live))
        loop = round((main_thread_cpu_s(pids_of(live)["agent"]) - loop_before) / args.edge_window * 60, 2)
        log(f"{res} agent relaying one stream: {got.cpu} (viewer at {got.fps[0]:.1f} fps, {got.kbit_s[0]:.0f} kbit/s)")
        relay = relay_load(live, viewers, args.viewers, args.relay_window) if res in args.relay_res else None
    finally:
        viewers.close()
    end_alert(live, alert_id, session_id)
    return {"agent": got.cpu["agent"], "agent_event_loop_thread": loop, "agent_idle": idle_agent,
            "relay_with_this_viewer": got.cpu["relay"],
            "viewer_fps": round(got.fps[0], 1), "stream_kbit_s": round(got.kbit_s[0]),
            "host_busy_pct": got.host_busy_pct}, relay


def edge_cpu(live: LiveStack, args: Any, res: str) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """The agent beside ffmpeg pulling the same camera into SRTP as is (the floor) and re-encoded."""
    agent, relay = agent_cpu(live, args, res)
    floor = ffmpeg_cpu(live.camera.url, reencode=False, window_s=args.edge_window)
    reencode = ffmpeg_cpu(live.camera.url, reencode=True, window_s=args.edge_window)
    log(f"{res} ffmpeg copy->SRTP {floor}, x264 re-encode->SRTP {reencode}")
    used, floor_s, reencode_s = agent["agent"], floor["cpu_s_per_min"], reencode["cpu_s_per_min"]
    return {"agent": used, "ffmpeg_copy_srtp": floor_s, "ffmpeg_reencode": reencode_s,
            "agent_over_floor": round(used / max(floor_s, 0.01), 2),
            "reencode_over_agent": round(reencode_s / max(used, 0.01), 2), **agent,
            "ffmpeg_rtp_packets_per_s": {"copy": floor["packets_per_s"], "reencode": reencode["packets_per_s"]},
            "ffmpeg_host_busy_pct": {"copy": floor["host_busy_pct"], "reencode": reencode["host_busy_pct"]},
            "window_s": args.edge_window}, relay


def soak(pg: PgCluster, folder: Path, minutes: float, pattern: str) -> dict[str, Any]:
    """One 720p stream and one viewer for `minutes`: VmRSS of relay and agent every minute, and the growth."""
    limit = str(int(minutes * 60) + 900)  # neither the alert's stream TTL nor the relay's cap may end it
    saved = {k: os.environ.get(k) for k in ("ALERTS_STREAM_TTL_S", "STREAMS_MAX_SESSION_S")}
    os.environ.update(dict.fromkeys(saved, limit))  # the service processes inherit the environment
    try:
        with live_stack(pg, folder, "720p", warm=False, pattern=pattern, access_ttl_s=int(limit)) as live:
            return soak_on(live, minutes)
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def soak_on(live: LiveStack, minutes: float) -> dict[str, Any]:
    """Sample memory while the stream runs; check the session is still live at the end."""
    pids = pids_of(live)
    alert_id, session_id, viewers = start_streaming(live)
    samples: dict[str, list[float]] = {name: [rss_mb(pid)] for name, pid in pids.items()}
    start, frames, total = time.monotonic(), viewers.frames()[0], minutes * 60
    try:
        for mark in [min(60.0 * k, total) for k in range(1, math.ceil(total / 60) + 1)]:
            time.sleep(max(0.0, start + mark - time.monotonic()))
            for name, pid in pids.items():
                samples[name].append(rss_mb(pid))
            log(f"soak {mark / 60:g} min: RSS relay {samples['relay'][-1]} MB, agent {samples['agent'][-1]} MB, "
                f"viewer frames {viewers.frames()[0] - frames}")
        fps = (viewers.frames()[0] - frames) / (time.monotonic() - start)
    finally:
        viewers.close()
    state = live.sessions(alert_id=alert_id)[0]["state"]
    end_alert(live, alert_id, session_id)
    return {"minutes": minutes, "viewer_fps": round(fps, 1), "session_state_at_end": state,
            **{f"{name}_rss_mb": {"start": s[0], "end": s[-1], "growth_mb": round(s[-1] - s[0], 1), "every_min": s}
               for name, s in samples.items()}}
