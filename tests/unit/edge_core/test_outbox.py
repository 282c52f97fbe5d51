"""The durable outbox: on disk before anything else, oldest first, gone only when deleted."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from edge_core.outbox import Outbox
from proto.lookout.v1 import lookout_pb2 as pb


def test_a_press_survives_closing_and_reopening(tmp_path: Path) -> None:
    path = tmp_path / "outbox.db"
    with Outbox(path) as outbox:
        pressed = outbox.add(pb.TRIGGER_KIND_BUTTON)
    assert uuid.UUID(pressed.event_id).version == 4
    with Outbox(path) as outbox:
        [again] = outbox.pending()
    assert again.event_id == pressed.event_id
    assert again.pressed_at == pressed.pressed_at and again.trigger == pb.TRIGGER_KIND_BUTTON


def test_durability_settings_and_private_file(tmp_path: Path) -> None:
    with Outbox(tmp_path / "outbox.db") as outbox:
        assert outbox._db.execute("PRAGMA synchronous").fetchone() == (2,)  # FULL
        assert outbox._db.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    assert (tmp_path / "outbox.db").stat().st_mode & 0o077 == 0


CRASH = """
import os, sys
from pathlib import Path
from edge_core.outbox import Outbox
outbox = Outbox(Path(sys.argv[1]))
pressed = outbox.add(3)
print(pressed.event_id, flush=True)
os.kill(os.getpid(), 9)  # power cut: no close, no cleanup, before any publish
"""


def test_a_crash_between_write_and_publish_keeps_the_press(tmp_path: Path) -> None:
    path = tmp_path / "outbox.db"
    result = subprocess.run([sys.executable, "-c", CRASH, str(path)], capture_output=True, text=True, timeout=60,
                            cwd=Path(__file__).resolve().parents[3])
    assert result.returncode == -9, result.stderr
    event_id = result.stdout.strip()
    with Outbox(path) as outbox:
        assert [p.event_id for p in outbox.pending()] == [event_id]
        assert outbox.pending()[0].trigger == pb.TRIGGER_KIND_CLI


def test_oldest_first_even_if_the_clock_jumps_back(tmp_path: Path) -> None:
    now = datetime(2030, 1, 1, tzinfo=UTC)
    with Outbox(tmp_path / "outbox.db") as outbox:
        ids = [outbox.add(pb.TRIGGER_KIND_CLI, now=now - timedelta(minutes=i)).event_id for i in range(20)]
        assert [p.event_id for p in outbox.pending()] == ids
        assert [p.event_id for p in outbox.pending(limit=5)] == ids[:5]
        outbox.delete(ids[0])
        outbox.delete(ids[3])
        assert [p.event_id for p in outbox.pending()] == ids[1:3] + ids[4:]
        assert outbox.count() == 18


def test_attempts_are_counted_and_delete_is_idempotent(tmp_path: Path) -> None:
    with Outbox(tmp_path / "outbox.db") as outbox:
        pressed = outbox.add(pb.TRIGGER_KIND_LAN_PAGE)
        outbox.mark_attempt(pressed.event_id)
        outbox.mark_attempt(pressed.event_id)
        assert outbox.pending()[0].attempts == 2
        outbox.delete(pressed.event_id)
        outbox.delete(pressed.event_id)
        assert outbox.count() == 0


def test_two_writers_share_the_file(tmp_path: Path) -> None:
    path = tmp_path / "outbox.db"
    with Outbox(path) as agent, Outbox(path) as cli:
        a = agent.add(pb.TRIGGER_KIND_BUTTON)
        b = cli.add(pb.TRIGGER_KIND_CLI)
        assert [p.event_id for p in agent.pending()] == [a.event_id, b.event_id]


def test_unknown_trigger_is_refused(tmp_path: Path) -> None:
    with Outbox(tmp_path / "outbox.db") as outbox, pytest.raises(ValueError):
        outbox.add(99)


def test_timestamps_are_stored_in_utc(tmp_path: Path) -> None:
    with Outbox(tmp_path / "outbox.db") as outbox:
        outbox.add(pb.TRIGGER_KIND_CLI)
    db = sqlite3.connect(tmp_path / "outbox.db")
    (stored,) = db.execute("SELECT pressed_at FROM pending_press").fetchone()
    db.close()
    assert stored.endswith("+00:00")
