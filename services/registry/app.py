"""The registry's FastAPI application. `create_app` builds everything; importing builds nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, nullcontext

from fastapi import FastAPI

from services.common.db import build_engine, ping, session_factory
from services.common.errors import ERROR_RESPONSES, install_error_handlers
from services.common.health import health_router
from services.common.logs import configure_logging
from services.common.metrics import install_metrics
from services.registry import maintenance
from services.registry.accounts import api as accounts_api
from services.registry.accounts.passwords import hasher
from services.registry.accounts.service import AuthKit
from services.registry.accounts.tokens import TokenIssuer, load_signing_key
from services.registry.agencies import api as agencies_api
from services.registry.audit import api as audit_api
from services.registry.canvass import api as canvass_api
from services.registry.consent import api as consent_api
from services.registry.crypto import load_cipher
from services.registry.deps import Registry
from services.registry.devices import api as devices_api
from services.registry.devices.broker import BrokerAccounts, NoBrokerAccounts
from services.registry.evidence import api as evidence_api
from services.registry.geocoding import build_geocoder
from services.registry.notify.sender import NotificationSender
from services.registry.outbox import api as outbox_api
from services.registry.outbox.relay import OutboxRelay
from services.registry.owners import api as owners_api
from services.registry.requests import api as requests_api
from services.registry.search import api as search_api
from services.registry.settings import RegistrySettings
from services.registry.stats import api as stats_api

DESCRIPTION = """The camera registry of Lookout: agencies, owners, sites and cameras; search for investigators;
contact views with a case number; the hash-chained audit log; the token issuer for the other services.

Every error has the shape `{"error": {"code", "message", "field"}}`."""


def build_broker_accounts(settings: RegistrySettings) -> BrokerAccounts:
    """Where device MQTT accounts are kept: nowhere (embedded broker) or Mosquitto's dynamic security."""
    broker, mqtt = settings.broker, settings.mqtt
    if broker.accounts == "mosquitto":
        from services.registry.devices.mosquitto import MosquittoAccounts  # only Mosquitto deployments need it

        return MosquittoAccounts(mqtt.host or broker.host, mqtt.port, broker.admin_username, broker.admin_password,
                                 ca_file=mqtt.tls_ca)
    return NoBrokerAccounts()


def build_registry(settings: RegistrySettings) -> Registry:
    """The database engine, keys, cipher, token issuer and geocoder the app shares."""
    sec = settings.security
    engine = build_engine(settings.database.url, echo=settings.database.echo, pool_size=settings.database.pool_size)
    issuer = TokenIssuer(load_signing_key(sec.signing_key_file), access_ttl_s=sec.access_token_ttl_s,
                         staff_session_max_s=sec.staff_session_max_s)
    ph = hasher(sec)
    kit = AuthKit(cipher=load_cipher(sec), hasher=ph, issuer=issuer, settings=sec, dummy_hash=ph.hash("unknown"))
    from services.registry.evidence.storage import build_storage  # evidence files: local folder or S3
    return Registry(settings=settings, engine=engine, sessions=session_factory(engine), kit=kit,
                    verifier=issuer.verifier(), geocoder=build_geocoder(settings.geocoder),
                    broker=build_broker_accounts(settings), storage=build_storage(settings.evidence))


def create_app(settings: RegistrySettings | None = None, *, registry: Registry | None = None) -> FastAPI:
    """The registry API; pass `registry` to share already-built parts (tests, the CLI)."""
    configure_logging()
    registry = registry or build_registry(settings or RegistrySettings())

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        relay = OutboxRelay(registry.engine, registry.settings.mqtt) if registry.settings.mqtt.host else None
        sender = NotificationSender(registry.engine, registry.settings.mail, registry.kit.cipher)
        async with relay.running() if relay else nullcontext(), sender.running(), maintenance.running(registry):
            yield
        registry.engine.dispose()

    app = FastAPI(title="Lookout registry", version="1.0.0", description=DESCRIPTION, lifespan=lifespan)
    app.state.registry = registry
    install_error_handlers(app)
    install_metrics(app, service="registry")

    app.include_router(health_router(lambda: ping(registry.engine)))
    for module in (accounts_api, agencies_api, owners_api, devices_api, outbox_api, search_api, audit_api, stats_api,
                   requests_api, evidence_api, canvass_api, consent_api):
        app.include_router(module.router, responses=ERROR_RESPONSES)
    return app
