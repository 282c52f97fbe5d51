"""Start everything of the demo in one process (the CORE agent as a child process, as on a real box)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import httpx
import uvicorn
from amqtt.broker import Broker

from demo import config

log = logging.getLogger("lookout.demo")
BIN = Path(sys.executable).parent


def _prepare() -> None:
    os.environ.update(config.environment())
    config.ROOT.mkdir(parents=True, exist_ok=True)
    config.CORE_DIR.mkdir(parents=True, exist_ok=True)
    config.CORE_CONFIG.write_text(config.core_toml())
    for command in (["db", "upgrade"], ["demo", "seed", "--password", config.PASSWORD]):
        subprocess.run([str(BIN / "lookout"), *command], check=True)
    from services.alerts.migrate import upgrade
    from services.common.db import build_engine
    from services.registry.accounts.tokens import TokenIssuer, load_signing_key
    from services.streams.migrate import upgrade as upgrade_streams

    engine = build_engine(os.environ["ALERTS_DATABASE_URL"])
    upgrade(engine)
    engine.dispose()
    engine = build_engine(os.environ["STREAMS_DATABASE_URL"])
    upgrade_streams(engine)
    engine.dispose()
    # Inline keys: fetching them over HTTP would block the one event loop that also serves the registry.
    issuer = TokenIssuer(load_signing_key(os.environ["REGISTRY_SIGNING_KEY_FILE"]), access_ttl_s=900,
                         staff_session_max_s=12 * 3600)
    os.environ["ALERTS_REGISTRY_JWKS_JSON"] = os.environ["STREAMS_REGISTRY_JWKS_JSON"] = json.dumps(issuer.jwks())


async def _broker() -> Broker:
    broker = Broker({
        "listeners": {"default": {"type": "tcp", "bind": f"{config.HOST}:{config.MQTT_PORT}"}},
        "plugins": {"amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}},
    })
    await broker.start()
    return broker


def _server(app_path: str, port: int) -> uvicorn.Server:
    cfg = uvicorn.Config(app_path, factory=True, host=config.HOST, port=port, log_level="warning")
    return uvicorn.Server(cfg)


async def _wait_ready(url: str, timeout: float = 30.0) -> None:
    async with httpx.AsyncClient() as client:
        for _ in range(int(timeout * 10)):
            with contextlib.suppress(httpx.HTTPError):
                if (await client.get(f"{url}/healthz")).status_code == 200:
                    return
            await asyncio.sleep(0.1)
    raise TimeoutError(f"{url} did not start")


async def _enrol_core_box() -> None:
    """The owner asks for a one-time code for their site; the box trades it for its identity."""
    if (config.CORE_DIR / "credentials.json").exists():
        return
    async with httpx.AsyncClient(base_url=config.registry_url()) as client:
        login = await client.post("/v1/auth/login", json={"username": "owner@example.org",
                                                          "password": config.PASSWORD})
        headers = {"Authorization": f"Bearer {login.raise_for_status().json()['access_token']}"}
        site = (await client.get("/v1/sites", headers=headers)).raise_for_status().json()[0]
        code = (await client.post(f"/v1/sites/{site['id']}/enrolment-codes", headers=headers)).raise_for_status()
    # Asynchronously: the registry answering the box's request runs on this same event loop.
    enrol = await asyncio.create_subprocess_exec(str(BIN / "lookout-core"), "enroll", code.json()["code"],
                                                 "--config", str(config.CORE_CONFIG))
    if await enrol.wait() != 0:
        raise RuntimeError("the CORE box could not enrol")


def _configure_camera() -> None:
    """Point the box's live-on-alert camera (as the registry enrolled it) at the simulated RTSP camera."""
    creds = json.loads((config.CORE_DIR / "credentials.json").read_text())
    live = [c["camera_id"] for c in creds.get("cameras", []) if c.get("sharing_mode") == "live_on_alert"]
    config.CORE_CONFIG.write_text(config.core_toml(live[0] if live else None))


def _start_camera() -> subprocess.Popen[bytes]:
    """The simulated IP camera: GStreamer's RTSP server on the system Python (python3-gi)."""
    server = Path(__file__).resolve().parents[1] / "tests" / "support" / "rtsp_server.py"
    return subprocess.Popen(["/usr/bin/python3", str(server), "--port", str(config.CAMERA_PORT), "--width", "1280",
                             "--height", "720", "--fps", "25", "--gop", "50"], stdout=subprocess.DEVNULL)


def _banner() -> str:
    return f"""
Lookout demo is running (Ctrl-C stops it):
  registry API      {config.registry_url()}/docs
  alert service     {config.alerts_url()}/docs
  live video relay  {config.streams_url()}/docs
  simulated camera  {config.camera_url()}
  MQTT broker       {config.HOST}:{config.MQTT_PORT} (embedded, in-process)
  CORE box          panic page http://{config.HOST}:{config.LAN_PORT}  (PIN {config.LAN_PIN})
Press panic:        make panic          (or the page above)
Watch alerts:       make watch-alerts   (a dispatcher's live feed, in another terminal)
Watch live video:   make live           (prints a dispatcher's dashboard link; open it, then press panic)
"""


async def main() -> None:
    """Run broker, registry (with its outbox relay), alerts and the CORE agent until interrupted."""
    os.environ.setdefault("LOOKOUT_LOG_LEVEL", "WARNING")
    _prepare()
    broker = await _broker()
    # Alerts first: its subscription must exist before the registry's outbox relay publishes the seeded
    # sites and cameras (nothing is retained, and alerts does not yet catch up through /v1/sync).
    alerts = _server("services.alerts.app:create_app", config.ALERTS_PORT)
    tasks = [asyncio.create_task(alerts.serve())]
    await _wait_ready(config.alerts_url())
    streams = _server("services.streams.app:create_app", config.STREAMS_PORT)
    tasks.append(asyncio.create_task(streams.serve()))
    await _wait_ready(config.streams_url())
    registry = _server("services.registry.app:create_app", config.REGISTRY_PORT)
    tasks.append(asyncio.create_task(registry.serve()))
    await _wait_ready(config.registry_url())
    await _enrol_core_box()
    _configure_camera()
    camera = _start_camera()
    agent = subprocess.Popen([str(BIN / "lookout-core"), "run", "--config", str(config.CORE_CONFIG)])
    print(_banner(), flush=True)
    try:
        await asyncio.gather(*tasks)
    finally:
        for child in (agent, camera):
            child.terminate()
            child.wait(timeout=10)
        await broker.shutdown()


def run() -> None:
    """Entry point of `python -m demo`."""
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main())
