"""Owners upload real video files to the local store: streamed, hashed, resumable; hostile uploads leave nothing.

Every refused upload is checked twice: the answer names the problem, and the evidence folder and the evidence
table hold nothing of it afterwards.
"""

from __future__ import annotations

import hashlib
import io
import itertools
import zipfile
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from services.registry.audit.models import AuditEvent
from services.registry.database import utcnow
from services.registry.deps import Registry
from services.registry.evidence import service, uploads
from services.registry.evidence.models import EvidenceFile
from services.registry.evidence.storage import MIN_PART, LocalStorage, S3Storage
from services.registry.requests.models import FootageRequest
from tests import builders as b
from tests.integration.registry.test_evidence_support import (
    TYPES,
    begin,
    big_mp4,
    make_world,
    media,
    patch,
    s3_endpoint,
    s3_storage,
    storage,
    stored_files,
    upload,
)

pytestmark = pytest.mark.spatialite
__all__ = ["big_mp4", "media", "s3_endpoint", "s3_storage", "storage"]  # fixtures used by name below


def rows(db: Session, request_id: Any) -> list[EvidenceFile]:
    return list(db.scalars(select(EvidenceFile).where(EvidenceFile.request_id == request_id)))


def actions(db: Session, object_id: Any) -> list[str]:
    return list(db.scalars(select(AuditEvent.action).where(AuditEvent.object_id == str(object_id))
                           .order_by(AuditEvent.id)))


def assert_nothing_left(db: Session, storage: LocalStorage, request_id: Any) -> None:
    db.expire_all()
    assert stored_files(storage) == []
    assert rows(db, request_id) == []


def test_upload_link_download_round_trip(client: TestClient, db: Session, registry: Registry, storage: LocalStorage,
                                         big_mp4: bytes) -> None:
    world = make_world(db, registry)
    done = upload(client, world.owner, world.request.id, big_mp4, filename="porch camera 7pm.mp4")
    assert done["content_type"] == "video/mp4" and done["offset"] == len(big_mp4)
    # One object in the folder, named by a generated key, holding exactly the bytes sent.
    [key] = stored_files(storage)
    assert "porch" not in key and (storage.folder / key).read_bytes() == big_mp4

    db.expire_all()
    request = db.get(FootageRequest, world.request.id)
    assert request is not None and request.state == "accepted"  # the upload answered the pending request
    [row] = rows(db, world.request.id)
    assert row.state == "stored" and row.sha256 == hashlib.sha256(big_mp4).hexdigest()
    assert row.retain_until_at is not None and row.stored_at is not None
    assert row.retain_until_at - row.stored_at == timedelta(days=registry.settings.evidence.retention_days)
    assert actions(db, world.request.id)[-1] == "request.accepted"
    assert actions(db, row.id) == ["evidence.uploaded"]

    listed = client.get(f"/v1/requests/{world.request.id}/evidence", headers=world.investigator.headers)
    assert [(f["id"], f["sha256"], f["filename"]) for f in listed.json()] == [(str(row.id), row.sha256,
                                                                               "porch camera 7pm.mp4")]
    link = client.post(f"/v1/evidence/{row.id}/link", headers=world.investigator.headers)
    assert link.status_code == 200, link.text
    assert link.json()["url"].startswith("/v1/evidence/download/")
    got = client.get(link.json()["url"])  # no bearer: the link is the permission
    assert got.status_code == 200, got.text
    assert got.content == big_mp4 and hashlib.sha256(got.content).hexdigest() == row.sha256
    assert got.headers["x-content-sha256"] == row.sha256
    assert got.headers["content-type"] == "video/mp4"
    assert got.headers["content-disposition"].startswith('attachment; filename="porch camera 7pm.mp4"')
    assert got.headers["x-content-type-options"] == "nosniff"
    assert actions(db, row.id) == ["evidence.uploaded", "evidence.link_issued", "evidence.downloaded"]
    downloaded = db.scalars(select(AuditEvent).where(AuditEvent.action == "evidence.downloaded")).one()
    assert downloaded.actor_id == world.investigator.account.id and downloaded.case_number == "2026-000777"


