"""Footage requests through the HTTP API: asking, the owner's email, answers, withdrawal, expiry, owners leaving."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from services.common.auth import Role
from services.registry.agencies.models import SharingAgreement
from services.registry.audit.models import AuditEvent
from services.registry.database import utcnow
from services.registry.deps import Registry
from services.registry.evidence.models import EvidenceFile
from services.registry.notify.models import Notification
from services.registry.owners.models import Camera, Site
from services.registry.requests import service as requests
from services.registry.requests.models import FootageRequest, FootageRequestCamera, RequestShare
from tests import builders as b

pytestmark = pytest.mark.spatialite

CASE = "2026-RQ-0042"
MESSAGE = "A bicycle was stolen from the porch opposite; please share what your camera saw."


def iso(moment: datetime) -> str:
    return moment.isoformat()


def request_body(cameras: list[Camera], *, hours_ago: float = 6, length_h: float = 1,
                 **override: Any) -> dict[str, Any]:
    end = utcnow() - timedelta(hours=hours_ago)
    body: dict[str, Any] = {"case_number": CASE, "legal_basis": "owner_consent", "window_start_at": iso(end - timedelta(
        hours=length_h)), "window_end_at": iso(end), "message": MESSAGE, "camera_ids": [str(c.id) for c in cameras]}
    body.update(override)
    return body


def create(client: TestClient, person: b.Person, cameras: list[Camera], **override: Any) -> list[dict[str, Any]]:
    r = client.post("/v1/requests", headers=person.headers, json=request_body(cameras, **override))
    assert r.status_code == 201, r.text
    made: list[dict[str, Any]] = r.json()["requests"]
    return made


def count(db: Session, model: type[Any]) -> int:
    return db.scalar(select(func.count()).select_from(model)) or 0


def actions(db: Session, request_id: str) -> list[str]:
    return list(db.scalars(select(AuditEvent.action).where(AuditEvent.object_id == request_id)
                           .order_by(AuditEvent.id)))


def store_file(db: Session, request_id: str) -> EvidenceFile:
    """A stored evidence file row, as the evidence upload leaves it (uploading is another part's test)."""
    request = db.get(FootageRequest, uuid.UUID(request_id))
    assert request is not None
    row = EvidenceFile(request_id=request.id, agency_id=request.agency_id, case_number=request.case_number,
                       filename="porch.mp4", content_type="video/mp4", size_bytes=10, received_bytes=10,
                       sha256="0" * 64, storage_key=f"test/{uuid.uuid4()}", state="stored", stored_at=utcnow())
    db.add(row)
    db.commit()
    return row


class Scene:
    """One agency; owner Ann with two cameras (email on file), owner Bob with one camera and no email."""

    def __init__(self, db: Session, registry: Registry) -> None:
        self.db, self.registry = db, registry
        self.agency = b.make_agency(db)
        self.investigator = b.make_staff(db, registry, self.agency, Role.INVESTIGATOR)
        self.ann = b.make_owner(db, registry, email="ann@example.org", name="Ann Porch")
        ann_site = b.make_site(db, registry, self.ann, address="1 Ann Street")
        self.ann_cams = [b.make_camera(db, registry, self.ann, ann_site, label=label)
                         for label in ("Ann front door", "Ann driveway")]
        self.bob = b.make_owner(db, registry, email="bob@example.org", name="Bob Garage")
        bob_site = b.make_site(db, registry, self.bob, lon=-81.7750, lat=28.5570, address="2 Bob Road")
        self.bob_cam = b.make_camera(db, registry, self.bob, bob_site, label="Bob garage", mode="registry_only")
        b.owner_row(db, self.bob).email_enc = None  # registered by phone only: no email to send
        db.commit()

    @property
    def cameras(self) -> list[Camera]:
        return [*self.ann_cams, self.bob_cam]


@pytest.fixture
def scene(db: Session, registry: Registry) -> Scene:
    return Scene(db, registry)


def test_one_request_per_owner_with_mail_and_audit(client: TestClient, scene: Scene, db: Session,
                                                   registry: Registry) -> None:
    made = create(client, scene.investigator, scene.cameras)
    by_owner = {r["owner_id"]: r for r in made}
    assert set(by_owner) == {str(scene.ann.owner_id), str(scene.bob.owner_id)}
    ann, bob = by_owner[str(scene.ann.owner_id)], by_owner[str(scene.bob.owner_id)]
    assert sorted(c["label"] for c in ann["cameras"]) == ["Ann driveway", "Ann front door"]
    assert [c["camera_id"] for c in bob["cameras"]] == [str(scene.bob_cam.id)]  # registry_only: still askable
    assert (ann["notified"], bob["notified"]) == (True, False)
    for r in made:
        assert r["state"] == "pending" and r["case_number"] == CASE and r["agency_name"] == scene.agency.name
        assert r["created_by"] == str(scene.investigator.account.id)
        assert "email" not in r and "phone" not in r  # staff get no contact details here
        due = datetime.fromisoformat(r["due_at"])
        expected = utcnow() + timedelta(days=registry.settings.requests.default_due_days)
        assert abs((due - expected).total_seconds()) < 60

    [note] = db.scalars(select(Notification)).all()  # Bob has no email: only Ann is written to
    assert registry.kit.cipher.decrypt(note.to_enc) == "ann@example.org"
    assert note.owner_id == scene.ann.owner_id and str(note.request_id) == ann["id"]
    assert note.kind == "request.created" and CASE in note.subject and scene.agency.name in note.subject
    url = f"{registry.settings.public_url.rstrip('/')}/v1/my/requests/{ann['id']}"
    for part in (scene.agency.name, CASE, MESSAGE, url, "Ann front door", "Ann driveway"):
        assert part in note.body
    for leak in ("Bob", "bob@example.org", "2 Bob Road", str(scene.bob.owner_id), "Ann Porch", "1 Ann Street"):
        assert leak not in note.body and leak not in note.subject

    for r in made:
        [event] = db.scalars(select(AuditEvent).where(AuditEvent.action == "request.created",
                                                      AuditEvent.object_id == r["id"])).all()
        assert (event.case_number, event.reason, event.agency_id) == (CASE, "owner_consent", scene.agency.id)
        assert str(event.subject_owner_id) == r["owner_id"] and event.actor_id == scene.investigator.account.id
        detail = json.loads(event.detail or "{}")
        assert sorted(detail["cameras"]) == sorted(c["camera_id"] for c in r["cameras"])
        assert datetime.fromisoformat(detail["window_start_at"]) == datetime.fromisoformat(r["window_start_at"])
        assert detail["notified"] is r["notified"]


def test_whole_lifecycle(client: TestClient, scene: Scene, db: Session, registry: Registry) -> None:
    made = {r["owner_id"]: r for r in create(client, scene.investigator, scene.cameras, legal_basis="warrant")}
    ann_id, bob_id = made[str(scene.ann.owner_id)]["id"], made[str(scene.bob.owner_id)]["id"]

    # The owner sees their own request: who asks, why, for which window, from which of their cameras.
    mine = client.get("/v1/my/requests", headers=scene.ann.headers).json()
    assert [r["id"] for r in mine] == [ann_id]
    seen = client.get(f"/v1/my/requests/{ann_id}", headers=scene.ann.headers).json()
    assert (seen["agency_name"], seen["case_number"], seen["legal_basis"], seen["message"], seen["state"]) == (
        scene.agency.name, CASE, "warrant", MESSAGE, "pending")
    assert sorted(c["label"] for c in seen["cameras"]) == ["Ann driveway", "Ann front door"]
    assert "owner_id" not in seen

    # Staff list and read; a read is a custody step.
    listed = client.get("/v1/requests", headers=scene.investigator.headers, params={"case_number": CASE})
    assert {r["id"] for r in listed.json()} == {ann_id, bob_id}
    assert client.get("/v1/requests", headers=scene.investigator.headers,
                      params={"case_number": "OTHER-1"}).json() == []
    r = client.get(f"/v1/requests/{ann_id}", headers=scene.investigator.headers)
    assert r.status_code == 200 and r.json()["owner_id"] == str(scene.ann.owner_id)
    viewed = db.scalar(select(AuditEvent).where(AuditEvent.action == "request.viewed",
                                                AuditEvent.object_id == ann_id))
    assert viewed is not None and viewed.case_number == CASE and viewed.actor_id == scene.investigator.account.id

    # Ann accepts, cannot complete before a file is stored, then completes.
    r = client.post(f"/v1/my/requests/{ann_id}/accept", headers=scene.ann.headers)
    assert r.status_code == 200 and r.json()["state"] == "accepted" and r.json()["answered_at"]
    again = client.post(f"/v1/my/requests/{ann_id}/accept", headers=scene.ann.headers)
    assert again.status_code == 409 and again.json()["error"]["code"] == "request_not_pending"
    early = client.post(f"/v1/my/requests/{ann_id}/complete", headers=scene.ann.headers)
    assert early.status_code == 409 and early.json()["error"]["code"] == "no_evidence"
    store_file(db, ann_id)
    done = client.post(f"/v1/my/requests/{ann_id}/complete", headers=scene.ann.headers)
    assert done.status_code == 200 and done.json()["state"] == "fulfilled"
    late = client.post(f"/v1/my/requests/{ann_id}/decline", headers=scene.ann.headers)
    assert late.status_code == 409 and late.json()["error"]["code"] == "request_not_open"

    # Bob declines with a reason; staff see it.
    r = client.post(f"/v1/my/requests/{bob_id}/decline", headers=scene.bob.headers,
                    json={"reason": "The camera was off that night."})
    assert r.status_code == 200 and r.json()["state"] == "declined"
    staff = client.get(f"/v1/requests/{bob_id}", headers=scene.investigator.headers).json()
    assert staff["decline_reason"] == "The camera was off that night." and staff["closed_at"]
    assert client.post(f"/v1/my/requests/{bob_id}/accept", headers=scene.bob.headers).status_code == 409

    by_state = client.get("/v1/requests", headers=scene.investigator.headers, params={"state": "declined"}).json()
    assert [x["id"] for x in by_state] == [bob_id]
    assert actions(db, ann_id) == ["request.created", "request.viewed", "request.accepted", "request.fulfilled"]
    assert actions(db, bob_id) == ["request.created", "request.declined", "request.viewed"]
    trail = db.scalars(select(AuditEvent).where(AuditEvent.object_id.in_([ann_id, bob_id]))).all()
    assert {e.case_number for e in trail} == {CASE}
    assert {e.agency_id for e in trail} == {scene.agency.id}  # owners' answers are filed under the agency too
    declined = next(e for e in trail if e.action == "request.declined")
    assert declined.actor_role == "owner" and declined.reason == "The camera was off that night."


def test_decline_after_accepting_and_without_body(client: TestClient, scene: Scene) -> None:
    [ann] = create(client, scene.investigator, scene.ann_cams)
    assert client.post(f"/v1/my/requests/{ann['id']}/accept", headers=scene.ann.headers).status_code == 200
    r = client.post(f"/v1/my/requests/{ann['id']}/decline", headers=scene.ann.headers)
    assert r.status_code == 200, r.text
    assert (r.json()["state"], r.json()["decline_reason"]) == ("declined", None)
    long = client.post(f"/v1/my/requests/{ann['id']}/decline", headers=scene.ann.headers, json={"reason": "x" * 1001})
    assert long.status_code == 422 and long.json()["error"]["field"] == "reason"


def test_withdraw_tells_the_owner(client: TestClient, scene: Scene, db: Session, registry: Registry) -> None:
    [ann] = create(client, scene.investigator, scene.ann_cams)
    supervisor = b.make_staff(db, registry, scene.agency, Role.SUPERVISOR)
    r = client.post(f"/v1/requests/{ann['id']}/withdraw", headers=supervisor.headers)
    assert r.status_code == 200 and r.json()["state"] == "withdrawn" and r.json()["closed_at"]
    again = client.post(f"/v1/requests/{ann['id']}/withdraw", headers=supervisor.headers)
    assert again.status_code == 409 and again.json()["error"]["code"] == "request_not_open"
    note = db.scalar(select(Notification).where(Notification.kind == "request.withdrawn"))
    assert note is not None and registry.kit.cipher.decrypt(note.to_enc) == "ann@example.org"
    assert CASE in note.body and scene.agency.name in note.body
    answer = client.post(f"/v1/my/requests/{ann['id']}/accept", headers=scene.ann.headers)
    assert answer.status_code == 409
    event = db.scalar(select(AuditEvent).where(AuditEvent.action == "request.withdrawn"))
    assert event is not None and event.case_number == CASE and event.actor_id == supervisor.account.id


def test_shares(client: TestClient, scene: Scene, db: Session, registry: Registry) -> None:
    [ann] = create(client, scene.investigator, scene.ann_cams)
    other = b.make_agency(db, bounds=b.EAST)
    other_inv = b.make_staff(db, registry, other, Role.INVESTIGATOR)
    url = f"/v1/requests/{ann['id']}"
    assert client.get(url, headers=other_inv.headers).status_code == 404

    body = {"agency_id": str(other.id), "reason": "joint task force on porch thefts"}
    r = client.post(f"{url}/shares", headers=scene.investigator.headers, json=body)
    assert r.status_code == 201, r.text
    assert (r.json()["agency_name"], r.json()["revoked_at"]) == (other.name, None)
    dup = client.post(f"{url}/shares", headers=scene.investigator.headers, json=body)
    assert dup.status_code == 409 and dup.json()["error"]["code"] == "share_exists"
    assert client.get(url, headers=other_inv.headers).status_code == 200
    assert [x["id"] for x in client.get("/v1/requests", headers=other_inv.headers).json()] == [ann["id"]]
    shared_view = db.scalar(select(AuditEvent).where(AuditEvent.action == "request.viewed",
                                                     AuditEvent.actor_id == other_inv.account.id))
    assert shared_view is not None and shared_view.agency_id == other.id and shared_view.case_number == CASE

    revoke = client.delete(f"{url}/shares/{other.id}", headers=scene.investigator.headers)
    assert revoke.status_code == 204
    assert client.get(url, headers=other_inv.headers).status_code == 404
    assert client.get("/v1/requests", headers=other_inv.headers).json() == []
    gone = client.delete(f"{url}/shares/{other.id}", headers=scene.investigator.headers)
    assert gone.status_code == 404 and gone.json()["error"]["code"] == "share_not_found"
    listed = client.get(f"{url}/shares", headers=scene.investigator.headers).json()
    assert [(x["agency_id"], x["revoked_at"] is not None) for x in listed] == [(str(other.id), True)]

    renewed = client.post(f"{url}/shares", headers=scene.investigator.headers, json=body)  # shared again later
    assert renewed.status_code == 201 and renewed.json()["revoked_at"] is None
    assert client.get(url, headers=other_inv.headers).status_code == 200
    assert count(db, RequestShare) == 1

    shared = db.scalars(select(AuditEvent).where(AuditEvent.action.in_(["request.shared", "request.share_revoked"]))
                        .order_by(AuditEvent.id)).all()
    assert [e.action for e in shared] == ["request.shared", "request.share_revoked", "request.shared"]
    assert all(e.case_number == CASE and str(other.id) in (e.detail or "") for e in shared)


@pytest.mark.parametrize(("target", "field", "code"), [
    ("self", "agency_id", "invalid_input"),
    ("unknown", "agency_id", "agency_not_found"),
])
def test_share_refusals(client: TestClient, scene: Scene, db: Session, target: str, field: str, code: str) -> None:
    [ann] = create(client, scene.investigator, scene.ann_cams)
    agency_id = scene.agency.id if target == "self" else uuid.uuid4()
    r = client.post(f"/v1/requests/{ann['id']}/shares", headers=scene.investigator.headers,
                    json={"agency_id": str(agency_id), "reason": "joint task force"})
    assert r.status_code == 422, r.text
    assert (r.json()["error"]["field"], r.json()["error"]["code"]) == (field, code)
    assert count(db, RequestShare) == 0


T0 = utcnow()  # one reference moment, so two offsets of equal hours are equal


def _hours(h: float) -> str:
    return iso(T0 - timedelta(hours=h))


INVALID: list[tuple[str, dict[str, Any], str, str]] = [
    ("legal basis", {"legal_basis": "subpoena"}, "legal_basis", "invalid_input"),
    ("window reversed", {"window_start_at": _hours(2), "window_end_at": _hours(3)}, "window_end_at", "invalid_input"),
    ("window empty", {"window_start_at": _hours(2), "window_end_at": _hours(2)}, "window_end_at", "invalid_input"),
    ("window too long", {"window_start_at": _hours(80), "window_end_at": _hours(1)}, "window_end_at",
     "invalid_input"),
    ("window in future", {"window_start_at": _hours(1), "window_end_at": _hours(-2)}, "window_end_at",
     "invalid_input"),
    ("naive time", {"window_start_at": "2026-01-01T10:00:00"}, "window_start_at", "invalid_input"),
    ("due in past", {"due_at": _hours(1)}, "due_at", "invalid_input"),
    ("due too far", {"due_at": _hours(-24 * 91)}, "due_at", "invalid_input"),
    ("no cameras", {"camera_ids": []}, "camera_ids", "invalid_input"),
    ("not a uuid", {"camera_ids": ["../../etc/passwd"]}, "camera_ids.0", "invalid_input"),
    ("unknown camera", {"camera_ids": [str(uuid.UUID(int=7))]}, "camera_ids", "camera_not_found"),
    ("bad case number", {"case_number": "'; drop table"}, "case_number", "invalid_input"),
    ("NUL in message", {"message": "hello\x00"}, "message", "invalid_input"),
    ("empty message", {"message": ""}, "message", "invalid_input"),
    ("extra field", {"owner_id": str(uuid.uuid4())}, "owner_id", "invalid_input"),
]


@pytest.mark.parametrize(("change", "field", "code"), [pytest.param(c, f, k, id=n) for n, c, f, k in INVALID])
def test_invalid_requests_create_nothing(client: TestClient, scene: Scene, db: Session, change: dict[str, Any],
                                         field: str, code: str) -> None:
    before = (count(db, FootageRequest), count(db, Notification), count(db, AuditEvent))
    r = client.post("/v1/requests", headers=scene.investigator.headers, json=request_body(scene.cameras, **change))
    assert r.status_code == 422, r.text
    assert (r.json()["error"]["field"], r.json()["error"]["code"]) == (field, code)
    assert (count(db, FootageRequest), count(db, Notification), count(db, AuditEvent)) == before


def test_camera_cap(client: TestClient, scene: Scene, registry: Registry, db: Session,
                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(registry.settings.requests, "max_cameras", 2)
    r = client.post("/v1/requests", headers=scene.investigator.headers, json=request_body(scene.cameras))
    assert r.status_code == 422 and r.json()["error"]["field"] == "camera_ids"
    assert "at most 2" in r.json()["error"]["message"]
    assert count(db, FootageRequest) == 0
    twice = [*scene.ann_cams, scene.ann_cams[0]]  # the same camera twice counts once
    [made] = create(client, scene.investigator, twice)
    assert len(made["cameras"]) == 2


def test_other_agencies_cameras_need_an_agreement(client: TestClient, scene: Scene, db: Session,
                                                  registry: Registry) -> None:
    east = b.make_agency(db, bounds=b.EAST)
    east_owner = b.make_owner(db, registry)
    east_cam = b.make_camera(db, registry, east_owner, b.make_site(db, registry, east_owner, lon=-81.72, lat=28.55))
    assert east_cam.agency_id == east.id
    r = client.post("/v1/requests", headers=scene.investigator.headers, json=request_body([east_cam]))
    assert r.status_code == 422 and r.json()["error"]["code"] == "camera_not_found"
    assert str(east_cam.id) in r.json()["error"]["message"]
    assert count(db, FootageRequest) == 0
    db.add(SharingAgreement(grantor_agency_id=east.id, grantee_agency_id=scene.agency.id))
    db.commit()
    [made] = create(client, scene.investigator, [east_cam])
    assert made["agency_id"] == str(scene.agency.id) and made["owner_id"] == str(east_owner.owner_id)


def test_footage_past_retention_is_refused_with_the_reason(client: TestClient, scene: Scene, db: Session,
                                                             registry: Registry) -> None:
    site = db.get(Site, scene.ann_cams[0].site_id)
    assert site is not None
    weekly = b.make_camera(db, registry, scene.ann, site, retention_days=7, label="Weekly")
    none = b.make_camera(db, registry, scene.ann, site, retention_days=0, label="Live only")
    before = (count(db, FootageRequest), count(db, FootageRequestCamera), count(db, Notification),
              count(db, AuditEvent))
    ten_days = 24 * 10
    r = client.post("/v1/requests", headers=scene.investigator.headers,
                    json=request_body([*scene.cameras, weekly], hours_ago=ten_days))  # 30-day cameras are fine
    assert r.status_code == 422, r.text
    error = r.json()["error"]
    assert (error["code"], error["field"]) == ("footage_not_retained", "camera_ids")
    assert str(weekly.id) in error["message"] and "keeps 7 days" in error["message"]
    assert "is gone" in error["message"] and str(scene.ann_cams[0].id) not in error["message"]
    zero = client.post("/v1/requests", headers=scene.investigator.headers, json=request_body([none, weekly]))
    assert zero.status_code == 422 and "keeps no recordings" in zero.json()["error"]["message"]
    assert str(none.id) in zero.json()["error"]["message"] and str(weekly.id) not in zero.json()["error"]["message"]
    after = (count(db, FootageRequest), count(db, FootageRequestCamera), count(db, Notification),
             count(db, AuditEvent))
    assert after == before  # all or nothing
    [ok] = create(client, scene.investigator, [weekly], hours_ago=24 * 6)  # within the week: fine
    assert ok["cameras"][0]["label"] == "Weekly"


def test_integrator_with_scope_may_request(client: TestClient, scene: Scene, db: Session,
                                           registry: Registry) -> None:
    plain = b.make_staff(db, registry, scene.agency, Role.INTEGRATOR, scopes=["cameras:search"])
    r = client.post("/v1/requests", headers=plain.headers, json=request_body(scene.ann_cams))
    assert r.status_code == 403 and count(db, FootageRequest) == 0
    scoped = b.make_staff(db, registry, scene.agency, Role.INTEGRATOR, scopes=["cameras:search"])
    scoped.account.scopes = "requests:write"
    db.commit()
    scoped.token = b.token_for(db, registry, scoped.account)
    [made] = create(client, scoped, scene.ann_cams)
    assert made["created_by"] == str(scoped.account.id)
    assert client.get(f"/v1/requests/{made['id']}", headers=scoped.headers).status_code == 403


def test_paging(client: TestClient, scene: Scene) -> None:
    ids = [create(client, scene.investigator, [cam], case_number=f"PAGE-{n}")[0]["id"]
           for n, cam in enumerate(scene.cameras * 2)]
    seen: list[str] = []
    after: str | None = None
    while True:
        params: dict[str, Any] = {"limit": 4} | ({"after": after} if after else {})
        page = client.get("/v1/requests", headers=scene.investigator.headers, params=params).json()
        seen += [r["id"] for r in page]
        if len(page) < 4:
            break
        after = page[-1]["id"]
    assert sorted(seen) == sorted(ids) and len(seen) == len(ids)
    assert seen[0] == ids[-1]  # newest first
    bad = client.get("/v1/requests", headers=scene.investigator.headers, params={"after": str(uuid.uuid4())})
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "after"
    assert client.get("/v1/requests", headers=scene.investigator.headers, params={"limit": 0}).status_code == 422


def test_expiry(client: TestClient, scene: Scene, db: Session) -> None:
    due = utcnow() + timedelta(hours=1)
    made = {r["owner_id"]: r["id"] for r in create(client, scene.investigator, scene.cameras, due_at=iso(due))}
    ann_id, bob_id = made[str(scene.ann.owner_id)], made[str(scene.bob.owner_id)]
    [later] = create(client, scene.investigator, [scene.ann_cams[0]], case_number="LATER-1")  # default due
    assert client.post(f"/v1/my/requests/{ann_id}/accept", headers=scene.ann.headers).status_code == 200

    assert requests.expire_due(db, now=due - timedelta(seconds=1)) == 0
    assert requests.expire_due(db, now=due) == 2  # pending and accepted alike
    db.commit()
    assert requests.expire_due(db, now=due + timedelta(days=1)) == 0  # idempotent
    for rid in (ann_id, bob_id):
        row = db.get(FootageRequest, uuid.UUID(rid))
        assert row is not None and row.state == "expired" and row.closed_at == due
        event = db.scalar(select(AuditEvent).where(AuditEvent.action == "request.expired",
                                                   AuditEvent.object_id == rid))
        assert event is not None and event.actor_role == "system" and event.case_number == CASE
        assert event.agency_id == scene.agency.id
    assert db.get(FootageRequest, uuid.UUID(later["id"])).state == "pending"  # type: ignore[union-attr]
    r = client.post(f"/v1/my/requests/{bob_id}/decline", headers=scene.bob.headers)
    assert r.status_code == 409 and r.json()["error"]["code"] == "request_not_open"


def test_overdue_request_cannot_be_answered_before_the_sweep(client: TestClient, scene: Scene, db: Session) -> None:
    [ann] = create(client, scene.investigator, scene.ann_cams)
    row = db.get(FootageRequest, uuid.UUID(ann["id"]))
    assert row is not None
    row.due_at = utcnow() - timedelta(minutes=1)
    db.commit()
    r = client.post(f"/v1/my/requests/{ann['id']}/accept", headers=scene.ann.headers)
    assert r.status_code == 409 and r.json()["error"]["code"] == "request_expired"
    assert db.get(FootageRequest, row.id).state == "pending"  # type: ignore[union-attr]


def test_expire_due_does_not_commit(registry: Registry, scene: Scene, db: Session) -> None:
    request = b.make_request_row(db, scene.agency, scene.ann_cams[0])
    request.due_at = datetime.now(UTC) - timedelta(hours=1)
    db.commit()
    nested = db.begin_nested()
    assert requests.expire_due(db, now=utcnow()) == 1
    nested.rollback()  # the caller's rollback undoes the expiry and its audit row
    db.expire_all()
    assert db.get(FootageRequest, request.id).state == "pending"  # type: ignore[union-attr]
    assert db.scalar(select(AuditEvent).where(AuditEvent.action == "request.expired")) is None


def test_owner_leaving_closes_open_requests(client: TestClient, scene: Scene, db: Session) -> None:
    [first] = create(client, scene.investigator, scene.ann_cams)
    [second] = create(client, scene.investigator, scene.ann_cams, case_number="2026-RQ-0043")
    assert client.post(f"/v1/my/requests/{second['id']}/accept", headers=scene.ann.headers).status_code == 200
    store_file(db, second["id"])
    assert client.post(f"/v1/my/requests/{second['id']}/complete", headers=scene.ann.headers).status_code == 200
    [third] = create(client, scene.investigator, scene.ann_cams, case_number="2026-RQ-0044")
    assert client.post(f"/v1/my/requests/{third['id']}/decline", headers=scene.ann.headers,
                       json={"reason": "Ann is away until May"}).status_code == 200
    assert count(db, Notification) == 3
    assert client.delete("/v1/owners/me", headers=scene.ann.headers).status_code == 204
    db.expire_all()
    closed, kept = db.get(FootageRequest, uuid.UUID(first["id"])), db.get(FootageRequest, uuid.UUID(second["id"]))
    assert closed is not None and (closed.state, closed.owner_id) == ("closed", None) and closed.closed_at
    assert kept is not None and (kept.state, kept.owner_id) == ("fulfilled", None)
    assert count(db, Notification) == 0  # the queued mail with her address went with her
    event = db.scalar(select(AuditEvent).where(AuditEvent.action == "request.closed"))
    assert event is not None and event.object_id == first["id"] and event.case_number == CASE
    assert event.subject_owner_id is None and "ann" not in (event.detail or "").lower()
    staff = client.get(f"/v1/requests/{first['id']}", headers=scene.investigator.headers).json()
    assert staff["state"] == "closed" and staff["owner_id"] is None
    assert {c["label"] for c in staff["cameras"]} == {"Ann front door", "Ann driveway"}
    assert {c["camera_id"] for c in staff["cameras"]} == {None}  # the cameras are gone, their labels stay
    declined = db.get(FootageRequest, uuid.UUID(third["id"]))
    assert declined is not None and declined.state == "declined" and declined.decline_reason is None  # her words


def test_owner_access_feed_shows_who_asked_and_looked(client: TestClient, scene: Scene) -> None:
    [made] = create(client, scene.investigator, scene.ann_cams)
    assert client.get(f"/v1/requests/{made['id']}", headers=scene.investigator.headers).status_code == 200
    feed = client.get("/v1/owners/me/access", headers=scene.ann.headers).json()
    mine = [(e["action"], e["case_number"], e["object_id"]) for e in feed if e["action"].startswith("request.")]
    assert ("request.created", CASE, made["id"]) in mine and ("request.viewed", CASE, made["id"]) in mine
    others = client.get("/v1/owners/me/access", headers=scene.bob.headers).json()
    assert not [e for e in others if e["object_id"] == made["id"]]
