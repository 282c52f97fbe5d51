"""The durable outbox of panic presses (SQLite, fsynced on every commit).

A press is committed here before any network activity; the row is deleted only after the broker acknowledged
the QoS 1 publish. `run`, the LAN page, the GPIO button and `lookout-core panic` all share the one file.
"""

from __future__ import annotations

import sqlite3
import threading
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from proto.lookout.v1 import lookout_pb2 as pb

_SCHEMA = """
CREATE TABLE IF NOT EXISTS pending_press (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id TEXT NOT NULL UNIQUE,
    pressed_at TEXT NOT NULL,
    trigger INTEGER NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0
)
"""


@dataclass(frozen=True)
class PendingPress:
    """One recorded press not yet acknowledged by the broker."""

    seq: int
    event_id: str
    pressed_at: datetime
    trigger: int
    attempts: int = 0


class Outbox:
    """Thread-safe access to the outbox file; each write is on disk when the call returns."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.path = path
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA busy_timeout = 30000")
        self._db.execute("PRAGMA journal_mode = WAL")
        self._db.execute("PRAGMA synchronous = FULL")
        self._db.execute(_SCHEMA)
        path.chmod(0o600)

    def add(self, trigger: int, *, now: datetime | None = None) -> PendingPress:
        """Record a press durably (committed and fsynced) and return it."""
        if trigger not in pb.TriggerKind.values():
            raise ValueError(f"unknown trigger kind {trigger}")
        pressed_at = (now or datetime.now(UTC)).astimezone(UTC)
        event_id = str(uuid.uuid4())
        with self._lock:
            cur = self._db.execute("INSERT INTO pending_press (event_id, pressed_at, trigger) VALUES (?, ?, ?)",
                                   (event_id, pressed_at.isoformat(), trigger))
            seq = cur.lastrowid
        assert seq is not None
        return PendingPress(seq=seq, event_id=event_id, pressed_at=pressed_at, trigger=trigger)

    def pending(self, limit: int = 100) -> list[PendingPress]:
        """Presses still to send, oldest first."""
        with self._lock:
            rows = self._db.execute("SELECT seq, event_id, pressed_at, trigger, attempts FROM pending_press "
                                    "ORDER BY seq LIMIT ?", (limit,)).fetchall()
        return [PendingPress(seq, eid, datetime.fromisoformat(at), trig, att) for seq, eid, at, trig, att in rows]

    def mark_attempt(self, event_id: str) -> None:
        """Count one more publish attempt of a press (for status and logs)."""
        with self._lock:
            self._db.execute("UPDATE pending_press SET attempts = attempts + 1 WHERE event_id = ?", (event_id,))

    def delete(self, event_id: str) -> None:
        """Forget a press the broker acknowledged."""
        with self._lock:
            self._db.execute("DELETE FROM pending_press WHERE event_id = ?", (event_id,))

    def count(self) -> int:
        """How many presses are still pending."""
        with self._lock:
            (n,) = self._db.execute("SELECT count(*) FROM pending_press").fetchone()
        return int(n)

    def close(self) -> None:
        """Close the file."""
        with self._lock:
            self._db.close()

    def __enter__(self) -> Outbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
