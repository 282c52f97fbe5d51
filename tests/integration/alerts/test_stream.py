"""SSE against a real uvicorn server: live events per agency, resume with Last-Event-ID."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import httpx
import uvicorn

from services.alerts.app import create_app
from services.alerts.deps import Alerts
from services.common.auth import Role
from tests.integration.alerts.conftest import Recorder, World, seed
from tests.support.pgcluster import free_port, wait_for_port


@contextmanager
def serve(alerts: Alerts) -> Iterator[str]:
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(alerts=alerts), host="127.0.0.1", port=port,
                                           log_level="warning", ws="none", lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_for_port(port, timeout=10)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


def read_events(lines: Iterator[str], n: int) -> list[dict[str, str]]:
    """Read `n` SSE events (comments and retry lines skipped)."""
    events: list[dict[str, str]] = []
    current: dict[str, str] = {}
    for line in lines:
        if not line:
            if "data" in current:
                events.append(current)
                if len(events) == n:
                    return events
            current = {}
            continue
        if line.startswith(":"):
            continue
        key, _, value = line.partition(": ")
        current[key] = value
    raise AssertionError("stream ended early")


def test_dashboard_resumes_with_last_event_id(make_alerts: Callable[..., Alerts], token: Callable[..., str]) -> None:
    alerts = make_alerts(publisher=Recorder())
    alerts.settings.rules.feed_poll_s = 0.2
    world, other = World(), World()
    seed(alerts, world)
    seed(alerts, other)
    owner = {"Authorization": f"Bearer {token(Role.OWNER, owner=world.owner)}"}
    other_owner = {"Authorization": f"Bearer {token(Role.OWNER, owner=other.owner)}"}
    dispatcher = {"Authorization": f"Bearer {token(Role.DISPATCHER, agency=world.agency)}"}
    with serve(alerts) as base, httpx.Client(base_url=base, timeout=10) as http:
        assert http.get("/v1/alerts/stream", headers=owner).status_code == 403
        with http.stream("GET", "/v1/alerts/stream", headers=dispatcher) as live:
            assert live.headers["content-type"].startswith("text/event-stream")
            live_lines = live.iter_lines()
            time.sleep(0.3)
            # another agency's alert must not show up; ours must
            http.post("/v1/alerts/panic", json={"site_id": other.site, "event_id": str(uuid.uuid4())},
                      headers=other_owner).raise_for_status()
            opened = http.post("/v1/alerts/panic", json={"site_id": world.site, "event_id": str(uuid.uuid4())},
                               headers=owner).json()
            (first,) = read_events(live_lines, 1)
        assert first["event"] == "opened" and json.loads(first["data"])["id"] == opened["id"]
        # disconnected: two changes happen meanwhile
        aid = opened["id"]
        http.post(f"/v1/alerts/{aid}/acknowledge", headers=dispatcher).raise_for_status()
        http.post(f"/v1/alerts/{aid}/resolve", headers=dispatcher).raise_for_status()
        headers = {**dispatcher, "Last-Event-ID": first["id"]}
        with http.stream("GET", "/v1/alerts/stream", headers=headers) as resumed:
            resumed_lines = resumed.iter_lines()
            missed = read_events(resumed_lines, 2)
            third = http.post("/v1/alerts/panic", json={"site_id": world.site, "event_id": str(uuid.uuid4())},
                              headers=owner).json()
            (live_again,) = read_events(resumed_lines, 1)
        assert [e["event"] for e in missed] == ["acknowledged", "resolved"]
        assert all(json.loads(e["data"])["id"] == aid for e in missed)
        assert int(missed[0]["id"]) > int(first["id"]) and int(missed[1]["id"]) > int(missed[0]["id"])
        assert json.loads(live_again["data"])["id"] == third["id"]
        with http.stream("GET", f"/v1/alerts/stream?after={missed[0]['id']}", headers=dispatcher) as by_query:
            again = read_events(by_query.iter_lines(), 2)
        assert [e["event"] for e in again] == ["resolved", "opened"]
