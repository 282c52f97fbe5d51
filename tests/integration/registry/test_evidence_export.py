"""Export a case's evidence, verify the bundle offline with the CLI, and see tampering caught; retention deletes
evidence and records it."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import zipfile
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from services.registry import cli
from services.registry.audit.models import AuditEvent
from services.registry.deps import Registry
from services.registry.evidence.models import EvidenceFile
from services.registry.evidence.service import delete_past_retention
from services.registry.evidence.storage import LocalStorage
from services.registry.evidence.verify import verify_bundle
from tests import builders as b
from tests.integration.registry.test_evidence_support import (
    World,
    begin,
    big_mp4,
    make_world,
    media,
    patch,
    storage,
    stored_files,
    upload,
)

pytestmark = pytest.mark.spatialite
__all__ = ["big_mp4", "media", "storage"]  # fixtures used by name below
CASE = "2026-000777"


def lookout_verify(bundle: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    """`lookout evidence verify` as a separate process with no registry settings at all (offline)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("REGISTRY_")}
    script = Path(sys.executable).parent / "lookout"
    return subprocess.run([str(script), "evidence", "verify", str(bundle)], capture_output=True, text=True, env=env,
                          cwd=cwd, timeout=60)


def export(client: TestClient, person: b.Person, path: Path, case: str = CASE) -> Path:
    answer = client.post(f"/v1/cases/{case}/export", headers=person.headers)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "application/zip"
    path.write_bytes(answer.content)
    return path


def case_with_files(client: TestClient, db: Session, registry: Registry, media: dict[str, bytes],
                    big_mp4: bytes) -> tuple[World, list[str]]:
    """Two requests of one case with three stored files, one unfinished upload, and another agency's same case."""
    world = make_world(db, registry, case_number=CASE)
    ids = [upload(client, world.owner, world.request.id, big_mp4, filename="front door.mp4")["upload_id"],
           upload(client, world.owner, world.request.id, media["jpg"], filename="still.jpg")["upload_id"]]
    second_owner = b.make_owner(db, registry)
    camera = b.make_camera(db, registry, second_owner, b.make_site(db, registry, second_owner))
    second = b.make_request_row(db, world.agency, camera, case_number=CASE, legal_basis="warrant")
    db.commit()
    ids.append(upload(client, second_owner, second.id, media["mkv"], filename="../../garage.mkv")["upload_id"])
    begin(client, second_owner, second.id, filename="unfinished.mp4", size=10**6)  # not evidence: not exported
    foreign = make_world(db, registry, case_number=CASE)  # the same case number at another agency
    upload(client, foreign.owner, foreign.request.id, media["png"])
    return world, ids


