"""Database engines and sessions for both backends: PostgreSQL + PostGIS and SQLite + SpatiaLite."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import DateTime, Engine, MetaData, TypeDecorator, create_engine, event
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Session, sessionmaker

# Explicit constraint names, so migrations are the same on both backends and readable in errors.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on both backends (SQLite stores them naive)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utcnow() -> datetime:
    """Now, in UTC, to the microsecond."""
    return datetime.now(UTC)


def new_metadata() -> MetaData:
    """A MetaData with the project's constraint naming convention."""
    return MetaData(naming_convention=NAMING_CONVENTION)


def is_sqlite(url: str) -> bool:
    """True for the embedded SQLite + SpatiaLite backend."""
    return url.startswith("sqlite")


def _on_sqlite_connect(dbapi_conn: sqlite3.Connection, _record: Any) -> None:
    dbapi_conn.enable_load_extension(True)
    dbapi_conn.load_extension("mod_spatialite")
    dbapi_conn.enable_load_extension(False)
    dbapi_conn.execute("PRAGMA foreign_keys = ON")
    dbapi_conn.execute("PRAGMA journal_mode = WAL")
    dbapi_conn.execute("PRAGMA busy_timeout = 30000")
    if dbapi_conn.execute("SELECT CheckSpatialMetaData()").fetchone()[0] == 0:
        dbapi_conn.execute("SELECT InitSpatialMetaData(1)")
        dbapi_conn.commit()
    # Let SQLAlchemy's "begin" event below issue BEGIN IMMEDIATE itself.
    dbapi_conn.isolation_level = None


def build_engine(url: str, *, echo: bool = False, pool_size: int = 10) -> Engine:
    """An engine for either backend, with SpatiaLite loaded and serialised writers on SQLite."""
    if is_sqlite(url):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, echo=echo, connect_args={"check_same_thread": False, "timeout": 30})
        event.listen(engine, "connect", _on_sqlite_connect)

        @event.listens_for(engine, "begin")
        def _begin_immediate(conn: Any) -> None:
            # One writer at a time, taken at BEGIN: a deferred transaction that reads, then writes,
            # fails with SQLITE_BUSY_SNAPSHOT under WAL instead of waiting.
            conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    # No pre-ping: it costs a round trip on every checkout; a connection the server dropped is detected on use,
    # invalidates the pool, and the next checkout reconnects. Recycling keeps connections from going stale.
    return create_engine(url, echo=echo, pool_size=pool_size, max_overflow=pool_size, pool_recycle=1800)


def ping(engine: Engine) -> None:
    """Raise unless the database answers (the readiness check of every service)."""
    with engine.connect() as conn:
        conn.exec_driver_sql("SELECT 1")


def session_factory(engine: Engine) -> sessionmaker[Session]:
    """A session factory that keeps loaded objects usable after commit."""
    return sessionmaker(bind=engine, expire_on_commit=False)
