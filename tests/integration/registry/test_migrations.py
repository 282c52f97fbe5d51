"""The Alembic history builds exactly the schema the models describe, on both backends, and unwinds."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from services.registry.deps import Registry
from services.registry.migrate import alembic_config
from services.registry.models import Base

# Tables and indexes the spatial extensions own, not the registry.
_SPATIAL_INTERNALS = ("spatial_ref_sys", "geometry_columns", "spatialite_history", "sql_statements_log",
                      "idx_", "SpatialIndex", "ElementaryGeometries", "KNN", "data_licenses", "views_",
                      "virts_", "vector_layers", "spatial_", "geom_cols_ref_sys", "topology", "layer")


def _ours(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
    if name and any(name.startswith(prefix) for prefix in _SPATIAL_INTERNALS):
        return False
    return not (type_ == "index" and name == "ix_camera_location_geog")  # expression index, PostGIS only


@pytest.mark.parametrize("backend_name", ["postgis", "spatialite"])
def test_models_match_migrations(make_registry: Callable[[str], Registry], backend_name: str) -> None:
    registry = make_registry(backend_name)
    with registry.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"include_object": _ours, "compare_type": False})
        diff = compare_metadata(context, Base.metadata)
    assert diff == [], diff


def test_downgrade_removes_everything_and_upgrade_restores_it(make_registry: Callable[[str], Registry]) -> None:
    registry = make_registry("postgis")
    cfg = alembic_config()
    with registry.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "base")
    assert not set(Base.metadata.tables) & set(inspect(registry.engine).get_table_names())
    with registry.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")
    assert set(Base.metadata.tables) <= set(inspect(registry.engine).get_table_names())
