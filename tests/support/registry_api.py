"""The registry API as a uvicorn process for benchmarks: started on a free port, polled until healthy."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.support.pgcluster import free_port
from tests.support.processes import stop_process

ROOT = Path(__file__).resolve().parents[2]


def start_registry_api(env: dict[str, str], folder: Path, *, workers: int = 1) -> tuple[subprocess.Popen[bytes], str]:
    """uvicorn serving the registry with `env` added to ours; returns the process and its base URL."""
    port = free_port()
    cmd = [sys.executable, "-m", "uvicorn", "--factory", "services.registry.app:create_app", "--host", "127.0.0.1",
           "--port", str(port), "--workers", str(workers), "--no-access-log", "--log-level", "warning"]
    with open(folder / "uvicorn.log", "ab") as out:
        proc = subprocess.Popen(cmd, cwd=ROOT, env={**os.environ, **env}, stdout=out, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"uvicorn exited: {(folder / 'uvicorn.log').read_text()[-2000:]}")
        try:
            if httpx.get(f"{base}/healthz", timeout=1, trust_env=False).status_code == 200:
                return proc, base
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    stop_process(proc)
    raise TimeoutError("uvicorn did not become healthy within 60 s")
