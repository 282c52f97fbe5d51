"""The hash-chained audit log: chaining, append-only triggers, tamper detection (API and CLI), concurrency."""

from __future__ import annotations

import os
import subprocess
import threading
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from services.common.auth import Role
from services.registry.app import create_app
from services.registry.audit import service as audit
from services.registry.audit.models import AuditEvent
from services.registry.deps import Registry
from tests import builders as b

ROOT = Path(__file__).resolve().parents[3]
LOOKOUT = ROOT / ".venv" / "bin" / "lookout"
BACKEND_KINDS = ("postgis", "spatialite")


def chain(session: Session, ids: list[int] | None = None) -> list[AuditEvent]:
    stmt = select(AuditEvent).order_by(AuditEvent.id)
    return list(session.scalars(stmt.where(AuditEvent.id.in_(ids)) if ids is not None else stmt))


@pytest.mark.spatialite
def test_records_chain(db: Session, registry: Registry) -> None:
    agency = b.make_agency(db)
    investigator = b.make_staff(db, registry, agency, Role.INVESTIGATOR)
    caller = investigator.caller(registry)
    made = [audit.record(db, caller=caller, action="test.event", object_type="camera", object_id=uuid.uuid4(),
                         case_number=f"C-{n}", reason="testing the chain", detail={"n": n}) for n in range(5)]
    db.commit()
    rows = chain(db)
    assert [r.id for r in rows[-5:]] == [e.id for e in made]
    prev = audit.GENESIS
    for row in rows:
        assert row.prev_hash == prev
        assert row.hash == audit.chain_hash(prev, row)
        prev = row.hash
    assert made[0].actor_id == investigator.account.id and made[0].agency_id == agency.id
    assert made[0].actor_role == "investigator"


@pytest.mark.spatialite
def test_hash_covers_every_field(db: Session, registry: Registry) -> None:
    event = audit.record(db, caller=None, action="test.event", case_number="C-1", reason="original")
    for field in audit.HASHED_FIELDS:
        original = getattr(event, field)
        changed = {"recorded_at": None, "actor_role": "supervisor"}.get(field, "something else")
        setattr(event, field, changed)
        assert audit.chain_hash(event.prev_hash, event) != event.hash, field
        setattr(event, field, original)
    assert audit.chain_hash(event.prev_hash, event) == event.hash
    assert audit.chain_hash("f" * 64, event) != event.hash


@pytest.mark.spatialite
@pytest.mark.parametrize("statement", ["UPDATE audit_event SET case_number = 'FORGED' WHERE id = :id",
                                       "DELETE FROM audit_event WHERE id = :id"])
def test_table_is_append_only(db: Session, statement: str) -> None:
    event = audit.record(db, caller=None, action="test.event", case_number="C-1")
    db.commit()
    with pytest.raises(DBAPIError, match="append-only"), db.begin_nested():
        db.execute(text(statement), {"id": event.id})
    db.expire_all()
    assert db.scalar(select(AuditEvent.case_number).where(AuditEvent.id == event.id)) == "C-1"


@pytest.mark.spatialite
def test_verify_api(client: TestClient, db: Session, registry: Registry) -> None:
    agency = b.make_agency(db)
    auditor = b.make_staff(db, registry, agency, Role.AUDITOR)
    supervisor = b.make_staff(db, registry, agency, Role.SUPERVISOR)
    r = client.get("/v1/audit/verify", headers=auditor.headers)
    assert r.status_code == 200, r.text
    assert r.json()["ok"] is True and r.json()["first_broken_id"] is None and r.json()["problem"] is None
    assert r.json()["rows_checked"] == db.scalar(select(func.count()).select_from(AuditEvent)) - 1
    last = chain(db)[-1]
    assert (last.action, last.outcome, last.actor_id) == ("audit.verified", "ok", auditor.account.id)
    assert client.get("/v1/audit/verify", headers=supervisor.headers).json()["ok"] is True
    for role in (Role.INVESTIGATOR, Role.DISPATCHER, Role.ADVOCATE):
        other = b.make_staff(db, registry, agency, role)
        assert client.get("/v1/audit/verify", headers=other.headers).status_code == 403
    owner = b.make_owner(db, registry)
    assert client.get("/v1/audit/verify", headers=owner.headers).status_code == 403
    assert client.get("/v1/audit/verify").status_code == 401


