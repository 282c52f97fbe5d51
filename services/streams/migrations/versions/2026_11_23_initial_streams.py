"""Initial relay schema: stream_session, stream_viewer and camera_policy.

Revision ID: 20261123_streams_initial
Revises:
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from services.common.db import UTCDateTime

revision: str = "20261123_streams_initial"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BYTES = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "stream_session",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("camera_id", sa.String(64), nullable=False, index=True),
        sa.Column("device_id", sa.String(64), nullable=False, index=True),
        sa.Column("agency_id", sa.String(64), nullable=False, index=True),
        sa.Column("alert_id", sa.String(64), index=True),
        sa.Column("grant_id", sa.String(64)),
        sa.Column("relay_id", sa.String(64), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("started_at", UTCDateTime(), nullable=False),
        sa.Column("live_at", UTCDateTime()),
        sa.Column("ended_at", UTCDateTime()),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.Column("end_reason", sa.String(64)),
        sa.Column("viewers", sa.Integer(), nullable=False),
        sa.Column("bytes_in", BYTES, nullable=False),
        sa.Column("bytes_out", BYTES, nullable=False),
        sa.CheckConstraint("state IN ('pending', 'live', 'ended')", name="ck_stream_session_state"),
        sa.CheckConstraint("alert_id IS NOT NULL OR grant_id IS NOT NULL", name="ck_stream_session_basis"),
    )
    op.create_table(
        "stream_viewer",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("session_id", sa.String(64), sa.ForeignKey("stream_session.id", ondelete="CASCADE",
                                                             name="fk_stream_viewer_session_id_stream_session"),
                  nullable=False, index=True),
        sa.Column("account_id", sa.String(64), nullable=False),
        sa.Column("joined_at", UTCDateTime(), nullable=False),
        sa.Column("left_at", UTCDateTime()),
        sa.Column("bytes_out", BYTES, nullable=False),
    )
    op.create_table(
        "camera_policy",
        sa.Column("camera_id", sa.String(64), primary_key=True),
        sa.Column("device_id", sa.String(64), nullable=False),
        sa.Column("agency_id", sa.String(64), nullable=False),
        sa.Column("label", sa.String(200), nullable=False),
        sa.Column("sharing_mode", sa.String(32), nullable=False),
        sa.Column("grants", sa.JSON(), nullable=False),
        sa.Column("deleted", sa.Boolean(), nullable=False),
        sa.Column("version", BYTES, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("camera_policy")
    op.drop_table("stream_viewer")
    op.drop_table("stream_session")
