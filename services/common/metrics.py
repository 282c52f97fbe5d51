"""Prometheus metrics: request counts and latencies, plus the /metrics endpoint."""

from __future__ import annotations

import time
from typing import Any

from fastapi import FastAPI, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class _Metrics:
    """Pure ASGI middleware (Starlette's BaseHTTPMiddleware costs a task group and a stream per request)."""

    def __init__(self, app: ASGIApp, *, service: str, requests: Counter, latency: Histogram) -> None:
        self.app, self.service, self.requests, self.latency = app, service, requests, latency

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started, status = time.perf_counter(), [500]

        async def send_and_note(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_note)
        finally:
            route = getattr(scope.get("route"), "path", "unmatched")
            self.latency.labels(self.service, scope["method"], route).observe(time.perf_counter() - started)
            self.requests.labels(self.service, scope["method"], route, str(status[0])).inc()


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
    options: dict[str, Any] = {"service": service, "requests": requests, "latency": latency}
    app.add_middleware(_Metrics, **options)

    @app.get("/metrics", include_in_schema=False)
    def metrics() -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