# --- tampering, on committed databases ---------------------------------------------------------------------


def populated(make_registry: Callable[[str], Registry], kind: str) -> tuple[Registry, TestClient, b.Person]:
    """A fresh registry with a dozen audit rows (accounts, contact views), committed; and an auditor."""
    registry = make_registry(kind)
    with registry.sessions() as session:
        agency = b.make_agency(session)
        auditor = b.make_staff(session, registry, agency, Role.AUDITOR)
        investigator = b.make_staff(session, registry, agency, Role.INVESTIGATOR)
        owner = b.make_owner(session, registry)
        camera = b.make_camera(session, registry, owner, b.make_site(session, registry, owner))
    client = TestClient(create_app(registry=registry))
    for n in range(8):
        r = client.post(f"/v1/cameras/{camera.id}/contact", headers=investigator.headers,
                        json={"case_number": f"CASE-{n}", "reason": "looking for witnesses"})
        assert r.status_code == 200, r.text
    return registry, client, auditor


def tamper(registry: Registry, *statements: str, **params: object) -> None:
    """What a DBA with write access could do: switch the guard off, change rows."""
    postgres = registry.engine.dialect.name == "postgresql"
    with registry.engine.begin() as conn:
        if postgres:
            conn.execute(text("ALTER TABLE audit_event DISABLE TRIGGER audit_event_append_only"))
        else:
            conn.execute(text("DROP TRIGGER IF EXISTS audit_event_no_update"))
            conn.execute(text("DROP TRIGGER IF EXISTS audit_event_no_delete"))
        for statement in statements:
            conn.execute(text(statement), params)
        if postgres:
            conn.execute(text("ALTER TABLE audit_event ENABLE TRIGGER audit_event_append_only"))


def ids_of(registry: Registry) -> list[int]:
    with registry.engine.connect() as conn:
        return list(conn.scalars(text("SELECT id FROM audit_event ORDER BY id")))


def verify(client: TestClient, auditor: b.Person) -> dict[str, object]:
    r = client.get("/v1/audit/verify", headers=auditor.headers)
    assert r.status_code == 200, r.text
    return dict(r.json())


