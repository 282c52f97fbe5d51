"""Account and login-attempt tables."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from services.registry.database import Base, UTCDateTime, new_id, utcnow

ROLE_VALUES = ("owner", "advocate", "investigator", "dispatcher", "supervisor", "auditor", "integrator")


class Account(Base):
    """Someone (or an API client) who signs in. Owners sign in by email, found through a blind index."""

    __tablename__ = "account"
    __table_args__ = (
        CheckConstraint(f"role IN {ROLE_VALUES!r}", name="role"),
        CheckConstraint("role = 'owner' OR agency_id IS NOT NULL", name="staff_have_agency"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    role: Mapped[str] = mapped_column(String(20))
    agency_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("agency.id", ondelete="RESTRICT"))
    # Staff user names are shown to supervisors; an owner's login is their email, so only its digest.
    username: Mapped[str | None] = mapped_column(String(100))
    login_digest: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    totp_secret_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    scopes: Mapped[str] = mapped_column(String(500), default="")
    locked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Failed logins before this moment (a success, or a supervisor's release) no longer count.
    failures_reset_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class LoginAttempt(Base):
    """Every sign-in try, for lockout and per-source rate limits (no passwords, no plaintext logins)."""

    __tablename__ = "login_attempt"
    __table_args__ = (Index(None, "login_digest", "attempted_at"), Index(None, "source", "attempted_at"))

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    login_digest: Mapped[str] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(String(64))
    succeeded: Mapped[bool]
    attempted_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
