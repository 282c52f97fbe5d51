"""FastAPI dependencies as `Annotated` aliases: the service's parts and who is calling."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import Engine

from services.alerts.consumer import Consumer
from services.alerts.service import AlertService
from services.alerts.settings import AlertsSettings
from services.common.auth import Principal, Role, TokenVerifier, require_role
from services.common.errors import Unauthenticated
from services.common.mqtt import MqttClient

_bearer = HTTPBearer(auto_error=False, description="Access token issued by the registry")


@dataclass
class Alerts:
    """Everything `create_app` builds once and every request shares."""

    settings: AlertsSettings
    engine: Engine
    verifier: TokenVerifier
    service: AlertService
    consumer: Consumer
    mqtt: MqttClient | None


async def get_alerts(request: Request) -> Alerts:
    """The alert service parts of this app."""
    alerts: Alerts = request.app.state.alerts
    return alerts


AlertsDep = Annotated[Alerts, Depends(get_alerts)]


async def get_service(alerts: AlertsDep) -> AlertService:
    """The alert operations."""
    return alerts.service


ServiceDep = Annotated[AlertService, Depends(get_service)]


async def get_principal(alerts: AlertsDep,
                        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]) -> Principal:
    """The authenticated caller, or 401."""
    if credentials is None:
        raise Unauthenticated("missing bearer token", code="missing_token")
    return alerts.verifier.verify(credentials.credentials)


PrincipalDep = Annotated[Principal, Depends(get_principal)]


def roles(*allowed: Role) -> Callable[[Principal], Coroutine[Any, Any, Principal]]:
    """A dependency admitting only these roles."""

    async def check(principal: PrincipalDep) -> Principal:
        return require_role(principal, *allowed)

    return check


OwnerCaller = Annotated[Principal, Depends(roles(Role.OWNER))]
StaffCaller = Annotated[Principal, Depends(roles(Role.DISPATCHER, Role.SUPERVISOR))]
ViewerCaller = Annotated[Principal, Depends(roles(Role.DISPATCHER, Role.SUPERVISOR, Role.OWNER))]