def test_export_then_verify_offline(client: TestClient, db: Session, registry: Registry, storage: LocalStorage,
                                    media: dict[str, bytes], big_mp4: bytes, tmp_path: Path) -> None:
    world, ids = case_with_files(client, db, registry, media, big_mp4)
    bundle = export(client, world.investigator, tmp_path / "bundle.zip")

    with zipfile.ZipFile(bundle) as z:
        names = sorted(z.namelist())
        manifest = json.loads(z.read("manifest.json"))
        assert z.read("manifest.sha256").decode().split()[0] == hashlib.sha256(z.read("manifest.json")).hexdigest()
        assert z.getinfo(f"files/{ids[0]}-front door.mp4").compress_type == zipfile.ZIP_STORED
        assert z.read(f"files/{ids[0]}-front door.mp4") == big_mp4
    assert names == sorted(["manifest.json", "manifest.sha256", "manifest.sig", f"files/{ids[0]}-front door.mp4",
                            f"files/{ids[1]}-still.jpg", f"files/{ids[2]}-garage.mkv"])
    assert manifest["case_number"] == CASE and manifest["agency"]["id"] == str(world.agency.id)
    assert manifest["exported_by"] == {"account_id": str(world.investigator.account.id), "role": "investigator"}
    by_id = {f["id"]: f for f in manifest["files"]}
    assert by_id[ids[0]]["sha256"] == hashlib.sha256(big_mp4).hexdigest()
    assert by_id[ids[0]]["legal_basis"] == "owner_consent" and by_id[ids[2]]["legal_basis"] == "warrant"
    assert by_id[ids[1]]["content_type"] == "image/jpeg"
    custody = by_id[ids[0]]["custody"]
    assert [e["action"] for e in custody] == ["request.accepted", "evidence.uploaded"]
    assert [e["action"] for e in by_id[ids[2]]["custody"]] == ["request.accepted", "evidence.uploaded"]
    # Each custody entry is a row of the hash-chained audit log, with that row's hash.
    for entry in custody:
        row = db.get(AuditEvent, entry["audit_id"])
        assert row is not None and row.hash == entry["hash"] and row.action == entry["action"]

    exported = db.scalars(select(AuditEvent).where(AuditEvent.action == "evidence.exported")).one()
    detail = json.loads(exported.detail or "{}")
    assert exported.case_number == CASE and detail["files"] == 3
    assert detail["manifest_sha256"] == verify_bundle(str(bundle)).manifest_sha256

    result = lookout_verify(bundle, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.splitlines()[-1].startswith("OK bundle intact: case 2026-000777, 3 files")
    assert sum(line.startswith("ok ") for line in result.stdout.splitlines()) == 3

    # The next export's custody trail includes the first export.
    again = export(client, world.supervisor, tmp_path / "again.zip")
    with zipfile.ZipFile(again) as z:
        trail = json.loads(z.read("manifest.json"))["files"][0]["custody"]
    assert trail[-1]["action"] == "evidence.exported" and trail[-1]["actor_id"] == str(world.investigator.account.id)


def rewrite(src: Path, dst: Path, change: dict[str, Any]) -> Path:
    """A copy of the bundle with members replaced (bytes), removed (None) or added."""
    with zipfile.ZipFile(src) as old, zipfile.ZipFile(dst, "w") as new:
        for info in old.infolist():
            if info.filename not in change:
                new.writestr(info, old.read(info))
        for name, data in change.items():
            if data is not None:
                new.writestr(name, data)
    return dst


def flip_in_place(src: Path, dst: Path, member: str) -> Path:
    """One byte of one stored member flipped inside the archive, as a disk error or a crude edit would."""
    raw = bytearray(src.read_bytes())
    with zipfile.ZipFile(src) as z:
        info = z.getinfo(member)
    name_len = int.from_bytes(raw[info.header_offset + 26:info.header_offset + 28], "little")
    extra_len = int.from_bytes(raw[info.header_offset + 28:info.header_offset + 30], "little")
    raw[info.header_offset + 30 + name_len + extra_len + 1000] ^= 0x01
    dst.write_bytes(bytes(raw))
    return dst


def test_tampering_is_caught_and_named(client: TestClient, db: Session, registry: Registry, storage: LocalStorage,
                                       media: dict[str, bytes], big_mp4: bytes, tmp_path: Path) -> None:
    world, ids = case_with_files(client, db, registry, media, big_mp4)
    bundle = export(client, world.investigator, tmp_path / "bundle.zip")
    video = f"files/{ids[0]}-front door.mp4"
    edited = bytearray(big_mp4)
    edited[5000] ^= 0xFF

    cases = {
        "one byte flipped in place": (flip_in_place(bundle, tmp_path / "flip.zip", video), video),
        "one byte changed, archive rebuilt": (rewrite(bundle, tmp_path / "edit.zip", {video: bytes(edited)}), video),
        "file removed": (rewrite(bundle, tmp_path / "gone.zip", {video: None}), video),
        "file added": (rewrite(bundle, tmp_path / "extra.zip", {"files/planted.mp4": media["mp4"]}),
                       "files/planted.mp4"),
        "escaping member": (rewrite(bundle, tmp_path / "escape.zip", {"../../etc/cron.d/x": b"x"}), "../../etc"),
    }
    with zipfile.ZipFile(bundle) as z:
        manifest = json.loads(z.read("manifest.json"))
    manifest["files"][1]["sha256"] = "0" * 64
    cases["manifest edited"] = (rewrite(bundle, tmp_path / "manifest.zip",
                                        {"manifest.json": json.dumps(manifest).encode()}), "manifest.json")
    runner = CliRunner()
    for label, (path, named) in cases.items():
        assert not verify_bundle(str(path)).ok, label
        result = runner.invoke(cli.app, ["evidence", "verify", str(path)])
        assert result.exit_code == 1, (label, result.output)
        failed = [line for line in result.output.splitlines() if line.startswith("FAILED")]
        assert any(named in line for line in failed), (label, result.output)
        assert result.output.splitlines()[-1].startswith("FAILED bundle not intact"), label
    # The real command (a process of its own, no settings) fails the same way; the intact bundle still passes.
    flipped = lookout_verify(cases["one byte flipped in place"][0], tmp_path)
    assert flipped.returncode == 1 and f"FAILED {video}: damaged in the archive" in flipped.stdout, flipped.stdout
    assert runner.invoke(cli.app, ["evidence", "verify", str(bundle)]).exit_code == 0
    broken = tmp_path / "not-a-zip.zip"
    broken.write_bytes(b"PK\x03\x04 not really")
    assert runner.invoke(cli.app, ["evidence", "verify", str(broken)]).exit_code == 1


def test_a_file_changed_at_rest_stops_the_export(client: TestClient, db: Session, registry: Registry,
                                                 storage: LocalStorage, media: dict[str, bytes]) -> None:
    world = make_world(db, registry, case_number=CASE)
    file_id = upload(client, world.owner, world.request.id, media["mp4"])["upload_id"]
    [key] = stored_files(storage)
    data = bytearray((storage.folder / key).read_bytes())
    data[-1] ^= 0x01
    (storage.folder / key).write_bytes(bytes(data))
    answer = client.post(f"/v1/cases/{CASE}/export", headers=world.investigator.headers)
    assert answer.status_code == 409 and answer.json()["error"]["code"] == "evidence_corrupt"
    assert file_id in answer.json()["error"]["message"]
    assert db.scalars(select(AuditEvent).where(AuditEvent.action == "evidence.exported")).all() == []


def test_export_of_a_case_without_visible_evidence(client: TestClient, db: Session, registry: Registry,
                                                   storage: LocalStorage) -> None:
    world = make_world(db, registry, case_number=CASE)
    nothing = client.post(f"/v1/cases/{CASE}/export", headers=world.investigator.headers)
    assert nothing.status_code == 404 and nothing.json()["error"]["code"] == "no_evidence"
    for bad in ("x", "a" * 65, "-starts-with-dash"):
        assert client.post(f"/v1/cases/{bad}/export", headers=world.investigator.headers).status_code == 422


def test_retention_deletes_the_file_and_records_it(client: TestClient, db: Session, registry: Registry,
                                                   storage: LocalStorage, media: dict[str, bytes]) -> None:
    world = make_world(db, registry, case_number=CASE)
    world.agency.evidence_retention_days = 30
    db.commit()
    file_id = upload(client, world.owner, world.request.id, media["mp4"])["upload_id"]
    row = db.scalars(select(EvidenceFile).where(EvidenceFile.request_id == world.request.id)).one()
    assert row.stored_at is not None and row.retain_until_at == row.stored_at + timedelta(days=30)
    other = make_world(db, registry)  # a file kept longer (the default retention) must survive the sweep
    upload(client, other.owner, other.request.id, media["jpg"])
    assert len(stored_files(storage)) == 2

    stored_at = row.stored_at
    assert delete_past_retention(db, storage=storage, now=stored_at + timedelta(days=29)) == 0
    assert delete_past_retention(db, storage=storage, now=stored_at + timedelta(days=30)) == 1
    db.commit()
    db.expire_all()
    assert stored_files(storage) == [db.scalars(select(EvidenceFile.storage_key)
                                                .where(EvidenceFile.request_id == other.request.id)).one()]
    row = db.scalars(select(EvidenceFile).where(EvidenceFile.request_id == world.request.id)).one()
    assert row.state == "deleted" and row.deleted_at == stored_at + timedelta(days=30)
    assert row.sha256 == hashlib.sha256(media["mp4"]).hexdigest() and row.size_bytes == len(media["mp4"])
    event = db.scalars(select(AuditEvent).where(AuditEvent.action == "evidence.deleted")).one()
    assert (event.object_id, event.actor_role, event.case_number, event.reason) == (file_id, "system", CASE,
                                                                                    "retention")
    assert event.agency_id == world.agency.id and event.subject_owner_id == world.owner.owner_id
    assert json.loads(event.detail or "{}")["sha256"] == row.sha256
    # Much later the other file's (default) retention ends too; the deleted file is no longer exported.
    assert delete_past_retention(db, storage=storage, now=stored_at + timedelta(days=400)) == 1
    assert stored_files(storage) == []
    assert client.post(f"/v1/cases/{CASE}/export", headers=world.investigator.headers).status_code == 404


def test_owner_cannot_send_bytes_past_a_stored_file(client: TestClient, db: Session, registry: Registry,
                                                    storage: LocalStorage, media: dict[str, bytes]) -> None:
    world = make_world(db, registry, case_number=CASE)
    done = upload(client, world.owner, world.request.id, media["png"])
    again = patch(client, world.owner, done["upload_id"], media["png"], 0)
    assert again.status_code == 409 and again.json()["error"]["code"] == "upload_complete"
