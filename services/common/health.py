"""Liveness and readiness endpoints shared by the services."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import APIRouter, Response


def health_router(ready_check: Callable[[], None]) -> APIRouter:
    """`/healthz` answers while the process runs; `/readyz` only when `ready_check` does not raise."""
    router = APIRouter(tags=["health"])

    @router.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @router.get("/readyz")
    def readyz(response: Response) -> dict[str, str]:
        try:
            ready_check()
        except Exception as exc:  # any failure means "not ready"; the reason is reported
            response.status_code = 503
            return {"status": "unavailable", "reason": type(exc).__name__}
        return {"status": "ok"}

    return router
