"""Alembic environment: runs on the connection handed in by `services.streams.migrate`."""

from __future__ import annotations

from alembic import context

from services.streams.models import Base

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True,
                  version_table="alembic_version_streams")
with context.begin_transaction():
    context.run_migrations()
