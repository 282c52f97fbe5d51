"""Footage requests, the cameras they cover, shares with other agencies, evidence files, the notification
outbox, and each agency's evidence retention.

Revision ID: 20261124_footage_requests
Revises: 20261121_devices_outbox
Create Date: 2026-11-24
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from services.registry.database import UTCDateTime

revision: str = "20261124_footage_requests"
down_revision: str | None = "20261121_devices_outbox"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BASES = ("owner_consent", "warrant", "exigent")
STATES = ("pending", "accepted", "declined", "fulfilled", "expired", "withdrawn", "closed")
FILE_STATES = ("uploading", "stored", "deleted")


def _fk(table: str, ondelete: str) -> sa.ForeignKey:
    return sa.ForeignKey(f"{table}.id", ondelete=ondelete)


def _indexes(table: str, *columns: str) -> None:
    for column in columns:
        op.create_index(f"ix_{table}_{column}", table, [column])


def upgrade() -> None:
    op.add_column("agency", sa.Column("evidence_retention_days", sa.Integer()))
    op.create_table(
        "footage_request",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("agency_id", sa.Uuid(), _fk("agency", "RESTRICT"), nullable=False),
        sa.Column("owner_id", sa.Uuid(), _fk("owner", "SET NULL")),
        sa.Column("created_by", sa.Uuid(), _fk("account", "SET NULL")),
        sa.Column("case_number", sa.String(64), nullable=False),
        sa.Column("legal_basis", sa.String(20), nullable=False),
        sa.Column("window_start_at", UTCDateTime(), nullable=False),
        sa.Column("window_end_at", UTCDateTime(), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("due_at", UTCDateTime(), nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("decline_reason", sa.Text()),
        sa.Column("answered_at", UTCDateTime()),
        sa.Column("closed_at", UTCDateTime()),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.CheckConstraint(f"legal_basis IN {BASES!r}", name="legal_basis"),
        sa.CheckConstraint(f"state IN {STATES!r}", name="state"),
        sa.CheckConstraint("window_end_at > window_start_at", name="window"),
    )
    _indexes("footage_request", "agency_id", "owner_id", "case_number", "due_at", "state")
    op.create_table(
        "footage_request_camera",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("request_id", sa.Uuid(), _fk("footage_request", "CASCADE"), nullable=False),
        sa.Column("camera_id", sa.Uuid(), _fk("camera", "SET NULL")),
        sa.Column("camera_label", sa.String(100), nullable=False),
        sa.UniqueConstraint("request_id", "camera_id"),
    )
    _indexes("footage_request_camera", "request_id", "camera_id")
    op.create_table(
        "request_share",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("request_id", sa.Uuid(), _fk("footage_request", "CASCADE"), nullable=False),
        sa.Column("agency_id", sa.Uuid(), _fk("agency", "CASCADE"), nullable=False),
        sa.Column("shared_by", sa.Uuid(), _fk("account", "SET NULL")),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("revoked_at", UTCDateTime()),
        sa.UniqueConstraint("request_id", "agency_id"),
    )
    _indexes("request_share", "request_id", "agency_id")
    _evidence_and_notifications()


def _evidence_and_notifications() -> None:
    op.create_table(
        "evidence_file",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("request_id", sa.Uuid(), _fk("footage_request", "RESTRICT"), nullable=False),
        sa.Column("agency_id", sa.Uuid(), _fk("agency", "RESTRICT"), nullable=False),
        sa.Column("case_number", sa.String(64), nullable=False),
        sa.Column("uploaded_by", sa.Uuid(), _fk("account", "SET NULL")),
        sa.Column("filename", sa.String(255), nullable=False),
        sa.Column("content_type", sa.String(100)),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("received_bytes", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(64)),
        sa.Column("storage_key", sa.String(255), nullable=False, unique=True),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("stored_at", UTCDateTime()),
        sa.Column("retain_until_at", UTCDateTime()),
        sa.Column("deleted_at", UTCDateTime()),
        sa.CheckConstraint(f"state IN {FILE_STATES!r}", name="state"),
        sa.CheckConstraint("size_bytes >= 0 AND received_bytes >= 0", name="sizes"),
    )
    _indexes("evidence_file", "request_id", "agency_id", "case_number", "state", "retain_until_at")
    op.create_table(
        "notification",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("owner_id", sa.Uuid(), _fk("owner", "CASCADE")),
        sa.Column("request_id", sa.Uuid(), _fk("footage_request", "CASCADE")),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("to_enc", sa.LargeBinary(), nullable=False),
        sa.Column("subject", sa.String(200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", UTCDateTime(), nullable=False),
        sa.Column("sent_at", UTCDateTime()),
        sa.Column("failed_at", UTCDateTime()),
        sa.Column("last_error", sa.String(500)),
    )
    _indexes("notification", "owner_id", "next_attempt_at", "sent_at")


def downgrade() -> None:
    for table in ("notification", "evidence_file", "request_share", "footage_request_camera", "footage_request"):
        op.drop_table(table)
    op.execute("ALTER TABLE agency DROP COLUMN evidence_retention_days")  # in place (SQLite >= 3.35)
