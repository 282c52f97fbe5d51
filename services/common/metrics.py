"""Prometheus metrics: request counts and latencies, plus the /metrics endpoint."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest


def install_metrics(app: FastAPI, *, service: str) -> None:
    """Count and time every request by route template; serve them on /metrics."""
    registry = CollectorRegistry()
    requests = Counter(
        "lookout_http_requests", "HTTP requests", ["service", "method", "route", "status"], registry=registry
    )
    latency = Histogram(
        "lookout_http_request_seconds", "HTTP request latency", ["service", "method", "route"],
        registry=registry, buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
    )
    app.state.metrics_registry = registry

    @app.middleware("http")
    async def _measure(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        started = time.perf_counter()
        response = await call_next(request)
        route = getattr(request.scope.get("route"), "path", "unmatched")
        latency.labels(service, request.method, route).observe(time.perf_counter() - started)
        requests.labels(service, request.method, route, str(response.status_code)).inc()
        return response

    @app.get("/metrics", include_in_schema=False)
    def metrics() -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
