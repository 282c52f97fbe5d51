"""Child processes the tests and benchmarks start (uvicorn, agents)."""

from __future__ import annotations

import subprocess


def stop_process(proc: subprocess.Popen[bytes] | None) -> None:
    """Stop a process we started: SIGTERM, then SIGKILL if it lingers (workers follow their parent)."""
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)
