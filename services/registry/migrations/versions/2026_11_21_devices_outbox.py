"""CORE devices, enrolment codes and the event outbox; cameras learn which box serves them.

Revision ID: 20261121_devices_outbox
Revises: 20261121_initial
Create Date: 2026-11-21
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from services.registry.database import UTCDateTime

revision: str = "20261121_devices_outbox"
down_revision: str | None = "20261121_initial"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PENDING = sa.text("published_at IS NULL")


def upgrade() -> None:
    op.create_table(
        "device",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("site_id", sa.Uuid(), sa.ForeignKey("site.id", ondelete="CASCADE"), nullable=False),
        sa.Column("owner_id", sa.Uuid(), sa.ForeignKey("owner.id", ondelete="CASCADE"), nullable=False),
        sa.Column("agency_id", sa.Uuid(), sa.ForeignKey("agency.id", ondelete="RESTRICT"), nullable=False),
        sa.Column("firmware", sa.String(100), nullable=False),
        sa.Column("enrolled_at", UTCDateTime(), nullable=False),
        sa.Column("revoked_at", UTCDateTime()),
        sa.Column("last_seen_at", UTCDateTime()),
    )
    for column in ("site_id", "owner_id", "agency_id"):
        op.create_index(f"ix_device_{column}", "device", [column])
    op.create_table(
        "enrolment_code",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("site_id", sa.Uuid(), sa.ForeignKey("site.id", ondelete="CASCADE"), nullable=False),
        sa.Column("code_digest", sa.String(64), nullable=False, unique=True),
        sa.Column("created_by", sa.Uuid(), sa.ForeignKey("account.id", ondelete="SET NULL")),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.Column("used_at", UTCDateTime()),
    )
    op.create_index("ix_enrolment_code_site_id", "enrolment_code", ["site_id"])
    op.create_table(
        "enrolment_attempt",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("source", sa.String(64), nullable=False),
        sa.Column("attempted_at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_enrolment_attempt_source_attempted_at", "enrolment_attempt", ["source", "attempted_at"])
    op.create_table(
        "outbox_event",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True, autoincrement=True),
        sa.Column("topic", sa.String(200), nullable=False),
        sa.Column("payload", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("published_at", UTCDateTime()),
    )
    op.create_index("ix_outbox_event_pending", "outbox_event", ["id"], postgresql_where=PENDING,
                    sqlite_where=PENDING)
    _add_camera_device()


def _add_camera_device() -> None:
    # A plain column (see Camera.device_id): added in place on both backends, no table copy on SQLite.
    op.add_column("camera", sa.Column("device_id", sa.Uuid()))
    op.create_index("ix_camera_device_id", "camera", ["device_id"])


def downgrade() -> None:
    op.drop_index("ix_camera_device_id", "camera")
    op.execute("ALTER TABLE camera DROP COLUMN device_id")  # in place on both backends (SQLite >= 3.35)
    for table in ("outbox_event", "enrolment_attempt", "enrolment_code", "device"):
        op.drop_table(table)
