"""Evidence files: uploaded by an owner against a request, stored by key, hashed while they streamed in."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from services.registry.database import Base, UTCDateTime, new_id, utcnow

FILE_STATES = ("uploading", "stored", "deleted")


class EvidenceFile(Base):
    """One file of evidence. `uploading` until every byte arrived; `deleted` keeps the row (hash, times)."""

    __tablename__ = "evidence_file"
    __table_args__ = (
        CheckConstraint(f"state IN {FILE_STATES!r}", name="state"),
        CheckConstraint("size_bytes >= 0 AND received_bytes >= 0", name="sizes"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    request_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("footage_request.id", ondelete="RESTRICT"), index=True)
    agency_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("agency.id", ondelete="RESTRICT"), index=True)
    case_number: Mapped[str] = mapped_column(String(64), index=True)
    uploaded_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("account.id", ondelete="SET NULL"))
    filename: Mapped[str] = mapped_column(String(255))  # sanitised display name; never a storage path
    content_type: Mapped[str | None] = mapped_column(String(100))  # sniffed from the bytes
    size_bytes: Mapped[int] = mapped_column(BigInteger)  # declared when the upload began
    received_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    sha256: Mapped[str | None] = mapped_column(String(64))
    storage_key: Mapped[str] = mapped_column(String(255), unique=True)
    state: Mapped[str] = mapped_column(String(20), default="uploading", index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)
    stored_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    retain_until_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
