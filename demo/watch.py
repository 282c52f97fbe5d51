"""`python -m demo watch`: sign in as the demo dispatcher and print the live alert feed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx

from demo import config


def _totp(username: str) -> str:
    env = {**os.environ, **config.environment()}
    lookout = Path(sys.executable).parent / "lookout"
    return subprocess.run([str(lookout), "demo", "totp", username], env=env, check=True, capture_output=True,
                          text=True).stdout.strip()


def _sign_in(username: str) -> str:
    login = httpx.post(f"{config.registry_url()}/v1/auth/login",
                       json={"username": username, "password": config.PASSWORD, "totp": _totp(username)})
    return str(login.raise_for_status().json()["access_token"])


def live_link(username: str = "dispatch.clermont") -> None:
    """Print the live-video dashboard link of the demo dispatcher (the token in it lasts 15 minutes)."""
    token = _sign_in(username)
    print(f"signed in as {username}. Open this in a browser, then press panic (make panic):\n"
          f"  {config.streams_url()}/live/#token={token}", flush=True)


def watch(username: str = "dispatch.clermont") -> None:
    """Print every alert change of the dispatcher's agency as it happens."""
    token = _sign_in(username)
    print(f"signed in as {username}; waiting for alerts (Ctrl-C stops)", flush=True)
    headers = {"Authorization": f"Bearer {token}", "Accept": "text/event-stream"}
    with httpx.stream("GET", f"{config.alerts_url()}/v1/alerts/stream", headers=headers,
                      timeout=httpx.Timeout(10.0, read=None)) as response:  # the feed stays open
        response.raise_for_status()
        for line in response.iter_lines():
            if line.startswith("data:"):
                print(json.dumps(json.loads(line[5:]), indent=2), flush=True)
