"""Shared pieces of the evidence tests (no tests here): real media files made by ffmpeg, a per-test storage folder,
a world with an agency, its staff, an owner, a camera and a footage request, and an upload helper."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from services.common.auth import Role
from services.registry.agencies.models import Agency
from services.registry.deps import Registry
from services.registry.evidence.storage import MIN_PART, LocalStorage, S3Storage
from services.registry.requests.models import FootageRequest
from services.registry.settings import EvidenceSettings
from tests import builders as b
from tests.support.s3 import moto_s3

# ffmpeg arguments per file kind: one second of the test pattern, tiny, every container evidence accepts.
MEDIA = {"mp4": ["-pix_fmt", "yuv420p"], "mov": ["-pix_fmt", "yuv420p"], "mkv": [], "webm": [], "avi": [],
         "ts": [], "jpg": ["-frames:v", "1"], "png": ["-frames:v", "1"]}
TYPES = {"mp4": "video/mp4", "mov": "video/quicktime", "mkv": "video/x-matroska", "webm": "video/webm",
         "avi": "video/x-msvideo", "ts": "video/mp2t", "jpg": "image/jpeg", "png": "image/png"}


def make_media(folder: Path, kind: str, *, seconds: float = 1, size: str = "160x120") -> Path:
    """A real media file of that kind, made by ffmpeg from its test pattern."""
    assert shutil.which("ffmpeg"), "ffmpeg is needed for the evidence tests (make system-test installs it)"
    out = folder / f"clip-{seconds}-{size}.{kind}"
    if not out.exists():
        subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", f"testsrc=d={seconds}:s={size}:r=10",
                        *MEDIA[kind], str(out)], check=True, timeout=120)
    return out


@pytest.fixture(scope="session")
def media(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    """The bytes of one small real file of every accepted kind."""
    folder = tmp_path_factory.mktemp("media")
    return {kind: make_media(folder, kind).read_bytes() for kind in MEDIA}


@pytest.fixture(scope="session")
def big_mp4(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """A real MP4 of a few hundred kilobytes (several PATCH chunks)."""
    return make_media(tmp_path_factory.mktemp("media-big"), "mp4", seconds=6, size="640x480").read_bytes()


@pytest.fixture
def storage(registry: Registry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> LocalStorage:
    """This test's own evidence folder, put in the shared registry for the test's duration."""
    local = LocalStorage(tmp_path / "evidence")
    monkeypatch.setattr(registry, "storage", local)
    return local


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """moto's S3 as a real HTTP server on loopback, with the evidence bucket."""
    with moto_s3() as endpoint:
        yield endpoint


@pytest.fixture
def s3_storage(s3_endpoint: str, registry: Registry, monkeypatch: pytest.MonkeyPatch) -> S3Storage:
    """An S3 store (5 MiB parts) on a prefix of its own, put in the shared registry for the test's duration."""
    settings = EvidenceSettings(storage="s3", s3_endpoint_url=s3_endpoint, s3_access_key="test",
                                s3_secret_key="test", s3_prefix=f"{uuid.uuid4().hex}/")
    store = S3Storage(settings, part_bytes=MIN_PART)
    store.client.create_bucket(Bucket=settings.s3_bucket)
    monkeypatch.setattr(registry, "storage", store)
    return store


def stored_files(storage: LocalStorage) -> list[str]:
    """Every file in the evidence folder (the folder itself may not exist yet)."""
    folder = storage.folder
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


@dataclass
class World:
    """An agency with an investigator, a supervisor, other staff, an owner with a camera, and a request."""

    db: Session
    registry: Registry
    agency: Agency
    investigator: b.Person
    supervisor: b.Person
    owner: b.Person
    request: FootageRequest

    def staff(self, role: Role, agency: Agency | None = None) -> b.Person:
        """Another staff member of this (or another) agency."""
        return b.make_staff(self.db, self.registry, agency or self.agency, role)


def make_world(db: Session, registry: Registry, *, case_number: str = "2026-000777", state: str = "pending") -> World:
    """A fresh agency, staff, owner, camera and a footage request to that owner."""
    agency = b.make_agency(db, bounds=b.WEST)
    investigator = b.make_staff(db, registry, agency, Role.INVESTIGATOR)
    supervisor = b.make_staff(db, registry, agency, Role.SUPERVISOR)
    owner = b.make_owner(db, registry)
    camera = b.make_camera(db, registry, owner, b.make_site(db, registry, owner))
    request = b.make_request_row(db, agency, camera, case_number=case_number, state=state, created_by=investigator)
    db.commit()
    return World(db, registry, agency, investigator, supervisor, owner, request)


def begin(client: TestClient, owner: b.Person, request_id: Any, *, filename: str, size: int) -> Any:
    """POST the upload; the response."""
    return client.post(f"/v1/my/requests/{request_id}/uploads", headers=owner.headers,
                       json={"filename": filename, "size_bytes": size})


def patch(client: TestClient, owner: b.Person, upload_id: str, data: bytes, offset: int, **kw: Any) -> Any:
    """PATCH bytes at an offset; the response."""
    headers = {**owner.headers, "Upload-Offset": str(offset), "Content-Type": "application/octet-stream"}
    return client.patch(f"/v1/my/uploads/{upload_id}", headers=headers, content=data, **kw)


def upload(client: TestClient, owner: b.Person, request_id: Any, data: bytes, *, filename: str = "clip.mp4",
           pieces: int = 1) -> dict[str, Any]:
    """A whole upload in `pieces` PATCHes; the final state (asserts each step succeeded)."""
    created = begin(client, owner, request_id, filename=filename, size=len(data))
    assert created.status_code == 201, created.text
    upload_id, step = created.json()["upload_id"], -(-len(data) // pieces)
    answer: dict[str, Any] = {}
    for start in range(0, len(data), step):
        response = patch(client, owner, upload_id, data[start:start + step], start)
        assert response.status_code == 200, response.text
        answer = response.json()
    assert answer["state"] == "stored" and answer["sha256"] == hashlib.sha256(data).hexdigest(), answer
    return answer
