"""FastAPI dependencies as `Annotated` aliases: the session, the registry's parts, and who is calling."""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from services.common.auth import Role, TokenVerifier, require_role
from services.common.errors import Unauthenticated
from services.registry.accounts.service import AuthKit
from services.registry.context import Caller
from services.registry.devices.broker import BrokerAccounts, NoBrokerAccounts
from services.registry.evidence.storage import LocalStorage, Storage
from services.registry.geocoding import Geocoder
from services.registry.settings import RegistrySettings

_bearer = HTTPBearer(auto_error=False, description="Access token from POST /v1/auth/login")


@dataclass
class Registry:
    """Everything `create_app` builds once and every request shares."""

    settings: RegistrySettings
    engine: Engine
    sessions: sessionmaker[Session]
    kit: AuthKit
    verifier: TokenVerifier
    geocoder: Geocoder
    broker: BrokerAccounts = field(default_factory=NoBrokerAccounts)
    storage: Storage = field(default_factory=lambda: LocalStorage("var/evidence"))  # build_registry: the settings'


# The dependencies below that do no I/O are `async`: FastAPI would run a plain `def` in the threadpool,
# a thread hop per dependency per request.
async def get_registry(request: Request) -> Registry:
    """The registry parts of this app."""
    registry: Registry = request.app.state.registry
    return registry


RegistryDep = Annotated[Registry, Depends(get_registry)]


def get_session(registry: RegistryDep) -> Iterator[Session]:
    """One session per request, closed (and rolled back if uncommitted) afterwards."""
    # Sync on purpose: closing may roll back over the network, which must not block the event loop.
    with registry.sessions() as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]


def source_of(request: Request) -> str | None:
    """The client address (uvicorn applies X-Forwarded-For from trusted proxies)."""
    return request.client.host if request.client else None


async def get_caller(request: Request, registry: RegistryDep,
               credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]) -> Caller:
    """The authenticated caller, or 401."""
    if credentials is None:
        raise Unauthenticated("missing bearer token", code="missing_token")
    return Caller(registry.verifier.verify(credentials.credentials), source_of(request))


CallerDep = Annotated[Caller, Depends(get_caller)]


def roles(*allowed: Role, scope: str | None = None) -> Callable[[Caller], Coroutine[Any, Any, Caller]]:
    """A dependency admitting only these roles (and, for integrators, this scope)."""

    async def check(caller: CallerDep) -> Caller:
        require_role(caller.principal, *allowed, scope=scope)
        return caller

    return check


OwnerCaller = Annotated[Caller, Depends(roles(Role.OWNER))]
ManagerCaller = Annotated[Caller, Depends(roles(Role.ADVOCATE, Role.SUPERVISOR))]
SiteCaller = Annotated[Caller, Depends(roles(Role.OWNER, Role.ADVOCATE, Role.SUPERVISOR))]
SupervisorCaller = Annotated[Caller, Depends(roles(Role.SUPERVISOR))]
AuditorCaller = Annotated[Caller, Depends(roles(Role.AUDITOR, Role.SUPERVISOR))]
SearchCaller = Annotated[Caller, Depends(roles(Role.INVESTIGATOR, Role.SUPERVISOR, Role.INTEGRATOR,
                                               scope="cameras:search"))]
ContactCaller = Annotated[Caller, Depends(roles(Role.INVESTIGATOR, Role.SUPERVISOR))]
