"""Stream session records: typed keyword-only operations on the relay's tables, raising domain errors."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from services.common.auth import Principal, Role
from services.common.db import utcnow
from services.common.errors import Forbidden, NotFound
from services.streams.models import CameraPolicy, State, StreamSession, StreamViewer

WATCHERS = (Role.DISPATCHER, Role.SUPERVISOR)


class SessionStore:
    """The relay's records; every method opens its own short transaction (call them in a worker thread)."""

    def __init__(self, sessions: sessionmaker[Session], clock: Callable[[], datetime] = utcnow) -> None:
        self.sessions = sessions
        self.clock = clock

    def record_start(self, *, session_id: str, camera_id: str, device_id: str, agency_id: str, alert_id: str | None,
                     grant_id: str | None, relay_id: str, expires_at: datetime) -> tuple[StreamSession, bool]:
        """Record a requested session once (a repeated command finds the first record); True if new."""
        with self.sessions() as db:
            existing = db.get(StreamSession, session_id)
            if existing is not None:
                return existing, False
            row = StreamSession(id=session_id, camera_id=camera_id, device_id=device_id, agency_id=agency_id,
                                alert_id=alert_id, grant_id=grant_id, relay_id=relay_id, state=State.PENDING,
                                started_at=self.clock(), expires_at=expires_at, viewers=0, bytes_in=0, bytes_out=0)
            db.add(row)
            db.commit()
            return row, True

    def mark_live(self, *, session_id: str) -> None:
        """Media reached the relay."""
        with self.sessions() as db:
            db.execute(update(StreamSession).where(StreamSession.id == session_id, StreamSession.state == State.PENDING)
                       .values(state=State.LIVE, live_at=self.clock()))
            db.commit()

    def mark_ended(self, *, session_id: str, reason: str, bytes_in: int = 0, bytes_out: int = 0) -> bool:
        """End a session once; False if it had already ended."""
        with self.sessions() as db:
            result = db.execute(
                update(StreamSession).where(StreamSession.id == session_id, StreamSession.state != State.ENDED)
                .values(state=State.ENDED, ended_at=self.clock(), end_reason=reason[:64],
                        bytes_in=StreamSession.bytes_in + bytes_in, bytes_out=StreamSession.bytes_out + bytes_out))
            db.execute(update(StreamViewer).where(StreamViewer.session_id == session_id,
                                                  StreamViewer.left_at.is_(None)).values(left_at=self.clock()))
            db.commit()
            return bool(result.rowcount)  # type: ignore[attr-defined]

    def end_stale(self, *, relay_id: str) -> int:
        """At start-up: sessions a previous run of this relay left open carry no media any more."""
        with self.sessions() as db:
            ids = db.scalars(select(StreamSession.id).where(StreamSession.relay_id == relay_id,
                                                            StreamSession.state != State.ENDED)).all()
        for session_id in ids:
            self.mark_ended(session_id=session_id, reason="relay_restarted")
        return len(ids)

    def get(self, *, session_id: str) -> StreamSession:
        """One session, or NotFound."""
        with self.sessions() as db:
            row = db.get(StreamSession, session_id)
            if row is None:
                raise NotFound("no such stream session", code="session_not_found")
            return row

    def visible(self, *, principal: Principal, session_id: str) -> StreamSession:
        """A session the caller may watch: dispatchers and supervisors of its agency only."""
        row = self.get(session_id=session_id)
        if not principal.has(*WATCHERS) or str(principal.agency_id) != row.agency_id:
            raise NotFound("no such stream session", code="session_not_found")  # no hint it exists
        return row

    def search(self, *, principal: Principal, state: State | None, alert_id: str | None,
             limit: int = 100) -> list[StreamSession]:
        """The caller's agency's sessions, newest first."""
        if not principal.has(*WATCHERS):
            raise Forbidden("only dispatchers and supervisors watch live video", code="role_forbidden")
        query = select(StreamSession).where(StreamSession.agency_id == str(principal.agency_id))
        if state is not None:
            query = query.where(StreamSession.state == state)
        if alert_id is not None:
            query = query.where(StreamSession.alert_id == alert_id)
        with self.sessions() as db:
            return list(db.scalars(query.order_by(StreamSession.started_at.desc()).limit(limit)))

    def labels(self, *, camera_ids: list[str]) -> dict[str, str]:
        """Camera labels from the registry copies."""
        with self.sessions() as db:
            rows = db.execute(select(CameraPolicy.camera_id, CameraPolicy.label)
                              .where(CameraPolicy.camera_id.in_(camera_ids))).all()
            return {camera_id: label for camera_id, label in rows}

    def viewer_joined(self, *, viewer_id: uuid.UUID, session_id: str, account_id: str) -> None:
        """Record a live view (who and when)."""
        with self.sessions() as db:
            db.add(StreamViewer(id=viewer_id, session_id=session_id, account_id=account_id, joined_at=self.clock(),
                                bytes_out=0))
            db.execute(update(StreamSession).where(StreamSession.id == session_id)
                       .values(viewers=StreamSession.viewers + 1))
            db.commit()

    def viewer_left(self, *, viewer_id: uuid.UUID, bytes_out: int) -> None:
        """Close a live view record."""
        with self.sessions() as db:
            db.execute(update(StreamViewer).where(StreamViewer.id == viewer_id, StreamViewer.left_at.is_(None))
                       .values(left_at=self.clock(), bytes_out=bytes_out))
            db.commit()

    def apply_policy(self, *, row: CameraPolicy) -> bool:
        """Keep a newer CameraChanged; False for a stale one."""
        with self.sessions() as db:
            current = db.get(CameraPolicy, row.camera_id)
            if current is not None and current.version >= row.version:
                return False
            db.merge(row)
            db.commit()
            return True