@pytest.mark.parametrize("kind", sorted(TYPES))
def test_every_accepted_type_is_recognised_by_its_bytes(kind: str, client: TestClient, db: Session,
                                                        registry: Registry, storage: LocalStorage,
                                                        media: dict[str, bytes]) -> None:
    world = make_world(db, registry)
    done = upload(client, world.owner, world.request.id, media[kind], filename="no-extension")
    assert done["content_type"] == TYPES[kind]


def test_resumable_upload_in_three_chunks_survives_a_restart(client: TestClient, db: Session, registry: Registry,
                                                             storage: LocalStorage, big_mp4: bytes) -> None:
    world = make_world(db, registry, state="accepted")
    created = begin(client, world.owner, world.request.id, filename="clip.mp4", size=len(big_mp4))
    upload_id, third = created.json()["upload_id"], len(big_mp4) // 3
    assert created.json()["offset"] == 0

    first = patch(client, world.owner, upload_id, big_mp4[:third], 0)
    assert first.status_code == 200 and first.json()["state"] == "uploading"
    assert first.headers["upload-offset"] == str(third)
    uploads.forget_progress()  # a restart: the running hash is gone, the stored prefix must be read again
    head = client.head(f"/v1/my/uploads/{upload_id}", headers=world.owner.headers)
    assert head.headers["upload-offset"] == str(third) and head.headers["upload-length"] == str(len(big_mp4))
    second = patch(client, world.owner, upload_id, big_mp4[third:2 * third], third)
    assert second.json()["offset"] == 2 * third
    last = patch(client, world.owner, upload_id, big_mp4[2 * third:], 2 * third)
    assert last.status_code == 200, last.text
    assert last.json()["state"] == "stored"
    assert last.json()["sha256"] == hashlib.sha256(big_mp4).hexdigest()
    assert (storage.folder / stored_files(storage)[0]).read_bytes() == big_mp4
    # A stored file takes no more bytes and cannot be withdrawn by its uploader.
    assert patch(client, world.owner, upload_id, b"x", len(big_mp4)).json()["error"]["code"] == "upload_complete"
    assert client.delete(f"/v1/my/uploads/{upload_id}", headers=world.owner.headers).status_code == 409


def test_wrong_offset_is_refused_with_the_right_one_and_writes_nothing(client: TestClient, db: Session,
                                                                       registry: Registry, storage: LocalStorage,
                                                                       big_mp4: bytes) -> None:
    world = make_world(db, registry)
    upload_id = begin(client, world.owner, world.request.id, filename="a.mp4", size=len(big_mp4)).json()["upload_id"]
    ahead = patch(client, world.owner, upload_id, big_mp4[1000:2000], 1000)  # claims bytes it never sent
    assert ahead.status_code == 409 and ahead.json()["error"]["code"] == "offset_mismatch"
    assert ahead.headers["upload-offset"] == "0"
    assert stored_files(storage) == [] or (storage.folder / stored_files(storage)[0]).stat().st_size == 0

    assert patch(client, world.owner, upload_id, big_mp4[:5000], 0).status_code == 200
    behind = patch(client, world.owner, upload_id, big_mp4[:5000], 0)  # a replay of the first chunk
    assert behind.status_code == 409 and behind.headers["upload-offset"] == "5000"
    assert (storage.folder / stored_files(storage)[0]).read_bytes() == big_mp4[:5000]
    # Cancelled, it leaves nothing.
    assert client.delete(f"/v1/my/uploads/{upload_id}", headers=world.owner.headers).status_code == 204
    assert_nothing_left(db, storage, world.request.id)


def _zip_bytes() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("payload.txt", "not a video" * 500)
    return buf.getvalue()


