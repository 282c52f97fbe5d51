"""The whole footage-request workflow on real parts, start to finish.

The registry runs as a uvicorn process on its own PostGIS database, with its notification sender mailing a
real SMTP server (aiosmtpd) and evidence written to a real local folder. An investigator asks two owners for
footage, both get an email, one uploads a video in chunks and the other declines; the investigator downloads
through a signed link and exports the case; `lookout evidence verify` checks the bundle offline and catches a
changed byte. Then time moves on: an unanswered request expires, the evidence passes its retention and is
deleted, and the transparency report counts it all.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import subprocess
import sys
import uuid
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from services.common.auth import Role
from services.registry import maintenance
from services.registry.app import build_registry
from services.registry.audit.models import AuditEvent
from services.registry.deps import Registry
from services.registry.evidence.models import EvidenceFile
from services.registry.migrate import upgrade
from services.registry.notify.models import Notification
from services.registry.settings import EvidenceSettings, MailSettings
from tests import builders as b
from tests.conftest import registry_settings
from tests.support.pgcluster import PgCluster
from tests.support.services import ROOT, ServiceProcess, wait_for
from tests.support.smtp import SmtpServer

CASE = "2026-WF-0042"


@dataclass
class Stack:
    """The running registry and what the test needs to act as each person."""

    registry: Registry
    service: ServiceProcess
    smtp: SmtpServer
    evidence: Path
    people: dict[str, b.Person]
    cameras: dict[str, Any]
    west: Any
    video: bytes

    def call(self, who: str, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """One API call as `who` (a key of people)."""
        headers = {**(self.people[who].headers if who else {}), **kwargs.pop("headers", {})}
        return httpx.request(method, f"{self.service.url}{path}", headers=headers, timeout=30, **kwargs)


def _video(folder: Path) -> bytes:
    """A real one-second H.264 MP4 made by ffmpeg."""
    out = folder / "clip.mp4"
    subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-f", "lavfi", "-i", "testsrc=d=1:s=320x240:r=10",
                    "-c:v", "libx264", "-pix_fmt", "yuv420p", str(out)], check=True, timeout=60)
    return out.read_bytes()


def _env(registry: Registry, smtp: SmtpServer, evidence: Path) -> dict[str, str]:
    sec = registry.settings.security
    return {"REGISTRY_DATABASE_URL": registry.settings.database.url, "REGISTRY_SIGNING_KEY_FILE": sec.signing_key_file,
            "REGISTRY_DATA_KEYS": sec.data_keys, "REGISTRY_ARGON2_TIME_COST": "1", "REGISTRY_ARGON2_MEMORY_KIB": "8192",
            "REGISTRY_MAIL_BACKEND": "smtp", "REGISTRY_MAIL_PORT": str(smtp.port),
            "REGISTRY_MAIL_FROM_ADDRESS": "lookout@police.example", "REGISTRY_MAIL_POLL_INTERVAL_S": "0.1",
            "REGISTRY_MAIL_FIRST_RETRY_S": "2",
            "REGISTRY_EVIDENCE_FOLDER": str(evidence), "REGISTRY_EVIDENCE_SWEEP_INTERVAL_S": "3600",
            "REGISTRY_EVIDENCE_RETENTION_DAYS": "30", "LOOKOUT_LOG_LEVEL": "WARNING"}


def _world(registry: Registry) -> tuple[dict[str, b.Person], dict[str, Any], Any]:
    with Session(registry.engine, expire_on_commit=False) as db:
        west = b.make_agency(db, bounds=b.WEST)
        east = b.make_agency(db, bounds=b.EAST)
        people = {"investigator": b.make_staff(db, registry, west, Role.INVESTIGATOR),
                  "supervisor": b.make_staff(db, registry, west, Role.SUPERVISOR),
                  "east": b.make_staff(db, registry, east, Role.INVESTIGATOR),
                  "alice": b.make_owner(db, registry, email="alice@example.org", name="Alice"),
                  "bob": b.make_owner(db, registry, email="bob@example.org", name="Bob"),
                  "carol": b.make_owner(db, registry, email="carol@example.org", name="Carol")}
        cameras = {}
        for owner, labels in (("alice", ("Porch", "Driveway")), ("bob", ("Shop door",)), ("carol", ("Gate",))):
            site = b.make_site(db, registry, people[owner])
            for label in labels:
                cameras[label] = b.make_camera(db, registry, people[owner], site, label=label, retention_days=30)
        db.commit()
    return people, cameras, west


@pytest.fixture(scope="module")
def stack(pg_cluster: PgCluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """A registry process with its database, SMTP server and evidence folder, and the people of the story."""
    folder = tmp_path_factory.mktemp("workflow")
    evidence = folder / "evidence"
    settings = registry_settings(pg_cluster.create_database("workflow"), folder)
    smtp = SmtpServer().start()
    settings.mail = MailSettings(backend="smtp", port=smtp.port)
    settings.evidence = EvidenceSettings(folder=str(evidence), retention_days=30)
    registry = build_registry(settings)
    upgrade(registry.engine)
    people, cameras, west = _world(registry)
    service = ServiceProcess("services.registry.app:create_app", _env(registry, smtp, evidence),
                             folder / "registry.log", name="registry").start()
    try:
        yield Stack(registry, service, smtp, evidence, people, cameras, west, _video(folder))
    finally:
        service.stop()
        smtp.stop()
        registry.engine.dispose()


def _ask(stack: Stack, labels: list[str], **extra: Any) -> list[dict[str, Any]]:
    now = datetime.now(UTC)
    body = {"case_number": CASE, "legal_basis": "owner_consent", "message": "A burglary on your street last night.",
            "window_start_at": (now - timedelta(hours=10)).isoformat(),
            "window_end_at": (now - timedelta(hours=9)).isoformat(),
            "camera_ids": [str(stack.cameras[label].id) for label in labels], **extra}
    made = stack.call("investigator", "POST", "/v1/requests", json=body)
    assert made.status_code == 201, made.text
    return list(made.json()["requests"])


def _upload(stack: Stack, who: str, request_id: str, data: bytes, chunks: int = 3) -> dict[str, Any]:
    began = stack.call(who, "POST", f"/v1/my/requests/{request_id}/uploads",
                       json={"filename": "../../porch camera.mp4", "size_bytes": len(data)})
    assert began.status_code == 201, began.text
    upload, step = began.json(), -(-(len(data) - 4096) // (chunks - 1))
    cuts = [0, *range(4096, len(data), step), len(data)]  # the first chunk carries the 4 KiB the type is judged on
    for start, end in itertools.pairwise(cuts):
        part = stack.call(who, "PATCH", f"/v1/my/uploads/{upload['upload_id']}", content=data[start:end],
                          headers={"Upload-Offset": str(start), "Content-Type": "application/octet-stream"})
        assert part.status_code == 200, part.text
    return dict(part.json())


def _actions(stack: Stack) -> list[str]:
    with Session(stack.registry.engine) as db:
        return list(db.scalars(select(AuditEvent.action).where(AuditEvent.case_number == CASE)
                               .order_by(AuditEvent.id)))


def test_request_to_verified_bundle_then_expiry_and_retention(stack: Stack, tmp_path: Path) -> None:
    requests = _ask(stack, ["Porch", "Driveway", "Shop door"])
    by_owner = {str(r["owner_id"]): r for r in requests}
    alice, bob = (by_owner[str(stack.people[p].owner_id)] for p in ("alice", "bob"))
    assert sorted(c["label"] for c in alice["cameras"]) == ["Driveway", "Porch"] and alice["notified"]

    # Each owner gets one email, through the real SMTP server, pointing at their own request only.
    mails = {m.message["To"]: m.message for m in stack.smtp.wait_for(2)}
    assert set(mails) == {"alice@example.org", "bob@example.org"}
    alice_mail = mails["alice@example.org"].get_content()
    assert CASE in alice_mail and f"/v1/my/requests/{alice['id']}" in alice_mail and bob["id"] not in alice_mail

    # Bob declines; Alice accepts, uploads the clip in three chunks and says she is done.
    declined = stack.call("bob", "POST", f"/v1/my/requests/{bob['id']}/decline", json={"reason": "no recording"})
    assert declined.json()["state"] == "declined"
    assert stack.call("alice", "POST", f"/v1/my/requests/{alice['id']}/accept").json()["state"] == "accepted"
    stored = _upload(stack, "alice", alice["id"], stack.video)
    assert stored["state"] == "stored" and stored["content_type"] == "video/mp4"
    assert stack.call("alice", "POST", f"/v1/my/requests/{alice['id']}/complete").json()["state"] == "fulfilled"

    # The investigator opens the request, lists its evidence, and downloads the very bytes Alice sent.
    assert stack.call("investigator", "GET", f"/v1/requests/{alice['id']}").json()["state"] == "fulfilled"
    files = stack.call("investigator", "GET", f"/v1/requests/{alice['id']}/evidence").json()
    assert [f["sha256"] for f in files] == [hashlib.sha256(stack.video).hexdigest()]
    assert "/" not in files[0]["filename"] and ".." not in files[0]["filename"]
    link = stack.call("investigator", "POST", f"/v1/evidence/{files[0]['id']}/link").json()
    download = stack.call("", "GET", link["url"])
    assert download.status_code == 200 and download.content == stack.video
    assert stack.call("east", "GET", f"/v1/requests/{alice['id']}/evidence").status_code == 404

    # The case exported as one archive verifies offline; one changed byte in a file does not.
    bundle = tmp_path / "bundle.zip"
    exported = stack.call("supervisor", "POST", f"/v1/cases/{CASE}/export")
    assert exported.status_code == 200, exported.text
    bundle.write_bytes(exported.content)
    jwks = tmp_path / "jwks.json"
    jwks.write_text(stack.call("", "GET", "/.well-known/jwks.json").text)
    checked = _verify(bundle, "--jwks", str(jwks))
    assert checked.returncode == 0 and "OK signature" in checked.stdout, checked.stdout + checked.stderr
    tampered = _tamper(bundle, tmp_path / "tampered.zip")
    failed = _verify(tampered)
    assert failed.returncode == 1 and files[0]["id"] in failed.stdout + failed.stderr
    # A careful forger also rewrites the manifest and its hash: the files check out, the registry's signature not.
    forged = _tamper(bundle, tmp_path / "forged.zip", rewrite_manifest=True)
    assert _verify(forged).returncode == 0
    refused = _verify(forged, "--jwks", str(jwks))
    assert refused.returncode == 1 and "manifest was replaced" in refused.stdout

    # Carol never answers: past the due date her request expires; 31 days on, Alice's video is deleted.
    carol = _ask(stack, ["Gate"], due_at=(datetime.now(UTC) + timedelta(days=1)).isoformat())[0]
    stack.smtp.wait_for(3)
    report = maintenance.sweep(stack.registry, now=datetime.now(UTC) + timedelta(days=31))
    assert (report.requests_expired, report.evidence_deleted) == (1, 1)
    assert stack.call("carol", "GET", f"/v1/my/requests/{carol['id']}").json()["state"] == "expired"
    with Session(stack.registry.engine) as db:
        gone = db.get(EvidenceFile, files[0]["id"])
        assert gone is not None and gone.state == "deleted" and gone.sha256 == files[0]["sha256"]
    assert not [p for p in stack.evidence.rglob("*") if p.is_file()]
    assert stack.call("", "GET", link["url"]).status_code in (403, 410)  # expired or deleted: either way, gone

    _check_custody_and_counts(stack)


def _check_custody_and_counts(stack: Stack) -> None:
    actions = _actions(stack)
    for step in ("request.created", "request.declined", "request.accepted", "evidence.uploaded", "request.viewed",
                 "evidence.link_issued", "evidence.downloaded", "evidence.exported", "request.expired",
                 "evidence.deleted"):
        assert step in actions, f"no {step} in the custody trail: {actions}"
    report = httpx.get(f"{stack.service.url}/v1/transparency", timeout=10).json()
    west = next(a for a in report["agencies"] if a["agency"] == stack.west.slug)
    assert CASE not in str(report)  # aggregates only
    # Alice fulfilled, Bob declined, Carol's expired: every key is always listed, so the counts are what matters.
    month = west["requests_by_month"][datetime.now(UTC).strftime("%Y-%m")]
    assert month["total"] == 3 and month["by_legal_basis"]["owner_consent"] == 3
    assert {k: month["by_outcome"][k] for k in ("fulfilled", "declined", "expired", "pending")} == {
        "fulfilled": 1, "declined": 1, "expired": 1, "pending": 0}


def _verify(bundle: Path, *options: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "services.registry.cli", "evidence", "verify", str(bundle), *options],
                          cwd=ROOT, capture_output=True, text=True, timeout=60, check=False)


def _tamper(source: Path, target: Path, *, rewrite_manifest: bool = False) -> Path:
    """A copy of the bundle with one byte of its video changed; optionally the manifest and its hash made to match."""
    with zipfile.ZipFile(source) as src:
        members = {item.filename: src.read(item) for item in src.infolist()}
    for name, data in members.items():
        if name.startswith("files/"):
            changed = data[:100] + bytes([data[100] ^ 1]) + data[101:]
            members[name] = changed
            if rewrite_manifest:
                manifest = json.loads(members["manifest.json"])
                for entry in manifest["files"]:
                    entry["sha256"] = hashlib.sha256(changed).hexdigest()
                raw = json.dumps(manifest, indent=2).encode()
                members["manifest.json"] = raw
                members["manifest.sha256"] = f"{hashlib.sha256(raw).hexdigest()}  manifest.json\n".encode()
    with zipfile.ZipFile(target, "w") as out:
        for name, data in members.items():
            out.writestr(name, data)
    return target


def test_mail_outage_delays_the_email_but_loses_nothing(stack: Stack) -> None:
    """The request is made while the mail server is down; the email goes out once it is back (first retry 2 s)."""
    stack.smtp.stop()
    try:
        before = len(stack.smtp.messages())
        [request] = _ask(stack, ["Shop door"], case_number="2026-WF-0043")
        wait_for(lambda: _tried(stack, request["id"]), 30, "the sender's first, failed, attempt")
    finally:
        stack.smtp.start()
    [mail] = wait_for(lambda: stack.smtp.messages()[before:], 120, "the email after the outage")
    assert mail.message["To"] == "bob@example.org" and "2026-WF-0043" in mail.message.get_content()


def _tried(stack: Stack, request_id: str) -> bool:
    with Session(stack.registry.engine) as db:
        note = db.scalar(select(Notification).where(Notification.request_id == uuid.UUID(request_id)))
        return note is not None and note.attempts >= 1 and note.sent_at is None and note.last_error is not None


def test_upkeep_sweep_from_the_cli_expires_an_overdue_request(stack: Stack) -> None:
    """`lookout upkeep sweep` does by hand what the running registry does every sweep interval."""
    [request] = _ask(stack, ["Gate"], case_number="2026-WF-0044",
                     due_at=(datetime.now(UTC) + timedelta(seconds=2)).isoformat())
    wait_for(lambda: datetime.now(UTC) > datetime.fromisoformat(request["due_at"]), 10, "the due date to pass")
    ran = subprocess.run([sys.executable, "-m", "services.registry.cli", "upkeep", "sweep"], cwd=ROOT,
                         env={**os.environ, **_env(stack.registry, stack.smtp, stack.evidence)},
                         capture_output=True, text=True, timeout=120, check=False)
    assert ran.returncode == 0 and "requests expired 1," in ran.stdout, ran.stdout + ran.stderr
    assert stack.call("carol", "GET", f"/v1/my/requests/{request['id']}").json()["state"] == "expired"
