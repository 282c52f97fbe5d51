"""Owners' consent grants of live video to an agency for a time window.

Revision ID: 20261125_consent_grants
Revises: 20261124_footage_requests
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from services.registry.database import UTCDateTime

revision: str = "20261125_consent_grants"
down_revision: str | None = "20261124_footage_requests"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _fk(table: str, ondelete: str) -> sa.ForeignKey:
    return sa.ForeignKey(f"{table}.id", ondelete=ondelete)


def upgrade() -> None:
    op.create_table(
        "consent_grant",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("camera_id", sa.Uuid(), _fk("camera", "CASCADE"), nullable=False),
        sa.Column("agency_id", sa.Uuid(), _fk("agency", "CASCADE"), nullable=False),
        sa.Column("created_by", sa.Uuid(), _fk("account", "SET NULL")),
        sa.Column("starts_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.Column("revoked_at", UTCDateTime()),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.CheckConstraint("expires_at > starts_at", name="window"),
    )
    for column in ("camera_id", "agency_id"):
        op.create_index(f"ix_consent_grant_{column}", "consent_grant", [column])


def downgrade() -> None:
    op.drop_table("consent_grant")
