"""Initial registry schema: agencies, accounts, owners, sites, cameras, ledger, audit log.

Revision ID: 20261121_initial
Revises:
Create Date: 2026-11-21
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry

from services.registry.database import UTCDateTime

revision: str = "20261121_initial"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ROLES = ("owner", "advocate", "investigator", "dispatcher", "supervisor", "auditor", "integrator")
MODES = ("registry_only", "on_request", "live_on_alert", "live_on_consent")


def _point() -> Geometry:
    return Geometry("POINT", srid=4326, spatial_index=True)


def _stamps() -> list[sa.Column]:
    return [sa.Column("created_at", UTCDateTime(), nullable=False),
            sa.Column("updated_at", UTCDateTime(), nullable=False)]


def upgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    if postgres:
        op.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    op.create_table(
        "agency",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("slug", sa.String(64), nullable=False, unique=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("jurisdiction", Geometry("MULTIPOLYGON", srid=4326, spatial_index=True), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
    )
    op.create_table(
        "sharing_agreement",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("grantor_agency_id", sa.Uuid(), sa.ForeignKey("agency.id", ondelete="CASCADE"), nullable=False),
        sa.Column("grantee_agency_id", sa.Uuid(), sa.ForeignKey("agency.id", ondelete="CASCADE"), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.UniqueConstraint("grantor_agency_id", "grantee_agency_id"),
        sa.CheckConstraint("grantor_agency_id <> grantee_agency_id", name="not_self"),
    )
    op.create_table(
        "account",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("role", sa.String(20), nullable=False),
        sa.Column("agency_id", sa.Uuid(), sa.ForeignKey("agency.id", ondelete="RESTRICT")),
        sa.Column("username", sa.String(100)),
        sa.Column("login_digest", sa.String(64), nullable=False, unique=True),
        sa.Column("password_hash", sa.String(200), nullable=False),
        sa.Column("totp_secret_enc", sa.LargeBinary()),
        sa.Column("scopes", sa.String(500), nullable=False),
        sa.Column("locked_at", UTCDateTime()),
        sa.Column("failures_reset_at", UTCDateTime()),
        sa.Column("disabled_at", UTCDateTime()),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.CheckConstraint(f"role IN {ROLES!r}", name="role"),
        sa.CheckConstraint("role = 'owner' OR agency_id IS NOT NULL", name="staff_have_agency"),
    )
    op.create_table(
        "login_attempt",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("login_digest", sa.String(64), nullable=False),
        sa.Column("source", sa.String(64), nullable=False),
        sa.Column("succeeded", sa.Boolean(), nullable=False),
        sa.Column("attempted_at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_login_attempt_login_digest_attempted_at", "login_attempt", ["login_digest", "attempted_at"])
    op.create_index("ix_login_attempt_source_attempted_at", "login_attempt", ["source", "attempted_at"])
    op.create_table(
        "owner",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("account_id", sa.Uuid(), sa.ForeignKey("account.id", ondelete="SET NULL"), unique=True),
        sa.Column("agency_id", sa.Uuid(), sa.ForeignKey("agency.id", ondelete="SET NULL")),
        sa.Column("name_enc", sa.LargeBinary(), nullable=False),
        sa.Column("email_enc", sa.LargeBinary()),
        sa.Column("phone_enc", sa.LargeBinary()),
        *_stamps(),
    )
    op.create_table(
        "site",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("owner_id", sa.Uuid(), sa.ForeignKey("owner.id", ondelete="CASCADE"), nullable=False),
        sa.Column("agency_id", sa.Uuid(), sa.ForeignKey("agency.id", ondelete="RESTRICT"), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("address_enc", sa.LargeBinary(), nullable=False),
        sa.Column("location", _point(), nullable=False),
        *_stamps(),
        sa.CheckConstraint("kind IN ('residential', 'commercial')", name="kind"),
    )
    op.create_index("ix_site_owner_id", "site", ["owner_id"])
    op.create_index("ix_site_agency_id", "site", ["agency_id"])
    op.create_table(
        "camera",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("site_id", sa.Uuid(), sa.ForeignKey("site.id", ondelete="CASCADE"), nullable=False),
        sa.Column("owner_id", sa.Uuid(), sa.ForeignKey("owner.id", ondelete="CASCADE"), nullable=False),
        sa.Column("agency_id", sa.Uuid(), sa.ForeignKey("agency.id", ondelete="RESTRICT"), nullable=False),
        sa.Column("label", sa.String(100), nullable=False),
        sa.Column("location", _point(), nullable=False),
        sa.Column("bearing_deg", sa.Float(), nullable=False),
        sa.Column("fov_deg", sa.Float(), nullable=False),
        sa.Column("range_m", sa.Float(), nullable=False),
        sa.Column("retention_days", sa.Integer(), nullable=False),
        sa.Column("indoor", sa.Boolean(), nullable=False),
        sa.Column("sharing_mode", sa.String(20), nullable=False),
        sa.Column("core_enabled", sa.Boolean(), nullable=False),
        *_stamps(),
        sa.CheckConstraint(f"sharing_mode IN {MODES!r}", name="sharing_mode"),
        sa.CheckConstraint("bearing_deg >= 0 AND bearing_deg < 360", name="bearing"),
        sa.CheckConstraint("fov_deg > 0 AND fov_deg <= 360", name="fov"),
        sa.CheckConstraint("range_m > 0", name="range"),
        sa.CheckConstraint("retention_days >= 0", name="retention"),
    )
    op.create_index("ix_camera_site_id", "camera", ["site_id"])
    op.create_index("ix_camera_owner_id", "camera", ["owner_id"])
    op.create_index("ix_camera_agency_id", "camera", ["agency_id"])
    op.create_table(
        "camera_ledger",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("agency_id", sa.Uuid(), sa.ForeignKey("agency.id", ondelete="CASCADE"), nullable=False),
        sa.Column("registered_delta", sa.SmallInteger(), nullable=False),
        sa.Column("core_delta", sa.SmallInteger(), nullable=False),
        sa.Column("recorded_at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_camera_ledger_agency_id_recorded_at", "camera_ledger", ["agency_id", "recorded_at"])
    _create_audit_table(postgres)
    if postgres:
        _postgres_extras()


def _create_audit_table(postgres: bool) -> None:
    op.create_table(
        "audit_event",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True),
        sa.Column("recorded_at", UTCDateTime(), nullable=False),
        sa.Column("actor_id", sa.Uuid()),
        sa.Column("actor_role", sa.String(20), nullable=False),
        sa.Column("agency_id", sa.Uuid()),
        sa.Column("action", sa.String(50), nullable=False),
        sa.Column("object_type", sa.String(30)),
        sa.Column("object_id", sa.String(64)),
        sa.Column("subject_owner_id", sa.Uuid()),
        sa.Column("case_number", sa.String(64)),
        sa.Column("reason", sa.String(500)),
        sa.Column("outcome", sa.String(20), nullable=False),
        sa.Column("source", sa.String(64)),
        sa.Column("detail", sa.String(2000)),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False, unique=True),
    )
    for cols in (["agency_id", "recorded_at"], ["subject_owner_id", "recorded_at"], ["action", "recorded_at"]):
        op.create_index(f"ix_audit_event_{'_'.join(cols)}", "audit_event", cols)
    head = op.create_table(
        "audit_head",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.CheckConstraint("id = 1", name="single_row"),
    )
    op.bulk_insert(head, [{"id": 1, "prev_hash": "0" * 64, "hash": "0" * 64}])
    trigger = (
        """
        CREATE FUNCTION audit_event_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN RAISE EXCEPTION 'audit_event is append-only'; END $$;
        CREATE TRIGGER audit_event_append_only BEFORE UPDATE OR DELETE ON audit_event
            FOR EACH ROW EXECUTE FUNCTION audit_event_append_only();
        """
        if postgres
        else """
        CREATE TRIGGER audit_event_no_update BEFORE UPDATE ON audit_event
            BEGIN SELECT RAISE(ABORT, 'audit_event is append-only'); END;
        CREATE TRIGGER audit_event_no_delete BEFORE DELETE ON audit_event
            BEGIN SELECT RAISE(ABORT, 'audit_event is append-only'); END;
        """
    )
    _run_trigger_sql(trigger, postgres)


def _run_trigger_sql(sql: str, postgres: bool) -> None:
    if postgres:
        op.execute(sql)
        return
    for part in sql.strip().split("END;"):
        if part.strip():
            op.execute(part.strip() + " END;")


def _postgres_extras() -> None:
    # Radius and route searches measure in metres on the spheroid: index the geography cast they use.
    op.execute("CREATE INDEX ix_camera_location_geog ON camera USING gist ((location::geography))")


def downgrade() -> None:
    for table in ("audit_head", "audit_event", "camera_ledger", "camera", "site", "owner", "login_attempt", "account",
                  "sharing_agreement", "agency"):
        op.drop_table(table)
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS audit_event_append_only()")
