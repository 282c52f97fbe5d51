"""Periodic upkeep inside the registry: requests past their due date expire, evidence past its agency's
retention is deleted (and the deletion recorded), unfinished uploads left idle are purged.

Each step commits on its own, so a failure in one never holds back the others; every step is idempotent, so
several replicas running it at once only repeat work that finds nothing left to do.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from services.registry.database import utcnow
from services.registry.deps import Registry
from services.registry.evidence import service as evidence
from services.registry.requests import service as requests

log = logging.getLogger("lookout.registry.maintenance")


@dataclass(frozen=True)
class SweepReport:
    """What one sweep did."""

    requests_expired: int
    evidence_deleted: int
    uploads_purged: int


def sweep(registry: Registry, *, now: datetime | None = None) -> SweepReport:
    """Run every upkeep step once (blocking: call from a worker thread)."""
    now = now or utcnow()
    storage, idle_s = registry.storage, registry.settings.evidence.upload_idle_s
    steps: dict[str, Callable[[Session], int]] = {
        "requests_expired": lambda s: requests.expire_due(s, now=now),
        "evidence_deleted": lambda s: evidence.delete_past_retention(s, storage=storage, now=now),
        "uploads_purged": lambda s: evidence.purge_stale_uploads(s, storage=storage, now=now, idle_s=idle_s),
    }
    done: dict[str, int] = {}
    for name, step in steps.items():
        with registry.sessions() as session:
            try:
                done[name] = step(session)
                session.commit()
            except Exception:  # one failing step must not stop the others; the next sweep tries again
                session.rollback()
                log.exception("maintenance step %s failed", name)
                done[name] = 0
    report = SweepReport(**done)
    if any(done.values()):
        log.info("maintenance: %s", report)
    return report


@asynccontextmanager
async def running(registry: Registry) -> AsyncIterator[None]:
    """Sweep every REGISTRY_EVIDENCE_SWEEP_INTERVAL_S for the duration of the block (the app's lifespan)."""
    stop = asyncio.Event()

    async def loop() -> None:
        while not stop.is_set():
            try:
                await asyncio.to_thread(sweep, registry)
            except Exception:  # the database is unreachable: try again next interval
                log.exception("maintenance sweep failed")
            with suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=registry.settings.evidence.sweep_interval_s)

    task = asyncio.create_task(loop(), name="registry-maintenance")
    try:
        yield
    finally:
        stop.set()
        with suppress(asyncio.CancelledError, TimeoutError):
            await asyncio.wait_for(task, timeout=30)