HOSTILE = {
    "html named .mp4": b"<!doctype html><html><script>alert(1)</script></html>" + b" " * 5000,
    "zip named .mp4": _zip_bytes(),
    "exe named .mp4": b"MZ\x90\x00\x03\x00\x00\x00" + b"\x00" * 6000,
    "elf named .mp4": b"\x7fELF\x02\x01\x01" + b"\x00" * 6000,
    "pdf named .mp4": b"%PDF-1.7\n" + b"0" * 6000,
    "audio-only m4a": b"\x00\x00\x00\x18ftypM4A \x00\x00\x00\x00M4A isom" + b"\x00" * 6000,
    "still image heic": b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + b"\x00" * 6000,
}


@pytest.mark.parametrize("label", sorted(HOSTILE))
def test_disguised_files_are_refused_by_content(label: str, client: TestClient, db: Session, registry: Registry,
                                                storage: LocalStorage) -> None:
    world = make_world(db, registry)
    data = HOSTILE[label]
    upload_id = begin(client, world.owner, world.request.id, filename="clip.mp4", size=len(data)).json()["upload_id"]
    headers = {"Content-Type": "video/mp4"}  # the client's claim is ignored too
    refused = client.patch(f"/v1/my/uploads/{upload_id}", content=data,
                           headers={**world.owner.headers, **headers, "Upload-Offset": "0"})
    assert refused.status_code == 415, refused.text
    assert refused.json()["error"]["code"] == "unsupported_media_type"
    assert_nothing_left(db, storage, world.request.id)
    refusal = db.scalars(select(AuditEvent).where(AuditEvent.action == "evidence.upload_refused")).one()
    assert refusal.reason == "unsupported_media_type" and refusal.case_number == world.request.case_number
    assert client.head(f"/v1/my/uploads/{upload_id}", headers=world.owner.headers).status_code == 404


def test_a_disguise_after_a_valid_start_cannot_sneak_in_later(client: TestClient, db: Session, registry: Registry,
                                                              storage: LocalStorage, media: dict[str, bytes]) -> None:
    # The type is judged once, on the first bytes; a file that starts as HTML never gets a first chunk stored.
    world = make_world(db, registry)
    data = HOSTILE["html named .mp4"] + media["mp4"]
    upload_id = begin(client, world.owner, world.request.id, filename="x.mp4", size=len(data)).json()["upload_id"]
    assert patch(client, world.owner, upload_id, data[:100], 0).status_code == 415
    assert_nothing_left(db, storage, world.request.id)


