"""The Alembic migration builds exactly the tables the models describe."""

from __future__ import annotations

from collections.abc import Callable

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from services.alerts.deps import Alerts
from services.alerts.models import Base


def test_migration_matches_models(make_alerts: Callable[..., Alerts]) -> None:
    alerts = make_alerts()
    with alerts.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"version_table": "alembic_version_alerts"})
        diff = [d for d in compare_metadata(context, Base.metadata)
                if not (isinstance(d, tuple) and d[0] == "remove_table" and d[1].name == "spatial_ref_sys")]
    assert diff == []
