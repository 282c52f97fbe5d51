"""Request and response bodies for sign-in and account management."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from services.common.auth import Role

STAFF_CREATABLE = (Role.ADVOCATE, Role.INVESTIGATOR, Role.DISPATCHER, Role.SUPERVISOR, Role.AUDITOR,
                   Role.INTEGRATOR)


class LoginRequest(BaseModel):
    """Sign in: staff by user name, owners by email, integrators by client id and secret."""

    username: str = Field(min_length=1, max_length=254)
    password: str = Field(min_length=1, max_length=1024)
    totp: str | None = Field(default=None, pattern=r"^\s*\d{6}\s*$", description="required for staff roles")


class RefreshRequest(BaseModel):
    """Trade a refresh token for a new access token (within the sign-in session's limit)."""

    refresh_token: str = Field(min_length=1, max_length=4096)


class TokenRead(BaseModel):
    """Bearer tokens."""

    access_token: str
    refresh_token: str
    token_type: str = "bearer"  # noqa: S105 (the OAuth token type, not a secret)
    expires_in: int


class AccountCreate(BaseModel):
    """A new staff account or API client in the supervisor's agency."""

    model_config = ConfigDict(extra="forbid")

    username: str = Field(min_length=3, max_length=100, pattern=r"^[A-Za-z0-9._@-]+$")
    password: str = Field(min_length=12, max_length=1024)
    role: Role
    scopes: list[str] = Field(default_factory=list, description="for integrators, e.g. cameras:search")


class AccountRead(BaseModel):
    """An account as supervisors see it (no secrets)."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    role: str
    agency_id: uuid.UUID | None
    username: str | None
    scopes: str
    locked_at: datetime | None
    created_at: datetime


class AccountCreated(AccountRead):
    """A created account; the TOTP enrolment URI is shown once, for staff roles."""

    totp_uri: str | None = None


class Me(BaseModel):
    """The caller, as the token says."""

    account_id: uuid.UUID
    role: str
    agency_id: uuid.UUID | None
    owner_id: uuid.UUID | None
    scopes: list[str]
