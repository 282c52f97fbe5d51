"""Sign-in, tokens, JWKS and staff accounts."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Request

from services.registry.accounts import service
from services.registry.accounts.schemas import (
    AccountCreate,
    AccountCreated,
    AccountRead,
    LoginRequest,
    Me,
    RefreshRequest,
    TokenRead,
)
from services.registry.deps import CallerDep, RegistryDep, SessionDep, SupervisorCaller, source_of

router = APIRouter(tags=["auth"])


@router.get("/.well-known/jwks.json", summary="Public keys that verify the registry's tokens")
def jwks(registry: RegistryDep) -> dict[str, Any]:
    return registry.kit.issuer.jwks()


@router.post("/v1/auth/login", response_model=TokenRead, summary="Sign in (staff need a TOTP code)")
def login(body: LoginRequest, request: Request, session: SessionDep, registry: RegistryDep) -> TokenRead:
    pair = service.login(session, kit=registry.kit, username=body.username, password=body.password,
                         totp=body.totp, source=source_of(request) or "unknown")
    return TokenRead(access_token=pair.access_token, refresh_token=pair.refresh_token, expires_in=pair.expires_in)


@router.post("/v1/auth/refresh", response_model=TokenRead, summary="A new access token within the sign-in session")
def refresh(body: RefreshRequest, session: SessionDep, registry: RegistryDep) -> TokenRead:
    pair = service.refresh(session, kit=registry.kit, verifier=registry.verifier, refresh_token=body.refresh_token)
    return TokenRead(access_token=pair.access_token, refresh_token=pair.refresh_token, expires_in=pair.expires_in)


@router.get("/v1/auth/me", response_model=Me, summary="Who the token says you are")
def me(caller: CallerDep) -> Me:
    p = caller.principal
    return Me(account_id=p.account_id, role=p.role, agency_id=p.agency_id, owner_id=p.owner_id,
              scopes=sorted(p.scopes))


@router.get("/v1/accounts", response_model=list[AccountRead], tags=["accounts"],
            summary="Accounts of your agency (supervisor)")
def list_accounts(caller: SupervisorCaller, session: SessionDep) -> list[Any]:
    return service.list_accounts(session, caller=caller)


@router.post("/v1/accounts", response_model=AccountCreated, status_code=201, tags=["accounts"],
             summary="Create a staff account or API client in your agency (supervisor)")
def create_account(body: AccountCreate, caller: SupervisorCaller, session: SessionDep,
                   registry: RegistryDep) -> AccountCreated:
    assert caller.principal.agency_id is not None
    account, uri = service.create_staff(session, kit=registry.kit, caller=caller,
                                        agency_id=caller.principal.agency_id, data=body)
    return AccountCreated.model_validate(account, from_attributes=True).model_copy(update={"totp_uri": uri})


@router.post("/v1/accounts/{account_id}/unlock", response_model=AccountRead, tags=["accounts"],
             summary="Release an account locked after failed sign-ins (supervisor)")
def unlock(account_id: uuid.UUID, caller: SupervisorCaller, session: SessionDep) -> Any:
    return service.unlock(session, caller=caller, account_id=account_id)
