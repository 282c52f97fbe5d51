"""Health, readiness, metrics and the OpenAPI document an integrator reads."""

from __future__ import annotations

from fastapi.testclient import TestClient

PUBLIC = {"/v1/agencies", "/v1/transparency", "/v1/owners/signup", "/.well-known/jwks.json", "/v1/auth/login",
          "/v1/auth/refresh", "/healthz", "/readyz", "/v1/devices/enroll",
          "/v1/evidence/download/{token}"}  # the short-lived signed link is the credential


def test_health_ready_and_metrics(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/readyz").json() == {"status": "ok"}
    client.get("/v1/agencies")
    metrics = client.get("/metrics").text
    assert 'lookout_http_requests_total{method="GET",route="/v1/agencies",service="registry",status="200"}' in metrics


def test_openapi_declares_bearer_auth_and_error_shape(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    assert "HTTPBearer" in spec["components"]["securitySchemes"]
    assert "ErrorBody" in spec["components"]["schemas"]
    for path, operations in spec["paths"].items():
        for method, op in operations.items():
            secured = any("HTTPBearer" in requirement for requirement in op.get("security", []))
            assert secured == (path not in PUBLIC), f"{method.upper()} {path}: security {op.get('security')}"
            assert op.get("summary"), f"{method.upper()} {path} has no summary"


def test_unknown_route_and_method_are_clean_errors(client: TestClient) -> None:
    assert client.get("/v1/nothing-here").status_code == 404
    assert client.put("/v1/agencies").status_code == 405