@pytest.mark.parametrize("kind", BACKEND_KINDS)
def test_edited_row_is_found(make_registry: Callable[[str], Registry], kind: str) -> None:
    registry, client, auditor = populated(make_registry, kind)
    ids = ids_of(registry)
    assert len(ids) >= 10
    target = ids[len(ids) // 2]
    tamper(registry, "UPDATE audit_event SET case_number = 'FORGED' WHERE id = :id", id=target)
    report = verify(client, auditor)
    assert report["ok"] is False
    assert report["first_broken_id"] == target
    assert "edited" in str(report["problem"])
    assert report["rows_checked"] == ids.index(target)
    with registry.sessions() as session:
        last = chain(session)[-1]
    assert (last.action, last.outcome) == ("audit.verified", "broken")


@pytest.mark.parametrize("kind", BACKEND_KINDS)
def test_deleted_row_is_found_at_the_next(make_registry: Callable[[str], Registry], kind: str) -> None:
    registry, client, auditor = populated(make_registry, kind)
    ids = ids_of(registry)
    target = ids[len(ids) // 2]
    tamper(registry, "DELETE FROM audit_event WHERE id = :id", id=target)
    report = verify(client, auditor)
    assert (report["ok"], report["first_broken_id"]) == (False, ids[ids.index(target) + 1])
    assert "removed" in str(report["problem"])


def test_rehashed_edit_is_found_at_the_next_row(make_registry: Callable[[str], Registry]) -> None:
    """Re-computing the edited row's own hash does not help: the next row still points at the old one."""
    registry, client, auditor = populated(make_registry, "postgis")
    ids = ids_of(registry)
    target = ids[3]
    with registry.sessions() as session:
        row = session.get(AuditEvent, target)
        assert row is not None
        row.case_number = "FORGED"
        forged_hash = audit.chain_hash(row.prev_hash, row)
        session.rollback()
    tamper(registry, "UPDATE audit_event SET case_number = 'FORGED', hash = :h WHERE id = :id", h=forged_hash,
           id=target)
    report = verify(client, auditor)
    assert (report["ok"], report["first_broken_id"]) == (False, ids[4])


def test_trigger_is_back_after_tampering(make_registry: Callable[[str], Registry]) -> None:
    registry, _, _ = populated(make_registry, "postgis")
    tamper(registry)
    with pytest.raises(DBAPIError, match="append-only"), registry.engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_event"))


def run_cli(registry: Registry) -> subprocess.CompletedProcess[str]:
    sec = registry.settings.security
    env = {**os.environ, "REGISTRY_DATABASE_URL": registry.settings.database.url,
           "REGISTRY_SIGNING_KEY_FILE": sec.signing_key_file, "REGISTRY_DATA_KEYS": sec.data_keys,
           "REGISTRY_ARGON2_TIME_COST": "1", "REGISTRY_ARGON2_MEMORY_KIB": "8192"}
    return subprocess.run([str(LOOKOUT), "audit", "verify"], env=env, cwd=ROOT, capture_output=True, text=True,
                          timeout=120)


@pytest.mark.parametrize("kind", BACKEND_KINDS)
def test_cli_verify(make_registry: Callable[[str], Registry], kind: str) -> None:
    registry, _, _ = populated(make_registry, kind)
    ids = ids_of(registry)
    intact = run_cli(registry)
    assert intact.returncode == 0, intact.stdout + intact.stderr
    assert f"intact: {len(ids)} rows" in intact.stdout
    target = ids[5]
    tamper(registry, "UPDATE audit_event SET reason = 'nothing to see' WHERE id = :id", id=target)
    broken = run_cli(registry)
    assert broken.returncode == 1, broken.stdout + broken.stderr
    assert f"BROKEN at row {target}:" in broken.stdout
    with registry.engine.connect() as conn:
        outcomes = list(conn.execute(text("SELECT actor_role, outcome FROM audit_event "
                                          "WHERE action = 'audit.verified' ORDER BY id")))
    assert [tuple(r) for r in outcomes] == [("system", "ok"), ("system", "broken")]


def test_concurrent_appends_keep_one_chain(make_registry: Callable[[str], Registry]) -> None:
    registry = make_registry("postgis")
    threads, per_thread = 8, 15
    start = threading.Barrier(threads)
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            start.wait(timeout=30)
            for i in range(per_thread):
                with registry.sessions() as session:
                    session.execute(text("SELECT 1"))  # a transaction that read before it appends
                    audit.record(session, caller=None, action="test.concurrent", detail={"thread": n, "i": i})
                    session.commit()
        except BaseException as exc:  # collected and re-raised in the main thread
            errors.append(exc)

    pool = [threading.Thread(target=work, args=(n,)) for n in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join(timeout=120)
    assert not errors, errors
    with registry.sessions() as session:
        report = audit.verify_chain(session)
        total = session.scalar(select(func.count()).select_from(AuditEvent))
        forks = session.scalar(select(func.count(func.distinct(AuditEvent.prev_hash))))
    assert total == threads * per_thread
    assert forks == total  # no two rows claim the same predecessor
    assert report.ok, report
    assert report.rows_checked == total


@pytest.mark.parametrize("kind", BACKEND_KINDS)
def test_cutting_off_the_newest_rows_is_detected(make_registry: Callable[[str], Registry], kind: str) -> None:
    registry, client, auditor = populated(make_registry, kind)
    ids = ids_of(registry)
    assert verify(client, auditor)["ok"] is True
    tamper(registry, "DELETE FROM audit_event WHERE id >= :id", id=ids[-3])
    report = verify(client, auditor)
    assert report["ok"] is False
    assert "newest rows were removed" in str(report["problem"])
