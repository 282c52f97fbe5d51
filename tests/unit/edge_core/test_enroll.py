"""Enrolment client against a tiny real HTTP server: 201 stores 0600 credentials, errors are clear."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from edge_core import FIRMWARE
from edge_core.credentials import CredentialsError, load_credentials
from edge_core.enroll import EnrollError, enroll

ANSWER = {"device_id": "dev-1", "site_id": "site-1",
          "mqtt": {"host": "mqtt.example.org", "port": 8883, "tls": True, "username": "dev-1",
                   "password": "pw-secret", "client_id": "dev-1"},
          "cameras": [{"camera_id": "cam-1", "label": "Front", "sharing_mode": "live_on_alert"}]}


class Registry:
    def __init__(self) -> None:
        self.status = 201
        self.body: object = ANSWER
        self.headers: dict[str, str] = {}
        self.requests: list[tuple[str, dict[str, object]]] = []


@pytest.fixture
def registry() -> Iterator[tuple[Registry, str]]:
    state = Registry()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers["Content-Length"])
            state.requests.append((self.path, json.loads(self.rfile.read(length))))
            data = json.dumps(state.body).encode()
            self.send_response(state.status)
            self.send_header("Content-Type", "application/json")
            for k, v in state.headers.items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state, f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()
    thread.join()


def test_enrol_stores_private_credentials(registry: tuple[Registry, str], tmp_path: Path) -> None:
    state, url = registry
    path = tmp_path / "state" / "credentials.json"
    creds = enroll(" ABCD-1234 ", url + "/", path)
    assert state.requests == [("/v1/devices/enroll", {"code": "ABCD-1234", "firmware": FIRMWARE})]
    assert creds.device_id == "dev-1" and creds.mqtt.password == "pw-secret"
    assert path.stat().st_mode & 0o777 == 0o600
    assert json.loads(path.read_text()) == ANSWER
    assert load_credentials(path).camera_ids == {"cam-1"}
    assert "pw-secret" not in repr(creds)


def test_refuses_to_overwrite_without_force(registry: tuple[Registry, str], tmp_path: Path) -> None:
    state, url = registry
    path = tmp_path / "credentials.json"
    path.write_text("{}")
    with pytest.raises(EnrollError, match="already exists"):
        enroll("ABCD", url, path)
    assert state.requests == []  # the code is not spent
    enroll("ABCD", url, path, force=True)
    assert json.loads(path.read_text())["device_id"] == "dev-1"
    assert path.stat().st_mode & 0o777 == 0o600


@pytest.mark.parametrize(("status", "headers", "message"), [
    (404, {}, "unknown enrolment code"),
    (409, {}, "already used"),
    (422, {}, "invalid"),
    (429, {"Retry-After": "30"}, "try again in 30 seconds"),
    (500, {}, "HTTP 500"),
])
def test_clear_errors(registry: tuple[Registry, str], tmp_path: Path, status: int, headers: dict[str, str],
                      message: str) -> None:
    state, url = registry
    state.status, state.headers, state.body = status, headers, {"detail": "from the registry"}
    with pytest.raises(EnrollError, match=message) as info:
        enroll("ABCD", url, tmp_path / "credentials.json")
    assert f"HTTP {status}" in str(info.value)
    assert not (tmp_path / "credentials.json").exists()


def test_a_malformed_answer_stores_nothing(registry: tuple[Registry, str], tmp_path: Path) -> None:
    state, url = registry
    state.body = {"device_id": "dev/1"}
    with pytest.raises(CredentialsError):
        enroll("ABCD", url, tmp_path / "credentials.json")
    assert not (tmp_path / "credentials.json").exists()


def test_unreachable_and_insecure_registries(tmp_path: Path) -> None:
    with pytest.raises(EnrollError, match="cannot reach the registry"):
        enroll("ABCD", "http://127.0.0.1:9", tmp_path / "c.json", timeout=2)
    with pytest.raises(ValueError, match="plain http"):
        enroll("ABCD", "http://registry.example.org", tmp_path / "c.json")


def test_world_readable_credentials_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "credentials.json"
    path.write_text(json.dumps(ANSWER))
    path.chmod(0o644)
    with pytest.raises(CredentialsError, match="chmod 600"):
        load_credentials(path)
    with pytest.raises(CredentialsError, match="enrol the box first"):
        load_credentials(tmp_path / "missing.json")
