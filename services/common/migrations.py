"""Running a service's Alembic migrations on a connection it hands in (each service keeps its own folder)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine


def alembic_config(folder: Path) -> Config:
    """The Alembic configuration of one migrations folder, independent of the working directory."""
    cfg = Config(str(folder / "alembic.ini"))
    cfg.set_main_option("script_location", str(folder))
    return cfg


def upgrade(engine: Engine, folder: Path, revision: str = "head") -> None:
    """Bring the schema of that folder's service to `revision` (default: the newest)."""
    cfg = alembic_config(folder)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)
