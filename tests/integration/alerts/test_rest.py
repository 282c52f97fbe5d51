"""REST lifecycle and roles: owner panic, dispatcher acknowledge/resolve, owner cancel, other agencies refused."""

from __future__ import annotations

import uuid
from collections.abc import Callable

from fastapi.testclient import TestClient

from proto import wire
from proto.lookout.v1 import lookout_pb2 as pb
from services.alerts.app import create_app
from services.alerts.deps import Alerts
from services.common.auth import Role
from tests.integration.alerts.conftest import Recorder, World, seed


def bearer(tok: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {tok}"}


def test_lifecycle_and_roles(make_alerts: Callable[..., Alerts], token: Callable[..., str]) -> None:
    recorder = Recorder()
    alerts = make_alerts(publisher=recorder)
    world, other = World(), World()
    seed(alerts, world)
    seed(alerts, other)
    owner = bearer(token(Role.OWNER, owner=world.owner))
    stranger = bearer(token(Role.OWNER, owner=other.owner))
    dispatcher = bearer(token(Role.DISPATCHER, agency=world.agency))
    supervisor = bearer(token(Role.SUPERVISOR, agency=world.agency))
    foreign = bearer(token(Role.DISPATCHER, agency=other.agency))
    investigator = bearer(token(Role.INVESTIGATOR, agency=world.agency))
    with TestClient(create_app(alerts=alerts)) as client:
        body = {"site_id": world.site, "event_id": str(uuid.uuid4())}
        assert client.post("/v1/alerts/panic", json=body).status_code == 401
        assert client.post("/v1/alerts/panic", json=body, headers=dispatcher).status_code == 403
        assert client.post("/v1/alerts/panic", json=body, headers=stranger).status_code == 404
        created = client.post("/v1/alerts/panic", json=body, headers=owner)
        assert created.status_code == 201, created.text
        alert = created.json()
        assert alert["agency_id"] == world.agency and alert["status"] == "open" and alert["trigger"] == "app"
        again = client.post("/v1/alerts/panic", json=body, headers=owner)
        assert again.status_code == 200 and again.json()["id"] == alert["id"]
        aid = alert["id"]
        # the opening was published once: AlertEvent + one stream_start per live camera (any device of the site)
        commands = [wire.decode(pb.DeviceCommand, p) for t, p in recorder.sent if t.endswith("/commands")]
        assert sorted(c.stream_start.camera_id for c in commands) == sorted(world.live)

        assert client.get(f"/v1/alerts/{aid}", headers=foreign).status_code == 404
        assert client.get("/v1/alerts", headers=foreign).json() == []
        assert client.get("/v1/alerts", headers=investigator).status_code == 403
        assert client.post(f"/v1/alerts/{aid}/acknowledge", headers=foreign).status_code == 404
        assert client.post(f"/v1/alerts/{aid}/acknowledge", headers=owner).status_code == 403
        assert client.post(f"/v1/alerts/{aid}/resolve", headers=dispatcher).status_code == 409
        listed = client.get("/v1/alerts", params={"status": "open"}, headers=supervisor).json()
        assert [a["id"] for a in listed] == [aid]

        acked = client.post(f"/v1/alerts/{aid}/acknowledge", headers=dispatcher)
        assert acked.status_code == 200 and acked.json()["status"] == "acknowledged"
        assert acked.json()["acknowledged_by"] and acked.json()["acknowledged_at"]
        assert client.post(f"/v1/alerts/{aid}/acknowledge", headers=supervisor).status_code == 409
        resolved = client.post(f"/v1/alerts/{aid}/resolve", headers=supervisor).json()
        assert resolved["status"] == "resolved" and resolved["outcome"] == "resolved" and resolved["resolved_by"]
        assert client.post(f"/v1/alerts/{aid}/cancel", headers=owner).status_code == 409
        assert client.get(f"/v1/alerts/{aid}", headers=owner).json()["status"] == "resolved"

        second = client.post("/v1/alerts/panic", json={**body, "event_id": str(uuid.uuid4())}, headers=owner).json()
        assert client.post(f"/v1/alerts/{second['id']}/cancel", headers=stranger).status_code == 404
        cancelled = client.post(f"/v1/alerts/{second['id']}/cancel", headers=owner).json()
        assert cancelled["status"] == "cancelled" and cancelled["outcome"] == "false_alarm"
        events = [wire.decode(pb.AlertEvent, p) for t, p in recorder.sent if t.startswith("lookout/v1/alerts/")]
        assert [e.WhichOneof("event") for e in events] == ["opened", "acknowledged", "resolved", "opened", "resolved"]
        assert events[-1].resolved.outcome == pb.ALERT_OUTCOME_FALSE_ALARM
        assert client.get("/healthz").status_code == 200 and client.get("/readyz").status_code == 200
        assert "/v1/alerts/stream" in client.get("/openapi.json").json()["paths"]
        assert client.get("/metrics").status_code == 200


def test_validation_errors(make_alerts: Callable[..., Alerts], token: Callable[..., str]) -> None:
    alerts = make_alerts(publisher=Recorder())
    world = World()
    seed(alerts, world)
    owner = bearer(token(Role.OWNER, owner=world.owner))
    with TestClient(create_app(alerts=alerts)) as client:
        bad = client.post("/v1/alerts/panic", json={"site_id": world.site, "event_id": "nope"}, headers=owner)
        assert bad.status_code == 422 and bad.json()["error"]["field"] == "event_id"
        assert client.get("/v1/alerts/not-a-uuid", headers=owner).status_code == 422
        assert client.get(f"/v1/alerts/{uuid.uuid4()}", headers=owner).status_code == 404
