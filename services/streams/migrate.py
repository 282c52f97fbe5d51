"""Apply the relay's Alembic migrations to a database."""

from __future__ import annotations

from pathlib import Path

from alembic.config import Config
from sqlalchemy import Engine

from services.common import migrations

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config() -> Config:
    """The relay's Alembic configuration."""
    return migrations.alembic_config(MIGRATIONS)


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the schema to `revision` (default: the newest)."""
    migrations.upgrade(engine, MIGRATIONS, revision)