def test_over_the_cap_declared_and_actual(client: TestClient, db: Session, registry: Registry,
                                          storage: LocalStorage, media: dict[str, bytes],
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    world = make_world(db, registry)
    monkeypatch.setattr(registry.settings.evidence, "max_upload_bytes", 4000)
    declared = begin(client, world.owner, world.request.id, filename="big.mp4", size=4001)
    assert declared.status_code == 413 and declared.json()["error"]["code"] == "upload_too_large"
    assert declared.json()["error"]["field"] == "size_bytes"
    assert_nothing_left(db, storage, world.request.id)

    # Declares 3000 bytes, sends more: with a Content-Length (refused before reading) and without (while streaming).
    monkeypatch.setattr(registry.settings.evidence, "max_upload_bytes", 10**6)
    for body in (media["mp4"], iter([media["mp4"][:2000], media["mp4"][2000:]])):
        upload_id = begin(client, world.owner, world.request.id, filename="lie.mp4", size=3000).json()["upload_id"]
        lied = patch(client, world.owner, upload_id, body, 0)  # type: ignore[arg-type]
        assert lied.status_code == 413, lied.text
        assert "declared size" in lied.json()["error"]["message"]
        assert_nothing_left(db, storage, world.request.id)
    assert db.scalar(select(func.count()).select_from(AuditEvent)
                     .where(AuditEvent.action == "evidence.upload_refused")) == 3


def test_truncated_upload_is_not_evidence_and_is_purged(client: TestClient, db: Session, registry: Registry,
                                                        storage: LocalStorage, big_mp4: bytes) -> None:
    world = make_world(db, registry)
    upload_id = begin(client, world.owner, world.request.id, filename="cut.mp4", size=len(big_mp4)).json()["upload_id"]
    assert patch(client, world.owner, upload_id, big_mp4[:len(big_mp4) // 2], 0).status_code == 200
    # The owner's view shows it unfinished; staff see no evidence at all.
    mine = client.get(f"/v1/my/requests/{world.request.id}/evidence", headers=world.owner.headers).json()
    assert [(f["state"], f["sha256"]) for f in mine] == [("uploading", None)]
    assert client.get(f"/v1/requests/{world.request.id}/evidence", headers=world.investigator.headers).json() == []
    assert client.post(f"/v1/evidence/{upload_id}/link", headers=world.investigator.headers).status_code == 409

    now = utcnow()
    idle = registry.settings.evidence.upload_idle_s
    assert service.purge_stale_uploads(db, storage=storage, now=now, idle_s=idle) == 0  # not idle long enough
    assert service.purge_stale_uploads(db, storage=storage, now=now + timedelta(seconds=idle + 1), idle_s=idle) == 1
    db.commit()
    assert_nothing_left(db, storage, world.request.id)
    assert "evidence.upload_refused" in actions(db, upload_id)


@pytest.mark.parametrize(("raw", "shown"), [
    ("../../etc/passwd", "passwd"),
    ("C:\\x\\..\\y.mp4", "y.mp4"),
    ("clip\x00.mp4", "clip.mp4"),
    ("/var/lib/lookout/evidence/../../../root/.ssh/authorized_keys", "authorized_keys"),
    ("evil\u202egpj.mp4", "evilgpj.mp4"),
    ("NUL.mp4", "_NUL.mp4"),
    ("..", None),
    ("\x00\x01/", None),
])
def test_path_tricks_in_names_never_reach_the_filesystem(raw: str, shown: str | None, client: TestClient,
                                                         db: Session, registry: Registry, storage: LocalStorage,
                                                         media: dict[str, bytes]) -> None:
    world = make_world(db, registry)
    if shown is None:
        refused = begin(client, world.owner, world.request.id, filename=raw, size=len(media["mp4"]))
        assert refused.status_code == 422 and refused.json()["error"]["code"] == "invalid_filename"
        assert_nothing_left(db, storage, world.request.id)
        return
    upload(client, world.owner, world.request.id, media["mp4"], filename=raw)
    [row] = rows(db, world.request.id)
    assert row.filename == shown
    assert stored_files(storage) == [row.storage_key]  # the object is named by its key, nothing else
    assert list(storage.folder.parent.iterdir()) == [storage.folder]  # nothing written beside the folder


def test_withdrawn_request_stops_an_unfinished_upload(client: TestClient, db: Session, registry: Registry,
                                                      storage: LocalStorage, big_mp4: bytes) -> None:
    world = make_world(db, registry)
    upload_id = begin(client, world.owner, world.request.id, filename="a.mp4", size=len(big_mp4)).json()["upload_id"]
    assert patch(client, world.owner, upload_id, big_mp4[:10000], 0).status_code == 200
    world.request.state = "withdrawn"
    db.commit()
    refused = patch(client, world.owner, upload_id, big_mp4[10000:20000], 10000)
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "request_closed"
    assert_nothing_left(db, storage, world.request.id)
    again = begin(client, world.owner, world.request.id, filename="b.mp4", size=10)
    assert again.status_code == 409 and again.json()["error"]["code"] == "request_not_open"


def test_uploads_belong_to_their_owner(client: TestClient, db: Session, registry: Registry, storage: LocalStorage,
                                       media: dict[str, bytes]) -> None:
    world = make_world(db, registry)
    stranger = b.make_owner(db, registry)
    assert begin(client, stranger, world.request.id, filename="a.mp4", size=10).status_code == 404
    upload_id = begin(client, world.owner, world.request.id, filename="a.mp4",
                      size=len(media["mp4"])).json()["upload_id"]
    assert patch(client, stranger, upload_id, media["mp4"], 0).status_code == 404
    assert client.head(f"/v1/my/uploads/{upload_id}", headers=stranger.headers).status_code == 404
    assert client.delete(f"/v1/my/uploads/{upload_id}", headers=stranger.headers).status_code == 404
    assert client.get(f"/v1/my/requests/{world.request.id}/evidence", headers=stranger.headers).status_code == 404
    # Staff cannot upload on the owner's behalf.
    assert begin(client, world.investigator, world.request.id, filename="a.mp4", size=10).status_code == 403
    assert patch(client, world.owner, upload_id, media["mp4"], 0).json()["state"] == "stored"


def test_missing_or_bad_upload_offset_is_a_clear_422(client: TestClient, db: Session, registry: Registry,
                                                     storage: LocalStorage) -> None:
    world = make_world(db, registry)
    upload_id = begin(client, world.owner, world.request.id, filename="a.mp4", size=100).json()["upload_id"]
    for headers in ({}, {"Upload-Offset": "-1"}, {"Upload-Offset": "abc"}):
        answer = client.patch(f"/v1/my/uploads/{upload_id}", content=b"x", headers={**world.owner.headers, **headers})
        assert answer.status_code == 422 and answer.json()["error"]["field"].endswith("Upload-Offset"), answer.text
    assert begin(client, world.owner, world.request.id, filename="a.mp4", size=0).status_code == 422


def test_resumable_upload_to_s3_with_a_restart(client: TestClient, db: Session, registry: Registry,
                                               s3_storage: S3Storage, media: dict[str, bytes]) -> None:
    # A real MP4's first bytes, then enough more to need three 5 MiB parts on S3.
    data = media["mp4"] + hashlib.sha256(b"seed").digest() * ((2 * MIN_PART + 123_457) // 32)
    world = make_world(db, registry)
    upload_id = begin(client, world.owner, world.request.id, filename="s3.mp4", size=len(data)).json()["upload_id"]
    cuts = [0, MIN_PART // 3, MIN_PART + 99, len(data)]
    for start, end in itertools.pairwise(cuts):
        answer = patch(client, world.owner, upload_id, data[start:end], start)
        assert answer.status_code == 200, answer.text
        uploads.forget_progress()  # every PATCH lands on a "restarted" server: the prefix is re-read from S3
    assert answer.json()["sha256"] == hashlib.sha256(data).hexdigest()
    [key] = s3_storage.stored_keys()
    listed = s3_storage.client.list_objects_v2(Bucket=s3_storage.bucket, Prefix=s3_storage.prefix)["Contents"]
    assert [(o["Key"], o["Size"]) for o in listed] == [(f"{s3_storage.prefix}{key}", len(data))]  # parts composed
    url = client.post(f"/v1/evidence/{upload_id}/link", headers=world.investigator.headers).json()["url"]
    assert hashlib.sha256(client.get(url).content).hexdigest() == hashlib.sha256(data).hexdigest()

    # Refused and cancelled uploads leave nothing in the bucket either.
    hostile = begin(client, world.owner, world.request.id, filename="x.mp4", size=6000).json()["upload_id"]
    assert patch(client, world.owner, hostile, HOSTILE["html named .mp4"][:6000], 0).status_code == 415
    cancelled = begin(client, world.owner, world.request.id, filename="y.mp4", size=len(data)).json()["upload_id"]
    assert patch(client, world.owner, cancelled, data[:MIN_PART + 5], 0).status_code == 200
    assert client.delete(f"/v1/my/uploads/{cancelled}", headers=world.owner.headers).status_code == 204
    assert s3_storage.stored_keys() == [key]
