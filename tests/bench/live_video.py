"""Live video benchmark: panic to first decoded frame, edge and relay CPU, and (optionally) a memory soak.

Run: python -m tests.bench.live_video [--tries 10] [--soak]. For each simulated camera (720p25 and 1080p25,
GOP 50, kept running by an NVR-like client) the whole system runs on loopback (tests/support/live.py):
registry, production Mosquitto, alerts, the relay, `lookout-core run` and headless Chromium on /live/.

1. Press -> first decoded frame in the open dashboard, p50/p95 over --tries presses, with and without warm
   standby, split into press -> alert opened -> session started -> live at the relay -> tile -> frame; and a
   viewer joining a running stream (new page; bare WHEP client).
2. Edge agent CPU-s/min relaying one stream to one viewer, beside ffmpeg pulling the same camera into SRTP
   as is (the floor) and re-encoded by x264 (what passthrough saves).
3. The relay's CPU-s/min with 1, 10, 25 and 50 aiortc viewers (counting, not decoding) and their frame rates.
4. --soak: resident memory of relay and agent over a --soak-minutes stream with one viewer.
Progress goes to stderr; the last line of stdout is one JSON object with every figure (seconds, CPU-s/min,
MB). --quick shortens everything, --phases picks parts (soak alone: --phases soak --soak-minutes 3), and
--pattern snow makes the simulator send its nominal bitrate (2 and 4 Mbit/s; the default ball pattern
compresses to about a quarter of that). Every CPU window also says how busy the whole host was.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import sys
import tempfile
import time
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Any

from playwright.sync_api import Browser

from tests.bench.live_load import edge_cpu, soak
from tests.bench.live_page import first_frame_tries, join_running
from tests.bench.live_probe import FPS, GOP, RESOLUTIONS, CpuWindow, live_stack, log
from tests.support.browser import chromium
from tests.support.pgcluster import PgCluster

PHASES = ("first_frame", "join", "cpu", "soak")


def warm_phases(pg: PgCluster, folder: Path, res: str, browser: Browser | None, args: argparse.Namespace,
                out: dict[str, Any]) -> None:
    """With warm standby: presses with the dashboard open, then viewers joining a running stream."""
    assert browser is not None
    with live_stack(pg, folder / "warm", res, warm=True, pattern=args.pattern) as live:
        log(f"{res} warm standby: system up, camera {live.camera.url}")
        if "first_frame" in args.phases:
            out["first_frame"].setdefault(res, {})["warm"] = first_frame_tries(live, browser, args.tries,
                                                                               args.poll_ms, f"{res} warm")
        if "join" in args.phases:
            out["join_running"][res] = join_running(live, browser, args.tries, args.poll_ms, res)


def cold_phases(pg: PgCluster, folder: Path, res: str, browser: Browser | None, args: argparse.Namespace,
                out: dict[str, Any]) -> None:
    """Without warm standby (one camera open only while it streams): presses, then the CPU measurements."""
    with live_stack(pg, folder / "cold", res, warm=False, pattern=args.pattern) as live:
        log(f"{res} cold (no warm standby): system up, camera {live.camera.url}")
        if "first_frame" in args.phases:
            assert browser is not None
            out["first_frame"].setdefault(res, {})["cold"] = first_frame_tries(live, browser, args.tries,
                                                                               args.poll_ms, f"{res} cold")
        if "cpu" in args.phases:
            out["edge_cpu_s_per_min"][res], relay = edge_cpu(live, args, res)
            if relay is not None:
                out["relay_cpu_s_per_min"][res] = relay["cpu"]
                out["relay_viewers"][res] = {"window_s": args.relay_window, **relay["detail"]}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The command line."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tries", type=int, default=10, help="presses per camera and mode, and joins per camera")
    ap.add_argument("--poll-ms", type=int, default=100, help="the dashboard's session poll (#poll=, web/live)")
    ap.add_argument("--resolutions", default="720p,1080p", help=f"comma-separated, of {', '.join(RESOLUTIONS)}")
    ap.add_argument("--pattern", default="ball", help="the simulator's videotestsrc pattern (snow: full bitrate)")
    ap.add_argument("--edge-window", type=float, help="seconds per edge CPU measurement (60; --quick 15)")
    ap.add_argument("--relay-window", type=float, help="seconds per relay viewer step (30; --quick 10)")
    ap.add_argument("--viewers", default="1,10,25,50", help="relay viewer steps")
    ap.add_argument("--relay-res", default="720p,1080p", help="camera(s) the relay viewer steps run on")
    ap.add_argument("--quick", action="store_true", help="at most 3 tries, shorter CPU windows")
    ap.add_argument("--phases", default="first_frame,join,cpu", help=f"comma-separated, of {', '.join(PHASES)}")
    ap.add_argument("--soak", action="store_true", help="add the memory soak (--soak-minutes, default 30)")
    ap.add_argument("--soak-minutes", type=float, default=None, help="soak length (implies --soak)")
    ap.add_argument("--keep", action="store_true", help="keep the temporary folder (logs) and print its path")
    args = ap.parse_args(argv)
    args.tries = min(args.tries, 3) if args.quick else args.tries
    args.edge_window = args.edge_window or (15.0 if args.quick else 60.0)
    args.relay_window = args.relay_window or (10.0 if args.quick else 30.0)
    args.resolutions, args.relay_res, args.phases = (
        [r for r in text.split(",") if r] for text in (args.resolutions, args.relay_res, args.phases))
    args.viewers = [int(n) for n in args.viewers.split(",") if n]
    if set(args.resolutions + args.relay_res) - set(RESOLUTIONS) or set(args.phases) - set(PHASES):
        ap.error("unknown resolution or phase")
    if args.soak or args.soak_minutes is not None:
        args.phases.append("soak")
    args.soak_minutes = args.soak_minutes or 30.0
    return args


def measure_all(pg: PgCluster, folder: Path, args: argparse.Namespace, out: dict[str, Any]) -> None:
    """Every phase asked for, camera by camera, then the soak."""
    wants_browser = bool({"first_frame", "join"} & set(args.phases))
    browsing: AbstractContextManager[Browser | None] = chromium() if wants_browser else nullcontext()
    with browsing as browser:
        for res in args.resolutions:
            if {"first_frame", "join"} & set(args.phases):
                warm_phases(pg, folder / res, res, browser, args, out)
            if {"first_frame", "cpu"} & set(args.phases):
                cold_phases(pg, folder / res, res, browser, args, out)
    if "soak" in args.phases:
        out["soak"] = soak(pg, folder / "soak", args.soak_minutes, args.pattern)


def background_load(seconds: float = 3.0) -> int:
    """How busy the host is before we start anything: other work skews every CPU and latency figure."""
    window = CpuWindow({})
    time.sleep(seconds)
    busy = window.host_busy_pct()
    if busy > 10:
        log(f"warning: the host is already {busy}% busy with other work; figures will be skewed")
    return busy


def main(argv: list[str] | None = None) -> None:
    """Start everything, measure, print the JSON summary as the last stdout line."""
    args = parse_args(argv)
    os.environ.setdefault("LOOKOUT_LOG_LEVEL", "WARNING")  # the in-process registry's logging; services log to files
    began = time.monotonic()
    folder = Path(tempfile.mkdtemp(prefix="lookout-bench-streams-"))
    out: dict[str, Any] = {"first_frame": {}, "join_running": {}, "edge_cpu_s_per_min": {},
                           "relay_cpu_s_per_min": {}, "relay_viewers": {}, "soak": None, "poll_ms": args.poll_ms,
                           "camera": {"fps": FPS, "gop": GOP, "pattern": args.pattern, "kept_running_by_nvr": True},
                           "tries": args.tries, "cores": os.cpu_count()}
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so `finally` stops every process we started
    out["host_busy_pct_before"] = background_load()
    pg = PgCluster()
    try:
        pg.start()
        measure_all(pg, folder, args, out)
        out["runtime_s"] = round(time.monotonic() - began, 1)
        print(json.dumps(out), flush=True)
    finally:
        pg.stop()
        if args.keep:
            log(f"kept {folder}")
        else:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
