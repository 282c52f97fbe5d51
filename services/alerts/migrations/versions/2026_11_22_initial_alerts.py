"""Initial alert service schema: alert, alert_step, alert_feed and the registry copies.

Revision ID: 20261122_alerts_initial
Revises:
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from services.alerts.models import UTCDateTime

revision: str = "20261122_alerts_initial"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SEQ = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
STATUSES = "status IN ('open', 'acknowledged', 'resolved', 'cancelled')"


def upgrade() -> None:
    op.create_table(
        "alert",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("device_id", sa.String(64)),
        sa.Column("site_id", sa.String(64), nullable=False),
        sa.Column("owner_id", sa.String(64)),
        sa.Column("agency_id", sa.String(64), nullable=False),
        sa.Column("lon", sa.Float(), nullable=False),
        sa.Column("lat", sa.Float(), nullable=False),
        sa.Column("trigger", sa.String(16), nullable=False),
        sa.Column("camera_ids", sa.JSON(), nullable=False),
        sa.Column("pressed_at", UTCDateTime(), nullable=False),
        sa.Column("opened_at", UTCDateTime(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("acknowledged_by", sa.String(64)),
        sa.Column("acknowledged_at", UTCDateTime()),
        sa.Column("resolved_by", sa.String(64)),
        sa.Column("resolved_at", UTCDateTime()),
        sa.Column("outcome", sa.String(16)),
        sa.Column("announced_at", UTCDateTime()),
        sa.PrimaryKeyConstraint("id", name="pk_alert"),
        sa.UniqueConstraint("event_id", name="uq_alert_event_id"),
        sa.CheckConstraint(STATUSES, name="ck_alert_status"),
    )
    op.create_index("ix_alert_site_id", "alert", ["site_id"])
    op.create_index("ix_alert_agency_id", "alert", ["agency_id"])
    op.create_index("ix_alert_status", "alert", ["status"])
    op.create_table(
        "alert_step",
        sa.Column("id", SEQ, autoincrement=True),
        sa.Column("alert_id", sa.Uuid(), nullable=False),
        sa.Column("step", sa.String(16), nullable=False),
        sa.Column("by", sa.String(64)),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_alert_step"),
        sa.ForeignKeyConstraint(["alert_id"], ["alert.id"], name="fk_alert_step_alert_id_alert", ondelete="CASCADE"),
    )
    op.create_index("ix_alert_step_alert_id", "alert_step", ["alert_id"])
    op.create_table(
        "alert_feed",
        sa.Column("seq", SEQ, autoincrement=True),
        sa.Column("agency_id", sa.String(64), nullable=False),
        sa.Column("alert_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("seq", name="pk_alert_feed"),
    )
    op.create_index("ix_alert_feed_agency_id", "alert_feed", ["agency_id"])
    _copies()


def _copies() -> None:
    op.create_table(
        "site_copy",
        sa.Column("site_id", sa.String(64), nullable=False),
        sa.Column("owner_id", sa.String(64), nullable=False),
        sa.Column("agency_id", sa.String(64), nullable=False),
        sa.Column("lon", sa.Float(), nullable=False),
        sa.Column("lat", sa.Float(), nullable=False),
        sa.Column("deleted", sa.Boolean(), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("site_id", name="pk_site_copy"),
    )
    op.create_table(
        "device_copy",
        sa.Column("device_id", sa.String(64), nullable=False),
        sa.Column("site_id", sa.String(64), nullable=False),
        sa.Column("agency_id", sa.String(64), nullable=False),
        sa.Column("revoked", sa.Boolean(), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("device_id", name="pk_device_copy"),
    )
    op.create_table(
        "camera_copy",
        sa.Column("camera_id", sa.String(64), nullable=False),
        sa.Column("site_id", sa.String(64), nullable=False),
        sa.Column("device_id", sa.String(64), nullable=False),
        sa.Column("agency_id", sa.String(64), nullable=False),
        sa.Column("sharing_mode", sa.String(24), nullable=False),
        sa.Column("core_enabled", sa.Boolean(), nullable=False),
        sa.Column("deleted", sa.Boolean(), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("camera_id", name="pk_camera_copy"),
    )
    op.create_index("ix_camera_copy_site_id", "camera_copy", ["site_id"])


def downgrade() -> None:
    for table in ("camera_copy", "device_copy", "site_copy", "alert_feed", "alert_step", "alert"):
        op.drop_table(table)
