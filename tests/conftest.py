"""Shared fixtures: a private PostGIS cluster, registries on both backends, per-test savepoint rollback."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from services.common.auth import Role
from services.registry.accounts.tokens import TokenIssuer
from services.registry.app import build_registry, create_app
from services.registry.deps import Registry, get_session
from services.registry.migrate import upgrade
from services.registry.settings import DatabaseSettings, EvidenceSettings, RegistrySettings, SecuritySettings
from tests.support.pgcluster import PgCluster

BACKENDS = ("postgis", "spatialite")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Tests marked `spatialite` run on both backends; every other database test on PostGIS only."""
    if "backend" in metafunc.fixturenames:
        both = metafunc.definition.get_closest_marker("spatialite") is not None
        metafunc.parametrize("backend", BACKENDS if both else BACKENDS[:1], indirect=True, scope="session")


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[PgCluster]:
    """One throwaway PostgreSQL + PostGIS server for the whole run."""
    cluster = PgCluster().start()
    yield cluster
    cluster.stop()


def registry_settings(url: str, folder: Path) -> RegistrySettings:
    """Settings for a test registry: its own keys, and a cheaper (still Argon2id) password hash."""
    security = SecuritySettings(signing_key_file=str(folder / "signing.pem"), data_keys=Fernet.generate_key().decode(),
                                argon2_time_cost=1, argon2_memory_kib=8 * 1024)
    return RegistrySettings(database=DatabaseSettings(url=url), security=security,
                            evidence=EvidenceSettings(folder=str(folder / "evidence")))


@pytest.fixture(scope="session")
def make_registry(pg_cluster: PgCluster,
                  tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[[str], Registry]]:
    """Factory: a migrated registry on a new database of the given backend."""
    made: list[Registry] = []

    def make(backend: str) -> Registry:
        folder = tmp_path_factory.mktemp(f"registry-{backend}")
        name = f"registry_{len(made)}"
        url = pg_cluster.create_database(name) if backend == "postgis" else f"sqlite:///{folder / 'registry.db'}"
        registry = build_registry(registry_settings(url, folder))
        upgrade(registry.engine)
        made.append(registry)
        return registry

    yield make
    for registry in made:
        registry.engine.dispose()


@pytest.fixture(scope="session")
def backend(request: pytest.FixtureRequest) -> str:
    """The database backend under test (see pytest_generate_tests)."""
    return str(request.param)


@pytest.fixture(scope="session")
def registry(backend: str, make_registry: Callable[[str], Registry]) -> Registry:
    """The shared registry of this backend; tests see it through a rolled-back transaction."""
    return make_registry(backend)


@pytest.fixture
def db(registry: Registry) -> Iterator[Session]:
    """A session inside a transaction that is rolled back after the test (commits become savepoints)."""
    connection = registry.engine.connect()
    outer = connection.begin()
    session = Session(bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False)
    try:
        yield session
    finally:
        session.close()
        outer.rollback()
        connection.close()


@pytest.fixture
def client(registry: Registry, db: Session) -> Iterator[TestClient]:
    """The registry API over the test's session."""
    app = create_app(registry=registry)
    app.dependency_overrides[get_session] = lambda: db
    yield TestClient(app, raise_server_exceptions=True)



@pytest.fixture(scope="session")
def issuer() -> TokenIssuer:
    """Signs real registry tokens for the tests."""
    return TokenIssuer(Ed25519PrivateKey.generate(), access_ttl_s=900, staff_session_max_s=12 * 3600)


@pytest.fixture(scope="session")
def token(issuer: TokenIssuer) -> Callable[..., str]:
    """Mint an access token: token(role, agency=..., owner=...)."""

    def mint(role: Role, *, agency: str | None = None, owner: str | None = None) -> str:
        claims = {"sub": str(uuid.uuid4()), "role": str(role), "agency": agency, "owner": owner, "scope": ""}
        return issuer.issue(claims, auth_time=int(time.time()), session_max_s=12 * 3600).access_token

    return mint
